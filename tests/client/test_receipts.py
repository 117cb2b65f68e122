"""Receipts are paced per room: a burst of reports becomes at most two frames, and the newest
one always goes out."""

from __future__ import annotations

import asyncio

import pyrtc.protocol as p
from pyrtc.client.receipts import RECEIPT_GAP, ReceiptPacer


async def test_a_burst_of_receipts_becomes_two_frames_ending_with_the_newest() -> None:
    sent: list[p.Msg] = []
    got_last = asyncio.Event()

    def write(msg: p.Msg) -> None:
        sent.append(msg)
        if isinstance(msg, p.MarkRead) and msg.seq == 100:
            got_last.set()

    pacer = ReceiptPacer(write)
    for seq in range(1, 101):
        pacer.report("General", delivered=seq)
        pacer.report("Gaming", delivered=seq)
    pacer.report("General", delivered=100, read=100)
    async with asyncio.timeout(10 * RECEIPT_GAP + 5):
        await got_last.wait()
    general = [m for m in sent if getattr(m, "room", "") == "General"]
    assert general == [p.MarkDelivered(room="General", seq=1), p.MarkRead(room="General", seq=100)]
    gaming = [m for m in sent if getattr(m, "room", "") == "Gaming"]
    assert gaming[0] == p.MarkDelivered(room="Gaming", seq=1) and len(gaming) <= 2
    pacer.cancel()


async def test_read_and_a_newer_delivered_both_go_out() -> None:
    sent: list[p.Msg] = []
    pacer = ReceiptPacer(sent.append)
    pacer.report("General", delivered=1)
    pacer.report("General", delivered=5, read=3)
    pacer.report("General", delivered=9)
    pacer._flush()  # the gap's end, now
    assert sent == [p.MarkDelivered(room="General", seq=1), p.MarkRead(room="General", seq=3),
                    p.MarkDelivered(room="General", seq=9)]
    pacer.cancel()
