import itertools

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from deepSTRF.estimators import (
    BandedRidgeSTRF,
    LaggedMoments,
    ModelEstimator,
    RidgeSTRF,
    cross_validate_ridge,
    from_mat,
)
from deepSTRF.estimators._solver import PenaltyPath, solver_threads
from deepSTRF.training.ridge import fit_ridge, ridge_to_linear
from deepSTRF.training.windows import window_trial

L = 4


def _design(x, n_lags, lag_min=0):
    """Loop-built lagged design of one trial (T, F): column f * L + j holds x[t - lag_min - j, f]."""
    n, f = x.shape
    out = np.zeros((n, f * n_lags))
    for t in range(n):
        for j in range(n_lags):
            src = t - lag_min - j
            if 0 <= src < n:
                out[t, np.arange(f) * n_lags + j] = x[src]
    return out


def _trials(n_trials=6, n_bins=150, n_feat=3, n_out=2, noise=0.3, seed=0, n_lags=L):
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((n_out, n_feat, n_lags))
    xs = [rng.standard_normal((n_bins + 7 * s, n_feat)) for s in range(n_trials)]
    ys = [
        _design(x, n_lags) @ kernel.reshape(n_out, -1).T + 0.5 + noise * rng.standard_normal((len(x), n_out))
        for x in xs
    ]
    return xs, ys, kernel


def test_streamed_moments_equal_the_explicit_design_for_any_chunking():
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((n, 3)) for n in (40, 2, 25)]  # one trial shorter than the lags
    ys = [rng.standard_normal((len(x), 2)) for x in xs]
    design = np.concatenate([np.c_[_design(x, 5), np.ones(len(x))] for x in xs])
    resp = np.concatenate(ys)
    for chunk in (1, 7, 100):
        m = LaggedMoments(n_features=3, n_lags=5, n_outputs=2)
        for x, y in zip(xs, ys):
            for start in range(0, len(x), chunk):
                m.update(torch.from_numpy(x[start : start + chunk]), torch.from_numpy(y[start : start + chunk]))
            m.end_trial()
        np.testing.assert_allclose(m.gram().numpy(), design.T @ design, atol=1e-10)
        np.testing.assert_allclose(m.cross_products().numpy(), design.T @ resp, atol=1e-10)
        np.testing.assert_allclose(m.y_sq.numpy(), (resp**2).sum(0))


@pytest.mark.parametrize("with_scale", [False, True])
def test_penalty_path_solves_the_ridge_normal_equations(with_scale):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 12))
    y = rng.standard_normal((200, 3))
    aug = np.c_[x, np.ones(200)]
    scale = rng.uniform(0.1, 10, 12) if with_scale else np.ones(12)
    xc, yc = x - x.mean(0), y - y.mean(0)
    # two penalties go through Cholesky factorisations, five through one shared reduction
    for method, pens in itertools.product(("tridiagonal", "eigh"), ([0.5, 20.0], [0.5, 2.0, 20.0, 1e2, 1e3])):
        pens = np.array(pens)
        path = PenaltyPath(torch.from_numpy(aug.T @ aug), torch.from_numpy(scale) if with_scale else None, method)
        full = path.solve(torch.from_numpy(aug.T @ y), torch.from_numpy(pens)).numpy()
        for a, lam in enumerate(pens):
            w = np.linalg.solve(xc.T @ xc + lam * np.diag(scale), xc.T @ yc)
            np.testing.assert_allclose(full[a, :-1], w, atol=1e-10)
            np.testing.assert_allclose(full[a, -1], y.mean(0) - x.mean(0) @ w, atol=1e-10)
        assert float(path.mean_eigenvalue) == pytest.approx(np.trace(xc.T @ xc) / 12)


