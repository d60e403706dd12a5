import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.datasets.audio.simulated import lnp_rate


@pytest.fixture(scope="module")
def sim():
    return SimulatedDataset()


def test_default_layout(sim):
    assert len(sim) == 48 and sim.n_neurons == 16 and sim.F == 32 and sim.dt_ms == 5.0
    assert sim.splits == {"train": list(range(40)), "test": list(range(40, 48))}
    assert sim.lengths == [400] * 48
    assert sim.true_strfs.shape == (16, 32, 15) and sim.true_strfs.dtype == torch.float64
    assert len(sim.true_rates) == 48 and sim.true_rates[0].shape == (16, 400)
    freqs = np.array(sim.info["frequencies_hz"])
    np.testing.assert_allclose(freqs[[0, -1]], [500.0, 16000.0])
    np.testing.assert_allclose(np.diff(np.log(freqs)), np.log(32) / 31)
    counts = sim.n_trials
    assert counts[:40].min() >= 2 and counts[:40].max() <= 4 and counts[40:].min() >= 10 and counts[40:].max() <= 20
    assert (counts == counts[:, :1]).all()  # every neuron heard every trial
    assert [m["n_repeats"] for m in sim.stim_meta] == counts[:, 0].tolist()
    assert [m["split"] for m in sim.stim_meta] == ["train"] * 40 + ["test"] * 8
    peak = max(float(r.max()) for r in sim.true_rates)
    assert 1.0 < peak < 10.0  # a few spikes per bin at most


def test_true_rate_follows_the_documented_strf_convention(sim):
    """rate = g(causal cross-correlation with the last column at lag 0 + bias), as CausalSTRFConv computes it."""
    k = sim.true_strfs.shape[-1]
    for s in (0, 45):
        x = sim[s]["stims"].double()[None]  # (1, 1, F, T)
        drive = F.conv2d(F.pad(x, (k - 1, 0)), sim.true_strfs[:, None], sim.true_bias)[0, :, 0]
        torch.testing.assert_close(sim.true_rates[s], F.softplus(drive))
    # by hand for one bin: the last STRF column multiplies the current frame
    s, n, t = 3, 5, 100
    stim = sim.stims[s][0].double()
    by_hand = sum(float(sim.true_strfs[n, :, j] @ stim[:, t - (k - 1) + j]) for j in range(k)) + float(sim.true_bias[n])
    assert math.isclose(float(sim.true_rates[s][n, t]), math.log1p(math.exp(by_hand)), rel_tol=1e-10)


def test_trials_are_poisson_counts_of_the_true_rate(sim):
    counts = torch.cat([sim[s]["responses"].double().flatten(1) for s in range(len(sim))], dim=1)
    rate = torch.cat(
        [sim.true_rates[s][:, None].expand(-1, int(sim.n_trials[s, 0]), -1).flatten(1) for s in range(len(sim))], dim=1
    )
    valid = ~torch.isnan(counts)
    assert torch.equal(counts[valid], counts[valid].round()) and bool((counts[valid] >= 0).all())
    ratio = counts.nansum(1) / torch.where(valid, rate, torch.zeros(())).sum(1)
    assert bool(((ratio - 1).abs() < 0.03).all()), ratio
    resid = torch.where(valid, counts - rate, torch.zeros(()))
    fano = (resid**2).sum(1) / torch.where(valid, rate, torch.zeros(())).sum(1)
    assert bool(((fano - 1).abs() < 0.06).all()), fano


def test_strfs_have_realistic_structure(sim):
    octaves = np.log2(np.array(sim.info["frequencies_hz"]) / 500.0)
    for n, meta in enumerate(sim.nrn_meta):
        w = sim.true_strfs[n].numpy()
        f_peak, k_peak = np.unravel_index(w.argmax(), w.shape)
        assert abs(octaves[f_peak] - math.log2(meta["best_frequency_hz"] / 500.0)) < 0.3
        lag_ms = (w.shape[1] - 1 - k_peak) * sim.dt_ms  # last column is lag 0
        assert abs(lag_ms - meta["latency_ms"]) <= 5.0
        assert w.min() < -0.2 * w.max()  # an inhibitory sub-field
        assert np.abs(w[:, -1]).max() < 0.2 * w.max()  # hardly any response at lag 0
    assert {m["inhibition"] for m in sim.nrn_meta} == {"sideband", "delayed"}


