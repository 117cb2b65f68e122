"""Protocol limits, in one place so that both ends agree and errors can name them."""

from __future__ import annotations

#: 2: files are named by BLAKE3 (was SHA-256), the upload fields say `blob_id`.
#: 3: the server greets first (nonce); Hello carries the client's key and a proof bound to
#: the server's certificate; names belong to keys; session tokens are gone.
#: 4: direct messages (rooms named `@` + hex, two identities only), replies, edit and delete,
#: status; peer-assisted continuity: the greeting says the chat's epoch and host node;
#: host-capable peers report themselves in Hello (`PeerInfo`) and the host pushes the `Roster`.
PROTOCOL_VERSION = 4
MAX_PEERS = 64  # host-capable peers one roster lists
MAX_PEER_ADDRESSES = 8
#: A frame body can hold one file chunk plus its envelope, never more.
CHUNK_SIZE = 256 * 1024
MAX_FRAME = CHUNK_SIZE + 64 * 1024
MAX_TEXT = 8000  # characters in one chat message
MAX_NAME = 32  # user display name
MAX_ROOM = 32
MAX_FILE_NAME_WIRE = 1024  # what a frame may carry; the server keeps at most MAX_FILE_NAME
MAX_FILE_NAME = 255
MAX_EMOJI = 16
MAX_HISTORY_PAGE = 500
MAX_SEARCH_HITS = 100
MAX_QUERY = 200
MAX_KEY = 256  # a client's public key (DER SubjectPublicKeyInfo; P-256 needs 91 bytes)
MAX_PROOF = 128  # its signature of the hello (ECDSA P-256, DER: at most 72 bytes)
NONCE_SIZE = 32  # the server's greeting nonce
MAX_JOIN_MEMBERS = 200  # members listed in a Joined frame (online first); the rest are counted
#: Frames built from stored or shared data are paged or capped so that none can pass
#: MAX_FRAME, whatever was stored (see protocol.budget and docs/security.md, "Limits").
MAX_ROOM_PAGE = 200  # rooms in one Welcome or RoomList (and rooms named in Welcome.joined)
MAX_MEMBERS_DELTA = 500  # names in one MembersChanged; a bigger change goes out as several
MAX_REACTION_KINDS = 20  # distinct emoji on one message (stored, and carried in a Posted)
MAX_REACTION_NAMES = 20  # names listed per emoji in a Posted; `count` says how many in all
#: Sequence numbers and offsets fit SQLite's signed 64-bit integers.
MAX_SEQ = 2**63 - 1
#: \A..\Z, not ^..$: msgspec matches with re.search, and $ accepts a trailing newline.
#: Room names: start with a letter or digit, then letters, digits, space, `_ . -`.
NEW_ROOM_PATTERN = r"\A[^\W_][\w .\-]*\Z"
#: A direct conversation's room: `@` and hex, made by the server only (never by CreateRoom).
DIRECT_PATTERN = r"\A@[0-9a-f]{24}\Z"
ROOM_PATTERN = r"\A([^\W_][\w .\-]*|@[0-9a-f]{24})\Z"
MAX_STATUS_TEXT = 64  # a custom status ("at lunch")
MAX_QUOTE = 120  # characters of the replied-to message carried with a reply
#: User names: printable, no leading/trailing blanks (checked again by the server).
NAME_PATTERN = r"\A[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?\Z"
#: A file's id: its BLAKE3 hash in hex (pyrtc.blob_id).
BLOB_ID_PATTERN = r"\A[0-9a-f]{64}\Z"
