from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pyrtc.store import DEFAULT_ROOMS, Store, StoredFile, StoreError


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "history.db")


def test_default_rooms_exist_from_the_first_start(store: Store) -> None:
    assert {r for r, *_ in store.rooms()} == set(DEFAULT_ROOMS)


def test_wal_mode_on_a_real_file(store: Store) -> None:
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_seq_is_per_room_and_gapless(store: Store) -> None:
    seqs = [store.append("General", "ann", f"g{i}").seq for i in range(3)]
    other = [store.append("Gaming", "bob", f"x{i}").seq for i in range(2)]
    assert seqs == [1, 2, 3] and other == [1, 2]
    assert store.last_seq("General") == 3


def test_append_to_a_missing_room_fails_and_leaves_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="no room"):
        store.append("Nowhere", "ann", "hi")
    assert store.append("General", "ann", "hi").seq == 1


def test_cid_finds_a_resent_message(store: Store) -> None:
    m = store.append("General", "ann", "once", cid="c1")
    assert store.find_by_cid("General", "ann", "c1") == m
    assert store.find_by_cid("General", "bob", "c1") is None


def test_history_pages_newest_first_returned_oldest_first(store: Store) -> None:
    for i in range(1, 11):
        store.append("General", "ann", f"m{i}")
    page, more = store.history("General", limit=4)
    assert [m.seq for m in page] == [7, 8, 9, 10] and more
    page, more = store.history("General", before=7, limit=4)
    assert [m.seq for m in page] == [3, 4, 5, 6] and more
    page, more = store.history("General", before=3, limit=4)
    assert [m.seq for m in page] == [1, 2] and not more
    page, more = store.history("General", after=8)
    assert [m.seq for m in page] == [9, 10] and not more


def test_history_survives_reopening(tmp_path: Path) -> None:
    s = Store(tmp_path / "h.db")
    s.append("Study", "ann", "persist me")
    s.create_room("Book club")
    s.close()
    s2 = Store(tmp_path / "h.db")
    assert [m.text for m in s2.history("Study")[0]] == ["persist me"]
    assert s2.find_room("Book club") == "Book club"
    assert s2.append("Study", "ann", "next").seq == 2


def test_receipts_only_move_forward(store: Store) -> None:
    store.add_member("General", "bob")
    assert store.set_receipt("General", "bob", 5, 2) is not None
    assert store.set_receipt("General", "bob", 3, 1) is None  # older: no change
    m = store.set_receipt("General", "bob", 5, 4)
    assert m is not None and (m.delivered, m.read) == (5, 4)


def test_read_implies_delivered(store: Store) -> None:
    store.add_member("General", "bob")
    m = store.set_receipt("General", "bob", 0, 7)
    assert m is not None and m.delivered == 7


def test_sender_has_its_own_message(store: Store) -> None:
    store.add_member("General", "ann")
    store.append("General", "ann", "mine")
    [member] = store.members("General")
    assert (member.delivered, member.read) == (1, 1)


def test_reactions_add_remove_and_show_in_history(store: Store) -> None:
    store.append("General", "ann", "react to me")
    assert store.set_reaction("General", 1, "👍", "bob", True)
    assert not store.set_reaction("General", 1, "👍", "bob", True)  # already there
    assert store.set_reaction("General", 1, "🎉", "cy", True)
    [m], _ = store.history("General")
    assert m.reactions == {"👍": ["bob"], "🎉": ["cy"]}
    assert store.set_reaction("General", 1, "👍", "bob", False)
    [m], _ = store.history("General")
    assert m.reactions == {"🎉": ["cy"]}


def test_search_is_per_room_and_prefix_matching(store: Store) -> None:
    store.append("General", "ann", "the quarterly report is ready")
    store.append("General", "bob", "lunch?")
    store.append("Gaming", "cy", "report the bug")
    hits = store.search("General", "quart rep")
    assert [h.text for h in hits] == ["the quarterly report is ready"]
    assert [h.text for h in store.search("Gaming", "report")] == ["report the bug"]


