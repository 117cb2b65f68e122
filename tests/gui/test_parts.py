"""Tones, avatars, palettes and the file dialog's answer: plain unit tests (no window)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from pyrtc.gui import tones as T
from pyrtc.gui.avatar import AvatarColours, initials
from pyrtc.gui.dialogs import chosen_files
from pyrtc.gui.palette import DARK, LIGHT


@pytest.mark.parametrize("name", list(T.TONES))
def test_tones_have_length_frequency_and_no_clipping(name: str) -> None:
    parts = T.TONES[name]
    wave = T.synth(parts)
    assert wave.dtype == np.float32
    assert len(wave) == sum(int(round(s * T.SAMPLE_RATE)) for _, s in parts)
    assert np.max(np.abs(wave)) <= 0.41  # headroom, never clipping at ±1
    assert abs(wave[0]) < 1e-3 and abs(wave[-1]) < 1e-3  # faded: no click
    freq, seconds = parts[0]
    first = wave[: int(seconds * T.SAMPLE_RATE)]
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    peak = np.fft.rfftfreq(len(first), 1 / T.SAMPLE_RATE)[np.argmax(spectrum)]
    assert abs(peak - freq) < T.SAMPLE_RATE / len(first) * 1.5


def test_tones_are_distinct() -> None:
    waves = {name: T.synth(parts) for name, parts in T.TONES.items()}
    assert len({len(w) for w in waves.values()}) == len(waves)


def test_no_audio_device_logs_once_and_stays_silent(caplog: pytest.LogCaptureFixture) -> None:
    class NoDevice:
        class PortAudioError(Exception):
            pass

        def play(self, *a: object, **k: object) -> None:
            raise self.PortAudioError("Error querying device -1")

    caplog.set_level(logging.WARNING, "pyrtc.gui.tones")
    player = T.TonePlayer()
    player._sd = NoDevice()
    for _ in range(3):
        player.play("message")  # never raises
    assert [r.getMessage() for r in caplog.records] == [
        "no audio output (Error querying device -1); notification tones are off"]
    assert player.played == ["message"] * 3


def test_real_sounddevice_without_a_device_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "pyrtc.gui.tones")
    player = T.TonePlayer()
    player.play("join")  # this machine: no sound card (or no PortAudio); either way silent
    player.play("join")
    assert len(caplog.records) <= 1


def _hue(rgb: tuple[int, int, int]) -> float:
    import colorsys

    return colorsys.rgb_to_hls(*(v / 255 for v in rgb))[0] * 360


@pytest.mark.parametrize("names", [
    ["Alice", "Bob", "Carol", "Dave", "Eve", "Zoë", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory"],
    [f"user{i}" for i in range(12)],  # the benchmark's senders
    ["Alice Martin", "Bob", "Carol", "carol2", "Dan", "Erin", "Fay", "Gus", "Hal", "Ida", "Jo", "Kim"],
])
def test_the_first_twelve_names_get_twelve_hue_families(names: list[str]) -> None:
    colours = AvatarColours()
    hues = [_hue(colours(n)) for n in names]
    for i, a in enumerate(hues):
        for j, b in enumerate(hues[:i]):
            gap = min(abs(a - b), 360 - abs(a - b))
            assert gap >= 20, f"{names[i]} and {names[j]} share a hue family ({a:.0f}° vs {b:.0f}°)"
    # Stable for the window's life, whatever the case; a thirteenth name shares a colour.
    assert colours("ALICE" if "Alice" in names else names[0]) == colours(names[0])
    assert colours("someone else") in {colours(n) for n in names}


def test_avatar_colours_are_dark_enough_for_white_initials() -> None:
    from pyrtc.gui.palette import AVATAR_COLOURS

    def lum(c: tuple[int, int, int]) -> float:
        f = [v / 255 / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * f[0] + 0.7152 * f[1] + 0.0722 * f[2]

    assert all(1.05 / (lum(c) + 0.05) >= 3.5 for c in AVATAR_COLOURS)
    assert initials("Alice Martin") == "AM" and initials("bob") == "BO" and initials("x") == "X"
    assert initials("山田") == "山" and initials("田中 花子") == "田"


def test_palettes_are_readable() -> None:
    for pal in (DARK, LIGHT):
        lum = lambda c: 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]  # noqa: E731
        assert abs(lum(pal.text) - lum(pal.bg)) > 120, pal.name
        assert pal.read != pal.sent


def test_the_file_picked_in_the_dialog_is_found(tmp_path: Path) -> None:
    """Dear PyGui's dialog (".*" filter) reports "<folder>/<stem>.*"; the path is in its selections."""
    (tmp_path / "beach.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "notes.md").write_text("x")
    reported = {"file_path_name": str(tmp_path / "beach.*"), "current_path": str(tmp_path)}
    picked = {**reported, "selections": {"beach.png": str(tmp_path / "beach.png")}}
    assert chosen_files(picked) == [tmp_path / "beach.png"]
    assert chosen_files({**reported, "selections": {}}) == [tmp_path / "beach.png"]  # a name typed in
    assert chosen_files({"file_path_name": str(tmp_path / "notes.*"), "selections": {}}) == []  # which one?
    assert chosen_files({"file_path_name": str(tmp_path / "notes.md"), "selections": {}}) == [tmp_path / "notes.md"]
    assert chosen_files({"file_path_name": str(tmp_path / "gone.*"), "selections": {}}) == []
