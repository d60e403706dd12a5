"""Tiny files with the exact structure of the public datasets, written by the tests themselves."""

from __future__ import annotations

import re
import socket
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

NS1_WAV_FS = 48828
NS1_WAV_LEN = round(0.205 * NS1_WAV_FS)
# unit 0, natural set 0, repeat 0: hand-made edge cases (dt = 5 ms, 40 bins = 200 ms)
NS1_CRAFTED = np.array([-3.0, 0.0, 4.99, 10.0, 17.1, 17.4, 199.99, 200.0, 250.0])


def ns1_spike_times(unit: int, k: int, r: int, n_sets_natural: int) -> np.ndarray:
    """Deterministic spike times (ms) of unit/set/repeat; natural sets have 4 repeats, DRCs 2."""
    if (unit, k, r) == (0, 0, 0):
        return NS1_CRAFTED
    if r == 1 and k == 0:
        return np.zeros(0)  # an empty trial
    rng = np.random.default_rng(1000 * unit + 10 * k + r)
    n = int(rng.integers(3, 30))
    return np.sort(rng.uniform(-20.0, 230.0, size=n)).round(3)


def _struct(shape, names):
    return np.zeros(shape, dtype=[(n, object) for n in names])


def write_ns1_spike_file(path: Path, unit: int, n_natural: int, n_drc: int = 2) -> None:
    import scipy.io

    sets = _struct((1, n_natural + n_drc), ["repeats"])
    for k in range(n_natural + n_drc):
        n_rep = 4 if k < n_natural else 2
        reps = _struct((1, n_rep), ["t"])
        for r in range(n_rep):
            t = ns1_spike_times(unit, k, r, n_natural)
            reps[0, r]["t"] = t.reshape(1, -1) if t.size else np.zeros((1, 0))
        sets[0, k]["repeats"] = reps
    data = _struct((1, 1), ["set"])
    data[0, 0]["set"] = sets
    scipy.io.savemat(path, {"data": data})


def ns1_cochleagrams(n_natural: int) -> np.ndarray:
    s, f, t = np.meshgrid(np.arange(n_natural), np.arange(34), np.arange(40), indexing="ij")
    return np.log(1e-4 + np.abs(np.sin(0.05 * (f + 1) * (t + 1) + s)))[:, :, None, :]


def ns1_wav_name(s: int) -> str:
    return (
        f"source.1.sound.0.snr.0.token.0.fw.2.frozen.{s + 1}"
        if s < 12
        else f"source.2.sound.0.snr.0.token.0.fw.1.frozen.{s - 11}"
    )


def ns1_wave(s: int) -> np.ndarray:
    t = np.arange(NS1_WAV_LEN) / 48828.125
    return (0.3 * np.sin(2 * np.pi * (500 + 700 * s) * t) * np.exp(-3 * t)).astype(np.float32)


def build_ns1(root: Path, n_natural: int = 3, extracted: bool = True) -> Path:
    """NS1 folder: metadata (3 units, one with the '_1' fallback name), spikes, WAVs, cochleagrams, zip."""
    import scipy.io
    import soundfile

    root.mkdir(parents=True, exist_ok=True)
    fields = ["name", "path", "depth", "NoiseRatio", "singleN", "singleT", "NrOfElectrodes", "ElectrodeNumber"]
    neuron = _struct((1, 3), fields)
    values = [(-50.0, 12.0, 1, "Yes"), (300.0, 55.0, 0, "No"), (800.0, 30.0, 1, "Maybe")]
    for i, (depth, nr, single_n, single_t) in enumerate(values):
        rec = neuron[0, i]
        rec["name"], rec["path"] = f"c{i + 1}.mat", f"SH.En.C/c{i + 1}.mat"
        rec["depth"], rec["NoiseRatio"] = np.array([[depth]]), np.array([[nr]])
        rec["singleN"], rec["singleT"] = np.array([[float(single_n)]]), single_t
        rec["NrOfElectrodes"], rec["ElectrodeNumber"] = np.array([[32.0]]), np.array([[float(i + 1)]])
    scipy.io.savemat(root / "MetadataSHEnCneurons.mat", {"neuron": neuron})
    scipy.io.savemat(
        root / "test_data_5ms.mat",
        {"X_nfht": ns1_cochleagrams(n_natural), "y_nt": np.ones((n_natural, 40))},
    )
    (root / "ReadMe.rtf").write_text("{\\rtf1 NS1 fixture}")
    tree = root / "spikesandwav" / "SH.En.C"
    tree.mkdir(parents=True)
    for unit, name in enumerate(["c1.mat", "c2.mat", "c3_1.mat"]):
        write_ns1_spike_file(tree / name, unit, n_natural)
    for s in range(n_natural):
        soundfile.write(tree / ns1_wav_name(s), ns1_wave(s), NS1_WAV_FS, format="WAV", subtype="FLOAT")
    zip_tree(root / "spikesandwav.zip", root, "spikesandwav")
    if not extracted:
        remove_tree(root / "spikesandwav")
    return root