@pytest.mark.parametrize("query", ['"', "AND", "NEAR(", "*", "a OR", "') DROP TABLE messages; --"])
def test_search_treats_syntax_as_words(store: Store, query: str) -> None:
    store.append("General", "ann", "hello")
    store.search("General", query)  # no StoreError, no crash
    assert store.history("General")[0][0].text == "hello"


def test_file_message_round_trips(store: Store) -> None:
    f = StoredFile("a" * 64, "photo.png", 1234, "image/png", "b" * 64, 640, 480)
    m = store.append("General", "ann", "", cid="f1", file=f)
    [got], _ = store.history("General")
    assert got.file == f and got.seq == m.seq
    assert store.file_readable("a" * 64, "ann", []) and store.file_readable("b" * 64, "ann", [])
    assert not store.file_readable("c" * 64, "ann", [])
    assert [h.seq for h in store.search("General", "photo")] == [m.seq]


def test_who_may_read_a_file(store: Store) -> None:
    store.create_room("Vault", password_hash="scrypt$x")
    store.add_member("Vault", "bob")
    store.append("Vault", "ann", "", cid="f1", file=StoredFile("a" * 64, "plan.txt", 4, "text/plain", "b" * 64))
    store.append("General", "ann", "", cid="f2", file=StoredFile("c" * 64, "menu.txt", 4, "text/plain"))
    for blob in ("a" * 64, "b" * 64):  # the file and its thumbnail alike
        assert store.file_readable(blob, "ann", [])  # the uploader
        assert store.file_readable(blob, "bob", [])  # a member
        assert store.file_readable(blob, "carol", ["Vault"])  # let in to watch
        assert not store.file_readable(blob, "carol", ["General", "Gaming"])
    assert store.file_readable("c" * 64, "carol", [])  # an open room's: anyone may watch it


def test_one_million_row_bulk_insert_is_possible(store: Store) -> None:
    """bulk_append feeds the history benchmark; check it keeps seq and FTS consistent."""
    last = store.bulk_append("Study", ((f"u{i % 7}", f"message number {i}") for i in range(2000)))
    assert last == 2000 == store.last_seq("Study")
    assert store.append("Study", "ann", "after").seq == 2001
    assert [m.seq for m in store.search("Study", "1999")] == [2000]


def test_group_commit_batches_and_a_failed_append_spoils_nothing(tmp_path: Path) -> None:
    s = Store(tmp_path / "h.db")
    s.begin()
    s.append("General", "ann", "one")
    with pytest.raises(StoreError):
        s.append("Nowhere", "ann", "bad")
    s.append("General", "ann", "two")
    reader = sqlite3.connect(tmp_path / "h.db")  # another connection, as after a crash
    assert reader.execute("SELECT count(*) FROM messages").fetchone()[0] == 0  # not yet committed
    s.commit()
    assert [t for (t,) in reader.execute("SELECT text FROM messages ORDER BY seq")] == ["one", "two"]
    assert not s._db.in_transaction


def test_search_index_catches_up_after_a_crash(tmp_path: Path) -> None:
    """Messages are indexed for search after their commit; a crash in between loses nothing
    from search: the next start indexes what was missing, once."""
    store = Store(tmp_path / "h.db")
    store.append("General", "ann", "quarterly report")
    photo = StoredFile(blob_id="b" * 64, name="beach.jpg", size=1, mime="image/jpeg")
    store.append("General", "ann", "", file=photo)
    assert store._db.execute("SELECT count(*) FROM messages_fts").fetchone()[0] == 0  # not yet
    store._db.close()  # a crash: no index_pending, no close()
    again = Store(tmp_path / "h.db")
    assert [m.text for m in again.search("General", "quarterly")] == ["quarterly report"]
    assert [m.seq for m in again.search("General", "beach")] == [2]
    again.append("General", "bob", "another report")
    assert [m.text for m in again.search("General", "report")] == ["another report", "quarterly report"]
    again.close()
    third = Store(tmp_path / "h.db")
    assert third._db.execute("SELECT count(*) FROM messages_fts").fetchone()[0] == 3  # none twice
    third.close()


