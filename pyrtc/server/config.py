"""Server settings with the defaults a LAN chat wants."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

__all__ = ["ServerConfig", "DEFAULT_PORT", "default_data_dir", "default_server_name"]

#: Fixed so that a firewall can be opened once; 0 picks a free port (tests).
DEFAULT_PORT = 47474
MiB = 1024 * 1024


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pyrtc", appauthor=False)) / "server"


def default_server_name() -> str:
    return f"PyRTC on {socket.gethostname()}"[:63]


@dataclass
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    name: str = field(default_factory=default_server_name)
    max_file: int = 100 * MiB
    max_files: int = 500  # files one user may share per 24 hours (all rooms); 0: no limit
    max_uploads: int = 4  # uploads in progress at once on one connection
    # Unfinished uploads (their .part files): kept for a resume, within limits.
    unfinished_ttl: float = 24 * 3600.0  # dropped this long after their last write
    max_unfinished_per_user: int = 400 * MiB  # bytes one user's may claim (never below max_file)
    max_unfinished: int = 2048 * MiB  # bytes all of them may claim (never below max_file)
    # Thumbnails, made by worker processes (store/thumbnailer.py) for PNG, JPEG, GIF, WebP.
    thumb_workers: int = 2  # at most this many at once
    thumb_timeout: float = 10.0  # per picture, waiting for a worker included; then: a plain file
    thumb_memory: int = 512 * MiB  # address space of a worker (RLIMIT_AS)
    thumb_max_pixels: int = 40_000_000  # larger pictures are not decoded (a plain file)
    history_page: int = 100  # messages sent on join
    heartbeat: float = 15.0  # ping a connection idle this long ...
    idle_timeout: float = 45.0  # ... and drop it when silent this long (half-open)
    typing_ttl: float = 5.0
    #: Queued bytes a reader may fall behind by before it is dropped (nobody waits for it).
    max_backlog: int = 8 * MiB
    receipt_flush: float = 0.05  # receipts to a room are coalesced over this window
    log_text: bool = True  # False keeps message text out of logs/chat.log
    tls: bool = True  # False (--insecure): plain TCP, anyone on the network can read along
    # Flood control: messages, reactions, offers and new rooms per connection (token bucket).
    # 0 turns every rate limit below off (benchmarks); docs/security.md lists them all.
    max_rate: float = 50.0  # per second, sustained
    burst: int = 200
    #: Every other request (joins, leaves, room lists, history, search, receipts, typing,
    #: downloads) per connection.
    max_requests: float = 50.0
    request_burst: int = 500
    #: Changes others see and chat.log records (a new join, a leave, a watch), per user ...
    max_changes: float = 1.0
    change_burst: int = 20
    #: ... and for all users of one address together (0 with max_per_address 0: tests on 127.0.0.1).
    address_changes: float = 5.0
    address_change_burst: int = 60
    typing_rate: float = 1.0  # typing starts per user a second (more are ignored: typing is a hint)
    typing_burst: int = 10
    hello_rate: float = 2.0  # handshakes per address a second (each is a chat.log line)
    hello_burst: int = 64
    #: Open sockets from one IP address, counted from accept (before TLS or hello); 0: no
    #: limit (also the rates per address).
    max_per_address: int = 64
    max_connections: int = 10_000  # open sockets in all, counted the same way; 0: no limit
    # Deadlines: a peer that dribbles bytes keeps no socket open (seconds).
    handshake_timeout: float = 10.0  # accept -> TLS handshake done
    hello_timeout: float = 10.0  # open (handshake done) -> the first frame (hello) whole
    frame_timeout: float = 30.0  # a frame's first byte -> its last (a 320 KiB frame at ~100 kbit/s)
    max_rooms: int = 1000  # rooms on the server; 0: no limit
    rooms_per_hour: int = 10  # rooms one user may create per hour; 0: no limit
    max_reactions: int = 1000  # reactions on one message (at most MAX_REACTION_KINDS emoji)
    #: NATS URLs of a cluster (several servers, one chat: docs/cluster.md); empty: a server alone.
    cluster: list[str] = field(default_factory=list)
    #: PEM files for tls:// cluster URLs: the CA ('' : the system's), a client certificate and key.
    cluster_ca: str = ""
    cluster_cert: str = ""
    cluster_key: str = ""
    chat_id: str | None = None  # the cluster's chat; None: the one stored in NATS (made on first use)
    password_hash: str = ""  # scrypt hash of the server password ('' = open); see passwords.py
    # Peer-assisted continuity (server/roster.py): who hosts, and which epoch of the chat.
    node: str = ""  # the hosting peer's node id ('' : a dedicated server, its server id)
    epoch: int = 0  # the epoch to serve (0: the one kept in the data dir, else 1)
    #: Addresses peers would reach this host on (the roster lists them); [] : not said.
    addresses: list[str] = field(default_factory=list)
    #: A host taking the chat over: the node ids that may push copies (the last roster's),
    #: those it waits for before serving posts, and for how long at most (server/succession.py).
    peers: list[str] = field(default_factory=list)
    collect: list[str] = field(default_factory=list)
    collect_for: float = 0.0