def zip_tree(archive: Path, base: Path, top: str) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((base / top).rglob("*")):
            info = zipfile.ZipInfo(path.relative_to(base).as_posix() + ("/" if path.is_dir() else ""))
            info.date_time = (2020, 1, 1, 0, 0, 0)
            zf.writestr(info, b"" if path.is_dir() else path.read_bytes())


def remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


@pytest.fixture
def no_network(monkeypatch):
    """Make any network access fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def ns1_root(tmp_path_factory):
    return build_ns1(tmp_path_factory.mktemp("ns1"))


@pytest.fixture
def ns1_kit():
    """The NS1 fixture helpers, for tests that need reference values or a variant of the folder."""
    import types

    return types.SimpleNamespace(
        build=build_ns1,
        spike_times=ns1_spike_times,
        cochleagrams=ns1_cochleagrams,
        wave=ns1_wave,
        wav_name=ns1_wav_name,
        wav_len=NS1_WAV_LEN,
    )


# ----------------------------------------------------------------------------- NAT4

NAT4_CHANS = ["TST001a-01-1", "TST001a-02-1", "ARM999a-05-2", "TNC999a-07-1"]
NAT4_NAMES = ["STIM_00catA_rec1_x_excerpt1.wav", "STIM_00catB_rec1_y_excerpt1.wav", "STIM_catC_rec1_z_excerpt1.wav"]
# per-site timelines: (epoch index into NAT4_NAMES, onset in s); validation sounds repeat, the other plays once
NAT4_TST_SEQUENCE = [(0, 0.0), (2, 0.4), (1, 0.8), (0, 1.2), (1, 1.6), (0, 2.0), (1, 2.4)]
NAT4_TNC_SEQUENCE = [(1, 0.1), (0, 0.5), (0, 0.9), (1, 1.3)]


def nat4_population() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    resp = np.round(rng.uniform(0, 3, size=(90, 4)), 2)  # validation block: fractional trial averages
    resp[60:] = rng.integers(0, 4, size=(30, 4))  # estimation epoch: counts
    resp[60:90, 3] = np.nan  # TNC999a-07-1 was not recorded during the estimation sound
    stim = np.round(rng.uniform(0, 5, size=(90, 18)), 4)
    return resp, stim


def nat4_site_spikes(site_seed: int, n_cells: int, sequence) -> list[np.ndarray]:
    rng = np.random.default_rng(site_seed)
    out = []
    for _ in range(n_cells):
        times = [np.array([onset + 0.010, onset + 0.0150, onset + 0.0152, onset + 0.2995]) for _, onset in sequence]
        times += [onset + rng.uniform(-0.05, 0.35, size=int(rng.integers(2, 12))) for _, onset in sequence]
        out.append(np.sort(np.concatenate(times)))
    return out


def _epoch_csv(sequence) -> str:
    lines = ["start,end,name"]
    for idx, onset in sequence:
        lines += [
            f"{onset:.4f},{onset + 0.3:.4f},{NAT4_NAMES[idx]}",
            f"{onset:.4f},{onset + 0.05:.4f},PreStimSilence",
            f"{onset + 0.25:.4f},{onset + 0.3:.4f},PostStimSilence",
        ]
    return "\n".join(lines) + "\n"


def _sidecar(name, rec, chans, fs, n, kind) -> str:
    import json

    return json.dumps(
        {
            "name": name,
            "recording": rec,
            "chans": chans,
            "fs": fs,
            "segments": [[0, n]],
            "signal_type": f"<class 'nems0.signal.{kind}'>",
            "meta": {},
            "normalization": "none",
            "norm_baseline": [[0]],
            "norm_gain": [[1]],
        }
    )


def _tgz(path: Path, members: dict[str, bytes]) -> None:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_600_000_000
            tf.addfile(info, io.BytesIO(data))


def _csv(x: np.ndarray) -> bytes:
    return "\n".join(",".join("nan" if np.isnan(v) else repr(float(v)) for v in row) for row in x).encode() + b"\n"


def _site_tgz(path: Path, site: str, chans: list[str], spikes: list[np.ndarray], sequence) -> None:
    import io

    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        for chan, times in zip(chans, spikes):
            h5[chan] = times
    _tgz(
        path,
        {
            f"{site}/{site}.meta.json": b'{"siteid": "' + site.encode() + b'"}',
            f"{site}/{site}.resp.h5": buf.getvalue(),
            f"{site}/{site}.resp.json": _sidecar("resp", site, chans, 1000, 2800, "PointProcess").encode(),
            f"{site}/{site}.resp.epoch.csv": _epoch_csv(sequence).encode(),
        },
    )


def build_nat4(root: Path, extracted: bool = True) -> Path:
    import wave

    root.mkdir(parents=True, exist_ok=True)
    resp, stim = nat4_population()
    pop_epochs = _epoch_csv([(i, 0.3 * i) for i in range(3)]).encode()
    _tgz(
        root / "A1_NAT4_ozgf.fs100.ch18.tgz",
        {
            "NAT4pop/NAT4pop.meta.json": b'{"siteid": "NAT4pop"}',
            "NAT4pop/NAT4pop.resp.csv": _csv(resp),
            "NAT4pop/NAT4pop.resp.json": _sidecar("resp", "NAT4pop", NAT4_CHANS, 100, 90, "RasterizedSignal").encode(),
            "NAT4pop/NAT4pop.resp.epoch.csv": pop_epochs,
            "NAT4pop/NAT4pop.stim.csv": _csv(stim),
            "NAT4pop/NAT4pop.stim.json": _sidecar(
                "stim", "NAT4pop", [f"f{i}" for i in range(18)], 100, 90, "RasterizedSignal"
            ).encode(),
            "NAT4pop/NAT4pop.stim.epoch.csv": pop_epochs,
        },
    )
    sites = root / "A1_single_sites"
    sites.mkdir()
    tst = nat4_site_spikes(11, 2, NAT4_TST_SEQUENCE)
    _site_tgz(sites / f"A1_TST001a_{'ab' * 20}.tgz", "TST001a", NAT4_CHANS[:2], tst, NAT4_TST_SEQUENCE)
    tnc = nat4_site_spikes(12, 1, NAT4_TNC_SEQUENCE)
    _site_tgz(sites / f"A1_TNC999a_{'cd' * 20}.tgz", "TNC999a", ["TNC999a-007-1"], tnc, NAT4_TNC_SEQUENCE)
    (root / "A1_pred_correlation.csv").write_text(
        "cellid,sig_auditory,r_ceiling_dummy\n"
        "TNC999a-07-1,True,0.5\nARM999a-05-2,False,0.1\nTST001a-02-1,True,0.7\nTST001a-01-1,False,0.2\n"
    )
    (root / "wav").mkdir()
    for i, name in enumerate(NAT4_NAMES):
        file_name = name.removeprefix("STIM_").replace("_z_", "_Z_")  # one name differs only by case
        with wave.open(str(root / "wav" / file_name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(44100)
            w.writeframes(nat4_wave(i).tobytes())
    zip_tree(root / "A1_single_sites.zip", root, "A1_single_sites")
    zip_tree(root / "wav.zip", root, "wav")
    if not extracted:
        remove_tree(sites)
        remove_tree(root / "wav")
    return root


def nat4_wave(i: int) -> np.ndarray:
    t = np.arange(8820) / 44100
    return (8000 * np.sin(2 * np.pi * (300 + 200 * i) * t)).astype("<i2")


@pytest.fixture(scope="module")
def nat4_root(tmp_path_factory):
    return build_nat4(tmp_path_factory.mktemp("nat4"))


@pytest.fixture
def nat4_kit():
    import types

    return types.SimpleNamespace(
        build=build_nat4,
        population=nat4_population,
        site_spikes=nat4_site_spikes,
        tst=NAT4_TST_SEQUENCE,
        tnc=NAT4_TNC_SEQUENCE,
        chans=NAT4_CHANS,
        names=NAT4_NAMES,
        wave=nat4_wave,
    )


# ----------------------------------------------------------------------------- CRCNS AA1

AA1_SPIKES = {
    # (cell, type, K): text; mixed trailing spaces, an empty trial, pre-onset and late spikes, close pairs
    (
        "Field_L_cells/zz0101_1_A",
        "conspecific",
        1,
    ): "-1500.25 3.0 7.5 7.7 12.0 249.9 400.0 \n\n0.0 5.0 10.0 10.2\n-0.5 100.1 100.3 \n",
    ("Field_L_cells/zz0101_1_A", "conspecific", 2): "1.0 2.0\n-20.0 299.0\n",
    ("Field_L_cells/zz0101_1_A", "flatrip", 1): "50.0\n\n\n",
    ("MLd_cells/zz0101_1_B", "flatrip", 1): "-3.0 0.1 199.99\n4.99 5.0",
    ("MLd_cells/zz0202_3", "conspecific", 1): "25.0 25.1 25.2\n",
}
AA1_STIMS = {  # (cell, type, K): index of the sound named in stimK (0, 1: songs; 2: ripple)
    ("Field_L_cells/zz0101_1_A", "conspecific", 1): 0,
    ("Field_L_cells/zz0101_1_A", "conspecific", 2): 1,
    ("Field_L_cells/zz0101_1_A", "conspecific", 3): 0,  # no spike3: missing, not merged
    ("Field_L_cells/zz0101_1_A", "flatrip", 1): 2,
    ("MLd_cells/zz0101_1_B", "flatrip", 1): 2,
    ("MLd_cells/zz0202_3", "conspecific", 1): 0,
}
AA1_SAMPLES = [8000, 9600, 6400]  # 0.25 s, 0.30 s, 0.20 s at 32 kHz


def aa1_wave(i: int) -> np.ndarray:
    t = np.arange(AA1_SAMPLES[i]) / 32000
    return (6000 * np.sin(2 * np.pi * (1000 + 1500 * i) * t)).astype("<i2")


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def aa1_wav_names() -> list[str]:
    import hashlib

    return [hashlib.md5(_wav_bytes(aa1_wave(i), 32000)).hexdigest().upper() + ".wav" for i in range(3)]


def build_aa1(root: Path, layout: str = "extracted") -> Path:
    """AA1 tree under crcns-aa1/; layout 'extracted', 'wrapped_zip' or 'flat_zip'."""
    root.mkdir(parents=True, exist_ok=True)
    tree = root / "crcns-aa1"
    names = aa1_wav_names()
    for i, kind in enumerate(["conspecific", "conspecific", "flatrip"]):
        (tree / "all_stims" / kind).mkdir(parents=True, exist_ok=True)
        (tree / "all_stims" / kind / names[i]).write_bytes(_wav_bytes(aa1_wave(i), 32000))
    for (cell, kind, k), idx in AA1_STIMS.items():
        folder = tree / cell / kind
        folder.mkdir(parents=True, exist_ok=True)
        end = "" if (cell, kind, k) == ("Field_L_cells/zz0101_1_A", "conspecific", 2) else "\n"  # no final newline
        (folder / f"stim{k}").write_text(names[idx] + end)
    for (cell, kind, k), text in AA1_SPIKES.items():
        (tree / cell / kind / f"spike{k}").write_text(text)
    (tree / "README.txt").write_text("aa-1 fixture")
    if layout == "wrapped_zip":
        zip_tree(root / "crcns-aa1.zip", root, "crcns-aa1")
    elif layout == "flat_zip":
        with zipfile.ZipFile(root / "crcns-aa1.zip", "w") as zf:
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    zf.writestr(path.relative_to(tree).as_posix(), path.read_bytes())
    if layout != "extracted":
        remove_tree(tree)
    return root


@pytest.fixture(scope="module")
def aa1_root(tmp_path_factory):
    return build_aa1(tmp_path_factory.mktemp("aa1"))


@pytest.fixture
def aa1_kit():
    import types

    return types.SimpleNamespace(
        build=build_aa1, spikes=AA1_SPIKES, names=aa1_wav_names(), samples=AA1_SAMPLES, wave=aa1_wave
    )


# ----------------------------------------------------------------------------- a file server on 127.0.0.1


class FileServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; a POST sets a login cookie when ``cookie`` is set."""

    def __init__(self, serve_http):
        from http.server import BaseHTTPRequestHandler

        self.files: dict[str, bytes] = {}
        self.cookie: str | None = None
        self.password: str | None = None  # when set, only this password logs in (CRCNS landing pages)
        self.logged_in = False
        self.posts: list[bytes] = []
        self.user_agents: list[str] = []
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.posts.append(body)
                server.user_agents.append(self.headers.get("User-Agent", ""))
                server.requests.append(("POST", self.path))
                fields = urllib.parse.parse_qs(body.decode())
                server.logged_in = server.password is None or fields.get("__ac_password") == [server.password]
                self.send_response(200)
                if server.cookie:
                    self.send_header("Set-Cookie", server.cookie)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                server.requests.append(("GET", self.path))
                body = server.files.get(self.path)
                if body is None and re.fullmatch(r"/[a-z]{2}-\d+/?", self.path):  # a CRCNS data set page
                    ok = server.logged_in and bool(self.headers.get("Cookie"))
                    body = b"<p>You are logged in as u</p>" if ok else b"<p>Please log in</p>"
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = serve_http(Handler)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def file_server(serve_http):
    return FileServer(serve_http)


