import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepSTRF.training.lagged import LaggedStream, lagged_design
from deepSTRF.training.ridge import DEFAULT_ALPHAS, RidgeResult, fit_ridge, ridge_to_linear

L = 4


def _reference_design(stims, n_lags):
    """Loop-based lagged design: row t of stimulus s holds stim_s[f, t - (L - 1) + k], zero before onset."""
    rows = []
    for stim in stims:
        x = stim.numpy()
        n_bands, n_bins = x.shape
        for t in range(n_bins):
            row = np.zeros((n_bands, n_lags))
            for k in range(n_lags):
                src = t - (n_lags - 1) + k
                if src >= 0:
                    row[:, k] = x[:, src]
            rows.append(row.reshape(-1))
    return np.array(rows)


def _conv(stim, kernel):
    return F.conv1d(F.pad(stim, (kernel.shape[-1] - 1, 0))[None], kernel)[0]


def _simulate(noise=(0.3, 0.3), n_bands=5, lengths=(60, 90, 40, 70, 80, 50), seed=0):
    g = torch.Generator().manual_seed(seed)
    stims = [torch.randn(n_bands, t, generator=g, dtype=torch.float64) for t in lengths]
    kernel = torch.randn(len(noise), n_bands, L, generator=g, dtype=torch.float64)
    scale = torch.tensor(noise, dtype=torch.float64)[:, None]
    resp = [
        _conv(x, kernel) + 0.7 + scale * torch.randn(len(noise), x.shape[1], generator=g, dtype=torch.float64)
        for x in stims
    ]
    return stims, resp, kernel


def test_lagged_design_matches_loops_and_never_crosses_stimuli():
    g = torch.Generator().manual_seed(1)
    stims = [torch.randn(3, t, generator=g, dtype=torch.float64) for t in (5, 2, 7)]
    design = lagged_design(stims, L)
    np.testing.assert_array_equal(design.numpy(), _reference_design(stims, L))
    # changing the first stimulus leaves every row of the others untouched
    changed = lagged_design([stims[0] + 100.0, *stims[1:]], L)
    assert torch.equal(changed[5:], design[5:])


def test_lagged_stream_rows_at_any_index():
    g = torch.Generator().manual_seed(2)
    stims = [torch.randn(2, t, generator=g) for t in (4, 9, 3)]
    stream = LaggedStream(stims, 3)
    full = lagged_design(stims, 3)
    index = torch.tensor([15, 0, 4, 4, 12])
    assert torch.equal(stream.rows(index), full[index])
    assert stream.n_features == 6 and stream.n_rows == 16
    assert stream.stim_of_row.tolist() == [0] * 4 + [1] * 9 + [2] * 3
    assert stream.stream.shape == (2, 16 + 4 * 2)  # L - 1 zeros before each stimulus and after the last


@pytest.mark.parametrize(
    ("stims", "n_lags", "error", "match"),
    [
        ([], 2, ValueError, "at least one spectrogram"),
        ([torch.zeros(3)], 2, ValueError, r"`stims\[0\]` must be a \(F, T\) tensor, got \(3,\)"),
        ([torch.zeros(2, 4), torch.zeros(3, 4)], 2, ValueError, r"same number of frequency bands, got \[2, 3\]"),
        ([torch.zeros(2, 4)], 0, ValueError, "`n_lags` must be an int >= 1"),
        ([torch.zeros(2, 4)], 2.0, TypeError, "`n_lags` must be an int"),
    ],
)
def test_lagged_stream_errors(stims, n_lags, error, match):
    with pytest.raises(error, match=match):
        LaggedStream(stims, n_lags)


def _numpy_ridge(x, y, alpha):
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc
    penalty = alpha * np.trace(cov) / cov.shape[0]
    w = np.linalg.solve(cov + penalty * np.eye(cov.shape[0]), xc.T @ (y - y.mean()))
    return w, y.mean() - mean @ w