def test_predictions_equal_fit_ridge_and_ridge_to_linear():
    xs, ys, _ = _trials(noise=2.0)
    folds = [[0, 1], [2, 3], [4, 5]]
    alphas = [0.01, 0.3, 10.0, 300.0]
    stims = [torch.from_numpy(x.T) for x in xs]  # (F, T)
    resps = [torch.from_numpy(y.T) for y in ys]
    ref = fit_ridge(stims, resps, n_lags=L, alphas=alphas, folds=folds)
    est = RidgeSTRF(n_lags=L, alphas=alphas, cv=folds, layout="ft", device="cpu").fit(stims, resps)
    np.testing.assert_array_equal(est.alpha_, ref.alpha.numpy())
    np.testing.assert_allclose(est.penalty_, ref.penalty.numpy(), rtol=1e-9)
    np.testing.assert_allclose(est.cv_mse_, ref.cv_mse.numpy(), rtol=1e-9)
    model = ridge_to_linear(ref)
    for stim in stims:
        mine = est.predict(stim)  # (N, T), the layout of the input
        theirs = model(stim[None, None])[0, :, 0].detach().numpy()
        np.testing.assert_allclose(mine, theirs, atol=1e-9)
        np.testing.assert_allclose(mine, ref.predict(stim[None, None])[0, :, 0].numpy(), atol=1e-9)
        ours = est.to_model()(stim[None, None])[0, :, 0].detach().numpy()
        np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_clone_grid_search_pipeline_and_grouped_cross_val_score():
    xs, ys, _ = _trials(n_trials=6, noise=0.5)
    X, y = np.stack([x[:150] for x in xs]), np.stack([v[:150] for v in ys])  # (S, T, F), (S, T, N)
    est = RidgeSTRF(n_lags=2, alphas=[0.1, 1.0])
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "coef_")
    search = GridSearchCV(RidgeSTRF(alphas=[0.1, 1.0]), {"n_lags": [1, 2, L]}, cv=GroupKFold(3))
    search.fit(X, y, groups=np.arange(6))
    assert search.best_params_ == {"n_lags": L}
    assert search.best_estimator_.coef_.shape == (2, 3, L)
    groups = np.arange(6) // 2
    scores = cross_val_score(RidgeSTRF(n_lags=L), X, y, groups=groups, cv=GroupKFold(3))
    manual = []
    for train, test in GroupKFold(3).split(X, y, groups):
        manual.append(RidgeSTRF(n_lags=L).fit(X[train], y[train]).score(X[test], y[test]))
    np.testing.assert_allclose(scores, manual)
    assert scores.min() > 0.9
    # a Pipeline on one (T, F) recording: the trial labels keep the lags inside each trial
    labels = np.repeat(np.arange(6), 150)
    pipe = Pipeline([("scale", StandardScaler()), ("ridge", RidgeSTRF(n_lags=L, cv=3))])
    pipe.fit(X.reshape(-1, 3), y.reshape(-1, 2), ridge__trials=labels)
    scaled = [(x - X.reshape(-1, 3).mean(0)) / X.reshape(-1, 3).std(0) for x in X]
    direct = RidgeSTRF(n_lags=L, cv=3).fit(scaled, list(y))
    np.testing.assert_allclose(pipe[-1].coef_, direct.coef_, atol=1e-10)
    np.testing.assert_allclose(pipe.predict(X.reshape(-1, 3)).shape, (900, 2))


def test_score_and_score_trials_are_pearson_r():
    xs, ys, _ = _trials(noise=1.0)
    est = RidgeSTRF(n_lags=L, cv=3).fit(xs, ys)
    per_trial = est.score_trials(xs, ys)
    preds = est.predict(xs)
    for s, (p, v) in enumerate(zip(preds, ys)):
        for n in range(2):
            assert per_trial[s, n] == pytest.approx(np.corrcoef(p[:, n], v[:, n])[0, 1])
    pooled = np.concatenate(preds), np.concatenate(ys)
    expected = np.mean([np.corrcoef(pooled[0][:, n], pooled[1][:, n])[0, 1] for n in range(2)])
    assert est.score(xs, ys) == pytest.approx(expected)


