"""Nested leave-one-trial-out ridge on a recording-sized problem: deepSTRF against a plain NumPy ridge.

Problem (the size of a typical speech-TRF study): 10 trials of ``--seconds`` s at 100 Hz,
a 128-band speech-like spectrogram pooled to 32 bands, 10 simulated electrodes, lags
0-300 ms (31 lags, so 992 features + intercept). No recording of real speech is
available offline, so the stimulus is synthetic: syllable-rate (about 4 Hz) bursts with
random formant-like spectral peaks, pitch harmonics, log-compressed; each electrode is
a random smooth TRF of the spectrogram plus noise.

Protocol, identical for all methods: outer loop over the 10 trials (each held out
once); inside, leave-one-trial-out over the other 9 chooses, per electrode, the penalty
with the lowest pooled squared error among 13 relative penalties (multiples of the
mean eigenvalue of the training set's centred X^T X, intercept unpenalised); the model
refitted on the 9 trials predicts the held-out trial; r per trial and electrode.

- ``deepSTRF``: :func:`deepSTRF.estimators.cross_validate_ridge` (float64; threads ``'auto'``).
- ``numpy solve``: the plain closed form, as mTRFpy computes it: per-trial lagged design
  and covariances computed once, then for every training set and penalty
  ``np.linalg.solve(C + lambda I, X^T y)``, held-out predictions ``X w + b``.
- ``numpy eigh``: the same with one ``np.linalg.eigh`` per training set serving every
  penalty (a stronger reference).
- ``mTRFpy`` (``--mtrf``, needs ``pip install mtrf``): the published mTRFpy package, see
  :func:`mtrf_nested`.

NumPy runs with its default threads. ``--busy`` starts a competing process (a NumPy
matrix-product loop on all cores) during every timed run.

Usage::

    python benchmarks/bench_ridge_nested.py            # quiet, then with a competing process
    python benchmarks/bench_ridge_nested.py --seconds 30 --skip-solve
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time

import numpy as np

from deepSTRF.estimators import cross_validate_ridge
from deepSTRF.training.ridge import DEFAULT_ALPHAS

FS = 100.0
N_LAGS = 31


def speech_like(n_trials: int, seconds: float, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Trials of a speech-like log spectrogram (T, 32) and 10 electrodes (T, 10)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    freqs = np.geomspace(100, 8000, 128)
    trf_rng = np.random.default_rng(seed + 1)
    lags = np.arange(N_LAGS)
    trfs = []
    for _ in range(10):  # smooth TRFs: a band-limited spectral profile times a damped temporal kernel
        centre, width = trf_rng.uniform(5, 27), trf_rng.uniform(3, 8)
        profile = np.exp(-0.5 * ((np.arange(32) - centre) / width) ** 2)
        latency = trf_rng.uniform(3, 12)
        kernel = np.sin(np.pi * lags / (2 * latency)) * np.exp(-lags / latency)
        trfs.append(profile[:, None] * kernel[None, :])
    trf = np.stack(trfs)  # (10, 32, 31)
    xs, ys = [], []
    for _ in range(n_trials):
        spec = np.full((n, 128), 1e-3)
        t = 0
        while t < n:  # syllables of 120-320 ms with 0-100 ms gaps
            dur = int(rng.uniform(0.12, 0.32) * FS)
            f0 = rng.uniform(90, 220)
            formants = rng.uniform([300, 900, 2200], [900, 2300, 3500])
            env = np.sin(np.linspace(0, np.pi, dur)) ** 2 * rng.uniform(0.3, 1.0)
            shape = sum(np.exp(-0.5 * ((freqs - fm) / (0.12 * fm)) ** 2) for fm in formants)
            harmonic = 0.5 + 0.5 * np.cos(2 * np.pi * freqs / f0) ** 8
            voiced = rng.random() < 0.7
            colour = shape * (harmonic if voiced else rng.uniform(0.3, 1.0, 128))
            stop = min(n, t + dur)
            spec[t:stop] += env[: stop - t, None] * colour[None, :]
            t = stop + int(rng.uniform(0.0, 0.1) * FS)
        logspec = np.log(spec)
        pooled = logspec.reshape(n, 32, 4).mean(2)
        pooled = (pooled - pooled.mean(0)) / pooled.std(0)
        drive = np.zeros((n, 10))
        for j in range(N_LAGS):
            drive[j:] += pooled[: n - j] @ trf[:, :, j].T
        drive /= drive.std(0)
        xs.append(pooled)
        ys.append(drive + 0.55 * rng.standard_normal((n, 10)))
    return xs, ys


def lagged(x: np.ndarray) -> np.ndarray:
    n, f = x.shape
    design = np.zeros((n, f, N_LAGS))
    for j in range(N_LAGS):
        design[j:, :, j] = x[: n - j]
    return design.reshape(n, f * N_LAGS)


def numpy_nested(xs: list[np.ndarray], ys: list[np.ndarray], method: str) -> np.ndarray:
    """Nested leave-one-trial-out CV with a plain closed-form ridge; returns r (trials, outputs)."""
    alphas = np.asarray(DEFAULT_ALPHAS)
    designs = [lagged(x) for x in xs]
    xtx = [d.T @ d for d in designs]
    xs_sum = [d.sum(0) for d in designs]
    xty = [d.T @ y for d, y in zip(designs, ys)]
    ys_sum = [y.sum(0) for y in ys]
    counts = [len(y) for y in ys]

    def fit(train: list[int], alpha_per_output: np.ndarray | None):
        n = sum(counts[s] for s in train)
        mean_x = sum(xs_sum[s] for s in train) / n
        mean_y = sum(ys_sum[s] for s in train) / n
        cov = sum(xtx[s] for s in train) - n * np.outer(mean_x, mean_x)
        cross = sum(xty[s] for s in train) - n * np.outer(mean_x, mean_y)
        scale = np.trace(cov) / cov.shape[0]
        eye = np.eye(cov.shape[0])
        if alpha_per_output is None:  # every penalty: (A, D, N)
            if method == "eigh":
                evals, evecs = np.linalg.eigh(cov)
                rot = evecs.T @ cross
                w = np.stack([evecs @ (rot / (evals[:, None] + a * scale)) for a in alphas])
            else:
                w = np.stack([np.linalg.solve(cov + a * scale * eye, cross) for a in alphas])
        else:
            w = np.empty_like(cross)
            for a in np.unique(alpha_per_output):
                cols = alpha_per_output == a
                w[:, cols] = np.linalg.solve(cov + a * scale * eye, cross[:, cols])
        b = mean_y - mean_x @ w
        return w, b

    n_trials = len(xs)
    scores = np.empty((n_trials, ys[0].shape[1]))
    for k in range(n_trials):
        rest = [s for s in range(n_trials) if s != k]
        sse = np.zeros((len(alphas), ys[0].shape[1]))
        for j in rest:
            w, b = fit([s for s in rest if s != j], None)
            flat = w.transpose(1, 0, 2).reshape(w.shape[1], -1)  # (D, A * N): one matrix product
            pred = (designs[j] @ flat).reshape(len(ys[j]), len(alphas), -1) + b[None]
            sse += ((pred - ys[j][:, None]) ** 2).sum(0)
        chosen = alphas[sse.argmin(0)]
        w, b = fit(rest, chosen)
        pred = designs[k] @ w + b
        p = pred - pred.mean(0)
        t = ys[k] - ys[k].mean(0)
        scores[k] = (p * t).sum(0) / np.sqrt((p**2).sum(0) * (t**2).sum(0))
    return scores


def mtrf_nested(xs: list[np.ndarray], ys: list[np.ndarray]) -> np.ndarray:
    """The same nested protocol run by mTRFpy (``pip install mtrf``): returns r (trials, outputs).

    The outer leave-one-trial-out loop is written here; inside, ``TRF.train`` with a list of
    penalties runs its own leave-one-trial-out search (``k=-1``) and keeps, per output
    (``reg_per_y_channel=True``), the penalty with the best correlation, then refits on the
    9 trials. mTRFpy takes absolute penalties: the 13 relative ones times the mean eigenvalue
    of the lagged design's ``X^T X`` over all trials (one fixed grid for every fold). It
    chooses by correlation where the others choose by squared error, so its scores may
    differ slightly.
    """
    from mtrf.model import TRF

    designs = [lagged(x) for x in xs]
    scale = sum(float(np.einsum("ij,ij->", d, d)) for d in designs) / designs[0].shape[1]
    grid = [float(a) * scale for a in DEFAULT_ALPHAS]
    scores = np.empty((len(xs), ys[0].shape[1]))
    for k in range(len(xs)):
        rest = [s for s in range(len(xs)) if s != k]
        trf = TRF(direction=1)
        trf.train(
            [xs[s] for s in rest], [ys[s] for s in rest], fs=int(FS), tmin=0.0, tmax=(N_LAGS - 1) / FS,
            regularization=grid, k=-1, reg_per_y_channel=True, verbose=False,
        )  # fmt: skip
        pred = trf.predict(stimulus=[xs[k]])[0]
        p = pred - pred.mean(0)
        t = ys[k] - ys[k].mean(0)
        scores[k] = (p * t).sum(0) / np.sqrt((p**2).sum(0) * (t**2).sum(0))
    return scores


def _burn(stop) -> None:  # a competing process: matrix products on all cores
    a = np.random.default_rng(0).standard_normal((1500, 1500))
    while not stop.is_set():
        a = np.tanh(a @ a.T / 1500)


def run_all(xs, ys, methods: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict] = {}
    for name in methods:
        start, cpu = time.perf_counter(), time.process_time()
        if name == "deepSTRF":
            res = cross_validate_ridge(xs, ys, tmin=0.0, tmax=0.3, sfreq=FS, device="cpu")
            scores = res.scores
        elif name == "mTRFpy":
            scores = mtrf_nested(xs, ys)
        else:
            scores = numpy_nested(xs, ys, name.split()[-1])
        out[name] = {
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu,
            "r": float(scores.mean()),
            "scores": scores.tolist(),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each trial (default: %(default)s)")
    parser.add_argument("--skip-solve", action="store_true", help="leave out the numpy-solve reference (slowest)")
    parser.add_argument("--quiet-only", action="store_true", help="no run with a competing process")
    parser.add_argument("--busy-only", action="store_true", help="only the run with a competing process")
    parser.add_argument("--mtrf", action="store_true", help="also run mTRFpy (`pip install mtrf`)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    xs, ys = speech_like(10, args.seconds, seed=0)
    methods = (
        ["deepSTRF", "numpy eigh"] + ([] if args.skip_solve else ["numpy solve"]) + (["mTRFpy"] if args.mtrf else [])
    )
    cross_validate_ridge(xs[:3], [y[:, :2] for y in ys[:3]], n_lags=3)  # warm-up of the kernels
    results = {}
    conditions = ["busy"] if args.busy_only else ["quiet"] if args.quiet_only else ["quiet", "busy"]
    for cond in conditions:
        stop = mp.Event()
        burner = mp.Process(target=_burn, args=(stop,)) if cond == "busy" else None
        if burner is not None:
            burner.start()
            time.sleep(1.0)
        load = os.getloadavg()[0]
        try:
            results[cond] = {"load_at_start": load, **run_all(xs, ys, methods)}
        finally:
            if burner is not None:
                stop.set()
                burner.join()
    print(f"10 trials x {args.seconds:.0f} s at 100 Hz, 32 bands, 10 outputs, 31 lags; nested leave-one-trial-out")
    for cond, rows in results.items():
        print(f"[{cond}] 1-min load average at start {rows['load_at_start']:.2f}")
        ref = rows["deepSTRF"]
        for name in methods:
            row = rows[name]
            diff = np.abs(np.asarray(row["scores"]) - np.asarray(ref["scores"])).max()
            print(
                f"  {name:12} {row['seconds']:7.2f} s  (cpu {row['cpu_seconds']:6.2f} s)  r {row['r']:.4f}  "
                f"max |r - r_deepSTRF| {diff:.1e}  deepSTRF speed-up {row['seconds'] / ref['seconds']:.1f}x"
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
