import math

import numpy as np
import pytest
import torch

from deepSTRF.datasets import NeuralDataset, SimulatedDataset, compute_neuron_quality


@pytest.fixture(scope="module")
def sim():
    return SimulatedDataset(n_neurons=8, n_stimuli=30, n_test_stimuli=12, test_repeats=(8, 16), seed=7)


def test_cc_max_matches_the_known_noise_level_of_the_simulation(sim):
    """CCmax is the expected correlation of the recorded PSTH with the true rate."""
    test = sim.splits["test"]
    quality = compute_neuron_quality(sim, stimuli=test)
    cc_max = np.array([m["cc_max"] for m in quality.nrn_meta])
    snr = np.array([m["snr"] for m in quality.nrn_meta])
    rate = torch.cat([sim.true_rates[s] for s in test], dim=1).numpy()  # (N, positions)
    repeats = np.concatenate([np.full(sim.lengths[s], int(sim.n_trials[s, 0])) for s in test])
    psth = torch.cat([sim[s]["responses"].double().nanmean(1) for s in test], dim=1).numpy()
    # Poisson noise: the PSTH noise variance at a position is rate / R
    signal = rate.var(axis=1, ddof=1)
    expected_cc = np.sqrt(signal / (signal + (rate / repeats).mean(axis=1)))
    observed_cc = np.array([np.corrcoef(rate[n], psth[n])[0, 1] for n in range(sim.n_neurons)])
    np.testing.assert_allclose(cc_max, expected_cc, atol=0.02)
    np.testing.assert_allclose(cc_max, observed_cc, atol=0.02)
    # SNR = signal power / single-trial noise power (= mean rate for Poisson)
    np.testing.assert_allclose(snr, signal / rate.mean(axis=1), rtol=0.12)
    assert quality.info["quality"] == {"stimuli": test, "method": "schoppe"}
    assert "cc_max" not in sim.nrn_meta[0]


def test_default_stimuli_are_those_with_repeats():
    rng = np.random.default_rng(0)
    single = [rng.poisson(2.0, (1, 50)), rng.poisson(2.0, (1, 50))]
    repeated = [rng.poisson(np.linspace(0.5, 4, 50), (6, 50)), None]
    ds = NeuralDataset([np.zeros((1, 1, 50))] * 2, [single, repeated], 5.0)
    out = compute_neuron_quality(ds)
    assert out.info["quality"]["stimuli"] == [1]
    assert 0 < out.nrn_meta[0]["cc_max"] <= 1 and out.nrn_meta[0]["snr"] > 0
    assert math.isnan(out.nrn_meta[1]["cc_max"]) and math.isnan(out.nrn_meta[1]["snr"])  # no repeats at all
    hsu = compute_neuron_quality(ds, method="hsu")
    assert 0 < hsu.nrn_meta[0]["cc_max"] <= 1
    selected = out.subset(neurons={"cc_max": lambda c: c > 0.5})
    assert selected.n_neurons == 1


def test_quality_errors(ragged):
    with pytest.raises(ValueError, match=r"`method` must be one of \['schoppe', 'hsu'\], got 'best'"):
        compute_neuron_quality(ragged, method="best")
    with pytest.raises(TypeError, match=r"`dataset` must be a NeuralDataset"):
        compute_neuron_quality(torch.zeros(3))
    with pytest.warns(UserWarning, match="matched nothing"):
        out = compute_neuron_quality(ragged, stimuli={"kind": "music"})
    assert all(math.isnan(m["snr"]) for m in out.nrn_meta)
