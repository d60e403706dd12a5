# ruff: noqa: E501  (one line per case, by design)
"""A user's mistakes, one line each: the call and the error it must give (type and message).

Every row is something a careless user (or a hostile server) does. The expected
message must name the argument, the expectation or the value received, so the
mistake can be fixed without reading the source.
"""

from __future__ import annotations

import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Subset

from deepSTRF import metrics
from deepSTRF._io import CorruptFileError, read_json
from deepSTRF._validation import check_device
from deepSTRF.datasets import NeuralDataset, SimulatedDataset, neural_collate
from deepSTRF.datasets import archive as ar
from deepSTRF.datasets import download as dl
from deepSTRF.datasets.audio.crcns_ac1 import CRCNSAC1Dataset
from deepSTRF.datasets.sources import RemoteFile, ensure_files, with_published_checksums
from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.convnet import ConvNet2D
from deepSTRF.models.audio.icnet import ICNet
from deepSTRF.models.audio.statenet import StateNet
from deepSTRF.models.audio.strf_models import DNet, Linear, LinearNonlinear, NetworkReceptiveField
from deepSTRF.models.audio.transformer import Transformer
from deepSTRF.models.layers import gru_sequence, rnn_sequence
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.wav2spec import (
    CausalMelSpectrogram,
    Gammatonegram,
    PublishedCausalGammatone,
    PublishedCausalLEAF,
    SincNet,
)
from deepSTRF.training.checkpoint import load_state
from deepSTRF.training.config import FitConfig
from deepSTRF.training.crossval import cross_validate
from deepSTRF.training.experiment import run_experiment
from deepSTRF.training.fitter import Fitter
from deepSTRF.training.ridge import fit_ridge
from deepSTRF.training.run_config import RunConfig, load_dataset, read_run
from deepSTRF.utils.plotting import plot_learned_vs_true

F = 6
NO_CUDA = "cuda:99" if torch.cuda.is_available() else "cuda"


def lin(**kw):
    return Linear(n_frequency_bands=F, temporal_window_size=3, out_neurons=2, **kw)


def spec(*shape, fill=0.0):
    return torch.full(shape, fill)


def data(n_stimuli=4, **kw):
    return SimulatedDataset(n_neurons=2, n_stimuli=n_stimuli, n_frequency_bands=F, duration_ms=100, seed=0, **kw)


def all_missing(n_stimuli=3):
    rng = np.random.default_rng(0)
    stims = [rng.random((F, 20), dtype=np.float32) for _ in range(n_stimuli)]
    responses = [[np.full((2, 20), np.nan, np.float32)] * 2 for _ in range(n_stimuli)]
    return NeuralDataset(stims, responses, dt_ms=5.0)


def with_nan_stimulus():
    ds = data()
    ds._stims[0].view(-1)[0] = float("nan")  # corrupted after the dataset's own checks
    return ds


def fitter(**kw):
    return Fitter(lin(), FitConfig(max_epochs=1, batch_size=2), device="cpu", progress=False, **kw)


def ckpt(tmp, model=None, name="ckpt"):
    return (model or lin()).save_pretrained(Path(tmp) / name)


def corrupt(tmp, name, text):
    folder = ckpt(tmp)
    (folder / name).write_bytes(text)
    return folder


def zip_of(tmp, members: dict[str, bytes], name="a.zip", level=zipfile.ZIP_DEFLATED):
    path = Path(tmp) / name
    with zipfile.ZipFile(path, "w", compression=level) as zf:
        for member, content in members.items():
            zf.writestr(member, content)
    return path


def tar_with_link(tmp):
    path = Path(tmp) / "a.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("evil")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    return path


def zip_bomb(tmp):
    """64 MiB of zeros in a zip of about 64 KiB (a ratio near 1000)."""
    path = Path(tmp) / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("zeros.bin", "w") as fh:
            block = bytes(1 << 20)
            for _ in range(64):
                fh.write(block)
    return path


def offline(url):
    return dl.download_file(url, Path("/tmp/deepstrf-never/x.bin"), retries=0, progress=False)


def failing_lookup(_):
    raise dl.DownloadError("https://api.example.org/files?token=s3cret unreachable")


def trials(b=2, n=3, r=4, t=30, fill=None):
    x = torch.rand(b, n, r, t)
    return x if fill is None else torch.full_like(x, fill)


def pred(b=2, n=3, t=30):
    return torch.rand(b, n, 1, t)


