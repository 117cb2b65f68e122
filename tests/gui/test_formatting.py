"""Message text as the one renderer sees it: formatted spans (bold, italic, code, fenced blocks,
links) cut into text/CJK/emoji runs that keep their style, wrapped. Pure: no window."""

from __future__ import annotations

from pyrtc.gui.emoji_text import Kind
from pyrtc.gui.formatting import Span, has_markup, parse, plain
from pyrtc.gui.message_text import PLAIN, Style, TextPainter


def test_markers_enclose_words_and_links_are_left_alone() -> None:
    assert parse("Can you bring the *slides* to `room 4`?") == [[
        Span("plain", "Can you bring the "), Span("bold", "slides"), Span("plain", " to "), Span("code", "room 4"),
        Span("plain", "?")]]
    assert parse("2*3*4 and snake_case_name") == [[Span("plain", "2*3*4 and snake_case_name")]]
    # Nothing inside a link is a marker; the sentence's full stop is not part of the link.
    assert parse("see https://x.org/a_b_c_d. _now_") == [[
        Span("plain", "see "), Span("link", "https://x.org/a_b_c_d"), Span("plain", ". "), Span("italic", "now")]]
    assert parse("a\n```\nx = *1*\n```\nb") == [[Span("plain", "a")], [Span("block", "x = *1*")], [Span("plain", "b")]]
    assert parse("one\n\ntwo") == [[Span("plain", "one")], [], [Span("plain", "two")]]
    assert not has_markup("Stand-up at 10:15, room 4") and has_markup("www.example.com") and has_markup("_x_")


def test_a_quote_reads_without_its_markers_on_one_line() -> None:
    assert plain("Can you bring the *slides* to `room 4`?") == "Can you bring the slides to room 4?"
    assert plain("2*3*4 at https://x.org/a_b") == "2*3*4 at https://x.org/a_b"
    assert plain("first\n```\nx = *1*\ny\n```\n_last_") == "first x = *1* y last"


def test_spans_become_runs_that_keep_their_style() -> None:
    runs = TextPainter._runs(parse("*Great 🎉 日本* go https://x.org/🙂")[0])
    bold: Style = ("bold", "")
    assert runs == [(("text", "Great "), bold), (("emoji", "🎉"), bold), (("text", " "), bold), (("cjk", "日本"), bold),
                    (("text", " go "), PLAIN), (("text", "https://x.org/🙂"), ("link", "https://x.org/🙂"))]


def test_wrapping_never_joins_two_styles_nor_cuts_a_link() -> None:
    from pyrtc.gui.emoji_text import wrap_styled

    def measure(kind: Kind, text: str, style: Style) -> float:
        return 20.0 if kind == "emoji" else 10.0 * len(text)

    runs = TextPainter._runs(parse("aa *bb* cc https://example.org/long dd")[0])
    lines = wrap_styled(runs, 100, measure)
    assert lines == [[(("text", "aa "), PLAIN), (("text", "bb"), ("bold", "")), (("text", " cc "), PLAIN)],
                     [(("text", "https://example.org/long"), ("link", "https://example.org/long"))],
                     [(("text", "dd"), PLAIN)]]