def test_tmin_tmax_in_seconds_and_a_response_that_leads():
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((300, 2)) for _ in range(4)]
    ys = [np.r_[x[2:, 0], 0, 0] for x in xs]  # y[t] = x[t + 2]: lag -2 bins
    est = RidgeSTRF(tmin=-0.03, tmax=0.01, sfreq=100.0, alphas=[1e-6], cv=2).fit(xs, ys)
    np.testing.assert_array_equal(est.lags_, [-3, -2, -1, 0, 1])
    np.testing.assert_allclose(est.times_, [-0.03, -0.02, -0.01, 0.0, 0.01])
    expected = np.zeros((2, 5))
    expected[0, 1] = 1.0
    np.testing.assert_allclose(est.coef_[0], expected, atol=1e-3)
    assert est.predict(xs[0]).shape == (300,)
    with pytest.raises(ValueError, match="only causal"):
        est.to_model()
    delayed = RidgeSTRF(tmin=0.02, tmax=0.04, sfreq=100.0).fit(xs, [np.r_[0, 0, 0, x[:-3, 1]] for x in xs])
    assert np.argmax(np.abs(delayed.coef_[0, 1])) == 1  # lags 2, 3, 4: the peak at lag 3
    model = delayed.to_model()
    stim = torch.from_numpy(xs[0].T)[None, None]
    np.testing.assert_allclose(model(stim)[0, 0, 0].detach().numpy(), delayed.predict(xs[0]), atol=1e-9)


def test_errors_suggest_the_transposition():
    xs, ys, _ = _trials()
    with pytest.raises(ValueError, match="layout='ft'"):
        RidgeSTRF(n_lags=L).fit([x.T for x in xs], ys)
    est = RidgeSTRF(n_lags=L, cv=3).fit(xs, ys)
    with pytest.raises(ValueError, match=r"3 features.*layout='ft'"):
        est.predict(xs[0].T)
    with pytest.raises(ValueError, match="layout"):
        RidgeSTRF(n_lags=L, layout="time-first").fit(xs, ys)
    with pytest.raises(ValueError, match="tmin"):
        RidgeSTRF().fit(xs, ys)
    with pytest.raises(ValueError, match="not fitted"):
        RidgeSTRF(n_lags=L).predict(xs)
    with pytest.raises(ValueError, match="more than one fold"):
        RidgeSTRF(n_lags=L, cv=[[0, 1], [1, 2]]).fit(xs, ys)


def test_one_recording_with_trial_labels_equals_the_list_of_trials():
    xs, ys, _ = _trials()
    labels = np.concatenate([np.full(len(x), s) for s, x in enumerate(xs)])
    listed = RidgeSTRF(n_lags=L, cv=3).fit(xs, ys)
    joined = RidgeSTRF(n_lags=L, cv=3).fit(np.concatenate(xs), np.concatenate(ys), trials=labels)
    np.testing.assert_allclose(joined.coef_, listed.coef_, atol=1e-12)


def test_banded_ridge_recovers_the_strf_and_penalises_the_noise_band():
    rng = np.random.default_rng(4)
    n_lags = 3
    kernel = rng.standard_normal((2, 4, n_lags))
    xs = [rng.standard_normal((250, 8)) for _ in range(6)]  # features 0-3 drive the outputs, 4-7 are noise
    ys = [_design(x[:, :4], n_lags) @ kernel.reshape(2, -1).T + 1.5 * rng.standard_normal((250, 2)) for x in xs]
    banded = BandedRidgeSTRF(n_lags=n_lags, bands=[4, 4], cv=3).fit(xs, ys)
    plain = RidgeSTRF(n_lags=n_lags, cv=3).fit(xs, ys)
    assert banded.band_penalties_.shape == (2, 2)
    assert np.all(banded.band_penalties_[:, 1] >= 10 * banded.band_penalties_[:, 0])
    assert np.all(banded.band_penalties_[:, 1] > plain.penalty_)
    for n in range(2):
        r = np.corrcoef(banded.coef_[n, :4].ravel(), kernel[n].ravel())[0, 1]
        assert r > 0.95
    assert np.abs(banded.coef_[:, 4:]).mean() < np.abs(plain.coef_[:, 4:]).mean()
    labels = BandedRidgeSTRF(n_lags=n_lags, bands=["s"] * 4 + ["n"] * 4, cv=3).fit(xs, ys)
    np.testing.assert_allclose(labels.coef_, banded.coef_)
    with pytest.raises(ValueError, match="bands"):
        BandedRidgeSTRF(n_lags=n_lags, bands=[4, 3]).fit(xs, ys)


