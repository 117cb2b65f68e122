"""Replica: this client's copy of the chat, in the same store the server keeps.

Every full client (window, terminal, kiosk) keeps the rooms it joined: messages with the seq
their host gave them, reactions, receipts and file metadata, in a `Store` under its own
data dir, one folder per chat id. The folder has the server's layout (history.db, server-id
= the chat id, epoch), so a peer that becomes the host serves it as it is (epoch + 1).

Invariants:
- Only what a host said is written (Posted, Joined, HistoryPage, Acked for our own pending
  text, Reacted, Receipt): a copy never invents a seq; each (room, seq) is stored once.
- Writes of one loop iteration share a transaction (committed on the next iteration), so a
  burst of frames costs one commit, not one per message.
- `restore()` hands back what to show at once on a restart, before any connection.
- The file bodies this client uploaded, downloaded or previewed are kept under `files/`, as a server
  keeps them (checked against their id), so a new host can fetch them from here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from pathlib import Path

import platformdirs

from .. import protocol as p
from ..private import private_dir, write_private
from ..store import BlobStore, Store, StoredFile, StoredMessage, StoreError
from .events import Event, PendingText, Rebased

__all__ = ["Replica", "default_replica_root", "RESTORE_PAGE", "as_posted"]

log = logging.getLogger(__name__)

#: Messages per room shown at once on a restart (older ones: scroll, as with a server).
RESTORE_PAGE = 200


def default_replica_root() -> Path:
    """Beside the settings when they are moved (tests, portable installs), else the user's data dir."""
    env = os.environ.get("PYRTC_SETTINGS")
    if env:
        return Path(env).parent / "chats"
    return Path(platformdirs.user_data_dir("pyrtc", appauthor=False)) / "chats"


def _file(f: p.FileInfo | None) -> StoredFile | None:
    if f is None:
        return None
    return StoredFile(f.blob_id, f.name, f.size, f.mime, f.thumb_id, f.width, f.height)


def as_posted(m: StoredMessage) -> p.Posted:
    f = m.file
    info = None if f is None else p.FileInfo(blob_id=f.blob_id, name=f.name, size=f.size, mime=f.mime,
                                             thumb_id=f.thumb_id, width=f.width, height=f.height)
    reactions = [p.Reaction(emoji=e, members=names, count=m.reaction_counts.get(e, len(names)))
                 for e, names in m.reactions.items()]
    return p.Posted(room=m.room, seq=m.seq, sender=m.sender, time=m.time, text=m.text, file=info,
                    cid=m.cid, reactions=reactions, reply_to=m.reply_to, quote=m.quote,
                    quote_sender=m.quote_sender, edited=m.edited, deleted=m.deleted)


