"""Pieces shared by the Theunissen-lab loaders (CRCNS AA1, AA2, AA4): stimulus features and presets.

Two presets:

- ``"deepstrf"`` (default): causal mel spectrogram (each frame ends with its response bin),
  ``n_frequency_bands`` bands from ``f_min_hz`` to ``f_max_hz``, a Hann window of ``window_ms``, power, then
  cube root; ``T = ceil(n_samples / hop)``.
- ``"published"``: the published library's convention: a *centred* STFT (reflect padding,
  periodic Hann of ``window_ms``, hop ``int(sr * dt_ms / 1000)``), 32 mel bands from 0 Hz to
  the Nyquist frequency, power, cube root; ``T = floor(n_samples / hop) + 1``. Its frames look
  half a window ahead: not causal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets.audio._aa1_files import compress
from deepSTRF.datasets.audio._spectro import causal_mel_spectrogram, centred_mel_spectrogram, fit_length, resample

PRESETS = ("deepstrf", "published")


@dataclass(frozen=True)
class SongFeatures:
    """How a song-bird loader turns a WAV into a stimulus (see the module notes)."""

    dt_ms: float
    waveform: bool
    audio_fs: float
    hop: int | None
    preset: str = "deepstrf"
    n_frequency_bands: int = 32
    f_min_hz: float = 250.0
    f_max_hz: float = 8000.0
    window_ms: float = 10.0
    compression: str = "cube_root"

    def __post_init__(self) -> None:
        check_choice("preset", self.preset, list(PRESETS))
        check_choice("compression", self.compression, ["cube_root", "log", "none"])
        check_int("n_frequency_bands", self.n_frequency_bands)
        check_positive_float("window_ms", self.window_ms)
        check_positive_float("f_max_hz", self.f_max_hz)
        if self.f_min_hz < 0 or self.f_min_hz >= self.f_max_hz:
            raise ValueError(f"`f_min_hz` must be below `f_max_hz`, got {self.f_min_hz} and {self.f_max_hz}")

    def n_bins(self, n_samples: int, sr: float) -> int:
        """Response bins of a sound of ``n_samples`` at ``sr``."""
        if self.preset == "published" and not self.waveform:
            return n_samples // int(sr * self.dt_ms / 1000.0) + 1
        return math.ceil(n_samples * 1000.0 / (sr * self.dt_ms) - 1e-9)

    def __call__(self, audio: np.ndarray, sr: float) -> tuple[np.ndarray, int]:
        """``(stimulus, T)``: ``(F, T)`` spectrogram or ``(T * hop,)`` waveform."""
        n_bins = self.n_bins(audio.size, sr)
        if self.waveform:
            return fit_length(resample(audio, sr, self.audio_fs), n_bins * int(self.hop or 0)), n_bins
        if self.preset == "published":
            power = centred_mel_spectrogram(
                audio,
                sr,
                int(sr * self.dt_ms / 1000.0),
                n_mels=32,
                f_min_hz=0.0,
                f_max_hz=sr / 2.0,
                window_len=max(round(self.window_ms * sr / 1000.0), 2),
                power=2.0,
            )
            return compress(power, "cube_root")[:, :n_bins], n_bins
        power = causal_mel_spectrogram(
            audio,
            sr,
            self.dt_ms,
            n_bins,
            n_mels=self.n_frequency_bands,
            f_min_hz=self.f_min_hz,
            f_max_hz=self.f_max_hz,
            window_ms=self.window_ms,
            power=2.0,
        )
        return compress(power, self.compression), n_bins

    def describe(self) -> dict[str, object]:
        """What the stimuli are, for ``info``."""
        if self.waveform:
            return {"stimulus": "waveform", "preset": self.preset}
        if self.preset == "published":
            return {
                "stimulus": "centred mel spectrogram (published)",
                "n_frequency_bands": 32,
                "f_range_hz": "0 to Nyquist",
            }
        return {
            "stimulus": "causal mel spectrogram",
            "preset": self.preset,
            "n_frequency_bands": self.n_frequency_bands,
            "f_range_hz": (self.f_min_hz, self.f_max_hz),
            "window_ms": self.window_ms,
            "compression": self.compression,
        }


def check_selection(name: str, values: object, allowed: tuple[str, ...] | None = None) -> list[str] | None:
    """``None`` (everything) or a non-empty list of str (among ``allowed`` when given)."""
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"`{name}` must be None or a non-empty list of str, got {values!r}")
    if allowed is not None and any(v not in allowed for v in values):
        raise ValueError(f"`{name}` must be among {list(allowed)}, got {list(values)}")
    return [str(v) for v in values]