def _nested_reference(xs, ys, alphas, n_lags):
    """Nested leave-one-trial-out CV with explicit designs and np.linalg.solve."""
    designs = [_design(x, n_lags) for x in xs]

    def fit(train, alpha):
        d, y = np.concatenate([designs[s] for s in train]), np.concatenate([ys[s] for s in train])
        mx, my = d.mean(0), y.mean(0)
        cov = (d - mx).T @ (d - mx)
        scale = np.trace(cov) / cov.shape[0]
        alpha = np.broadcast_to(alpha, (y.shape[1],))
        w = np.stack(
            [
                np.linalg.solve(cov + a * scale * np.eye(len(cov)), (d - mx).T @ (y[:, n] - my[n]))
                for n, a in enumerate(alpha)
            ],
            1,
        )
        return w, my - mx @ w

    n = len(xs)
    scores, chosen = np.zeros((n, ys[0].shape[1])), []
    for k in range(n):
        rest = [s for s in range(n) if s != k]
        sse = np.zeros((len(alphas), ys[0].shape[1]))
        for j in rest:
            for a, alpha in enumerate(alphas):
                w, b = fit([s for s in rest if s != j], alpha)
                sse[a] += ((designs[j] @ w + b - ys[j]) ** 2).sum(0)
        best = np.asarray(alphas)[sse.argmin(0)]
        chosen.append(best)
        w, b = fit(rest, best)
        pred = designs[k] @ w + b
        scores[k] = [np.corrcoef(pred[:, m], ys[k][:, m])[0, 1] for m in range(pred.shape[1])]
    return scores, np.array(chosen)


def test_nested_cv_equals_an_explicit_reference():
    xs, ys, _ = _trials(n_trials=5, n_bins=60, noise=3.0)
    alphas = [0.01, 1.0, 100.0]
    res = cross_validate_ridge(xs, ys, n_lags=L, alphas=alphas)
    scores, chosen = _nested_reference(xs, ys, alphas, L)
    np.testing.assert_allclose(res.scores, scores, atol=1e-10)
    np.testing.assert_array_equal(res.alpha, chosen)
    assert res.score() == pytest.approx(scores.mean())
    assert res.inner_mse.shape == (5, 3, 2) and res.coef.shape == (5, 2, 3, L)
    est = RidgeSTRF(n_lags=L, alphas=alphas, penalty="absolute")
    absolute = cross_validate_ridge(xs, ys, estimator=est, outer=5, inner=2)
    assert set(np.unique(absolute.penalty)) <= set(alphas)
    banded = cross_validate_ridge(xs, ys, estimator=BandedRidgeSTRF(n_lags=L, bands=[2, 1], alphas=alphas))
    assert banded.band_penalties.shape == (5, 2, 2)


def test_thread_count_respects_the_request():
    assert solver_threads(3) == 3
    assert 1 <= solver_threads("auto")
    with pytest.raises(ValueError, match="n_threads"):
        solver_threads(0)


