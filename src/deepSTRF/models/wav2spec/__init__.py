"""Causal waveform front-ends: map audio ``(B, 1, T_audio)`` to spectrograms ``(B, 1, F, T_audio // hop)``.

Every front-end has the attributes ``audio_fs`` (Hz), ``hop`` (samples per
output bin, ``audio_fs * dt_ms / 1000``) and ``out_channels`` (``F``), requires
``T_audio`` to be a multiple of ``hop``, and is strictly causal: output bin ``t``
depends only on the samples before ``(t + 1) * hop``. Their convolutions, and
ICNet's, run through :func:`causal_conv1d` (direct or overlap-save FFT).

Example:
    >>> import torch
    >>> front_end = make_wav2spec("gammatone", audio_fs=16000, dt_ms=5.0, n_filters=16)
    >>> front_end(torch.randn(1, 1, 1600)).shape
    torch.Size([1, 1, 16, 20])
"""

from deepSTRF.functional.filterbanks import mel_filterbank
from deepSTRF.functional.framing import samples_per_bin
from deepSTRF.models.wav2spec._base import COMPRESSIONS, WaveformFrontEnd
from deepSTRF.models.wav2spec._conv import causal_conv1d
from deepSTRF.models.wav2spec.factory import WAV2SPEC_KINDS, make_wav2spec
from deepSTRF.models.wav2spec.gammatone import (
    CausalGammatone,
    Gammatonegram,
    gammatone_fir_kernels,
    gammatone_iir_poles,
)
from deepSTRF.models.wav2spec.leaf import CausalLEAF
from deepSTRF.models.wav2spec.mel import CausalMelSpectrogram
from deepSTRF.models.wav2spec.pcen import PCEN, smooth_energy
from deepSTRF.models.wav2spec.published import (
    PublishedCausalGammatone,
    PublishedCausalLEAF,
    peak_normalised_gammatone_kernels,
)
from deepSTRF.models.wav2spec.sincnet import SincNet, symlog

__all__ = [
    "COMPRESSIONS",
    "PCEN",
    "WAV2SPEC_KINDS",
    "CausalGammatone",
    "CausalLEAF",
    "CausalMelSpectrogram",
    "Gammatonegram",
    "PublishedCausalGammatone",
    "PublishedCausalLEAF",
    "SincNet",
    "WaveformFrontEnd",
    "causal_conv1d",
    "gammatone_fir_kernels",
    "gammatone_iir_poles",
    "make_wav2spec",
    "mel_filterbank",
    "peak_normalised_gammatone_kernels",
    "samples_per_bin",
    "smooth_energy",
    "symlog",
]
