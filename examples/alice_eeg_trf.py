"""EEG temporal response functions on the Alice EEG layout: a ridge TRF and a deep model, scored by explained variance.

A notebook in script form (cells marked ``# %%``). The real data (33 subjects, 2.5 GiB) come
with ``AliceEEGDataset(download=True)``; to run anywhere in seconds, this example first writes
a small recording in the real layout with MNE (``eeg.0/eeg/Sxx/Sxx_alice-raw.fif`` with the
segment annotations ``'1'``...``'12'``, a bad channel, a ``BAD_`` window and a non-zero first
sample; ``stimuli/{1..12}.wav``). Its EEG is the speech envelope filtered by a known
temporal response function plus band-limited noise, at a signal-to-noise ratio that puts the
best achievable explained variance near the 14-20 % that Brodbeck et al. (2023) report for the
real data. The loader turns it into a dataset (subjects x channels as neurons); a ridge TRF
and a StateNet (GRU) are fitted on segments 1-10 and scored on segment 12.

Writes ``scores.json`` (per-model median explained variance on the test segment, with the
published figures and the share of the planted signal in the fixture EEG, about 20 %),
``scores.png`` and ``trf.png`` (the ridge TRF against the true one).

    python examples/alice_eeg_trf.py [--quick] [--out DIR]
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import torch
from _common import median, new_figure, parse_args, save_figure, write_json

from deepSTRF.datasets import standardize_stimuli
from deepSTRF.datasets.audio import AliceEEGDataset
from deepSTRF.models.registry import build_model
from deepSTRF.training import FitConfig, Fitter, fit_ridge

PUBLISHED_FVE = {"envelope": 0.14, "envelope + onsets": 0.17, "gammatone + onset spectrogram": 0.20}


# %% 1. A recording in the real layout (skip this cell with the real data)
def true_trf(fs: float) -> np.ndarray:
    """A P1-N1-P2-like kernel over 0-400 ms."""
    t = np.arange(round(0.4 * fs)) / fs
    return (
        1.0 * np.exp(-(((t - 0.05) / 0.02) ** 2))
        - 1.6 * np.exp(-(((t - 0.1) / 0.03) ** 2))
        + 0.8 * np.exp(-(((t - 0.19) / 0.05) ** 2))
    )


def write_recording(root: Path, n_subjects: int, n_channels: int, seg_s: float, rng: np.random.Generator) -> float:
    """Write the WAVs and one .fif per subject; return the share of EEG variance the envelope explains."""
    import mne
    import soundfile
    from scipy.signal import butter, sosfiltfilt

    audio_fs, eeg_fs = 16000, 500.0
    (root / "stimuli").mkdir(parents=True, exist_ok=True)
    envelopes = []
    for seg in range(1, 13):
        n = round(seg_s * audio_fs)
        syllables = sosfiltfilt(butter(2, 6.0, fs=audio_fs, output="sos"), rng.standard_normal(n))
        env = np.maximum(syllables / syllables.std(), 0.0) ** 1.5
        audio = 0.1 * env * rng.standard_normal(n)
        soundfile.write(root / "stimuli" / f"{seg}.wav", audio / np.abs(audio).max() * 0.5, audio_fs)
        step = round(audio_fs / eeg_fs)
        envelopes.append(np.log1p(10 * env[: (n // step) * step].reshape(-1, step).mean(1)))
    kernel = true_trf(eeg_fs)
    gains = rng.uniform(0.5, 1.5, size=n_channels)
    names = [f"E{c + 1:02d}" for c in range(n_channels)]
    band = butter(4, [0.5, 20.0], btype="band", fs=eeg_fs, output="sos")
    share = []
    for s in range(n_subjects):
        onsets = 2.0 + np.arange(12) * (seg_s + 1.0)
        n_total = round((onsets[-1] + seg_s + 2.0) * eeg_fs)
        noise = sosfiltfilt(band, rng.standard_normal((n_channels, n_total)), axis=1)
        clean = np.zeros((n_channels, n_total))
        for seg, t0 in enumerate(onsets):
            drive = np.convolve(envelopes[seg] - envelopes[seg].mean(), kernel)[: envelopes[seg].size]
            a = round(t0 * eeg_fs)
            clean[:, a : a + drive.size] += gains[:, None] * drive[None]
        clean = sosfiltfilt(band, clean, axis=1)
        noise *= np.sqrt(4.0 * clean.var(axis=1, keepdims=True) / noise.var(axis=1, keepdims=True))  # FVE ceiling 20 %
        share.append(float(np.mean(clean.var(axis=1) / (clean + noise).var(axis=1))))
        info = mne.create_info(names, eeg_fs, "eeg")
        raw = mne.io.RawArray((clean + noise) * 1e-6, info, first_samp=2500, verbose="error")
        raw.set_meas_date(datetime.datetime(2019, 5, 1, tzinfo=datetime.timezone.utc))
        raw.set_annotations(
            mne.Annotations([*onsets, onsets[3] + 1.0], [0.0] * 12 + [0.5], [*map(str, range(1, 13)), "BAD_movement"])
        )
        raw.info["bads"] = [names[-1]] if s == 0 else []
        subject = f"S{s + 1:02d}"
        (root / "eeg.0" / "eeg" / subject).mkdir(parents=True, exist_ok=True)
        raw.save(root / "eeg.0" / "eeg" / subject / f"{subject}_alice-raw.fif", overwrite=True, verbose="error")
    return float(np.mean(share))


def main() -> None:
    args = parse_args("alice_eeg_trf", __doc__.splitlines()[0])
    rng = np.random.default_rng(0)
    root = args.out / "alice_eeg_layout"
    n_subjects, n_channels, seg_s = (2, 4, 8.0) if args.quick else (3, 8, 30.0)
    ceiling = write_recording(root, n_subjects, n_channels, seg_s, rng)

    # %% 2. Load: subjects x channels as neurons, 10 ms bins, 8 ERB bands, EEG band-passed 0.5-20 Hz
    data = AliceEEGDataset(root, dt_ms=10.0, progress=False)
    print(data)
    n_bad = sum(m["bad"] for m in data.nrn_meta)
    data = data.subset(neurons={"bad": False})  # a bad channel has no data at all: leave it out
    data = standardize_stimuli(data, data.splits["train"])  # log powers to zero mean, unit variance per band
    train = data.subset(stimuli=data.splits["train"])
    val = data.subset(stimuli=data.splits["val"])
    test = data.subset(stimuli=data.splits["test"])
    n_lags = 40  # 400 ms

    # %% 3. Ridge TRF (penalty per neuron by cross-validation over the training segments)
    ridge = fit_ridge(train, n_lags=n_lags, n_folds=3 if args.quick else 5)
    ridge_model = ridge.to_linear(dtype=torch.float32)
    config = FitConfig(loss="mse", lr=1e-2, max_epochs=3 if args.quick else 25, patience=5, batch_size=2)
    scores = {"ridge TRF": Fitter(ridge_model, config, progress=False).evaluate(test)["fve"]}

    # %% 4. A deep model: StateNet (GRU) with a linear output, trained with early stopping
    torch.manual_seed(0)
    deep = build_model(
        "statenet", n_frequency_bands=data.F, out_neurons=data.n_neurons, rnn_type="GRU", kernel_size=6, stride=3,
        hidden_channels=4, output_activation=torch.nn.Identity(),
    )  # fmt: skip
    fitter = Fitter(deep, config, progress=False)
    fitter.fit(train, val)
    scores["StateNet GRU"] = fitter.evaluate(test)["fve"]

    # %% 5. Compare with the published figures
    summary = {
        "models": {k: {"median_fve": median(v), "fve": v} for k, v in scores.items()},
        "fixture_signal_share": ceiling,
        "published_fve_real_data": PUBLISHED_FVE,
        "subjects": n_subjects,
        "channels": n_channels,
        "bad_channels_left_out": n_bad,
    }
    for name, v in scores.items():
        share = f"share of the signal in the fixture EEG {100 * ceiling:.1f} %"
        print(f"{name:>13}: median explained variance {100 * median(v):.1f} % ({share})")
    write_json(args.out / "scores.json", summary)

    fig = new_figure(6.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    labels = list(scores)
    ax.boxplot([v[torch.isfinite(v)].numpy() * 100 for v in scores.values()], tick_labels=labels)
    for value in PUBLISHED_FVE.values():
        ax.axhline(100 * value, color="0.6", lw=0.8, ls="--")
    ax.axhline(100 * ceiling, color="C3", lw=1.0, label="signal share of the fixture EEG")
    ax.set_ylabel("explained variance, test segment (%)")
    ax.set_title("Alice EEG layout: TRF vs deep model (dashed: published, real data)")
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, args.out / "scores.png")

    fig = new_figure(6.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    lags_ms = np.arange(n_lags)[::-1] * data.dt_ms  # last column = lag 0
    w = ridge.weight.detach().double()  # (N, F, L)
    trf = w[torch.isfinite(w).all(-1).all(-1)].sum(1).mean(0).numpy()
    truth = true_trf(100.0)[:n_lags]
    ax.plot(lags_ms, trf / np.abs(trf).max(), label="ridge TRF (summed over bands, mean over neurons)")
    ax.plot(np.arange(truth.size) * data.dt_ms, truth / np.abs(truth).max(), "--", label="true kernel")
    ax.set_xlabel("lag (ms)")
    ax.legend(fontsize=8)
    save_figure(fig, args.out / "trf.png")


if __name__ == "__main__":
    main()