class Replica:
    def __init__(self, folder: Path, chat_id: str) -> None:
        self.folder = folder
        self.chat_id = chat_id
        private_dir(folder)
        if not (folder / "server-id").exists():  # what a ChatServer on this folder serves
            write_private(folder / "server-id", (chat_id + "\n").encode())
        self.store = Store(folder / "history.db")
        self.blobs = BlobStore(folder / "files")  # where a server on this folder finds them
        self._pending: dict[str, PendingText] = {}  # cid -> our text, until the host numbers it
        self._rooms: list[str] = self._load_rooms()
        self._commit: asyncio.Handle | None = None

    @classmethod
    def open(cls, chat_id: str, root: Path | None = None) -> Replica:
        return cls((root or default_replica_root()) / chat_id, chat_id)

    @property
    def rooms(self) -> list[str]:
        """The rooms this client joined, in the order it joined them."""
        return list(self._rooms)

    # ------------------------------------------------------------------ what to show at once

    def restore(self) -> list[p.Joined]:
        """The rooms joined before, each with its newest messages, as if a host had sent them."""
        out = []
        for room in self._rooms:
            try:
                history, more = self.store.history(room, limit=RESTORE_PAGE)
                members = [p.MemberInfo(name=m.name, delivered=m.delivered, read=m.read, joined_seq=m.joined_seq)
                           for m in self.store.members(room, limit=p.limits.MAX_JOIN_MEMBERS)]
            except StoreError as exc:
                log.warning("the copy of #%s cannot be read: %s", room, exc)
                continue
            out.append(p.Joined(room=room, members=members, history=[as_posted(m) for m in history],
                                last_seq=self.store.last_seq(room), more=more, member_count=len(members)))
        return out

    # ------------------------------------------------------------------ what the host says

    def record(self, event: Event) -> None:
        try:
            self._record(event)
        except StoreError as exc:  # a full disk: the chat goes on, the copy catches up later
            log.warning("cannot keep a copy of the chat: %s", exc)

    def _record(self, event: Event) -> None:
        match event:
            case p.Posted():
                self._put(event)
            case p.Joined():
                self._joined(event.room)
                for m in event.history:
                    self._put(m)
                for member in event.members:
                    self._receipt(event.room, member.name, member.delivered, member.read)
            case p.HistoryPage():
                for m in event.messages:
                    self._put(m)
            case PendingText():
                self._pending[event.cid] = event
            case p.Acked():
                mine = self._pending.pop(event.cid, None)
                if mine is not None:
                    self._begin()
                    self.store.put_copy(StoredMessage(event.room, event.seq, mine.sender, event.time,
                                                      mine.text, mine.cid), replace=True)
            case p.Edited():
                if self.store.message_exists(event.room, event.seq):
                    self._begin()
                    self.store.change_message(event.room, event.seq, None if event.deleted else event.text,
                                              now=event.edited)
            case p.Reacted():
                if self.store.message_exists(event.room, event.seq):
                    self._begin()
                    self.store.set_reaction(event.room, event.seq, event.emoji, event.name, event.on)
            case p.Receipt():
                self._receipt(event.room, event.name, event.delivered, event.read)
            case Rebased():
                self._begin()
                self.store.drop_after(event.room, event.after)
            case p.Left():
                if event.room in self._rooms:
                    self._rooms.remove(event.room)
                    self._save_rooms()
            case _:
                pass

    def _put(self, m: p.Posted) -> None:
        self._begin()
        stored = self.store.put_copy(StoredMessage(m.room, m.seq, m.sender, m.time, m.text, m.cid, _file(m.file),
                                                   reply_to=m.reply_to, edited=m.edited, deleted=m.deleted),
                                     replace=True)
        if stored:
            for r in m.reactions:
                for name in r.members:
                    self.store.set_reaction(m.room, m.seq, r.emoji, name, True)

    def _receipt(self, room: str, name: str, delivered: int, read: int) -> None:
        if room not in self._rooms:
            return
        self._begin()
        self.store.add_member(room, name)
        self.store.set_receipt(room, name, delivered, read)

    def _joined(self, room: str) -> None:
        if room not in self._rooms:
            self._rooms.append(room)
            self._save_rooms()
        self._begin()
        if self.store.find_room(room) is None:
            self.store.create_room(room)

    def copies(self, room: str, after: int, limit: int = 100) -> list[p.Posted]:
        """What this replica holds of `room` after seq `after`, oldest first (to push)."""
        held, _ = self.store.history(room, after=after, limit=limit)
        return [as_posted(m) for m in held]

    # ------------------------------------------------------------------ file bodies

    def keep_body(self, blob_id: str, path: Path) -> None:
        """Keep a copy of a body downloaded to `path` (slow: run off-loop)."""
        if self.blobs.has(blob_id):
            return
        copy = self.blobs.download_path(blob_id)
        shutil.copyfile(path, copy)
        self.blobs.adopt(blob_id, copy)  # checked against its id again: the file may have changed

    def body(self, blob_id: str) -> Path | None:
        """The kept body `blob_id`, if this replica has it."""
        try:
            return self.blobs.path(blob_id) if self.blobs.has(blob_id) else None
        except StoreError:  # not an id at all
            return None

    # ------------------------------------------------------------------ transactions

    def _begin(self) -> None:
        """Join this loop iteration's transaction (opened by the first write of it)."""
        self.store.begin()
        if self._commit is None:
            try:
                self._commit = asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (tests folding events by hand): commit at once
                self.flush()

    def flush(self) -> None:
        self._commit = None
        try:
            self.store.commit()
        except StoreError as exc:
            self.store.rollback()
            log.warning("cannot keep a copy of the chat: %s", exc)

    def close(self) -> None:
        if self._commit is not None:
            self._commit.cancel()
        self.flush()
        self.store.close()

    # ------------------------------------------------------------------ the rooms joined

    def _load_rooms(self) -> list[str]:
        try:
            data = json.loads((self.folder / "rooms.json").read_text())
            return [str(r) for r in data if isinstance(r, str)] if isinstance(data, list) else []
        except (OSError, ValueError):
            return []

    def _save_rooms(self) -> None:
        try:
            write_private(self.folder / "rooms.json", json.dumps(self._rooms).encode())
        except OSError as exc:
            log.warning("cannot keep the list of rooms joined: %s", exc)