def test_model_estimator_trains_a_zoo_model_on_windows_and_composes_with_sklearn():
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((600, 3)).astype(np.float32) for _ in range(3)]
    ys = [np.r_[0.0, 0.0, x[:-2, 1]] + 0.1 * rng.standard_normal(600) for x in xs]
    est = ModelEstimator(
        "linear",
        model_params={"temporal_window_size": 4},
        window=100,
        context=3,
        fit_params={"max_epochs": 30, "lr": 3e-2, "patience": 30},
        device="cpu",
    )
    est.fit(xs, ys)
    assert est.epochs_run_ == 30
    assert est.score(xs, ys) > 0.9
    assert est.predict(xs[0]).shape == (600,)
    assert clone(est).get_params()["window"] == 100
    built = ModelEstimator(lambda f, n: torch.nn.Identity(), device="cpu")
    with pytest.raises(ValueError, match="window"):
        ModelEstimator(window=0).fit(xs, ys)
    assert built.get_params()["model"] is not None


def test_windows_mask_the_context_bins():
    x = torch.arange(10.0)[:, None]
    y = torch.arange(10.0)[:, None]
    parts = window_trial(x, y, window=4, context=2)
    assert [p[0].shape[1] for p in parts] == [4, 6, 4]
    assert torch.isnan(parts[1][1][0, 0, :2]).all() and parts[1][1][0, 0, 2:].tolist() == [4.0, 5.0, 6.0, 7.0]


def test_from_mat_reads_v5_and_v73_alike(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(6)
    trials = [rng.standard_normal((50, 4)), rng.standard_normal((30, 4))]
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = trials
    v5 = tmp_path / "v5.mat"
    scipy_io.savemat(v5, {"stim": cells, "fs": 100.0, "name": "speech", "opts": {"tmax": 0.3}})
    v73 = tmp_path / "v73.mat"  # written the way MATLAB's save -v7.3 lays it out
    with h5py.File(v73, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        handles = []
        for i, t in enumerate(trials):
            d = refs.create_dataset(f"t{i}", data=t.T)  # HDF5 holds the axes reversed
            d.attrs["MATLAB_class"] = np.bytes_("double")
            handles.append(d.ref)
        cell = f.create_dataset("stim", data=np.array(handles, dtype=h5py.ref_dtype)[:, None])
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
        fs = f.create_dataset("fs", data=np.array([[100.0]]))
        fs.attrs["MATLAB_class"] = np.bytes_("double")
        name = f.create_dataset("name", data=np.array([[ord(c)] for c in "speech"], dtype=np.uint16))
        name.attrs["MATLAB_class"] = np.bytes_("char")
        opts = f.create_group("opts")
        opts.attrs["MATLAB_class"] = np.bytes_("struct")
        opts.create_dataset("tmax", data=np.array([[0.3]])).attrs["MATLAB_class"] = np.bytes_("double")
    with open(v73, "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file".ljust(128))
    for path in (v5, v73):
        data = from_mat(path)
        assert len(data["stim"]) == 2
        for got, want in zip(data["stim"], trials):
            np.testing.assert_array_equal(got, want)
        assert data["fs"] == 100.0 and data["name"] == "speech" and data["opts"]["tmax"] == pytest.approx(0.3)
        assert RidgeSTRF(n_lags=2, cv=2).fit(data["stim"], [t[:, 0] for t in data["stim"]]).coef_.shape == (1, 4, 2)
        with pytest.raises(KeyError, match="stim"):
            from_mat(path, ["resp"])


def test_a_deepstrf_dataset_is_accepted_as_is():
    from deepSTRF.datasets import SimulatedDataset

    data = SimulatedDataset(n_neurons=2, n_stimuli=6, seed=0)
    ref = fit_ridge(data, n_lags=5, alphas=[1.0])
    est = RidgeSTRF(n_lags=5, alphas=[1.0], device="cpu").fit(data)
    preds = est.predict(data)  # one (N, T) array per stimulus, time last like the dataset
    stim = torch.as_tensor(data[0]["stims"], dtype=torch.float64)
    np.testing.assert_allclose(preds[0], ref.predict(stim[None])[0, :, 0].numpy(), atol=1e-8)