def test_fit_ridge_matches_a_numpy_reference_with_missing_data():
    stims, resp, _ = _simulate(noise=(0.3, 0.5, 0.4))
    resp[2][1] = float("nan")  # a missing (stimulus, neuron) pair
    resp[4][2, 10:20] = float("nan")  # missing bins
    resp[4][0] = float("nan")  # neuron 0 misses most of its fold: its Gram is built from its valid rows
    folds = [[0, 1], [2, 3], [4, 5]]
    alphas = [0.01, 0.3, 10.0]
    result = fit_ridge(stims, resp, n_lags=L, alphas=alphas, folds=folds)
    x = _reference_design(stims, L)
    y = np.concatenate([r.numpy() for r in resp], axis=1).T
    stim_id = np.repeat(np.arange(len(stims)), [s.shape[1] for s in stims])
    for n in range(3):
        ok = np.isfinite(y[:, n])
        for a, alpha in enumerate(alphas):
            sse, count = 0.0, 0
            for fold in folds:
                test = np.isin(stim_id, fold) & ok
                w, b = _numpy_ridge(x[~np.isin(stim_id, fold) & ok], y[~np.isin(stim_id, fold) & ok, n], alpha)
                sse += ((y[test, n] - x[test] @ w - b) ** 2).sum()
                count += test.sum()
            np.testing.assert_allclose(float(result.cv_mse[a, n]), sse / count, rtol=1e-9)
        best = alphas[int(np.argmin(result.cv_mse[:, n].numpy()))]
        assert float(result.alpha[n]) == best
        w, b = _numpy_ridge(x[ok], y[ok, n], best)
        np.testing.assert_allclose(result.weight[n].reshape(-1).numpy(), w, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(float(result.bias[n]), b, rtol=1e-9)


def test_penalty_is_chosen_per_neuron():
    # same STRF, very different noise: the noisy neuron needs the stronger penalty
    g = torch.Generator().manual_seed(4)
    stims = [torch.randn(6, 40, generator=g, dtype=torch.float64) for _ in range(8)]
    kernel = torch.randn(1, 6, L, generator=g, dtype=torch.float64).expand(2, -1, -1)
    noise = torch.tensor([[0.05], [8.0]], dtype=torch.float64)
    resp = [_conv(x, kernel) + noise * torch.randn(2, 40, generator=g, dtype=torch.float64) for x in stims]
    result = fit_ridge(stims, resp, n_lags=L, n_folds=4)
    assert float(result.alpha[1]) > float(result.alpha[0])
    assert result.cv_mse.shape == (len(DEFAULT_ALPHAS), 2)
    assert torch.allclose(result.penalty / result.alpha, result.penalty[0] / result.alpha[0])  # same design


def test_ridge_recovers_the_true_strf():
    stims, resp, kernel = _simulate(noise=(0.2, 0.2))
    result = fit_ridge(stims, resp, n_lags=L, n_folds=3)
    for n in range(2):
        r = np.corrcoef(result.weight[n].reshape(-1), kernel[n].reshape(-1))[0, 1]
        assert r > 0.99


def test_chunking_and_trial_input_do_not_change_the_fit():
    stims, resp, _ = _simulate()
    resp[1][0, :70] = float("nan")
    resp[3][1, 5:9] = float("nan")
    trials = [torch.stack([r - 0.1, r + 0.1], dim=1) for r in resp]  # (N, R, T), same trial mean
    a = fit_ridge(stims, resp, n_lags=L, n_folds=3, chunk_size=100_000)
    b = fit_ridge([s[None] for s in stims], trials, n_lags=L, n_folds=3, chunk_size=7)
    assert torch.allclose(a.weight, b.weight, atol=1e-10) and torch.equal(a.alpha, b.alpha)
    assert torch.allclose(a.cv_mse, b.cv_mse, rtol=1e-10)


def test_a_single_penalty_skips_cross_validation():
    stims, resp, _ = _simulate()
    result = fit_ridge(stims[:1], resp[:1], n_lags=L, alphas=[0.1])
    assert result.alpha.tolist() == [0.1, 0.1] and torch.isnan(result.cv_mse).all()


class _Items(torch.utils.data.Dataset):
    def __init__(self, stims, resp):
        self.stims, self.resp = stims, resp

    def __len__(self):
        return len(self.stims)

    def __getitem__(self, s):
        return {"stims": self.stims[s][None].float(), "responses": self.resp[s][:, None].float()}


def test_dataset_input_equals_sequence_input():
    stims, resp, _ = _simulate()
    a = fit_ridge(_Items(stims, resp), n_lags=L, n_folds=3)
    b = fit_ridge([s.float() for s in stims], [r.float() for r in resp], n_lags=L, n_folds=3)
    assert torch.allclose(a.weight, b.weight) and a.weight.dtype == torch.float64


def test_float32_computation():
    stims, resp, kernel = _simulate(noise=(0.2, 0.2))
    result = fit_ridge(stims, resp, n_lags=L, n_folds=3, dtype=torch.float32)
    assert result.weight.dtype == torch.float32
    assert np.corrcoef(result.weight[0].reshape(-1), kernel[0].reshape(-1).float())[0, 1] > 0.99


def test_fit_ridge_errors():
    stims, resp, _ = _simulate()
    with pytest.raises(ValueError, match=r"`n_folds` must lie in \[2, 6\]"):
        fit_ridge(stims, resp, n_lags=L, n_folds=7)
    with pytest.raises(ValueError, match="more than one fold"):
        fit_ridge(stims, resp, n_lags=L, folds=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="not a stimulus index"):
        fit_ridge(stims, resp, n_lags=L, folds=[[0], [9]])
    with pytest.raises(ValueError, match="at least 2 folds"):
        fit_ridge(stims, resp, n_lags=L, folds=[[0, 1]])
    with pytest.raises(ValueError, match="`alphas` must be > 0"):
        fit_ridge(stims, resp, n_lags=L, alphas=[1.0, 0.0])
    with pytest.raises(ValueError, match="at least one penalty"):
        fit_ridge(stims, resp, n_lags=L, alphas=[])
    with pytest.raises(ValueError, match="same length"):
        fit_ridge(stims, resp[:-1], n_lags=L)
    with pytest.raises(ValueError, match=r"responses of stimulus 0 must be \(N, T\)"):
        fit_ridge(stims, [r[:, :-1] for r in resp], n_lags=L)
    with pytest.raises(ValueError, match="same neurons"):
        fit_ridge(stims[:2], [resp[0], resp[1][:1]], n_lags=L)
    with pytest.raises(ValueError, match=r"stimulus 0 must be a spectrogram"):
        fit_ridge([torch.zeros(100)], [torch.zeros(1, 100)], n_lags=L, alphas=[1.0])
    with pytest.raises(TypeError, match="`dtype` must be a floating"):
        fit_ridge(stims, resp, n_lags=L, dtype=torch.int64)
    with pytest.raises(TypeError, match="must be a dataset"):
        fit_ridge(stims, n_lags=L)
    with pytest.raises(TypeError, match=r"`responses\[0\]` must be a tensor"):
        fit_ridge(stims, [object()] * len(stims), n_lags=L)
    dead = [torch.cat([r[:1], torch.full_like(r[:1], float("nan"))]) for r in resp]
    with pytest.raises(ValueError, match=r"neurons \[1\] have no valid"):
        fit_ridge(stims, dead, n_lags=L)


def test_ridge_to_linear_reproduces_the_prediction():
    stims, resp, _ = _simulate()
    result = fit_ridge(stims, resp, n_lags=L, n_folds=3)
    model = ridge_to_linear(result)
    assert not model.training and model.O == 2 and model.F == 5 and model.T == L
    bn = model.readout.bn
    assert torch.all(bn.running_mean == 0) and torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    assert torch.allclose(bn.running_var + bn.eps, torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-15)
    x = torch.stack([F.pad(s, (0, 90 - s.shape[1])) for s in stims])[:, None]
    with torch.no_grad():
        out = model(x)
    assert out.shape == (6, 2, 1, 90)
    assert torch.allclose(out, result.predict(x), rtol=0, atol=1e-12)
    assert torch.allclose(model.STRF_weight(), result.weight)
    single = result.to_linear(dtype=torch.float32)
    assert next(single.parameters()).dtype == torch.float32
    with torch.no_grad():
        assert torch.allclose(single(x.float()).double(), out, atol=1e-4)


def test_predict_and_ridge_to_linear_errors():
    result = RidgeResult(
        torch.zeros(1, 2, 3), torch.zeros(1), torch.ones(1), torch.ones(1), torch.ones(1), torch.zeros(1, 1)
    )
    with pytest.raises(ValueError, match=r"must have shape \(B, 1, 2, T\).*got \(1, 3, 10\)"):
        result.predict(torch.zeros(1, 3, 10))
    with pytest.raises(TypeError, match="must be a RidgeResult"):
        ridge_to_linear({"weight": 1})


def test_ridge_result_score_is_nan_aware_pearson_r_and_predict_takes_3d():
    stims, resp, _ = _simulate()
    result = fit_ridge(stims, resp, n_lags=L, n_folds=3)
    holed = [r.clone() for r in resp]
    holed[0][1, :10] = float("nan")
    scores = result.score(stims, holed)
    pred = torch.cat([result.predict(s)[:, 0] for s in stims], 1).numpy()
    target = torch.cat(holed, 1).numpy()
    for n in range(2):
        ok = np.isfinite(target[n])
        assert float(scores[n]) == pytest.approx(np.corrcoef(pred[n, ok], target[n, ok])[0, 1])
    batch = torch.stack([s[:, :40] for s in stims])  # (B, F, T)
    assert torch.equal(result.predict(batch), result.predict(batch[:, None]))
