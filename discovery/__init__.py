"""mDNS / DNS-SD announce and browse (package `pyrtc.discovery`). The caller picks the
interfaces; nothing here chooses the network for you."""

from __future__ import annotations

from .announce import Announcer as Announcer
from .announce import NameClaim as NameClaim
from .browse import ServerBrowser as ServerBrowser
from .browse import browse_once as browse_once
from .browse import find_servers as find_servers
from .browse import probe as probe
from .browse import showing_certificate as showing_certificate
from .conflicts import AMBIGUOUS as AMBIGUOUS
from .conflicts import IMPOSTOR as IMPOSTOR
from .conflicts import mark_conflicts as mark_conflicts
from .conflicts import one_per_chat as one_per_chat
from .doctor import diagnose as diagnose
from .errors import DiscoveryError as DiscoveryError
from .hosting import AnnouncedServer as AnnouncedServer
from .interfaces import check_addresses as check_addresses
from .interfaces import default_addresses as default_addresses
from .interfaces import list_interfaces as list_interfaces
from .known import KnownServers as KnownServers
from .known import identity_check as identity_check
from .launch import Launch as Launch
from .launch import NoServer as NoServer
from .launch import chat_servers as chat_servers
from .launch import find_or_host as find_or_host
from .launch import host_server as host_server
from .launch import matching as matching
from .launch import note_used as note_used
from .launch import relocate as relocate
from .launch import used_last as used_last
from .records import SERVICE_TYPE as SERVICE_TYPE
from .records import ServerEntry as ServerEntry
from .records import by_chat as by_chat

__all__ = [
    "Announcer", "NameClaim", "ServerBrowser", "browse_once", "find_servers", "diagnose", "KnownServers", "identity_check", "probe", "showing_certificate", "IMPOSTOR", "AMBIGUOUS", "mark_conflicts", "one_per_chat", "DiscoveryError", "AnnouncedServer",
    "check_addresses", "default_addresses", "list_interfaces", "Launch", "NoServer", "find_or_host", "host_server", "matching",
    "note_used", "chat_servers", "relocate", "used_last", "SERVICE_TYPE", "ServerEntry", "by_chat",
]
