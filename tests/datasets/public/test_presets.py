"""preset="published" of the wave-1 loaders: what differs from the causal default, and nothing else."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from deepSTRF.datasets.audio import crcns_aa1, crcns_aa2, crcns_aa4, crcns_ac1, crcns_ac1_asari, nat4, ns1
from deepSTRF.datasets.audio._wehr import RepeatGate, gate_repeat_traces
from deepSTRF.datasets.smoothing import published_hanning_kernel, published_smooth_trials


def _quiet(cls, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return cls(*args, **kwargs)


def _np_published_smooth(x: np.ndarray, dt_ms: float) -> np.ndarray:
    """float64 reference: np.hanning of floor(21 / dt) taps made odd, unnormalised, zero-padded, centred."""
    taps = max(1, int(np.floor(21.0 / dt_ms)))
    taps += 1 - taps % 2
    kernel = np.hanning(taps)
    rows = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
    out = np.stack([np.convolve(r, kernel, mode="same") for r in rows]).reshape(x.shape)
    return np.where(np.isnan(x).any(axis=-1, keepdims=True), x, out)


@pytest.mark.parametrize("dt_ms", [1.0, 2.0, 5.0, 10.0, 25.0])
def test_published_smoothing_matches_numpy(dt_ms):
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, size=(3, 4, 40)).astype(np.float64)
    x[1, 2, 7] = np.nan  # a trial with a missing bin is left as it is
    got = published_smooth_trials(torch.from_numpy(x), 21.0, dt_ms).numpy()
    np.testing.assert_allclose(got, _np_published_smooth(x, dt_ms), rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(got[1, 2], x[1, 2])
    taps = published_hanning_kernel(21.0, dt_ms).numpy()
    np.testing.assert_allclose(taps, np.hanning(taps.size), atol=1e-15)


def test_published_smoothing_gain_and_identity_at_10_ms():
    assert float(published_hanning_kernel(21.0, 5.0).sum()) == pytest.approx(2.0)
    assert float(published_hanning_kernel(21.0, 1.0).sum()) == pytest.approx(10.0)
    x = torch.rand(2, 30, dtype=torch.float64)
    torch.testing.assert_close(published_smooth_trials(x, 21.0, 10.0), x)  # kernel [0, 1, 0]


def test_ns1_published_has_no_delay_and_whole_ms_spikes(ns1_root):
    default = _quiet(ns1.NS1Dataset, ns1_root)
    published = _quiet(ns1.NS1Dataset, ns1_root, preset="published")
    assert default.info["stim_delay_frames"] == 1 and published.info["stim_delay_frames"] == 0
    torch.testing.assert_close(default[0]["stims"][..., 1:], published[0]["stims"][..., :-1])
    # crafted trial [-3, 0, 4.99, 10, 17.1, 17.4, 199.99, 200, 250] ms at 5 ms bins
    d, p = default[0]["responses"][0, 0].numpy(), published[0]["responses"][0, 0].numpy()
    assert d[:4].tolist() == [2, 0, 1, 2] and d[39] == 1
    raw = _quiet(ns1.NS1Dataset, ns1_root, preset="published", smooth=False)[0]["responses"][0, 0].numpy()
    assert raw[:4].tolist() == [1, 1, 1, 1] and raw[39] == 0  # rounded to 0, 5, 10, 17; 200 ms leaves the window
    # independent float64 reference for the crafted trial: whole-ms spikes 0, 5, 10, 17 -> bins 0-3 of 40
    counts = np.zeros(p.size)
    counts[:4] = 1.0
    np.testing.assert_allclose(raw, counts)
    np.testing.assert_allclose(p, np.convolve(counts, np.hanning(5), mode="same"), atol=1e-6)
    unsmoothed = _quiet(ns1.NS1Dataset, ns1_root, preset="published", smooth=False)
    for s in range(len(published)):
        ref = _np_published_smooth(unsmoothed[s]["responses"].double().numpy(), 5.0)
        np.testing.assert_allclose(published[s]["responses"].numpy(), ref, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert published.info["smoothing"]["taps"] == 5 and "smoothing" not in default.info
    assert _quiet(ns1.NS1Dataset, ns1_root, preset="published", stim_delay_frames=1).info["stim_delay_frames"] == 1
    with pytest.raises(ValueError, match="`preset`"):
        ns1.NS1Dataset(ns1_root, preset="paper")


def test_aa1_published_is_the_centred_full_band_spectrogram(aa1_root):
    default = _quiet(crcns_aa1.CRCNSAA1Dataset, aa1_root)
    published = _quiet(crcns_aa1.CRCNSAA1Dataset, aa1_root, preset="published")
    n = default.stim_meta[0]["n_samples"]
    assert default[0]["stims"].shape == (1, 32, int(np.ceil(n / 160)))
    assert published[0]["stims"].shape == (1, 32, n // 160 + 1)
    assert published[0]["responses"].shape[-1] == n // 160 + 1
    assert published.info["stimulus"].startswith("centred") and default.info["stimulus"] == "causal mel spectrogram"
    raw = _quiet(crcns_aa1.CRCNSAA1Dataset, aa1_root, preset="published", smooth=False)
    for s in range(len(published)):
        ref = _np_published_smooth(raw[s]["responses"].double().numpy(), published.dt_ms)
        np.testing.assert_allclose(published[s]["responses"].numpy(), ref, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert any(not torch.equal(published[s]["responses"], raw[s]["responses"]) for s in range(len(published)))
    torch.testing.assert_close(raw[0]["stims"], published[0]["stims"])


@pytest.mark.parametrize("which", ["aa2", "aa4"])
def test_aa_family_published_smooths_responses(which, request):
    cls = {"aa2": crcns_aa2.CRCNSAA2Dataset, "aa4": crcns_aa4.CRCNSAA4Dataset}[which]
    root = request.getfixturevalue(f"{which}_root")
    published = _quiet(cls, root, preset="published")
    raw = _quiet(cls, root, preset="published", smooth=False)
    default = _quiet(cls, root)
    assert "smoothing" not in default.info and published.info["smoothing"]["width_ms"] == 21.0
    for s in range(len(published)):
        ref = _np_published_smooth(raw[s]["responses"].double().numpy(), published.dt_ms)
        np.testing.assert_allclose(published[s]["responses"].numpy(), ref, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert any(not torch.equal(published[s]["responses"], raw[s]["responses"]) for s in range(len(published)))
    with pytest.raises(TypeError, match="`smooth`"):
        cls(root, smooth="yes")


def test_ac1_published_detrends_without_ramp_up_to_45_khz(ac1_root):
    default = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root)
    published = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root, preset="published")
    assert (default.F, published.F) == (49, 53)
    assert (published.info["detrend"], published.info["ramp_ms"]) == ("baseline_per_repeat", 0.0)
    assert (default.info["detrend"], default.info["ramp_ms"]) == ("none", 5.0)
    assert not torch.allclose(default[1]["responses"][0], published[1]["responses"][0])
    mixed = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root, preset="published", detrend="none")
    torch.testing.assert_close(mixed[1]["responses"][0], default[1]["responses"][0])  # explicit values win


def test_nat4_published_puts_estimation_sounds_first(nat4_root):
    default = _quiet(nat4.NAT4Dataset, nat4_root)
    published = _quiet(nat4.NAT4Dataset, nat4_root, preset="published")
    d_names = [m["name"] for m in default.stim_meta]
    p_names = [m["name"] for m in published.stim_meta]
    assert sorted(d_names) == sorted(p_names) and d_names != p_names
    assert [m["subset"] for m in published.stim_meta] == sorted(m["subset"] for m in published.stim_meta)
    for part in ("train", "val", "test"):
        assert sorted(d_names[i] for i in default.splits[part]) == sorted(p_names[i] for i in published.splits[part])
    first = p_names.index(d_names[0])
    unnormalised = _quiet(nat4.NAT4Dataset, nat4_root, preset="published", normalize="none")
    torch.testing.assert_close(unnormalised[first]["stims"], default[0]["stims"])
    assert (default.info["normalize"], published.info["normalize"]) == ("none", "published")


def test_nat4_published_normalisation_matches_numpy(nat4_root):
    published = _quiet(nat4.NAT4Dataset, nat4_root, preset="published")
    raw = _quiet(nat4.NAT4Dataset, nat4_root, preset="published", normalize="none")
    pop = _quiet(nat4.NAT4Dataset, nat4_root, preset="published", normalize="none", test_trials="population")
    with pytest.warns(UserWarning, match="normalize='published'"):
        nat4.NAT4Dataset(nat4_root, preset="published")
    # spectrogram: log(1 + x), then one min and max over every band and frame of the recording
    logs = [np.log1p(pop[s]["stims"].double().numpy()) for s in range(len(pop))]
    lo, hi = min(x.min() for x in logs), max(x.max() for x in logs)
    for s in range(len(published)):
        ref = (logs[s] - lo) / (hi - lo)
        np.testing.assert_allclose(published[s]["stims"].numpy(), ref, rtol=1e-5, atol=1e-6)
    # responses: one min and max over the whole population raster; per-site test trials stay raw
    blocks = [pop[s]["responses"].double().numpy() for s in range(len(pop))]
    r_lo = min(np.nanmin(b) for b in blocks if np.isfinite(b).any())
    r_hi = max(np.nanmax(b) for b in blocks if np.isfinite(b).any())
    assert r_hi > r_lo
    for s, meta in enumerate(published.stim_meta):
        got, base = published[s]["responses"].double().numpy(), raw[s]["responses"].double().numpy()
        ref = base if meta["subset"] == "val" else (base - r_lo) / (r_hi - r_lo)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6, equal_nan=True)
    paper = _quiet(nat4.NAT4Dataset, nat4_root, preset="published", normalize="paper")
    assert paper.info["normalize"] == "paper" and not torch.allclose(paper[0]["stims"], published[0]["stims"])


def _gate_cases() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    t = np.arange(500) / 1000.0
    base = 5 * np.sin(2 * np.pi * 7 * t)
    reps = [base + rng.normal(0, 0.5, t.size) for _ in range(5)]
    reps[2][250] = 200.0  # saturation: |v| > 150 mV
    reps[3][100:111] += 40.0  # a 40 mV step over 11 of 500 samples (2.2 % > 0.5 %)
    reps[4] = -reps[4]  # disagrees with the others' median
    reps.append(base[:480] + rng.normal(0, 0.5, 480))  # a shorter clean repeat
    return reps


def test_ac1_repeat_gating_reasons():
    # the published pipeline's gating gives the same reasons on these traces (checked once against it)
    assert gate_repeat_traces(_gate_cases(), 1000.0) == ["kept", "kept", "range", "step", "xcorr", "kept"]
    # loose thresholds keep everything; with two repeats the correlation test is not run
    assert gate_repeat_traces(_gate_cases(), 1000.0, RepeatGate(1e9, 1e9, 5.0, 1.0, -2.0)) == ["kept"] * 6
    assert gate_repeat_traces([-x for x in _gate_cases()[:2]], 1000.0) == ["kept", "kept"]
    # the correlation against the leave-one-out median, float64 NumPy reference
    reps = _gate_cases()
    stack = np.stack([r[:480] for r in reps])
    ref = [np.corrcoef(stack[i], np.median(np.delete(stack, i, 0), axis=0))[0, 1] for i in range(len(reps))]
    assert (np.array(ref) < 0.05).tolist() == [False, False, False, False, True, False]


def test_ac1_published_gates_repeats(ac1_root):
    published = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root, preset="published")
    ungated = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root, preset="published", gate_repeats=False)
    assert published.info["gate_repeats"] and not ungated.info["gate_repeats"]
    assert not _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root).info["gate_repeats"]
    assert all(set(m["gated_repeats"]) == {"range", "step", "xcorr"} for m in published.nrn_meta)
    n_gated = sum(sum(m["gated_repeats"].values()) for m in published.nrn_meta)
    n_pub = int(published._n_trials.sum())
    assert n_pub + n_gated == int(ungated._n_trials.sum())
    with pytest.raises(TypeError, match="`gate_repeats`"):
        crcns_ac1.CRCNSAC1Dataset(ac1_root, gate_repeats=1)


def test_ac1_published_drops_a_saturated_repeat(ac1_artifact_root):
    published = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_artifact_root, preset="published")
    ungated = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_artifact_root, preset="published", gate_repeats=False)
    assert published.nrn_meta[0]["gated_repeats"] == {"range": 1, "step": 0, "xcorr": 0}
    s = [m["file"] for m in published.stim_meta].index("fragments/1.mat")
    kept, every = published[s]["responses"][0].numpy(), ungated[s]["responses"][0].numpy()
    assert (kept.shape[0], every.shape[0]) == (1, 2)
    assert np.abs(every).max() > 150 and np.abs(kept).max() < 150
    np.testing.assert_array_equal(kept[0], every[0])
    with pytest.warns(UserWarning, match="1 repeats rejected by the gating"):
        crcns_ac1.CRCNSAC1Dataset(ac1_artifact_root, preset="published")


def test_asari_published_gates_a1_repeats(asari_root):
    published = _quiet(crcns_ac1_asari.CRCNSAC1AsariDataset, asari_root, preset="published")
    default = _quiet(crcns_ac1_asari.CRCNSAC1AsariDataset, asari_root)
    assert published.info["gate_repeats"] and not default.info["gate_repeats"]
    gated = sum(sum(m["gated_repeats"].values()) for m in published.nrn_meta)
    assert int(published._n_trials.sum()) + gated == int(default._n_trials.sum())
    mgb = _quiet(crcns_ac1_asari.CRCNSAC1AsariDataset, asari_root, site="MGB", preset="published")
    assert not mgb.info["gate_repeats"]