# (id, call taking tmp_path, expected exception, message pattern)
# fmt: off
CASES = [
    # ------------------------------------------------------------------ models: the stimulus at forward
    ("model T=0", lambda t: lin()(spec(1, 1, F, 0)), ValueError, r"T >= 1 .* got shape \(1, 1, 6, 0\)"),
    ("model (B,F,T) without channel", lambda t: lin()(spec(2, F, 9)), ValueError, r"F=6|6, T\).*unsqueeze\(1\)"),
    ("model wrong F", lambda t: lin()(spec(2, 1, 5, 9)), ValueError, "model has F=6 .* the stimulus 5"),
    ("model 5-D input", lambda t: lin()(spec(1, 1, 1, F, 9)), ValueError, r"\(B, 1, 6, T\), got shape \(1, 1, 1, 6, 9\)"),
    ("model 2 channels", lambda t: lin()(spec(1, 2, F, 9)), ValueError, r"\(B, 1, 6, T\), got shape \(1, 2, 6, 9\)"),
    ("model scalar input", lambda t: lin()(torch.tensor(1.0)), ValueError, "time axis"),
    ("model complex input", lambda t: lin()(torch.zeros(1, 1, F, 4, dtype=torch.cfloat)), TypeError, "real"),
    ("model string input", lambda t: lin()("spectrogram"), TypeError, "floating-point tensor .* got str"),
    ("model None input", lambda t: lin()(None), TypeError, "`stimulus` must be .* got NoneType"),
    ("LN wrong F", lambda t: LinearNonlinear(n_frequency_bands=F)(spec(1, 1, 4, 9)), ValueError, "F=6"),
    ("NRF wrong F", lambda t: NetworkReceptiveField(n_frequency_bands=F)(spec(1, 1, 4, 9)), ValueError, "F=6"),
    ("DNet wrong F", lambda t: DNet(n_frequency_bands=F)(spec(1, 1, 4, 9)), ValueError, "F=6"),
    ("ConvNet2D (B,F,T)", lambda t: ConvNet2D(n_frequency_bands=12, c_hidden=2, n_hidden=4)(spec(2, 12, 9)), ValueError, r"ConvNet2D: .*\(B, 1, 12, T\).*unsqueeze"),
    ("ConvNet2D wrong bands", lambda t: ConvNet2D(n_frequency_bands=12, c_hidden=2, n_hidden=4)(spec(2, 1, 10, 9)), ValueError, "model has F=12 .* the stimulus 10"),
    ("StateNet wrong F", lambda t: StateNet(F, kernel_size=3)(spec(1, 1, 3, 9)), ValueError, "StateNet: .*F=6"),
    ("Transformer wrong F", lambda t: Transformer(n_frequency_bands=F, embedding_dim=8, n_heads=2, n_layers=1)(spec(1, 1, 3, 9)), ValueError, "Transformer: .*F=6"),
    ("waveform model given a spectrogram", lambda t: lin(wav2spec=CausalMelSpectrogram(16000, 5.0, n_filters=F))(spec(1, 1, F, 9)), ValueError, r"waveform front-end: .* \(B, 1, T_audio\), got shape \(1, 1, 6, 9\)"),
    ("ICNet length not a multiple of the hop", lambda t: ICNet(16000, 2, n_filters=2, sincnet_kernel_size=8, encoder_channels=4, encoder_kernel_size=4)(spec(1, 1, 801)), ValueError, "multiple of hop=80"),
    ("ICNet (B, T) waveform", lambda t: ICNet(16000, 2, n_filters=2, sincnet_kernel_size=8, encoder_channels=4, encoder_kernel_size=4)(spec(1, 800)), ValueError, r"mono waveform \(B, 1, T_audio\)"),
    ("finite check: NaN", lambda t: _finite(lin(), spec(1, 1, F, 4, fill=float("nan"))), ValueError, "24 NaN/inf"),
    ("finite check: inf", lambda t: _finite(lin(), spec(1, 1, F, 4, fill=float("inf"))), ValueError, "must be finite"),
    ("model n_frequency_bands=0", lambda t: Linear(n_frequency_bands=0), ValueError, "`n_frequency_bands` must be"),
    ("model out_neurons str", lambda t: Linear(n_frequency_bands=F, out_neurons="3"), TypeError, "`out_neurons`"),
    ("ConvNet2D kernel too tall", lambda t: ConvNet2D(n_frequency_bands=4, kernel_size=(3, 3)), ValueError, "tall"),
    ("STRF_gradmap T=0", lambda t: lin().STRF_gradmap(T=0), ValueError, "`T` must be an int >= 1"),
    ("STRF_gradmap baseline shape", lambda t: lin().STRF_gradmap(baseline=torch.zeros(3, 3)), ValueError, "baseline"),
    ("waveform_gradmap without front-end", lambda t: lin().waveform_gradmap(torch.zeros(80)), RuntimeError, "front"),
    ("gru_sequence given an LSTM", lambda t: gru_sequence(torch.zeros(2, 5, 4), nn.LSTM(4, 3, batch_first=True)), TypeError, "`gru` must be an nn.GRU, got LSTM"),
    ("gru_sequence time-first GRU", lambda t: gru_sequence(torch.zeros(2, 5, 4), nn.GRU(4, 3)), ValueError, r"batch-first nn\.GRU \(`gru`\)"),
    ("gru_sequence x not a tensor", lambda t: gru_sequence([[0.0]], nn.GRU(4, 3, batch_first=True)), TypeError, "`x`"),
    ("gru_sequence h0 wrong shape", lambda t: gru_sequence(torch.zeros(2, 5, 4), nn.GRU(4, 3, batch_first=True), torch.zeros(3, 3)), ValueError, r"`h0` must have shape \(B, hidden_size\) = \(2, 3\).*got \(3, 3\)"),
    ("rnn_sequence given a GRU", lambda t: rnn_sequence(torch.zeros(2, 5, 4), nn.GRU(4, 3, batch_first=True)), TypeError, r"`rnn` must be an nn\.RNN, got GRU"),
    ("rnn_sequence two layers", lambda t: rnn_sequence(torch.zeros(2, 5, 4), nn.RNN(4, 3, num_layers=2, batch_first=True)), ValueError, r"one-layer, one-direction, batch-first nn\.RNN \(`rnn`\)"),
    ("softplus overwrite not a bool", lambda t: ParametricSoftplus(3).forward_prescaled(torch.zeros(2, 3), overwrite="yes"), TypeError, "`overwrite` must be a bool, got str"),
    # ------------------------------------------------------------------ checkpoints
    ("load a missing folder", lambda t: NeuralModel.from_pretrained(t / "nope"), FileNotFoundError, "does not exist"),
    ("load an int path", lambda t: NeuralModel.from_pretrained(3), TypeError, "`repo_id_or_path` must be"),
    ("load onto device 'gpu'", lambda t: NeuralModel.from_pretrained(ckpt(t), map_location="gpu"), ValueError, r"`map_location` must be one of \['cpu'.*got 'gpu'"),
    ("load onto CUDA without CUDA", lambda t: NeuralModel.from_pretrained(ckpt(t), map_location=NO_CUDA), ValueError, "`map_location` is 'cuda.*valid devices here"),
    ("load the wrong class", lambda t: ConvNet2D.from_pretrained(ckpt(t)), ValueError, "holds a Linear .* not a ConvNet2D"),
    ("load corrupt config.json", lambda t: NeuralModel.from_pretrained(corrupt(t, "config.json", b"{")), ValueError, r"config\.json is not valid JSON"),
    ("load corrupt weights", lambda t: NeuralModel.from_pretrained(corrupt(t, "model.safetensors", b"xx")), ValueError, r"model\.safetensors is not a readable"),
    ("load without weights", lambda t: NeuralModel.from_pretrained(_without(ckpt(t), "model.safetensors")), FileNotFoundError, r"has no model\.safetensors"),
    ("load with extra_kwargs list", lambda t: NeuralModel.from_pretrained(ckpt(t), extra_kwargs=[1]), TypeError, "`extra_kwargs` must be a dict"),
    ("load a bad repo id", lambda t: NeuralModel.from_pretrained("not a repo id!"), FileNotFoundError, "does not exist"),
    ("save onto a file", lambda t: lin().save_pretrained(_file(t)), FileExistsError, "it is a file"),
    ("save non-JSON metadata", lambda t: lin().save_pretrained(t / "m", metadata={"x": object()}), TypeError, r"metadata\['x'\] is a object"),
    ("save into an unrelated folder", lambda t: lin().save_pretrained(_folder_with(t, "notes.txt")), FileExistsError, "not part of a checkpoint"),
    ("save a bytes model card", lambda t: lin().save_pretrained(t / "m", model_card=b"x"), TypeError, "`model_card` must be a str"),
    # ------------------------------------------------------------------ devices
    ("device 'gpu'", lambda t: check_device("device", "gpu"), ValueError, r"`device` must be one of \['cpu'.*got 'gpu'"),
    ("device 'cuda' without CUDA", lambda t: check_device("device", NO_CUDA), ValueError, r"valid devices here: \['cpu'"),
    ("device int", lambda t: check_device("device", 0), TypeError, "device string or torch.device, got int"),
    ("device 'tpu'", lambda t: check_device("device", "tpu"), ValueError, "must be one of"),
    # ------------------------------------------------------------------ metrics
    ("corrcoef 3-D pred", lambda t: metrics.corrcoef(torch.rand(3, 1, 30), trials()), ValueError, "`pred` must have 4 dimensions"),
    ("corrcoef int pred", lambda t: metrics.corrcoef(pred().long(), trials()), TypeError, "`pred` must be a floating-point"),
    ("corrcoef NumPy pred", lambda t: metrics.corrcoef(np.zeros((2, 3, 1, 30)), trials()), TypeError, "`pred` must be a torch.Tensor, got ndarray"),
    ("corrcoef N mismatch", lambda t: metrics.corrcoef(pred(n=2), trials()), ValueError, r"`target` must have shape \(B, N, R, T\) with the B, N and T"),
    ("corrcoef T mismatch", lambda t: metrics.corrcoef(pred(t=29), trials()), ValueError, "B, N and T of `pred`"),
    ("corrcoef T=0", lambda t: metrics.corrcoef(pred(t=0), trials(t=0)), ValueError, r"at least one .* got shape \(2, 3, 1, 0\)"),
    ("corrcoef B=0", lambda t: metrics.corrcoef(pred(b=0), trials(b=0)), ValueError, "at least one"),
    ("corrcoef R=0", lambda t: metrics.corrcoef(pred(), trials(r=0)), ValueError, "`target` must have at least one"),
    ("corrcoef bad reduction", lambda t: metrics.corrcoef(pred(), trials(), reduction="avg"), ValueError, "`reduction` must be one of"),
    ("corrcoef float mask", lambda t: metrics.corrcoef(pred(), trials(), torch.ones(2, 3, 1, 30)), TypeError, "`mask` must be a bool tensor"),
    ("corrcoef mask shape", lambda t: metrics.corrcoef(pred(), trials(), torch.ones(2, 3, 1, 7, dtype=torch.bool)), ValueError, "`mask` must be broadcastable"),
    ("fve wrong rank target", lambda t: metrics.fve(pred(), torch.rand(2, 3, 30)), ValueError, "`target` must have 4 dimensions"),
    ("mse_loss list pred", lambda t: metrics.mse_loss([0.0], trials()), TypeError, "`pred` must be a torch.Tensor"),
    ("poisson_loss bad reduction", lambda t: metrics.poisson_loss(pred(), trials(), reduction="max"), ValueError, "`reduction`"),
    ("ccnorm bad method", lambda t: metrics.normalized_corrcoef(pred(), trials(), method="magic"), ValueError, "`method`"),
    ("ccnorm n_splits=0", lambda t: metrics.normalized_corrcoef(pred(), trials(), method="hsu", n_splits=0), ValueError, "`n_splits`"),
    ("feve wrong N", lambda t: metrics.feve(pred(n=1), trials()), ValueError, "B, N and T of `pred`"),
    ("snr int responses", lambda t: metrics.snr(trials().int()), TypeError, "floating-point"),
    ("cc_max 3-D responses", lambda t: metrics.cc_max(torch.rand(3, 4, 30)), ValueError, "4 dimensions"),
    ("coherence segment too long", lambda t: metrics.coherence(pred(), trials(), nperseg=64), ValueError, "`nperseg`"),
    ("bootstrap n_boot=0", lambda t: metrics.bootstrap_ci(metrics.snr, trials(), n_boot=0), ValueError, "`n_boot`"),
    ("jackknife metric not callable", lambda t: metrics.jackknife_ci("snr", trials()), TypeError, "`metric`"),
    # ------------------------------------------------------------------ datasets
    ("dataset stims a tensor", lambda t: NeuralDataset(torch.zeros(2, F, 9), [[], []], dt_ms=5.0), TypeError, "`stims` must be a list of S arrays"),
    ("dataset responses count", lambda t: NeuralDataset([np.zeros((F, 9))], [], dt_ms=5.0), ValueError, r"one entry per stimulus \(1\), got 0"),
    ("dataset NaN stimulus", lambda t: NeuralDataset([np.full((F, 9), np.nan)], [[np.zeros((1, 9))]], dt_ms=5.0), ValueError, "NaN or Inf"),
    ("dataset 1-D stimulus", lambda t: NeuralDataset([np.zeros(9)], [[np.zeros((1, 9))]], dt_ms=5.0), ValueError, r"`stims\[0\]` must be"),
    ("dataset inf response", lambda t: NeuralDataset([np.zeros((F, 9))], [[np.full((1, 9), np.inf)]], dt_ms=5.0), ValueError, "Inf values"),
    ("dataset ragged neurons", lambda t: NeuralDataset([np.zeros((F, 9))] * 2, [[np.zeros((1, 9))], [np.zeros((1, 9))] * 2], dt_ms=5.0), ValueError, "has 2 neurons but"),
    ("dataset string stimulus", lambda t: NeuralDataset(["abc"], [[np.zeros((1, 9))]], dt_ms=5.0), TypeError, r"`stims\[0\]`"),
    ("dataset dt_ms=0", lambda t: NeuralDataset([np.zeros((F, 9))], [[np.zeros((1, 9))]], dt_ms=0), ValueError, "`dt_ms` must be > 0"),
    ("dataset stimulus out of range", lambda t: data().subset(stimuli=[7]), IndexError, r"stimuli indices \[7\] out of range for 4 stimuli"),
    ("dataset neuron out of range", lambda t: data().subset(neurons=[5]), IndexError, r"neurons indices \[5\] out of range for 2 neurons"),
    ("simulated n_neurons=0", lambda t: SimulatedDataset(n_neurons=0), ValueError, "`n_neurons`"),
    ("unknown dataset name", lambda t: load_dataset("ns9", {}), ValueError, "ns9"),
    # ------------------------------------------------------------------ training
    ("Fitter model str", lambda t: Fitter("linear"), TypeError, "`model` must be an nn.Module, got str"),
    ("Fitter config dict", lambda t: Fitter(lin(), {"lr": 1}), TypeError, "`config` must be a FitConfig"),
    ("Fitter device 'gpu'", lambda t: Fitter(lin(), device="gpu"), ValueError, r"`device` must be one of \['cpu'"),
    ("Fitter CUDA without CUDA", lambda t: Fitter(lin(), device=NO_CUDA), ValueError, "valid devices here"),
    ("fit an empty dataset", lambda t: fitter().fit(data().subset(stimuli=[])), ValueError, "`train` holds no stimulus"),
    ("fit an empty Subset", lambda t: fitter().fit(Subset(data(), [])), ValueError, "`train` holds no stimulus"),
    ("fit an empty validation set", lambda t: fitter().fit(data(), data().subset(stimuli=[])), ValueError, "`val` holds no"),
    ("fit all-missing responses", lambda t: fitter().fit(all_missing()), ValueError, "`train` has no valid response"),
    ("fit all-missing validation", lambda t: fitter().fit(data(), all_missing()), ValueError, "`val` has no valid response"),
    ("fit a NaN stimulus", lambda t: fitter().fit(with_nan_stimulus()), ValueError, "first batch of `train`: .*finite"),
    ("fit the wrong F", lambda t: fitter().fit(_data_f(4)), ValueError, "first batch of `train`: .*F=6"),
    ("FitConfig lr<0", lambda t: FitConfig(lr=-1.0), ValueError, "`lr`"),
    ("FitConfig loss", lambda t: FitConfig(loss="l1"), ValueError, "`loss` must be one of"),
    ("FitConfig batch_size 0", lambda t: FitConfig(batch_size=0), ValueError, "`batch_size`"),
    ("ridge without stimuli", lambda t: fit_ridge([], [], n_lags=3, alphas=[1.0]), ValueError, "`data` holds no stimulus"),
    ("ridge all-missing", lambda t: fit_ridge(all_missing(), n_lags=3, alphas=[1.0]), ValueError, r"no valid \(finite\) response"),
    ("ridge device 'gpu'", lambda t: fit_ridge(data(), n_lags=3, device="gpu"), ValueError, "`device` must be one of"),
    ("ridge n_lags=0", lambda t: fit_ridge(data(), n_lags=0), ValueError, "`n_lags`"),
    ("cross-validate all-missing", lambda t: _cv(all_missing(6)), ValueError, "no valid response"),
    ("cross-validate too few stimuli", lambda t: _cv(data(2), n_folds=5), ValueError, "fold|stimuli"),
    ("resume a missing run", lambda t: run_experiment(RunConfig(), t / "typo", resume=True, progress=False), FileNotFoundError, "cannot resume .*typo: there is no run there"),
    ("run into a non-empty folder", lambda t: run_experiment(RunConfig(), _folder_with(t, "x"), progress=False), FileExistsError, "not empty"),
    ("run into a file", lambda t: run_experiment(RunConfig(), _file(t), progress=False), FileExistsError, "is a file"),
    ("read a corrupt run record", lambda t: read_run(_folder_with(t, "config.json", b"{\x00")), CorruptFileError, r"config\.json is not valid JSON"),
    ("read a run record of another kind", lambda t: read_run(_folder_with(t, "config.json", b"[]")), ValueError, "not a deepSTRF run record"),
    ("read a truncated JSON file", lambda t: read_json(_file(t, b'{"a": ')), CorruptFileError, "not valid JSON"),
    ("load a corrupt training state", lambda t: load_state(_file(t, b"garbage")), ValueError, "not a readable training state"),
    ("RunConfig split", lambda t: RunConfig(split="half"), ValueError, "`split` must be one of"),
    ("RunConfig seeds", lambda t: RunConfig(seeds=[]), ValueError, "`seeds`"),
    ("collate nothing", lambda t: neural_collate([]), ValueError, "empty|at least one"),
    # ------------------------------------------------------------------ downloads and archives
    ("download an ftp URL", lambda t: dl.download_file("ftp://host/x", t / "x"), ValueError, r"`url` must be an http\(s\) URL"),
    ("ftp URL with credentials", lambda t: dl.download_file("ftp://ann:s3cret@host/x", t / "x"), ValueError, r"^(?!.*s3cret).*\*\*\*@host"),
    ("offline, credentials in URL", lambda t: offline("http://ann:s3cret@127.0.0.1:9/x.bin"), dl.DownloadError, r"^(?!.*s3cret).*http://\*\*\*@127\.0\.0\.1:9/x\.bin"),
    ("offline, token in query", lambda t: offline("http://127.0.0.1:9/x.bin?access_token=s3cret"), dl.DownloadError, r"^(?!.*s3cret).*access_token=\*\*\*"),
    ("retries=-1", lambda t: dl.download_file("https://h/x", t / "x", retries=-1), ValueError, "`retries` must be an int >= 0"),
    ("bad checksum string", lambda t: dl.parse_checksum("sha256-abc"), ValueError, "`checksum` must look like"),
    ("bad checksum algorithm", lambda t: dl.parse_checksum("crc32:abcd"), ValueError, "algorithm must be one of"),
    ("missing file, credentials in URL", lambda t: ensure_files(t, [RemoteFile("x.mat", "https://ann:s3cret@h.org/x.mat")], download=False, dataset="demo"), FileNotFoundError, r"^(?![\s\S]*s3cret)[\s\S]*https://\*\*\*@h\.org/x\.mat"),
    ("checksum service unreachable", lambda t: with_published_checksums([RemoteFile("x.mat", "https://h.org/x.mat")], failing_lookup), dl.DownloadError, "^(?!.*s3cret).*DEEPSTRF_ALLOW_UNVERIFIED=1"),
    ("zip bomb", lambda t: ar.extract_archive(zip_bomb(t), t / "out"), ar.UnsafeArchiveError, r"would expand \d+ times its size .* compression bomb"),
    ("too many members", lambda t: ar.extract_archive(zip_of(t, {f"f{i}": b"x" for i in range(5)}), t / "o", max_members=3), ar.UnsafeArchiveError, "5 members, more than the limit of 3"),
    ("too many bytes", lambda t: ar.extract_archive(zip_of(t, {"a": bytes(1000)}, level=zipfile.ZIP_STORED), t / "o", max_total_bytes=100), ar.UnsafeArchiveError, "1000 bytes, more than the limit of 100"),
    ("member climbs out", lambda t: ar.extract_archive(zip_of(t, {"../evil": b"x"}), t / "o"), ar.UnsafeArchiveError, "climbs out"),
    ("absolute member", lambda t: ar.extract_archive(zip_of(t, {"/etc/evil": b"x"}), t / "o"), ar.UnsafeArchiveError, "absolute path"),
    ("tar symlink", lambda t: ar.extract_archive(tar_with_link(t), t / "o"), ar.UnsafeArchiveError, "is a link"),
    ("not an archive", lambda t: ar.extract_archive(_file(t, b"plain text"), t / "o"), ValueError, "must be a zip or tar"),
    ("bad limit", lambda t: ar.extract_archive(zip_of(t, {"a": b"x"}), t / "o", max_ratio=0), ValueError, "`max_ratio` must be a number > 0"),
    ("mel periodic_window not a bool", lambda t: CausalMelSpectrogram(16000, 5.0, periodic_window="yes"), TypeError, r"`periodic_window` must be a bool, got str"),
    ("mel unknown compression", lambda t: CausalMelSpectrogram(16000, 5.0, compression="log_flor"), ValueError, r"`compression` must be one of .*'log_floor'.*got 'log_flor'"),
    ("gammatonegram unknown window_at", lambda t: Gammatonegram(16000, 5.0, window_at="middle"), ValueError, r"`window_at` must be one of \['end', 'start'\], got 'middle'"),
    ("gammatonegram window_at start longer than a bin", lambda t: Gammatonegram(16000, 5.0, window_ms=10.0, window_at="start"), ValueError, r"window_at='start' needs a window of at most one bin \(80 samples\), got 160"),
    ("sincnet unknown activation", lambda t: SincNet(16000, activation="log"), ValueError, r"`activation` must be one of .*'logabs'\], got 'log'"),
    ("sincnet negative min_band_hz", lambda t: SincNet(16000, min_band_hz=-1), ValueError, r"`min_band_hz` must be >= 0, got -1"),
    ("icnet negative sincnet_min_low_hz", lambda t: ICNet(16000, 5.0, sincnet_min_low_hz=-5), ValueError, r"`sincnet_min_low_hz` must be >= 0, got -5"),
    ("published gammatone f_max above nyquist", lambda t: PublishedCausalGammatone(16000, 5.0, f_max_hz=9000), ValueError, r"f_max_hz <= audio_fs / 2 = 8000, got .*f_max_hz=9000 .*pass None"),
    ("published gammatone unknown compression", lambda t: PublishedCausalGammatone(16000, 5.0, compression="log"), ValueError, r"`compression` must be one of \['log_floor', 'cuberoot', 'pcen', 'none'\], got 'log'"),
    ("published LEAF without filters", lambda t: PublishedCausalLEAF(16000, 5.0, n_filters=0), ValueError, r"`n_filters` must be an int >= 1, got 0"),
    ("AC1 unknown detrend", lambda t: CRCNSAC1Dataset(t / "ac1", detrend="per_repeat"), ValueError, r"`detrend` must be one of \['none', 'baseline', 'baseline_per_repeat'\], got 'per_repeat'"),
    ("compact figure flag not a bool", lambda t: plot_learned_vs_true(torch.randn(2, 6, 4), torch.randn(2, 6, 4), compact="yes"), TypeError, r"`compact` must be a bool, got str"),
]
# fmt: on