def test_deterministic_from_the_seed_and_stable_across_sizes():
    a, b = SimulatedDataset(n_neurons=3, n_stimuli=6, seed=4), SimulatedDataset(n_neurons=3, n_stimuli=6, seed=4)
    for s in range(6):
        assert torch.equal(a.stims[s], b.stims[s])
        torch.testing.assert_close(a[s]["responses"], b[s]["responses"], equal_nan=True)
    c = SimulatedDataset(n_neurons=3, n_stimuli=6, seed=5)
    assert not torch.equal(a.true_strfs, c.true_strfs) and not torch.equal(a.stims[0], c.stims[0])
    bigger = SimulatedDataset(n_neurons=5, n_stimuli=9, n_test_stimuli=1, seed=4)
    torch.testing.assert_close(bigger.true_strfs[:3], a.true_strfs, rtol=1e-12, atol=1e-14)
    for s in range(5):  # training stimuli of both
        assert torch.equal(bigger.stims[s], a.stims[s])
        torch.testing.assert_close(bigger[s]["responses"][:3], a[s]["responses"], equal_nan=True)


def _tone_levels(audio, freqs, fs, hop, chord_bins):
    """log10 magnitude of each band's tone over the last chord-long stretch of every chord."""
    win = hop * chord_bins
    n_chords = audio.shape[-1] // win
    frames = audio[: n_chords * win].reshape(n_chords, win)
    t = np.arange(win) / fs
    taper = np.hanning(win)[:, None]  # low side lobes: a loud neighbour band does not leak in
    proj = np.abs(frames @ (taper * np.exp(-2j * np.pi * freqs[None, :] * t[:, None])))  # (chords, F)
    return np.log10(proj).T


def test_waveform_mode_is_grid_locked_and_the_levels_can_be_recovered():
    kw = {"n_neurons": 2, "n_stimuli": 3, "n_frequency_bands": 8, "seed": 2}
    wav = SimulatedDataset(audio_fs=16000, **kw)
    spec = SimulatedDataset(f_max_hz=7200.0, **kw)
    assert wav.waveform and wav.hop == 80 and wav.F == 8 and wav.info["frequencies_hz"][-1] == 7200.0
    assert wav.stims[0].shape == (1, 400 * 80) and float(wav.stims[0].abs().max()) < 1.0
    for s in range(3):
        assert torch.equal(wav.spectrograms[s], spec.stims[s])
        torch.testing.assert_close(wav[s]["responses"], spec[s]["responses"], equal_nan=True)
    levels = wav.spectrograms[0][0].numpy()[:, ::4]  # one level per 20 ms chord
    est = _tone_levels(wav.stims[0][0].double().numpy(), np.array(wav.info["frequencies_hz"]), 16000, 80, 4)
    for f in range(8):
        slope, _ = np.polyfit(levels[f], est[f], 1)
        assert np.corrcoef(levels[f], est[f])[0, 1] > 0.99 and abs(slope - 0.5) < 0.05  # amplitude ~ 10 ** (level / 2)