# ----------------------------------------------------------------------------- CRCNS AC1 (Wehr)

AC1_FRAGMENTS = {"fragments/1.mat": "frag one", "fragments/2.mat": "frag two", "category1/1.mat": "cat one"}
# cell 1: (file, type, stimulus path as written in the trigger)
AC1_CELL1 = [
    ("20030101-mw-001-001.mat", "naturalsound", "fragments/1.mat"),
    ("20030101-mw-001-002.mat", "nauralsound", "fragments/2.mat"),
    ("20030101-mw-001-003.mat", "naturalsound", "fragments/1.mat"),
    ("20030101-mw-001-004.mat", "naturalsound", "fragments\\2.mat"),
]


def ac1_sound(rel: str) -> np.ndarray:
    seed = sorted(AC1_FRAGMENTS).index(rel)
    return np.random.default_rng(100 + seed).normal(0, 0.1, size=22050)


def ac1_trace(seed: int) -> np.ndarray:
    """int16 trace of 2 s at 4 kHz: slow drift, noise, and a bump 100 ms after the onset at sample 2000."""
    t = np.arange(8000) / 4000.0
    rng = np.random.default_rng(seed)
    x = 3000 * t + 200 * rng.normal(size=t.size) + 1500 * np.exp(-0.5 * ((t - 0.6) / 0.02) ** 2)
    return np.round(x).astype(np.int16)


