"""Notification tones: synthesised once with numpy, played through sounddevice without
blocking. No audio device (or no PortAudio) -> silent, with one log line."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

__all__ = ["synth", "TONES", "TonePlayer", "SAMPLE_RATE"]

log = logging.getLogger(__name__)
SAMPLE_RATE = 44_100

#: name -> list of (frequency Hz, seconds); distinct at a glance: one, three, a rising pair.
TONES: dict[str, list[tuple[float, float]]] = {
    "message": [(880.0, 0.12)],
    "mention": [(1320.0, 0.08), (0.0, 0.04), (1320.0, 0.08), (0.0, 0.04), (1320.0, 0.08)],
    "join": [(660.0, 0.09), (990.0, 0.11)],
}


def synth(parts: list[tuple[float, float]], rate: int = SAMPLE_RATE, level: float = 0.4) -> np.ndarray:
    """float32 mono samples in [-level, level]: sines with 5 ms raised-cosine edges (no clicks)."""
    chunks = []
    for freq, seconds in parts:
        n = int(round(seconds * rate))
        t = np.arange(n, dtype=np.float64) / rate
        wave = np.sin(2 * np.pi * freq * t) if freq > 0 else np.zeros(n)
        edge = min(n // 2, int(0.005 * rate))
        if edge:
            ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
            wave[:edge] *= ramp
            wave[-edge:] *= ramp[::-1]
        chunks.append(wave)
    return (np.concatenate(chunks) * level).astype(np.float32)


class TonePlayer:
    def __init__(self, muted: bool = False) -> None:
        self.muted = muted
        self._cache = {name: synth(parts) for name, parts in TONES.items()}
        self._sd: Any = None
        self._broken = False
        self.played: list[str] = []  # what was asked to play (tests, the status line)

    def samples(self, name: str) -> np.ndarray:
        return self._cache[name]

    def play(self, name: str) -> None:
        self.played.append(name)
        if self.muted or self._broken:
            return
        try:
            if self._sd is None:
                import sounddevice

                self._sd = sounddevice
            self._sd.play(self._cache[name], SAMPLE_RATE, blocking=False)
        except Exception as exc:  # OSError: no PortAudio; PortAudioError: no device
            self._broken = True
            log.warning("no audio output (%s); notification tones are off", exc)
