"""NS1 loader against a fixture with the real file structure."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from deepSTRF.datasets.audio import ns1


def _load(*args, **kwargs):
    """Load NS1, returning the dataset and the messages of the warnings it gave."""
    with pytest.warns(UserWarning) as record:
        ds = ns1.NS1Dataset(*args, **kwargs)
    return ds, " | ".join(str(w.message) for w in record)


def _reference_counts(times, n_bins, dt):
    out = np.zeros(n_bins)
    for t in times:
        b = math.floor(t / dt)
        if 0 <= b < n_bins:
            out[b] += 1
    return out


def test_shapes_counts_and_fallback(ns1_root, ns1_kit):
    ds, messages = _load(ns1_root, split="dnet")
    assert "spike files of ['c3'] found under their '_1' name" in messages
    assert len(ds) == 3 and ds.n_neurons == 3 and ds.dt_ms == 5.0 and ds.F == 34
    item = ds[0]
    assert item["stims"].shape == (1, 34, 40) and item["responses"].shape == (3, 4, 40)
    assert bool(item["valid_mask"].all())
    crafted = item["responses"][0, 0].numpy()
    expected = np.zeros(40)
    expected[[0, 2, 3, 39]] = 1  # 0.0 and 4.99 share bin 0; 10.0 opens bin 2; 17.1/17.4 share bin 3
    expected[0], expected[3] = 2, 2
    np.testing.assert_array_equal(crafted, expected)
    assert item["responses"][0, 1].sum() == 0  # the empty trial is a zero trial, not missing
    for s in range(3):
        for unit in range(3):
            for r in range(4):
                ref = _reference_counts(ns1_kit.spike_times(unit, s, r, 3), 40, 5.0)
                np.testing.assert_array_equal(ds[s]["responses"][unit, r].numpy(), ref)
    assert [m["cell_id"] for m in ds.nrn_meta] == ["c1", "c2", "c3"]
    assert [m["used_fallback_name"] for m in ds.nrn_meta] == [False, False, True]
    assert ds.nrn_meta[2]["spike_file"] == "SH.En.C/c3_1.mat"
    assert ds.dropped_neurons == []
    assert ds.info["stimulus"] == "published cochleagram" and ds.info["stim_delay_frames"] == 1


def test_neuron_metadata_and_validity_flags(ns1_root):
    with pytest.warns(UserWarning):
        ds = ns1.NS1Dataset(ns1_root)
    meta = ds.nrn_meta
    assert [m["valid_noise_ratio"] for m in meta] == [True, False, True]
    assert [m["valid_single_depth"] for m in meta] == [False, False, True]
    assert [m["depth_um"] for m in meta] == [-50.0, 300.0, 800.0]
    assert [m["single_t"] for m in meta] == ["Yes", "No", "Maybe"]
    assert [m["single_n"] for m in meta] == [True, False, True]
    assert [m["electrode_number"] for m in meta] == [1.0, 2.0, 3.0]
    assert all(m["area"] == "A1" and m["n_electrodes"] == 32.0 for m in meta)
    assert [m["name"] for m in ds.stim_meta] == ["nat01", "nat02", "nat03"]
    assert [m["type"] for m in ds.stim_meta] == ["water_sounds", "unknown", "unknown"]
    assert ds.stim_meta[0]["duration_ms"] == 200.0


def test_cochleagram_is_delayed_one_frame(ns1_root, ns1_kit):
    x = ns1_kit.cochleagrams(3)[:, :, 0, :]
    with pytest.warns(UserWarning):
        delayed = ns1.NS1Dataset(ns1_root)
        raw = ns1.NS1Dataset(ns1_root, stim_delay_frames=0)
    for s in range(3):
        stim = delayed[s]["stims"][0].double().numpy()
        np.testing.assert_allclose(stim[:, 1:], x[s, :, :-1], rtol=1e-6)
        np.testing.assert_allclose(stim[:, 0], np.full(34, x[s].min()), rtol=1e-6)
        np.testing.assert_allclose(raw[s]["stims"][0].double().numpy(), x[s], rtol=1e-6)


def test_canonical_splits_need_twenty_sounds(tmp_path, ns1_root, ns1_kit):
    ds, messages = _load(ns1_root)
    assert ds.splits == {} and ds.split_schemes == {} and "3 stimuli instead of 20; no canonical split" in messages
    root = ns1_kit.build(tmp_path / "ns1_20", n_natural=20)
    ds, messages = _load(root, split="rahman2020")
    assert "no canonical split" not in messages
    assert len(ds) == 20
    assert ds.splits == {"train": [0, 1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18], "test": [3, 6, 9, 19]}
    assert ds.split_schemes["dnet"] == {"train": list(range(16)), "test": [16, 17, 18, 19]}
    assert ds.split_schemes["deepstrf"] == {"train": list(range(14)), "val": [14, 15, 16], "test": [17, 18, 19]}
    assert ds.stim_meta[12]["wav_file"].endswith("source.2.sound.0.snr.0.token.0.fw.1.frozen.1")
    assert [ds.stim_meta[s]["type"] for s in (3, 6, 9, 19)] == [
        "ferret_vocalization",
        "insects_buzzing",
        "human_speech",
        "water_sounds",
    ]


def test_waveform_mode(ns1_root, ns1_kit):
    import scipy.signal

    with pytest.warns(UserWarning):
        ds = ns1.NS1Dataset(ns1_root, waveform=True, audio_fs=48000)
    assert ds.waveform and ds.hop == 240
    n_bins = math.floor(1000 * ns1_kit.wav_len / 48828.125 / 5.0)  # 204.99... ms -> 40 bins
    item = ds[1]
    assert item["stims"].shape == (1, n_bins * 240) and item["responses"].shape == (3, 4, n_bins)
    ref = scipy.signal.resample_poly(ns1_kit.wave(1).astype(np.float64), 3072, 3125)[: n_bins * 240]
    np.testing.assert_allclose(item["stims"][0].double().numpy(), ref, atol=1e-6)


def test_computed_cochleagram_other_dt_is_causal(ns1_root, ns1_kit):
    with pytest.warns(UserWarning):
        ds = ns1.NS1Dataset(ns1_root, dt_ms=2.0)
    n_bins = math.floor(1000 * ns1_kit.wav_len / 48828.125 / 2.0)
    assert ds[0]["stims"].shape == (1, 34, n_bins) and ds[0]["responses"].shape == (3, 4, n_bins)
    np.testing.assert_array_equal(
        ds[0]["responses"][0, 0].numpy(), _reference_counts(ns1_kit.spike_times(0, 0, 0, 3), n_bins, 2.0)
    )
    audio = ns1_kit.wave(0).astype(np.float64)
    spec = ns1.ns1_cochleagram(audio, 48828.125, 2.0, n_bins)
    t0 = 30
    cut = math.floor(t0 * 2.0 * 48828.125 / 1000 + 0.5)  # first sample after frame t0 - 1 ends
    perturbed = audio.copy()
    perturbed[cut:] += np.random.default_rng(0).normal(size=audio.size - cut)
    spec2 = ns1.ns1_cochleagram(perturbed, 48828.125, 2.0, n_bins)
    np.testing.assert_array_equal(spec[:, :t0], spec2[:, :t0])
    assert not np.allclose(spec[:, t0], spec2[:, t0])


def test_missing_spike_file_is_dropped_with_warning(tmp_path, ns1_kit):
    root = ns1_kit.build(tmp_path / "ns1")
    (root / "spikesandwav" / "SH.En.C" / "c2.mat").unlink()
    ds, messages = _load(root)
    assert "no spike file for units ['c2']; dropped" in messages
    assert ds.dropped_neurons == ["c2"] and ds.n_neurons == 2


def test_zip_only_is_extracted_without_network(tmp_path, ns1_kit, no_network):
    root = ns1_kit.build(tmp_path / "ns1", extracted=False)
    assert not (root / "spikesandwav").exists()
    with pytest.warns(UserWarning):
        ds = ns1.NS1Dataset(root)
    assert (root / "spikesandwav" / "SH.En.C" / "c1.mat").exists() and ds.n_neurons == 3


def test_missing_files_error_lists_urls(tmp_path, ns1_root):
    with pytest.raises(FileNotFoundError, match=r"(?s)test_data_5ms\.mat.*raw\.githubusercontent\.com.*download=True"):
        ns1.NS1Dataset(tmp_path / "empty")
    partial = tmp_path / "partial"
    shutil.copytree(ns1_root, partial)
    (partial / "test_data_5ms.mat").unlink()
    with pytest.warns(UserWarning):  # waveform mode does not need the cochleagrams
        assert len(ns1.NS1Dataset(partial, waveform=True)) == 3


def test_bad_cochleagram_file(tmp_path, ns1_kit):
    import scipy.io

    root = ns1_kit.build(tmp_path / "ns1")
    scipy.io.savemat(root / "test_data_5ms.mat", {"X_nfht": np.zeros((3, 34, 40))})
    with pytest.raises(ValueError, match=r"X_nfht of shape \(n_stimuli, n_freqs, 1, n_frames\)"):
        ns1.NS1Dataset(root)
    scipy.io.savemat(root / "test_data_5ms.mat", {"other": np.zeros(3)})
    with pytest.raises(ValueError, match="field 'X_nfht'"):
        ns1.NS1Dataset(root)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dt_ms": 0}, ValueError, "`dt_ms` must be > 0"),
        ({"waveform": True, "audio_fs": 44100}, ValueError, "must be a positive integer"),
        ({"waveform": "yes"}, TypeError, "`waveform` must be a bool"),
        ({"stim_delay_frames": -1}, ValueError, "`stim_delay_frames`"),
        ({"split": "mine"}, ValueError, "`split` must be one of"),
        ({"root": 3}, TypeError, "`root` must be a path"),
    ],
)
def test_argument_errors(ns1_root, kwargs, error, match):
    args = {"root": ns1_root} | kwargs
    with pytest.raises(error, match=match):
        ns1.NS1Dataset(args.pop("root"), **args)


def test_spike_file_parser_keeps_drc_sets(ns1_root, ns1_kit):
    sets = ns1.read_ns1_spike_file(ns1_root / "spikesandwav" / "SH.En.C" / "c1.mat")
    assert len(sets) == 5 and [len(s) for s in sets] == [4, 4, 4, 2, 2]
    np.testing.assert_array_equal(sets[0][0], ns1_kit.spike_times(0, 0, 0, 3))
    np.testing.assert_array_equal(sets[4][1], ns1_kit.spike_times(0, 4, 1, 3))
    assert sets[0][1].shape == (0,)
    assert isinstance(ns1.NS1Dataset, type) and issubclass(ns1.NS1Dataset, torch.utils.data.Dataset)