def _trigger(kind: str, rel: str, time: float, description: str) -> dict:
    return {"type": kind, "param": {"description": description, "duration": 500.0}, "time": time, "file": rel}


def build_ac1(root: Path, zipped: bool = False) -> Path:
    import scipy.io

    wehr = root / "crcns-ac1" / "wehr"
    (wehr / "Tools").mkdir(parents=True)
    (wehr / "Tools" / "MakeRamp.m").write_text("% ramp")
    scipy.io.savemat(wehr / "Summary.mat", {"summary": np.ones((1, 1))})
    for rel, desc in AC1_FRAGMENTS.items():
        (wehr / "Stimuli" / rel).parent.mkdir(parents=True, exist_ok=True)
        stimulus = {"samples": ac1_sound(rel)[:, None], "param": {"sf": 44100.0, "description": desc}}
        scipy.io.savemat(wehr / "Stimuli" / rel, {"stimulus": stimulus})
    cell1 = wehr / "Results" / "20030101-mw-001"
    cell1.mkdir(parents=True)
    for i, (name, kind, rel) in enumerate(AC1_CELL1):
        desc = AC1_FRAGMENTS[rel.replace("\\", "/")]
        response = {"trace": ac1_trace(i)[:, None], "scale": 0.01, "sf": 4000.0}
        scipy.io.savemat(cell1 / name, {"response": response, "triggers": _trigger(kind, rel, 2001.0, desc)})
    cell2 = wehr / "Results" / "20030102-mw-002"
    cell2.mkdir(parents=True)
    triggers = np.zeros((1, 2), dtype=[(k, object) for k in ("type", "param", "time", "file")])
    for j, trig in enumerate(
        [
            _trigger("naturalsound", "category1/1.mat", 2001.0, "cat one"),
            _trigger("tuning curve", "", 5001.0, "tones"),
        ]
    ):
        for k, v in trig.items():
            triggers[0, j][k] = v
    response = {"trace": ac1_trace(9)[:, None], "scale": 0.01, "sf": 4000.0}
    scipy.io.savemat(cell2 / "20030102-mw-002-001.mat", {"response": response, "triggers": triggers})
    if zipped:
        zip_tree(root / "crcns-ac1.zip", root, "crcns-ac1")
        remove_tree(root / "crcns-ac1")
    return root


