"""The keyed rate limits: kept across connections, forgotten once full again (bounded tables)."""

from __future__ import annotations

from pyrtc.server.meters import KeyedBuckets

from ..conftest import FakeClock


def test_keyed_buckets_limit_each_key_and_forget_the_full_ones(clock: FakeClock) -> None:
    table: KeyedBuckets[str] = KeyedBuckets(1.0, 3, clock)
    assert [table.take("a") for _ in range(4)] == [True, True, True, False]
    assert table.take("b") and table.delay("a") == 1.0
    clock.advance(1.0)
    assert table.take("a") and not table.take("a")
    for i in range(3000):  # a crowd of keys; once they refill, the table lets them go
        table.take(f"k{i}")
    clock.advance(10.0)
    for i in range(1100):  # the next crowd: the table grows to twice its last size, then sweeps
        table.take(f"n{i}")
    assert len(table._buckets) <= 1100
    clock.advance(10.0)
    table.sweep()
    assert len(table._buckets) == 0  # every bucket full again: the same as new ones
    assert KeyedBuckets(0, 1, clock).take("x")  # rate 0: no limit
