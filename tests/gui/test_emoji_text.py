"""Cutting message text into runs (text, CJK, emoji) and wrapping them: no window needed."""

from __future__ import annotations

from pyrtc.gui.completion import emoji_shortcodes, emojize, suggest
from pyrtc.gui.emoji_text import needs_runs, segments, wrap
from pyrtc.gui.theme import kiosk_text_size


def test_runs_keep_sequences_whole_and_join_one_kind() -> None:
    assert segments("Great job 👍🏽 team 👨‍👩‍👧 日本語 ok 🇯🇵") == [
        ("text", "Great job "), ("emoji", "👍🏽"), ("text", " team "), ("emoji", "👨‍👩‍👧"), ("text", " "),
        ("cjk", "日本語"), ("text", " ok "), ("emoji", "🇯🇵")]
    assert segments("") == [] and segments("plain — text ✓ ●") == [("text", "plain — text ✓ ●")]
    assert not needs_runs("Stand-up moved to 10:15 — room Ørsted ✓") and needs_runs("a ❤️") and needs_runs("東京")


def test_wrap_breaks_between_words_and_between_cjk_characters() -> None:
    def measure(kind: str, text: str) -> float:
        return 20.0 if kind == "emoji" else 10.0 * len(text)

    assert wrap(segments("aaa bbb 👍 ccc"), 100, measure) == [[("text", "aaa bbb "), ("emoji", "👍")],
                                                              [("text", "ccc")]]
    assert wrap(segments("日本語の文章"), 40, measure) == [[("cjk", "日本語の")], [("cjk", "文章")]]
    assert wrap(segments("a verylongword"), 50, measure) == [[("text", "a ")], [("text", "verylongword")]]


def test_kiosk_capitals_are_a_45th_of_the_screen() -> None:
    for height in (720, 1080, 1440, 2160):
        assert kiosk_text_size(height) * 0.626 >= height / 45  # DejaVu: cap height 0.626 of the size


def test_completion_of_shortcodes_and_names() -> None:
    start, found = suggest("Nice :thumbs", [])
    assert start == 5 and [s.label for s in found] == [":thumbsup:", ":thumbsdown:"] and found[0].insert == "👍 "
    assert suggest("at 10:30", [])[1] == [] and suggest("a:b", [])[1] == []  # times and words are not shortcodes
    assert [s.insert for s in suggest("hi @al", ["Alice", "Bob", "alan"])[1]] == ["@alan ", "@Alice "]
    assert emojize("party :tada: at 10:30 :not_an_emoji:") == "party 🎉 at 10:30 :not_an_emoji:"
    assert emoji_shortcodes()["+1"] == "👍"