@pytest.fixture(scope="module")
def ac1_root(tmp_path_factory):
    return build_ac1(tmp_path_factory.mktemp("ac1"))


@pytest.fixture(scope="module")
def ac1_artifact_root(tmp_path_factory):
    """The AC1 tree with one saturated repeat (300 mV for 50 ms) of fragments/1 in the first cell."""
    import scipy.io

    root = build_ac1(tmp_path_factory.mktemp("ac1_artifact"))
    name, kind, rel = AC1_CELL1[2]
    trace = ac1_trace(2).astype(np.float64)
    trace[2100:2300] += 30000.0  # x 0.01 scale = +300 mV
    response = {"trace": trace[:, None], "scale": 0.01, "sf": 4000.0}
    path = root / "crcns-ac1" / "wehr" / "Results" / "20030101-mw-001" / name
    scipy.io.savemat(path, {"response": response, "triggers": _trigger(kind, rel, 2001.0, AC1_FRAGMENTS[rel])})
    return root


@pytest.fixture
def ac1_kit():
    import types

    return types.SimpleNamespace(build=build_ac1, sound=ac1_sound, trace=ac1_trace, cell1=AC1_CELL1)


# ----------------------------------------------------------------------------- CRCNS AA4 (one HDF5 file per unit)

AA4_FS = 24414
AA4_SAMPLES = {"11": 4883, "12": 7324, "31": 2442}  # stim key -> samples (0.2 s, 0.3 s, 0.1 s)


