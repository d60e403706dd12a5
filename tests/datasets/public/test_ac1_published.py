"""The AC1 loaders' ``preset="published"`` responses against deepSTRF 0.1.0's, on the test fixtures.

The reference responses come from the published loader run on the same synthetic trees
(``tools/make_ac1_published_responses.py``); it detrends each repeat's slice separately, so a
whole-recording detrend differs from it near the ends of every slice.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from deepSTRF.datasets.audio import crcns_ac1, crcns_ac1_asari
from deepSTRF.datasets.audio._wehr import detrend_trace

REFERENCE = Path(__file__).parent / "published_fixtures" / "ac1_responses.npz"


def _published() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


def _ours(ds, experimenter: str) -> dict[str, np.ndarray]:
    out = {}
    for s in range(ds.n_stimuli):
        for n in range(ds.n_neurons):
            resp = ds.get_response(s, n)
            if resp is not None:
                key = f"{experimenter}|{ds.nrn_meta[n]['session']}|{ds.stim_meta[s]['description']}"
                out[key] = resp.numpy()
    return out


def _max_difference(ours: dict[str, np.ndarray], experimenter: str) -> float:
    published = {k: v for k, v in _published().items() if k.startswith(experimenter + "|")}
    assert published and set(published) <= set(ours)
    worst = 0.0
    for key, ref in published.items():
        assert ours[key].shape == ref.shape, key
        worst = max(worst, float(np.abs(ours[key] - ref).max()))
    return worst


def test_wehr_published_preset_matches_the_published_responses(ac1_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = crcns_ac1.CRCNSAC1Dataset(ac1_root, preset="published", dt_ms=5.0)
        whole = crcns_ac1.CRCNSAC1Dataset(ac1_root, preset="published", detrend="baseline", dt_ms=5.0)
    assert ds.info["detrend"] == "baseline_per_repeat"
    assert _max_difference(_ours(ds, "wehr"), "wehr") < 1e-4
    # detrending the whole recording before slicing is visibly different near the slice ends
    assert _max_difference(_ours(whole, "wehr"), "wehr") > 1e-2


def test_asari_published_preset_matches_the_published_responses(asari_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root, site="A1", preset="published", dt_ms=5.0)
    assert _max_difference(_ours(ds, "asari"), "asari") < 1e-4


@pytest.mark.parametrize("sf", [4000.0, 10000.0])
def test_per_repeat_detrend_is_the_float64_median_then_gaussian(sf):
    import scipy.ndimage as ndi

    x = np.random.default_rng(0).normal(size=3000).cumsum()
    size = round(0.1 * sf)  # even at 4 kHz: not the odd window of the whole-trace detrend
    expected = x - ndi.gaussian_filter1d(ndi.median_filter(x, size=size, mode="reflect"), 0.01 * sf, mode="reflect")
    np.testing.assert_allclose(detrend_trace(x, sf, "baseline_per_repeat"), expected, rtol=0, atol=1e-12)
    assert not np.allclose(detrend_trace(x, sf, "baseline"), expected, rtol=0, atol=1e-6)
