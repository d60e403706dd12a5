"""A simulated auditory dataset with known ground truth: :class:`SimulatedDataset`.

Stimuli are dynamic random chords (``'drc'``) or dynamic moving ripples (``'ripple'``) on
``F`` log-spaced bands, as level spectrograms in bels (10 dB) relative to the mean level.
Each neuron is a linear-nonlinear-Poisson unit with a realistic STRF: an excitatory
sub-field at its best frequency and latency, with sideband inhibition (flanking
frequencies) or delayed inhibition (same frequencies, later).

**STRF convention** (the same as the models' causal, left-padded cross-correlation
``CausalSTRFConv``): the last STRF column is lag 0, and the noiseless rate is::

    rate[n, t] = g( sum_{f, k} strf[n, f, k] * stim[f, t - (T_strf - 1) + k] + bias[n] )

with ``stim[f, t] = 0`` (the mean level) before onset and ``g`` the output nonlinearity. With
``adaptation_tau_ms`` the rate is then divided by ``1 + adaptation_strength * a[n, t]``,
where ``a`` is the exponentially weighted average of the neuron's past rate (bins ``< t``)
over its mean rate. Trials are Poisson counts of the rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets.audio._synthesis import band_frequencies, drc_levels, ripple_levels, tone_waveform
from deepSTRF.datasets.audio.lnp import NONLINEARITIES, adapt, linear_drive, lnp_rate, make_strfs
from deepSTRF.datasets.core import NeuralDataset, hop_samples

__all__ = ["NONLINEARITIES", "SimulatedDataset", "lnp_rate"]

_DEPTH_BELS = 3.0  # a 30 dB level range
_CALIBRATION_BINS = 4000


def _check_range(
    name: str, value: float | Sequence[float], *, integer: bool = False, minimum: float = -math.inf
) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, Sequence) or len(value) != 2 or not all(isinstance(v, (int, float)) for v in value):
        raise TypeError(f"`{name}` must be a number or a (low, high) pair, got {value!r}")
    lo, hi = value
    if integer and not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"`{name}` must hold ints, got {value!r}")
    if not minimum <= lo <= hi:
        raise ValueError(f"`{name}` must satisfy {minimum} <= low <= high, got {value!r}")
    return lo, hi


def _population(
    seq: np.random.SeedSequence,
    n_neurons: int,
    octaves: np.ndarray,
    dt_ms: float,
    n_lags: int,
    gains: tuple[float, float],
    biases: tuple[float, float],
    calib: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """STRFs scaled to each neuron's drive spread on the calibration stimulus, biases and metadata."""
    rngs = [np.random.default_rng(child) for child in seq.spawn(n_neurons)]
    shapes, params, bf_oct = make_strfs(rngs, octaves, dt_ms, n_lags)
    gain = np.array([r.uniform(gains[0], gains[1]) for r in rngs])
    bias = np.array([r.uniform(biases[0], biases[1]) for r in rngs])
    spread = linear_drive(calib, torch.from_numpy(shapes)).std(dim=1).clamp_min(1e-12).numpy()
    strfs = torch.from_numpy(shapes * (gain / spread)[:, None, None])
    meta = [
        {
            "neuron_id": f"sim{n:03d}",
            "best_octave": float(bf_oct[n]),
            **params[n],
            "bias": float(bias[n]),
            "drive_std": float(gain[n]),
        }
        for n in range(n_neurons)
    ]
    return strfs, torch.from_numpy(bias), meta


def _trials(
    seq: np.random.SeedSequence, rate: torch.Tensor, repeats: tuple[float, float], p_missing: float
) -> tuple[list[np.ndarray | None], int]:
    """Poisson trials ``(R, T)`` of each neuron (``None`` where missing) and ``R``."""
    spk, holes = (np.random.default_rng(child) for child in seq.spawn(2))
    n_rep = int(spk.integers(int(repeats[0]), int(repeats[1]) + 1))
    # drawn neuron by neuron (C order), so a neuron's trials do not depend on how many neurons follow it
    counts = spk.poisson(rate.numpy()[:, None].repeat(n_rep, axis=1)).astype(np.float32)
    missing = holes.random(rate.shape[0]) < p_missing
    return [None if missing[n] else counts[n] for n in range(rate.shape[0])], n_rep