def aa4_wave(key: str) -> np.ndarray:
    t = np.arange(AA4_SAMPLES[key]) / AA4_FS
    return (5000 * np.sin(2 * np.pi * (800 + 100 * int(key)) * t)).astype("<i2")


def aa4_md5(key: str) -> str:
    import hashlib

    return hashlib.md5(aa4_wave(key).tobytes()).hexdigest()


# animal -> unit file -> (sortType, {class: {key: [trial spike times in s]}})
AA4_UNITS = {
    "GreBlu9508M": {
        "Site1_L1000R1100_e3_s0.h5": (
            "single",
            {"Con": {"11": [[0.0012, 0.05, 0.1995], []], "12": [[0.01], [0.02, 0.25]]}, "ml": {"31": [[], []]}},
        ),
        "Site2_L1500R1600_e5_s1_ss1.h5": ("singl", {"Con": {"11": [[0.003], [0.004, -0.1]]}}),
    },
    "YelBlu6903F": {
        "Site1_L900R950_e1_s0.h5": ("multi", {"Con": {"12": [[0.1], [0.2], [0.29]]}}),
    },
}
AA4_TYPES = {"11": "song", "12": "call", "31": "mlnoise"}


def write_aa4_unit(path: Path, sort_type: str, classes: dict, site: int) -> None:
    import h5py

    with h5py.File(path, "w") as fh:
        fh.attrs["sortType"] = sort_type
        fh.attrs["site"] = site
        fh.attrs["electrode"] = 3
        fh.attrs["ldepth"] = 1000.0
        fh.attrs["rdepth"] = 1100.0
        fh.attrs["sortid"] = 0
        fh.create_group("class_info").attrs["note"] = "not a class"
        fh.create_group("extra_info")
        for cls, stims in classes.items():
            group = fh.create_group(cls)
            for key, trials in stims.items():
                stim = group.create_group(key)
                stim.attrs["stim_type"] = AA4_TYPES[key]
                stim.attrs["stim_md5"] = aa4_md5(key)
                stim.attrs["stim_class"] = cls
                stim.attrs["stim_duration"] = AA4_SAMPLES[key] / AA4_FS
                for r, spikes in enumerate(trials):
                    stim.create_group(str(r + 1)).create_dataset("spike_times", data=np.asarray(spikes, dtype=float))


