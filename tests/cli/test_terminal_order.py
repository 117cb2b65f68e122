"""What the terminal prints when frames come in the order the server writes them: a sender
gets its acks before the posts of the same commit (server/commit.py), so its own #2 can be
acknowledged before someone else's #1 reaches it. Seen in CI: Ann's terminal never showed
Bob's #1. Fed through the session's own state, event by event, as its router applies them."""

from __future__ import annotations

import time
from collections.abc import Callable

from pyrtc import protocol as p
from pyrtc.client import ClientSession
from pyrtc.client.events import PendingText
from pyrtc.client.state import Rebased
from pyrtc.terminal.chat import TerminalChat


class Lines:
    """A console that keeps what is written."""

    interactive = False
    has_prompt = False
    on_typing: Callable[[bool], None] | None = None

    def __init__(self) -> None:
        self.out: list[str] = []

    def write(self, text: str) -> None:
        self.out.append(text)

    def set_prompt(self, prompt: str) -> None:
        pass

    async def readline(self) -> str | None:
        return None

    async def ask(self, prompt: str) -> str | None:
        return None

    async def secret(self, prompt: str) -> str | None:
        return None

    def close(self) -> None:
        pass


def chat_of(name: str) -> tuple[ClientSession, TerminalChat, Lines]:
    session = ClientSession("127.0.0.1", 9, name, reconnect=False)
    console = Lines()
    chat = TerminalChat(session, console, kiosk=True)  # a kiosk sends no read receipts: no connection needed
    session.on_event = chat.on_event
    return session, chat, console


def feed(session: ClientSession, chat: TerminalChat, *events: object) -> None:
    for ev in events:
        session.state.apply(ev)  # type: ignore[arg-type]
        chat.on_event(ev)  # type: ignore[arg-type]


def post(seq: int, sender: str, text: str, cid: str = "") -> p.Posted:
    return p.Posted(room="General", seq=seq, sender=sender, time=time.time(), text=text, cid=cid)


def numbered(lines: list[str]) -> list[str]:
    return sorted(line.split("] ", 1)[1] for line in lines if "] #" in line)


def test_an_ack_before_an_earlier_post_still_shows_both() -> None:
    session, chat, console = chat_of("Ann")
    feed(session, chat, p.Joined(room="General", members=[], history=[], last_seq=0),
         PendingText("General", "c1", "Ann", "ann one", time.time()),
         p.Acked(room="General", cid="c1", seq=2, time=time.time()),  # acks first ...
         post(1, "Bob", "bob one"), post(2, "Ann", "ann one", cid="c1"),  # ... then the posts
         post(3, "Cy", "cy one"))
    assert numbered(console.out) == ["#1 Bob: bob one", "#2 Ann: ann one", "#3 Cy: cy one"]


def test_each_message_once_whatever_the_order() -> None:
    session, chat, console = chat_of("Ann")
    feed(session, chat, p.Joined(room="General", members=[], history=[post(1, "Bob", "a")], last_seq=1),
         post(4, "Bob", "d"), post(3, "Cy", "c"), post(2, "Cy", "b"), post(4, "Bob", "d"), post(5, "Bob", "e"))
    assert numbered(console.out) == ["#1 Bob: a", "#2 Cy: b", "#3 Cy: c", "#4 Bob: d", "#5 Bob: e"]
    assert len(console.out) == 5


def test_a_rebase_shows_the_renumbered_messages_again() -> None:
    session, chat, console = chat_of("Ann")
    feed(session, chat, p.Joined(room="General", members=[], history=[post(1, "Bob", "a"), post(2, "Bob", "b")],
                                 last_seq=2))
    console.out.clear()
    feed(session, chat, Rebased(room="General", after=1), post(2, "Cy", "from the other host"))
    assert numbered(console.out) == ["#2 Cy: from the other host"]
