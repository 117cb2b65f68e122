"""History (SQLite) and file bodies (content-addressed on disk)."""

from __future__ import annotations

from .blobs import BlobStore as BlobStore
from .conversations import Direct as Direct
from .db import Store as Store
from .errors import BlobError as BlobError
from .errors import DiskFull as DiskFull
from .errors import StoreError as StoreError
from .identities import Binding as Binding
from .identities import NameBook as NameBook
from .records import Duplicate as Duplicate
from .records import Member as Member
from .records import StoredFile as StoredFile
from .records import StoredMessage as StoredMessage
from .schema import DEFAULT_ROOMS as DEFAULT_ROOMS
from .thumbnailer import Thumbnailer as Thumbnailer
from .thumbnails import PICTURE_TYPES as PICTURE_TYPES
from .thumbnails import THUMB_MAX as THUMB_MAX
from .thumbnails import Thumbnail as Thumbnail
from .thumbnails import make_thumbnail as make_thumbnail
from .thumbnails import picture_mime as picture_mime

__all__ = [
    "PICTURE_TYPES", "THUMB_MAX", "BlobStore", "Thumbnail", "Thumbnailer", "make_thumbnail", "picture_mime", "DEFAULT_ROOMS",
    "Duplicate", "Member", "Store", "StoredFile", "StoredMessage", "BlobError", "DiskFull", "StoreError", "Binding",
    "NameBook", "Direct",
]
