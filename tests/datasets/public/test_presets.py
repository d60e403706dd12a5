"""preset="published" of the wave-1 loaders: what differs from the causal default, and nothing else."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from deepSTRF.datasets.audio import crcns_aa1, crcns_ac1, nat4, ns1


def _quiet(cls, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return cls(*args, **kwargs)


def test_ns1_published_has_no_delay_and_whole_ms_spikes(ns1_root):
    default = _quiet(ns1.NS1Dataset, ns1_root)
    published = _quiet(ns1.NS1Dataset, ns1_root, preset="published")
    assert default.info["stim_delay_frames"] == 1 and published.info["stim_delay_frames"] == 0
    torch.testing.assert_close(default[0]["stims"][..., 1:], published[0]["stims"][..., :-1])
    # crafted trial [-3, 0, 4.99, 10, 17.1, 17.4, 199.99, 200, 250] ms at 5 ms bins
    d, p = default[0]["responses"][0, 0].numpy(), published[0]["responses"][0, 0].numpy()
    assert d[:4].tolist() == [2, 0, 1, 2] and d[39] == 1
    assert p[:4].tolist() == [1, 1, 1, 1] and p[39] == 0  # rounded to 0, 5, 10, 17; 200 ms leaves the window
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


def test_ac1_published_detrends_without_ramp_up_to_45_khz(ac1_root):
    default = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root)
    published = _quiet(crcns_ac1.CRCNSAC1Dataset, ac1_root, preset="published")
    assert (default.F, published.F) == (49, 53)
    assert (published.info["detrend"], published.info["ramp_ms"]) == ("baseline", 0.0)
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
    torch.testing.assert_close(published[first]["stims"], default[0]["stims"])