def _finite(model, x):
    with model.finite_checks():
        return model(x)


def _without(folder, name):
    (folder / name).unlink()
    return folder


def _file(tmp, content=b"x"):
    path = Path(tmp) / "a-file"
    path.write_bytes(content)
    return path


def _folder_with(tmp, name, content=b"x"):
    folder = Path(tmp) / "folder"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    return folder


def _data_f(f):
    return SimulatedDataset(n_neurons=2, n_stimuli=3, n_frequency_bands=f, duration_ms=100, seed=0)


def _cv(dataset, n_folds=2):
    return cross_validate(
        dataset,
        lambda seed: lin(),
        n_folds=n_folds,
        config=FitConfig(max_epochs=1, batch_size=2),
        device="cpu",
        progress=False,
    )


@pytest.mark.parametrize(("call", "error", "pattern"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_mistake_gives_a_clear_error(call, error, pattern, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=pattern) as caught:
            call(tmp_path)
    assert type(caught.value).__module__ != "builtins" or error.__module__ == "builtins"
    assert "Traceback" not in str(caught.value)


def test_the_table_is_large_and_its_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) >= 100 and len(set(ids)) == len(ids)


# (id, call, warning pattern): results that are NaN by definition say why, once
WARNINGS = [
    ("snr of one trial", lambda: metrics.snr(trials(r=1)), r"one trial \(R = 1\)"),
    ("cc_max of one trial", lambda: metrics.cc_max(trials(r=1)), r"one trial \(R = 1\)"),
    ("ccnorm of a PSTH", lambda: metrics.normalized_corrcoef(pred(), trials(r=1)), r"at least 2 repeats"),
    ("feve of a PSTH", lambda: metrics.feve(pred(), trials(r=1)), r"one trial"),
    (
        "corrcoef with no valid position",
        lambda: metrics.corrcoef(pred(), trials(fill=float("nan"))),
        r"no valid position",
    ),
    (
        "mse with everything masked",
        lambda: metrics.mse_loss(pred(), trials(), torch.zeros(1, 1, 1, 1, dtype=torch.bool), "none"),
        r"no valid position",
    ),
]


@pytest.mark.parametrize(("call", "pattern"), [pytest.param(*w[1:], id=w[0]) for w in WARNINGS])
def test_nan_by_definition_warns_why(call, pattern):
    with pytest.warns(metrics.MetricWarning, match=pattern):
        values = call()
    assert torch.isnan(values).any()


def test_a_nan_warning_is_shown_once():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        for _ in range(3):
            metrics.snr(trials(r=1))
    messages = [str(w.message) for w in seen if issubclass(w.category, metrics.MetricWarning)]
    assert len([m for m in messages if "one trial" in m]) == 1 and len(messages) == len(set(messages))


# (id, input, expected dtype): the documented conversion rule of a model's input
CONVERSIONS = [
    ("int64 tensor", torch.zeros(1, 1, F, 5, dtype=torch.long), torch.float32),
    ("bool tensor", torch.zeros(1, 1, F, 5, dtype=torch.bool), torch.float32),
    ("NumPy float64", np.zeros((1, 1, F, 5)), torch.float32),
    ("NumPy int32", np.zeros((1, 1, F, 5), dtype=np.int32), torch.float32),
    ("nested list", np.zeros((1, 1, F, 5)).tolist(), torch.float32),
]


@pytest.mark.parametrize(("x", "dtype"), [pytest.param(*c[1:], id=c[0]) for c in CONVERSIONS])
def test_non_floating_input_is_converted_to_the_model_dtype(x, dtype):
    model = lin().eval()
    out = model(x)
    assert out.dtype == dtype and out.shape == (1, 2, 1, 5)
    assert torch.equal(out, model(torch.zeros(1, 1, F, 5)))


def test_a_float64_model_converts_to_float64():
    assert lin().double()(np.zeros((1, 1, F, 5), dtype=np.int8)).dtype == torch.float64


# fmt: off
WARNINGS = [
    ("snr of one trial", lambda: metrics.snr(trials(r=1)), r"one trial \(R = 1\)"),
    ("cc_max of one trial", lambda: metrics.cc_max(trials(r=1)), r"one trial \(R = 1\)"),
    ("ccnorm of a PSTH", lambda: metrics.normalized_corrcoef(pred(), trials(r=1)), "at least 2 repeats"),
    ("feve of a PSTH", lambda: metrics.feve(pred(), trials(r=1)), "one trial"),
    ("corrcoef with no valid position", lambda: metrics.corrcoef(pred(), trials(fill=float("nan"))), "no valid position"),
    ("mse with everything masked", lambda: metrics.mse_loss(pred(), trials(), torch.zeros(1, 1, 1, 1, dtype=torch.bool), "none"), "no valid position"),
]
# fmt: on


# fmt: off
CONVERSIONS = [
    ("int64 tensor", torch.zeros(1, 1, F, 5, dtype=torch.long), torch.float32),
    ("bool tensor", torch.zeros(1, 1, F, 5, dtype=torch.bool), torch.float32),
    ("NumPy float64", np.zeros((1, 1, F, 5)), torch.float32),
    ("NumPy int32", np.zeros((1, 1, F, 5), dtype=np.int32), torch.float32),
    ("nested list", np.zeros((1, 1, F, 5)).tolist(), torch.float32),
]
# fmt: on


def test_a_cuda_saved_training_state_resumes_on_a_cpu_machine(tmp_path, monkeypatch):
    """A state whose tensors were saved from ``cuda:0`` (the file's location tags say so) loads on a CPU."""
    fitter(checkpoint_dir=tmp_path).fit(data())
    state = torch.load(tmp_path / "training_state.pt", weights_only=True)
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(state, tmp_path / "training_state.pt")
    if not torch.cuda.is_available():  # the fixture is real: plain torch.load refuses it here
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "training_state.pt", weights_only=True)
    loaded = load_state(tmp_path / "training_state.pt")["model"]
    assert loaded and all(t.device.type == "cpu" for t in loaded.values())
    resumed = Fitter(
        lin(), FitConfig(max_epochs=2, batch_size=2), device="cpu", checkpoint_dir=tmp_path, progress=False
    )
    assert resumed.fit(data()).epochs_run == 2