class SimulatedDataset(NeuralDataset):
    """Linear-nonlinear-Poisson neurons with known STRFs, driven by random chords or ripples.

    The default (16 neurons, 32 bands from 500 Hz to 16 kHz, 5 ms bins, 75 ms STRFs, 40
    training stimuli of 2 s with 2-4 trials and 8 test stimuli with 10-20 trials) builds in
    well under a second and is what an LN model can fit in about a minute. Everything is
    deterministic from ``seed``; each stimulus, its trials and each neuron come from their own
    random streams, so changing the number of stimuli leaves the others unchanged. See the
    module documentation for the STRF convention.

    Args:
        n_neurons: Number of neurons ``N``.
        n_stimuli: Total number of stimuli ``S`` (training first, then test).
        n_test_stimuli: Number of test stimuli (default ``round(S / 6)``, at least 1 when ``S >= 2``).
        n_frequency_bands: Number of bands ``F`` (log-spaced).
        f_min_hz: Lowest band centre frequency.
        f_max_hz: Highest band centre frequency (default 16 kHz, or ``0.45 * audio_fs`` in waveform mode).
        dt_ms: Bin width in ms.
        duration_ms: Stimulus duration, or a (low, high) range drawn per stimulus (ragged lengths).
        temporal_window_size: STRF length ``T_strf`` in bins.
        stimulus: ``'drc'`` (dynamic random chords) or ``'ripple'`` (dynamic moving ripples).
        chord_ms: Chord duration of the random chords.
        train_repeats: Range (inclusive) of the number of trials of a training stimulus.
        test_repeats: Range (inclusive) of the number of trials of a test stimulus.
        nonlinearity: Output nonlinearity ``g``: ``'softplus'``, ``'exp'`` or ``'relu'``.
        drive_std: Range of the standard deviation of each neuron's linear drive (the STRFs are
            scaled to it, measured on a separate calibration stimulus).
        bias: Range of the biases (before the nonlinearity).
        adaptation_tau_ms: Time constant of divisive adaptation (``None``: no adaptation).
        adaptation_strength: Strength of the adaptation.
        p_missing: Probability that a (training stimulus, neuron) pair is missing.
        audio_fs: Sample rate of waveform mode (tone synthesis of the same level spectrograms).
        seed: Seed of everything.

    Attributes:
        true_strfs: ``(N, F, T_strf)`` float64 STRFs (last column = lag 0).
        true_bias: ``(N,)`` float64 biases.
        true_rates: ``S`` float64 noiseless rates ``(N, T_s)`` (spikes per bin).
        nonlinearity: Name of ``g``.
        frequencies_hz: ``(F,)`` band centre frequencies (also in ``info``).
        spectrograms: In waveform mode, the level spectrograms ``(1, F, T_s)`` behind the audio.
        splits: ``{'train': [...], 'test': [...]}``.

    Raises:
        TypeError, ValueError: For invalid arguments.

    Example:
        >>> ds = SimulatedDataset(n_neurons=4, n_stimuli=6, seed=1)
        >>> len(ds), ds.n_neurons, ds.F, ds.true_strfs.shape, ds.splits["test"]
        (6, 4, 32, torch.Size([4, 32, 15]), [5])
    """

    def __init__(
        self,
        n_neurons: int = 16,
        n_stimuli: int = 48,
        *,
        n_test_stimuli: int | None = None,
        n_frequency_bands: int = 32,
        f_min_hz: float = 500.0,
        f_max_hz: float | None = None,
        dt_ms: float = 5.0,
        duration_ms: float | tuple[float, float] = 2000.0,
        temporal_window_size: int = 15,
        stimulus: str = "drc",
        chord_ms: float = 20.0,
        train_repeats: int | tuple[int, int] = (2, 4),
        test_repeats: int | tuple[int, int] = (10, 20),
        nonlinearity: str = "softplus",
        drive_std: float | tuple[float, float] = (1.0, 1.5),
        bias: float | tuple[float, float] = (-1.0, 0.0),
        adaptation_tau_ms: float | None = None,
        adaptation_strength: float = 0.5,
        p_missing: float = 0.0,
        audio_fs: float | None = None,
        seed: int = 0,
    ) -> None:
        n_neurons = check_int("n_neurons", n_neurons)
        n_stimuli = check_int("n_stimuli", n_stimuli)
        n_test = max(1, round(n_stimuli / 6)) if n_stimuli >= 2 else 0
        n_test = n_test if n_test_stimuli is None else check_int("n_test_stimuli", n_test_stimuli, minimum=0)
        if n_test > n_stimuli:
            raise ValueError(f"`n_test_stimuli` must be at most `n_stimuli` ({n_stimuli}), got {n_test}")
        n_bands = check_int("n_frequency_bands", n_frequency_bands)
        n_lags = check_int("temporal_window_size", temporal_window_size)
        dt_ms = check_positive_float("dt_ms", dt_ms)
        check_choice("stimulus", stimulus, ("drc", "ripple"))
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        f_min_hz = check_positive_float("f_min_hz", f_min_hz)
        hop = None
        if audio_fs is not None:
            audio_fs = check_positive_float("audio_fs", audio_fs)
            hop = hop_samples(audio_fs, dt_ms)
        f_max = (16000.0 if audio_fs is None else min(16000.0, 0.45 * audio_fs)) if f_max_hz is None else f_max_hz
        f_max = check_positive_float("f_max_hz", f_max)
        if not f_min_hz < f_max or (audio_fs is not None and f_max >= audio_fs / 2):
            raise ValueError(
                f"band frequencies must satisfy f_min_hz < f_max_hz < audio_fs / 2, got f_min_hz={f_min_hz}, "
                f"f_max_hz={f_max}, audio_fs={audio_fs}"
            )
        dur = _check_range("duration_ms", duration_ms, minimum=dt_ms)
        reps = _check_range("train_repeats", train_repeats, integer=True, minimum=1)
        reps_test = _check_range("test_repeats", test_repeats, integer=True, minimum=1)
        gains = _check_range("drive_std", drive_std, minimum=0.0)
        biases = _check_range("bias", bias)
        chord_bins = max(1, round(check_positive_float("chord_ms", chord_ms) / dt_ms))
        if not isinstance(p_missing, (int, float)) or not 0 <= p_missing < 1:
            raise ValueError(f"`p_missing` must be in [0, 1), got {p_missing!r}")
        tau_bins = (
            None if adaptation_tau_ms is None else check_positive_float("adaptation_tau_ms", adaptation_tau_ms) / dt_ms
        )
        strength = check_positive_float("adaptation_strength", adaptation_strength, allow_zero=True)
        seed = check_int("seed", seed, minimum=0)

        root = np.random.SeedSequence(seed)
        s_neurons, s_calib, s_stims, s_spikes, s_audio = root.spawn(5)
        freqs = band_frequencies(n_bands, f_min_hz, f_max)
        octaves = np.log2(freqs / f_min_hz)

        def levels(rng: np.random.Generator, n_bins: int) -> torch.Tensor:
            if stimulus == "drc":
                x = drc_levels(rng, n_bands, n_bins, chord_bins, _DEPTH_BELS)
            else:
                x = ripple_levels(rng, octaves, n_bins, dt_ms, _DEPTH_BELS)
            return torch.from_numpy(x.astype(np.float32))[None]  # the stored stimulus, exactly

        calib = levels(np.random.default_rng(s_calib), _CALIBRATION_BINS)[0].double()
        strfs, bias_t, nrn_meta = _population(s_neurons, n_neurons, octaves, dt_ms, n_lags, gains, biases, calib)
        spectro = []
        for child in s_stims.spawn(n_stimuli):
            rng = np.random.default_rng(child)
            n_bins = round((rng.uniform(*dur) if dur[0] != dur[1] else dur[0]) / dt_ms)
            spectro.append(levels(rng, max(1, n_bins)))
        rates = lnp_rate([x.double() for x in spectro], strfs, bias_t, nonlinearity)
        if tau_bins is not None:
            mean_drive_rate = lnp_rate(calib, strfs, bias_t, nonlinearity).mean(dim=1)
            rates = [adapt(r, tau_bins, strength, mean_drive_rate) for r in rates]
        stims, responses, stim_meta = [], [], []
        for s, (sk, sa) in enumerate(zip(s_spikes.spawn(n_stimuli), s_audio.spawn(n_stimuli))):
            split = "test" if s >= n_stimuli - n_test else "train"
            trials, n_rep = _trials(
                sk, rates[s], reps_test if split == "test" else reps, p_missing * (split == "train")
            )
            responses.append(trials)
            if hop is not None and audio_fs is not None:
                audio = tone_waveform(np.random.default_rng(sa), spectro[s][0].double().numpy(), freqs, audio_fs, hop)
                stims.append(torch.from_numpy(audio[None].astype(np.float32)))
            else:
                stims.append(spectro[s])
            stim_meta.append(
                {
                    "name": f"{split}{s:03d}",
                    "split": split,
                    "kind": stimulus,
                    "n_repeats": n_rep,
                    "duration_ms": rates[s].shape[1] * dt_ms,
                }
            )
        mean_rate = torch.cat(rates, dim=1).mean(dim=1).tolist()
        for n, meta in enumerate(nrn_meta):
            meta["best_frequency_hz"] = float(f_min_hz * 2 ** meta.pop("best_octave"))
            meta["mean_rate"] = mean_rate[n]
        info = {
            "frequencies_hz": freqs.tolist(),
            "stimulus": stimulus,
            "level_units": "bels (10 dB) re. mean level",
            "nonlinearity": nonlinearity,
            "strf_convention": "last column is lag 0",
            "seed": seed,
            "adaptation_tau_ms": adaptation_tau_ms,
        }
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=nrn_meta,
            audio_fs=audio_fs,
            name="simulated",
            info=info,
        )
        self.F = n_bands
        self.true_strfs = strfs
        self.true_bias = bias_t
        self.true_rates = rates
        self.nonlinearity = nonlinearity
        self.frequencies_hz = torch.from_numpy(freqs)
        self.spectrograms = spectro if audio_fs is not None else None
        self.splits = {"train": list(range(n_stimuli - n_test)), "test": list(range(n_stimuli - n_test, n_stimuli))}