def build_aa4(root: Path, archives: bool = False) -> Path:
    """AA4 tree: <animal>/*.h5 and <animal>/wavfiles/stim<key>.wav; or one <animal>.tar.gz per animal."""
    import tarfile

    root.mkdir(parents=True, exist_ok=True)
    for animal, units in AA4_UNITS.items():
        base = root / animal
        (base / "wavfiles").mkdir(parents=True)
        keys = {k for _, classes in units.values() for stims in classes.values() for k in stims}
        for key in sorted(keys):
            (base / "wavfiles" / f"stim{key}.wav").write_bytes(_wav_bytes(aa4_wave(key), AA4_FS))
        for i, (name, (sort_type, classes)) in enumerate(units.items()):
            write_aa4_unit(base / name, sort_type, classes, site=i + 1)
        if archives:
            with tarfile.open(root / f"{animal}.tar.gz", "w:gz") as tf:
                tf.add(base, arcname=animal)
            remove_tree(base)
    return root


@pytest.fixture(scope="module")
def aa4_root(tmp_path_factory):
    return build_aa4(tmp_path_factory.mktemp("aa4"))


@pytest.fixture
def aa4_kit():
    import types

    return types.SimpleNamespace(
        build=build_aa4, fs=AA4_FS, samples=AA4_SAMPLES, units=AA4_UNITS, md5=aa4_md5, types=AA4_TYPES
    )


# ------------------------------------------------------------------- CRCNS AA2 (AA1 text files, flat WAVs, CSVs)

AA2_STIMS = {"AA2.wav": ("conspecific", 6400), "BB2.wav": ("conspecific", 8000), "CC2.wav": ("flatrip", 4800),
             "DD2.wav": ("songrip", 3200)}  # fmt: skip
# cell -> type folder -> K -> (wav, spike file text)
AA2_CELLS = {
    "blabla1010_1": {"conspecific": {1: ("AA2.wav", "1.5 20.25 \n-3.0 \n\n"), 2: ("BB2.wav", "100.0 \n")}},
    "blabla1010_2": {"flatrip": {1: ("CC2.wav", "5.0 7.5 \n")}, "songrip": {1: ("DD2.wav", "\n")}},
    "grgr2020_1": {"conspecific": {1: ("AA2.wav", "2.0 \n3.0 \n")}},
}
AA2_REGIONS = {"blabla1010_1": "mld", "blabla1010_2": "L2a", "grgr2020_1": "None"}


def aa2_wave(name: str) -> np.ndarray:
    n = AA2_STIMS[name][1]
    t = np.arange(n) / 32000
    return (4000 * np.sin(2 * np.pi * (600 + 100 * len(name) * n / 1000) * t)).astype("<i2")


def build_aa2(root: Path, archives: bool = False) -> Path:
    """AA2 tree under crcns/aa2/ (the archives' wrapper); or the three tar.gz archives."""
    import tarfile

    base = root / "crcns" / "aa2"
    (base / "all_stims").mkdir(parents=True)
    for name in AA2_STIMS:
        (base / "all_stims" / name).write_bytes(_wav_bytes(aa2_wave(name), 32000))
    for cell, types in AA2_CELLS.items():
        for kind, pairs in types.items():
            folder = base / "all_cells" / cell / kind
            folder.mkdir(parents=True)
            for k, (wav, spikes) in pairs.items():
                (folder / f"stim{k}").write_text(wav + "\n")
                (folder / f"spike{k}").write_text(spikes)
    (base / "cell_regions.csv").write_text("".join(f"{c},x,{r}\n" for c, r in AA2_REGIONS.items()))
    (base / "cell_stim_classes.csv").write_text("blabla1010_1,conspecific\nblabla1010_2,flatrip,songrip\n")
    rows = "".join(f"{n},32000,16,{s},{c}\n" for n, (c, s) in AA2_STIMS.items())
    (base / "stim_data.csv").write_text(rows)
    if archives:
        for part, members in (("all_cells", ["all_cells"]), ("all_stims", ["all_stims"]),
                              ("docs", ["cell_regions.csv", "cell_stim_classes.csv", "stim_data.csv"])):  # fmt: skip
            with tarfile.open(root / f"crcns-aa2-{part}.tar.gz", "w:gz") as tf:
                for m in members:
                    tf.add(base / m, arcname=f"crcns/aa2/{m}")
        remove_tree(root / "crcns")
    return root