def test_ripples_adaptation_missing_pairs_and_nonlinearities():
    drc = SimulatedDataset(n_neurons=4, n_stimuli=6, seed=1)
    rip = SimulatedDataset(n_neurons=4, n_stimuli=6, stimulus="ripple", seed=1)
    x = rip.stims[0][0]
    assert float(x.abs().max()) <= 1.5 + 1e-6 and not torch.equal(x, drc.stims[0][0])
    adapted = SimulatedDataset(n_neurons=4, n_stimuli=6, seed=1, adaptation_tau_ms=50.0, adaptation_strength=1.0)
    assert torch.equal(adapted.true_strfs, drc.true_strfs)
    ratio = adapted.true_rates[0] / drc.true_rates[0]
    assert bool((ratio <= 1 + 1e-12).all()) and float(ratio.min()) < 0.7
    holes = SimulatedDataset(n_neurons=8, n_stimuli=12, seed=1, p_missing=0.3)
    train, test = holes.splits["train"], holes.splits["test"]
    assert 0 < int((~holes.valid_mask[train]).sum()) and bool(holes.valid_mask[test].all())
    for g in ("exp", "relu"):
        other = SimulatedDataset(n_neurons=4, n_stimuli=3, nonlinearity=g, drive_std=0.5, seed=1)
        assert bool((other.true_rates[0] >= 0).all()) and other.nonlinearity == g
    ragged = SimulatedDataset(n_neurons=2, n_stimuli=5, duration_ms=(100.0, 500.0))
    assert len(set(ragged.lengths)) > 1 and all(20 <= t <= 100 for t in ragged.lengths)


def test_lnp_rate_checks_shapes():
    with pytest.raises(ValueError, match=r"expected stim \(F, T\), strfs \(N, F, T_strf\) and bias \(N,\)"):
        lnp_rate(torch.zeros(3, 10), torch.zeros(2, 4, 5), torch.zeros(2))
    with pytest.raises(ValueError, match=r"`nonlinearity` must be one of"):
        lnp_rate(torch.zeros(3, 10), torch.zeros(2, 3, 5), torch.zeros(2), "tanh")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_neurons": 0}, ValueError, r"`n_neurons` must be an int >= 1, got 0"),
        ({"n_stimuli": 2.5}, TypeError, r"`n_stimuli` must be an int"),
        ({"n_stimuli": 3, "n_test_stimuli": 4}, ValueError, r"`n_test_stimuli` must be at most `n_stimuli` \(3\)"),
        ({"stimulus": "noise"}, ValueError, r"`stimulus` must be one of \['drc', 'ripple'\]"),
        ({"audio_fs": 16100}, ValueError, r"must be a positive integer number of audio samples per bin"),
        ({"audio_fs": 16000, "f_max_hz": 9000.0}, ValueError, r"f_min_hz < f_max_hz < audio_fs / 2"),
        ({"duration_ms": (500.0, 100.0)}, ValueError, r"`duration_ms` must satisfy"),
        ({"train_repeats": (1.5, 3)}, TypeError, r"`train_repeats` must hold ints"),
        ({"test_repeats": "many"}, TypeError, r"`test_repeats` must be a number or a \(low, high\) pair"),
        ({"p_missing": 1.0}, ValueError, r"`p_missing` must be in \[0, 1\)"),
        ({"nonlinearity": "tanh"}, ValueError, r"`nonlinearity` must be one of"),
        ({"seed": -1}, ValueError, r"`seed` must be an int >= 0"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SimulatedDataset(**{"n_neurons": 2, "n_stimuli": 3, **kwargs})


def test_tone_synthesis_is_exact_and_causal():
    from deepSTRF.datasets.audio._synthesis import tone_waveform

    freqs, fs, hop = np.array([500.0, 1250.0]), 8000.0, 40
    audio = tone_waveform(np.random.default_rng(1), np.zeros((2, 3)), freqs, fs, hop)
    phases = np.random.default_rng(1).uniform(0, 2 * np.pi, size=(2, 1))
    t = np.arange(3 * hop) / fs
    np.testing.assert_allclose(
        audio, 0.05 / np.sqrt(2) * np.sin(2 * np.pi * freqs[:, None] * t + phases).sum(0), atol=1e-12
    )
    levels = np.random.default_rng(2).uniform(-1.5, 1.5, size=(2, 6))
    later = levels.copy()
    later[:, 4:] += 1.0  # louder from bin 4 on
    a = tone_waveform(np.random.default_rng(3), levels, freqs, fs, hop)
    b = tone_waveform(np.random.default_rng(3), later, freqs, fs, hop)
    assert np.array_equal(a[: 4 * hop], b[: 4 * hop]) and not np.allclose(a[4 * hop :], b[4 * hop :])