def test_a_database_from_before_deferred_indexing_is_not_indexed_twice(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    store.append("General", "ann", "old words")
    store.close()  # indexed at close
    db = sqlite3.connect(tmp_path / "h.db")
    db.execute("ALTER TABLE rooms DROP COLUMN indexed")  # the schema as it was
    db.commit()
    db.close()
    again = Store(tmp_path / "h.db")
    assert [m.text for m in again.search("General", "old")] == ["old words"]
    assert again._db.execute("SELECT count(*) FROM messages_fts").fetchone()[0] == 1
    again.close()


def test_a_member_joins_at_the_last_seq_and_leaving_forgets_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    store.add_member("General", "ann")
    store.append("General", "ann", "one")
    store.append("General", "ann", "two")
    member, new = store.add_member("General", "bob")
    assert new and member.joined_seq == 2
    store.set_receipt("General", "bob", 2, 2)
    store.remove_member("General", "bob")
    store.append("General", "ann", "three")
    member, new = store.add_member("General", "bob")  # back: anew, nothing read
    assert new and (member.joined_seq, member.delivered, member.read) == (3, 0, 0)
    store.close()
    db = sqlite3.connect(tmp_path / "h.db")
    db.execute("ALTER TABLE members DROP COLUMN joined_seq")  # the schema as it was
    db.commit()
    db.close()
    again = Store(tmp_path / "h.db")  # members from before: counted for every message
    assert {m.name: m.joined_seq for m in again.members("General")} == {"ann": 0, "bob": 0}
    again.close()


def test_a_commit_writes_the_message_and_leaves_marks_for_later(tmp_path: Path) -> None:
    """The sender's receipts for its own message and the room's last seq are written twice a
    second (write_marks), not in each commit: half of a commit's page writes."""
    s = Store(tmp_path / "h.db")
    s.add_member("General", "ann")
    s.begin()
    s.append("General", "ann", "one")
    s.commit()
    reader = sqlite3.connect(tmp_path / "h.db")
    assert reader.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
    assert reader.execute("SELECT last_seq FROM rooms WHERE name = 'General'").fetchone()[0] == 0
    assert reader.execute("SELECT read FROM members WHERE name = 'ann'").fetchone()[0] == 0
    assert [(m.name, m.read) for m in s.members("General")] == [("ann", 1)]  # readers see it
    assert reader.execute("SELECT read FROM members WHERE name = 'ann'").fetchone()[0] == 1
    s.append("General", "ann", "two")
    s.write_marks()
    assert reader.execute("SELECT last_seq FROM rooms WHERE name = 'General'").fetchone()[0] == 2
    assert reader.execute("SELECT read FROM members WHERE name = 'ann'").fetchone()[0] == 2
    s.close()


def test_a_crash_before_the_marks_are_written_loses_no_seq(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    store.add_member("General", "ann")
    for text in ("one", "two", "three"):
        store.append("General", "ann", text)
    store.append("Gaming", "bob", "elsewhere")
    store._db.close()  # a crash: no write_marks, no close()
    again = Store(tmp_path / "h.db")
    assert again.last_seq("General") == 3 and again.last_seq("Gaming") == 1
    assert {name: last for name, last, _, _ in again.rooms()}["General"] == 3
    assert again.append("General", "bob", "four").seq == 4  # not a second seq 1
    assert [m.seq for m in again.history("General")[0]] == [1, 2, 3, 4]
    stored = again._db.execute("SELECT last_seq FROM rooms WHERE name = 'Gaming'").fetchone()[0]
    assert stored == 1  # repaired at the start
    again.close()


def test_marks_written_in_a_transaction_that_rolls_back_are_written_again(tmp_path: Path) -> None:
    s = Store(tmp_path / "h.db")
    s.add_member("General", "ann")
    s.append("General", "ann", "one")  # committed; ann's own receipt waits in memory
    s.begin()
    s.members("General")  # writes the waiting marks inside this transaction...
    s.rollback()  # ...which then fails
    s.write_marks()
    reader = sqlite3.connect(tmp_path / "h.db")
    assert reader.execute("SELECT read FROM members WHERE name = 'ann'").fetchone()[0] == 1
    assert reader.execute("SELECT last_seq FROM rooms WHERE name = 'General'").fetchone()[0] == 1
    s.close()
