"""The client session (headless or under the GUI) and the ChatState model it keeps."""

from __future__ import annotations

from .errors import ClientError as ClientError
from .errors import ConnectionLost as ConnectionLost
from .errors import IdentityMismatch as IdentityMismatch
from .errors import Rejected as Rejected
from .handle import ClientHandle as ClientHandle
from .identity import Identity as Identity
from .identity import IdentityError as IdentityError
from .session import Alternate as Alternate
from .session import ClientSession as ClientSession
from .session import parse_address as parse_address
from .state import ChatState as ChatState
from .views import MemberView as MemberView
from .views import MessageView as MessageView
from .views import RoomView as RoomView
from .views import Transfer as Transfer
from .views import mentions_me as mentions_me

__all__ = [
    "mentions_me",
    "ClientError", "ConnectionLost", "Rejected", "IdentityMismatch", "ClientHandle", "Identity", "IdentityError", "ClientSession", "parse_address",
    "ChatState", "MemberView", "MessageView", "RoomView", "Transfer",
]
