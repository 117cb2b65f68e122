"""History (SQLite) and file bodies (content-addressed on disk)."""

from __future__ import annotations

from .blobs import THUMB_MAX as THUMB_MAX
from .blobs import BlobStore as BlobStore
from .blobs import Thumbnail as Thumbnail
from .blobs import load_image_codecs as load_image_codecs
from .blobs import make_thumbnail as make_thumbnail
from .db import DEFAULT_ROOMS as DEFAULT_ROOMS
from .db import Duplicate as Duplicate
from .db import Member as Member
from .db import Store as Store
from .db import StoredFile as StoredFile
from .db import StoredMessage as StoredMessage
from .errors import BlobError as BlobError
from .errors import StoreError as StoreError
from .identities import Binding as Binding
from .identities import NameBook as NameBook

__all__ = [
    "THUMB_MAX", "BlobStore", "Thumbnail", "load_image_codecs", "make_thumbnail", "DEFAULT_ROOMS", "Duplicate", "Member", "Store",
    "StoredFile", "StoredMessage", "BlobError", "StoreError", "Binding", "NameBook",
]
