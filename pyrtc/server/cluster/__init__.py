"""Several servers, one chat: the stream in NATS JetStream they all write to and apply."""

from __future__ import annotations

from .chat import DEGRADED as DEGRADED
from .chat import Cluster as Cluster
from .link import ClusterError as ClusterError

__all__ = ["Cluster", "ClusterError", "DEGRADED"]
