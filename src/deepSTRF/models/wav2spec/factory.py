"""Build a waveform front-end by name."""

from __future__ import annotations

import inspect
from typing import Any

from deepSTRF.models.wav2spec._base import WaveformFrontEnd
from deepSTRF.models.wav2spec.gammatone import CausalGammatone, Gammatonegram
from deepSTRF.models.wav2spec.leaf import CausalLEAF
from deepSTRF.models.wav2spec.mel import CausalMelSpectrogram
from deepSTRF.models.wav2spec.published import PublishedCausalGammatone, PublishedCausalLEAF
from deepSTRF.models.wav2spec.sincnet import SincNet

#: Front-end classes by the name :func:`make_wav2spec` accepts.
WAV2SPEC_KINDS: dict[str, type[WaveformFrontEnd]] = {
    "mel": CausalMelSpectrogram,
    "gammatone": CausalGammatone,
    "gammatonegram": Gammatonegram,
    "sincnet": SincNet,
    "leaf": CausalLEAF,
    "published_gammatone": PublishedCausalGammatone,
    "published_leaf": PublishedCausalLEAF,
}


def make_wav2spec(kind: str, audio_fs: float, dt_ms: float, **options: Any) -> WaveformFrontEnd:
    """Build the front-end ``kind`` producing one frame per ``dt_ms`` bin.

    ``options`` are passed to the front-end's constructor and must be among its
    keyword arguments (``n_filters``, ``compression``, ...); the bin width is
    passed as its ``dt_ms``.

    Args:
        kind: One of ``'mel'`` (:class:`CausalMelSpectrogram`), ``'gammatone'``
            (:class:`CausalGammatone`), ``'gammatonegram'`` (:class:`Gammatonegram`),
            ``'sincnet'`` (:class:`SincNet`), ``'leaf'`` (:class:`CausalLEAF`), or deepSTRF 0.1.0's
            definitions of two of them, ``'published_gammatone'`` (:class:`PublishedCausalGammatone`)
            and ``'published_leaf'`` (:class:`PublishedCausalLEAF`).
        audio_fs: Sampling rate in Hz.
        dt_ms: Bin width in ms; ``audio_fs * dt_ms / 1000`` must be an integer.
        **options: Keyword arguments of the chosen front-end.

    Returns:
        The front-end module.

    Raises:
        ValueError: If ``kind`` is unknown, or the front-end rejects a value.
        TypeError: If an option is not an argument of the chosen front-end.

    Example:
        >>> front_end = make_wav2spec("mel", 16000, 5.0, n_filters=32)
        >>> (type(front_end).__name__, front_end.out_channels, front_end.hop)
        ('CausalMelSpectrogram', 32, 80)
    """
    if kind not in WAV2SPEC_KINDS:
        raise ValueError(f"`kind` must be one of {sorted(WAV2SPEC_KINDS)}, got {kind!r}")
    cls = WAV2SPEC_KINDS[kind]
    accepted = [
        name for name in inspect.signature(cls.__init__).parameters if name not in ("self", "audio_fs", "dt_ms")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for {kind!r} ({cls.__name__}); accepted options: {accepted}")
    return cls(audio_fs=audio_fs, dt_ms=dt_ms, **options)
