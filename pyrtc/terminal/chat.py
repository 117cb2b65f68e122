"""TerminalChat: what `pyrtc --no-gui` shows and where it writes — the session's events become
lines, the room written to is kept (loop.py reads the lines typed).

Invariants:
- The room written to (`current`) changes only by a command the user gave (/join, /switch,
  /leave of that very room), and always shows: in the prompt, and in each confirmation.
- Every message is printed once, with its number, from the session's state: live, from a
  room's history on joining (its last 20), and the ones missed while the connection was down.
  Printed is shown: the server is told they were read (blue ✓✓ for their senders).
- Every command answers in one line (`--` done, `!!` why not); lists follow their line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from .. import protocol as p
from ..client import ClientSession, ConnectionLost
from ..client.state import Connected, Disconnected, Event, Rebased
from .console import Console
from .render import clean, message_line, quote

__all__ = ["TerminalChat", "Mistake", "HISTORY_SHOWN"]

HISTORY_SHOWN = 20  # messages of a room's history printed on joining it


class Mistake(Exception):
    """A command that cannot be done as given: one line for the user, nothing sent."""


class TerminalChat:
    def __init__(self, session: ClientSession, console: Console, *, kiosk: bool = False) -> None:
        self.session = session
        self.console = console
        self.kiosk = kiosk
        self.current: str | None = None
        self._recent: list[str] = []  # the rooms we are in, the one written to most recently last
        #: room -> (every seq up to this one is printed or skipped, the ones above it printed).
        #: A set and not just the newest: a sender gets its ack before the posts of the same
        #: moment, so its own #2 can print before someone else's #1 arrives.
        self._printed: dict[str, tuple[int, set[int]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.chatting = False  # the first room is joined: the prompt shows it from now on
        #: The user quit: the session may still follow the chat to its next host to hand on
        #: our server's copies, which is nothing for this user to read about.
        self.leaving = False

    async def say(self, text: str) -> None:
        if self.current is None:
            raise Mistake("you are in no room: /join ROOM first")
        try:
            await self.session.send(self.current, text)
        except (ConnectionLost, TimeoutError):
            self.console.write("!! not connected; the message will go when the server is back")

    def typing(self, on: bool) -> None:
        """The console's report: a line is (no longer) being typed."""
        self.session.note_input()
        if self.current is not None:
            self.background(self.session.set_typing(self.current, on))

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the loop (a transfer, a typing report); kept until it ends."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish_transfers(self) -> None:
        running = [t for t in self._tasks if not t.done()]
        if running:
            self.console.write(f"-- finishing {len(running)} transfer{'s' if len(running) > 1 else ''} "
                               "before leaving (Ctrl-C stops)")
            await asyncio.gather(*running, return_exceptions=True)

    # ------------------------------------------------------------------ rooms

    def enter(self, room: str) -> None:
        """`room` is the one written to now."""
        if room in self._recent:
            self._recent.remove(room)
        self._recent.append(room)
        self.current = room

    def left(self, room: str) -> None:
        if room in self._recent:
            self._recent.remove(room)
        if room == self.current:
            self.current = self._recent[-1] if self._recent else None

    def show_prompt(self) -> None:
        state = self.session.state
        prompt = (state.title(self.current) if p.is_direct(self.current) else f"#{self.current}"
                  ) if self.current else "(no room)"
        typing = state.typing_line(self.current) if self.current else ""
        if typing:
            prompt += f" ({typing})"
        for t in state.transfers.values():
            if t.state == "running":
                prompt += f" [{'↑' if t.direction == 'up' else '↓'} {t.name[:20]} {t.fraction:.0%}]"
        self.console.set_prompt(prompt + "> ")

    # ------------------------------------------------------------------ events

    def on_event(self, ev: Event) -> None:  # noqa: C901 - one flat dispatch reads best
        if self.leaving:
            return
        me, write = self.session.name, self.console.write
        match ev:
            case p.Posted() | p.Joined() | p.HistoryPage() | p.Acked():
                self._print_new(ev.room)
            case Rebased() if ev.room in self._printed:  # merged after two hosts: shown as numbered now
                floor, above = self._printed[ev.room]
                self._printed[ev.room] = (min(floor, ev.after), {s for s in above if s <= ev.after})
            case p.Reacted():
                view = self.session.state.rooms.get(ev.room)
                msg = view.by_seq.get(ev.seq) if view else None
                about = f" ({quote(msg)})" if msg else ""
                who = "you" if ev.name == me else ev.name
                verb = f"reacted {clean(ev.emoji)} to" if ev.on else f"took back {clean(ev.emoji)} from"
                where = "" if ev.room == self.current else f" in #{ev.room}"
                write(f"-- {who} {verb} #{ev.seq}{where}{about}")
            case p.Edited():
                view = self.session.state.rooms.get(ev.room)
                msg = view.by_seq.get(ev.seq) if view else None
                if msg is not None and msg.sender != me:
                    title = self.session.state.title(ev.room)
                    write(f"-- {msg.sender} deleted #{ev.seq} in [{title}]" if ev.deleted
                          else f"-- {msg.sender} edited #{ev.seq}: {message_line(msg, title)}")
            case p.StatusChanged() if ev.name != me:
                write(f"-- {ev.name} is {self.session.state.status_of(ev.name) or 'available'}")
            case p.DirectOpened() if not ev.rid:
                write(f"-- {ev.direct.peer} opened a direct conversation with you: /switch @{ev.direct.peer}")
            case p.MembersChanged() if any(m.name != me for m in ev.joined):
                write(f"-- {', '.join(m.name for m in ev.joined if m.name != me)} joined #{ev.room}")
            case p.MemberLeft() if ev.name != me:
                write(f"-- {ev.name} left #{ev.room}")
            case p.Typing() if ev.typing and ev.name != me and not self.console.has_prompt:
                write(f"-- {ev.name} is typing in #{ev.room}…")  # a terminal shows it in the prompt
            case p.Error() if not ev.rid and not ev.cid:  # replies are answered by their command
                write(f"!! {ev.message}")
            case Disconnected() if not ev.moving:  # a hand-over: the chat's own line says it
                write(f"!! {ev.reason}" + ("; reconnecting…" if ev.retrying else ""))
            case Connected():
                write(f"-- connected to {ev.address}")
        if self.chatting:  # who is typing, transfers: the prompt shows them

            self.show_prompt()

    def _print_new(self, room: str) -> None:
        """Every message of `room` not printed yet; on the first sight of a room, its last few."""
        view = self.session.state.rooms.get(room)
        if view is None:
            return
        held = [m for m in view.messages if m.seq]
        if room not in self._printed:
            self._printed[room] = (held[-HISTORY_SHOWN - 1].seq if len(held) > HISTORY_SHOWN else 0, set())
        floor, above = self._printed[room]
        new = [m for m in held if m.seq > floor and m.seq not in above]
        if len(new) > HISTORY_SHOWN:  # back in a room after a long time: its latest only
            self.console.write(f"-- {len(new) - HISTORY_SHOWN} earlier messages in #{room} not shown")
            floor, new = max(floor, new[-HISTORY_SHOWN - 1].seq), new[-HISTORY_SHOWN:]
        title = self.session.state.title(room)
        for m in new:
            self.console.write(message_line(m, title))
            above.add(m.seq)
        while floor + 1 in above:  # the set keeps only what printed out of order
            floor += 1
            above.discard(floor)
        if len(above) > 2 * HISTORY_SHOWN * 50:  # a seq that never came (a rolled-back commit)
            floor = sorted(above)[len(above) // 2]
        self._printed[room] = (floor, {s for s in above if s > floor})
        if new and not self.kiosk:  # a kiosk watches: it is no member, its reads count for nobody
            self.background(self.session.mark_read(room, max(m.seq for m in new)))