@pytest.fixture(scope="module")
def aa2_root(tmp_path_factory):
    return build_aa2(tmp_path_factory.mktemp("aa2"))


@pytest.fixture
def aa2_kit():
    import types

    return types.SimpleNamespace(build=build_aa2, stims=AA2_STIMS, cells=AA2_CELLS, regions=AA2_REGIONS)


# ----------------------------------------------------------------------------- CRCNS AC1, Asari part

ASARI_SEGMENTS = ["class1/1.mat", "class1/2.mat", "class2/1.mat"]
ASARI_SEG_LEN = 4883  # 50 ms at 97,656 Hz
ASARI_MGB_SPIKES = [1012, 1100, 1457, 2300]  # samples (10 kHz) of the spikes in the MGB trace


def asari_segment(i: int) -> np.ndarray:
    return np.random.default_rng(300 + i).normal(0, 0.1, size=ASARI_SEG_LEN)


def asari_trace(seed: int, n: int = 10000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(500 * np.sin(np.arange(n) / 300.0) + 50 * rng.normal(size=n)).astype(np.int16)


def _struct_array(records: list[dict]) -> np.ndarray:
    keys = list(records[0])
    out = np.zeros((1, len(records)), dtype=[(k, object) for k in keys])
    for j, rec in enumerate(records):
        for k in keys:
            out[0, j][k] = rec[k]
    return out


def _asari_recording(path: Path, site: str, kind: str, trace: np.ndarray, triggers: list[tuple[str, float]]) -> None:
    import scipy.io

    param = {
        "stimulus": _struct_array([{"file": f} for f in ASARI_SEGMENTS]),
        "recording": {"site": site, "type": kind},
        "ID": "x",
    }
    trig = _struct_array(
        [{"type": "naturalsound", "param": {"description": d, "duration": 250.0}, "time": t} for d, t in triggers]
    )
    response = {"trace": trace[:, None], "scale": 0.01, "sf": 10000.0}
    scipy.io.savemat(path, {"param": param, "triggers": trig, "response": response})


def build_asari(root: Path) -> Path:
    import scipy.io

    stimuli = root / "crcns-ac1" / "asari" / "Stimuli"
    for i, rel in enumerate(ASARI_SEGMENTS):
        (stimuli / rel).parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(stimuli / rel, {"stimulus": {"sample": asari_segment(i)[:, None], "param": {"sf": 97656.0}}})
    a1 = root / "asari-results-1" / "20050101-ha1-001"
    a1.mkdir(parents=True)
    _asari_recording(a1 / "r1.mat", "auditory cortex", "whole cell", asari_trace(1),
                     [("Sequence 1: 1 2  3 1 2", 1001.0), ("Sequence 2: 3 3 1 2 1", 5001.0)])  # fmt: skip
    _asari_recording(
        a1 / "r2.mat", "auditory cortex", "whole cell", asari_trace(2), [("Sequence 1: 1 2 3 1 2", 2001.0)]
    )
    _asari_recording(
        a1 / "r3.mat", "auditory cortex", "whole cell", asari_trace(3), [("Sequence 1: 1 2 3 1 2", 9001.0)]
    )
    mgb = root / "asari-results-2" / "20050202-ha2-003"
    mgb.mkdir(parents=True)
    trace = np.zeros(10000, dtype=np.int16)
    trace[ASARI_MGB_SPIKES] = 3000
    _asari_recording(mgb / "r1.mat", "MGB", "cell attached", trace, [("Sequence 1: 1 2 3 1 2", 1001.0)])
    scipy.io.savemat(mgb / "r2.mat", {"notes": np.ones((1, 1))})  # malformed: skipped with a warning
    return root


@pytest.fixture(scope="module")
def asari_root(tmp_path_factory):
    return build_asari(tmp_path_factory.mktemp("asari"))


@pytest.fixture
def asari_kit():
    import types

    return types.SimpleNamespace(
        segments=ASARI_SEGMENTS, segment=asari_segment, trace=asari_trace, mgb_spikes=ASARI_MGB_SPIKES
    )
