"""Tiny files with the structure of the wave-2b public datasets, written with the writers real files used.

NEMS0 recordings (Espejo 2019, Wingert 2026) are tar archives of JSON sidecars, epoch CSVs,
point-process HDF5 (h5py) and tiled-signal HDF5; Downer 2025 sessions are MATLAB v5 files
(scipy.io.savemat) with a YAML index; Le 2025 units are pprox JSON; Alice EEG recordings are
``.fif`` files written by MNE.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import types
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

RASTERFS = 100


# ----------------------------------------------------------------------------- generic writers
def tgz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_600_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    import soundfile

    buf = io.BytesIO()
    data = np.repeat(samples[:, None], channels, axis=1) if channels > 1 else samples
    soundfile.write(buf, data, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def sidecar(name: str, rec: str, chans: list[str], fs: float, n: int, kind: str) -> bytes:
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
    ).encode()


def epoch_csv(sequence: list[tuple[str, float]], dur: float, pre: float, post: float) -> bytes:
    lines = ["start,end,name"]
    for name, onset in sequence:
        lines += [
            f"{onset:.4f},{onset + dur:.4f},{name}",
            f"{onset:.4f},{onset + pre:.4f},PreStimSilence",
            f"{onset + dur - post:.4f},{onset + dur:.4f},PostStimSilence",
        ]
    return ("\n".join(lines) + "\n").encode()


def h5_bytes(datasets: dict[str, np.ndarray]) -> bytes:
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        for key, value in datasets.items():
            h5[key] = value
    return buf.getvalue()


def csv_bytes(x: np.ndarray) -> bytes:
    return "\n".join(",".join("nan" if np.isnan(v) else f"{v:.18e}" for v in row) for row in x).encode() + b"\n"


def tile(name: str, n_bands: int, n_bins: int) -> np.ndarray:
    seed = sum(name.encode())
    f, t = np.meshgrid(np.arange(n_bands), np.arange(n_bins), indexing="ij")
    return np.round(np.abs(np.sin(0.3 * (f + 1) + 0.07 * t * (1 + seed % 5))) * 3.0, 5)


def unit_spikes(unit: str, sequence: list[tuple[str, float]], dur: float) -> np.ndarray:
    """Spike times (s): per occurrence a fixed pattern (edges included) plus seeded jitter."""
    rng = np.random.default_rng(sum(unit.encode()))
    times = []
    for _, onset in sequence:
        times.append(onset + np.array([0.0, 0.0049, 0.0101, 0.0102, dur - 0.0001, dur + 0.002]))
        times.append(onset + rng.uniform(-0.05, dur, size=int(rng.integers(1, 8))))
    return np.sort(np.concatenate(times))


def nems_site(
    rec: str,
    units: list[str],
    sequence: list[tuple[str, float]],
    *,
    dur: float,
    pre: float,
    post: float,
    n_bands: int,
    csv_resp: bool = False,
    csv_stim: bool = False,
    meta: dict | None = None,
) -> tuple[bytes, dict[str, np.ndarray]]:
    """One NEMS0 recording archive (tgz bytes) and each unit's spike times."""
    n_bins = round(dur * RASTERFS)
    total = round((max(o for _, o in sequence) + dur + 0.2) * RASTERFS)
    epochs = epoch_csv(sequence, dur, pre, post)
    spikes = {u: unit_spikes(u, sequence, dur) for u in units}
    members = {f"{rec}/{rec}.meta.json": json.dumps(meta or {"rasterfs": RASTERFS, "stimfmt": "ozgf"}).encode()}
    if csv_resp:
        raster = np.zeros((total, len(units)))
        for j, u in enumerate(units):
            idx = np.floor(spikes[u] * RASTERFS).astype(int)
            np.add.at(raster[:, j], idx[(idx >= 0) & (idx < total)], 1.0)
        members[f"{rec}/{rec}.resp.csv"] = csv_bytes(raster)
        members[f"{rec}/{rec}.resp.json"] = sidecar("resp", rec, units, RASTERFS, total, "RasterizedSignal")
    else:
        members[f"{rec}/{rec}.resp.h5"] = h5_bytes(spikes)
        members[f"{rec}/{rec}.resp.json"] = sidecar("resp", rec, units, RASTERFS, total, "PointProcess")
    members[f"{rec}/{rec}.resp.epoch.csv"] = epochs
    names = list(dict.fromkeys(n for n, _ in sequence))
    if csv_stim:
        stim = np.zeros((total, n_bands))
        for name, onset in sequence:
            r0 = round(onset * RASTERFS)
            stim[r0 : r0 + n_bins] = tile(name, n_bands, n_bins).T
        members[f"{rec}/{rec}.stim.csv"] = csv_bytes(stim)
        members[f"{rec}/{rec}.stim.json"] = sidecar(
            "stim", rec, [str(i) for i in range(n_bands)], RASTERFS, total, "RasterizedSignal"
        )
    else:
        members[f"{rec}/{rec}.stim.h5"] = h5_bytes({n: tile(n, n_bands, n_bins) for n in names})
        members[f"{rec}/{rec}.stim.json"] = sidecar(
            "stim", rec, [str(i) for i in range(n_bands)], RASTERFS, total, "TiledSignal"
        )
    members[f"{rec}/{rec}.stim.epoch.csv"] = epochs
    return tgz_bytes(members), spikes


def schedule(plan: dict[str, int], gap: float, dur: float) -> list[tuple[str, float]]:
    """Interleaved presentation sequence: sound ``name`` played ``plan[name]`` times."""
    order = [n for r in range(max(plan.values())) for n, k in plan.items() if r < k]
    return [(n, 0.3 + i * (dur + gap)) for i, n in enumerate(order)]


def expected_counts(spikes: np.ndarray, sequence, name: str, n_bins: int) -> np.ndarray:
    rows = []
    for n, onset in sequence:
        if n != name:
            continue
        idx = np.floor(spikes * RASTERFS).astype(int) - round(onset * RASTERFS)
        rows.append(np.bincount(idx[(idx >= 0) & (idx < n_bins)], minlength=n_bins))
    return np.array(rows, dtype=float)


# ----------------------------------------------------------------------------- Espejo 2019
ESPEJO_DUR, ESPEJO_PRE, ESPEJO_POST = 0.4, 0.05, 0.05
ESPEJO_NAT_SITES = {
    "por012a": (["por012a-01-1", "por012a-02-1"], {"STIM_a.wav": 4, "STIM_b.wav": 1, "STIM_c.wav": 1}),
    "por013b": (["por012a-01-1", "por013b-04-2"], {"STIM_a.wav": 3, "STIM_d.wav": 1, "STIM_b.wav": 1}),
    "bbl086b": (["bbl086b-11-1"], {"STIM_e.wav": 5, "STIM_d.wav": 2, "STIM_c.wav": 1}),
}
ESPEJO_VMN_SITES = {
    "chn002h": (["chn002h-a1"], {"STIM_v1.wav": 3, "STIM_v2.wav": 1}, True),
    "eno099a": (["eno099a-02-1"], {"STIM_v1.wav": 3, "STIM_v3.wav": 1}, False),
}


def build_espejo(root: Path, extracted: bool = False) -> dict:
    """Both outer archives; returns each site's sequence and spike times for reference."""
    root.mkdir(parents=True, exist_ok=True)
    truth: dict = {}
    for stem, folder, sites, bands in (
        ("A1_natural_sounds", "NAT", ESPEJO_NAT_SITES, 18),
        ("A1_voc_mod_noise", "VMN", ESPEJO_VMN_SITES, 2),
    ):
        members = {}
        for site, spec in sites.items():
            units, plan = spec[0], spec[1]
            csv = bool(spec[2]) if len(spec) > 2 else False
            seq = schedule(plan, 0.25, ESPEJO_DUR)
            meta = {"rasterfs": RASTERFS, "stimfmt": "ozgf" if bands == 18 else "envelope"}
            data, spikes = nems_site(
                site, units, seq, dur=ESPEJO_DUR, pre=ESPEJO_PRE, post=ESPEJO_POST, n_bands=bands,
                csv_resp=csv, csv_stim=csv, meta=meta,
            )  # fmt: skip
            members[f"{stem}/{folder}/{site}_{hashlib.sha1(site.encode()).hexdigest()}.tgz"] = data
            truth[(folder, site)] = (seq, spikes)
        blob = tgz_bytes(members)
        (root / f"{stem}.tgz").write_bytes(blob)
        truth[stem] = blob
        if extracted:
            with tarfile.open(root / f"{stem}.tgz") as tf:
                tf.extractall(root, filter="data")
    return truth


@pytest.fixture
def kit():
    """The builders of this folder, for tests."""
    return types.SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("_")})


# ----------------------------------------------------------------------------- local HTTP server (127.0.0.1)
class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes]
    log: list[tuple[str, str | None]]
    cuts: dict[str, int]  # path -> bytes sent before the first full answer is cut off

    def log_message(self, format, *args):
        pass

    def _send(self, head_only: bool) -> None:
        rng = self.headers.get("Range")
        self.log.append((self.path, rng))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "not found")
            return
        start, end = 0, len(body) - 1
        if rng:
            a, _, b = rng.removeprefix("bytes=").partition("-")
            if a == "":
                start = max(len(body) - int(b), 0)
            else:
                start, end = int(a), min(int(b), len(body) - 1) if b else len(body) - 1
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start : end + 1]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if head_only:
            return
        cut = self.cuts.pop(self.path, None) if not rng else None
        if cut is not None:
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def do_GET(self):
        self._send(False)

    def do_HEAD(self):
        self._send(True)


class FileServer:
    def __init__(self, serve_http) -> None:
        self.files: dict[str, bytes] = {}
        self.log: list[tuple[str, str | None]] = []
        self.cuts: dict[str, int] = {}
        self.httpd = serve_http(type("H", (_Handler,), {"files": self.files, "log": self.log, "cuts": self.cuts}))

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def http_files(serve_http):
    return FileServer(serve_http)


@pytest.fixture(scope="module")
def espejo_root(tmp_path_factory):
    """(folder, reference spike times per site, builders)."""
    root = tmp_path_factory.mktemp("espejo")
    return root, build_espejo(root), types.SimpleNamespace(**globals())


# ----------------------------------------------------------------------------- Wingert 2026
WINGERT_SITES = {  # archive site -> (units, plan)
    "PRN004a": (
        ["PRN004a-01-1", "PRN004a-02-1"],
        {"STIM_00seq0001.wav": 5, "STIM_seq0001.wav": 1, "STIM_seq0002.wav": 1},
    ),
    "PRN018a": (["PRN018a-03-1"], {"STIM_00seq0001.wav": 5, "STIM_seq0003.wav": 1}),
    "PRN018b": (["PRN018a-03-1"], {"STIM_00seq0001.wav": 5, "STIM_seq0003.wav": 1}),  # the duplicate
    "SLJ032a": (["SLJ032a-A-001-1", "SLJ032a-B-001-1"], {"STIM_00seq0002.wav": 6, "STIM_seq0004.wav": 1}),
    "CLT999x": (["CLT012a-05-2"], {"STIM_00seq0002.wav": 6, "STIM_seq0005.wav": 1}),  # name differs from the ids
}
WINGERT_CELLS = [  # cellid, siteid, area, layer, depth, narrow, celltype, sw, goodpred
    ("CLT012a-05-2", "CLT012a", "HC", "", "1200", "False", "RS", "0.41", "True"),
    ("SLJ032a-B-001-1", "SLJ032a", "PEG", "5", "900", "True", "NS", "0.21", "False"),
    ("PRN004a-01-1", "PRN004a", "A1", "13", "350", "False", "RS", "0.38", "True"),
    ("SLJ032a-A-001-1", "SLJ032a", "A1", "44", "610", "False", "RS", "0.45", "True"),
    ("PRN018a-03-1", "PRN018a", "AC", "", "", "False", "RS", "0.4", "False"),
]  # PRN004a-02-1 is not listed (an unlabelled unit)


def build_wingert(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    truth, members = {}, {}
    for site, (units, plan) in WINGERT_SITES.items():
        seq = schedule(plan, 0.25, 0.4)
        data, spikes = nems_site(site, units, seq, dur=0.4, pre=0.05, post=0.05, n_bands=32)
        members[f"recordings/{site}_{hashlib.sha1(site.encode()).hexdigest()}.tgz"] = data
        truth[site] = (seq, spikes)
    truth["recordings.zip"] = zip_bytes(members)
    lines = ["cellid,siteid,area,layer,depth,narrow,celltype,sw,goodpred"] + [",".join(r) for r in WINGERT_CELLS]
    truth["cell_list.csv"] = ("\n".join(lines) + "\n").encode()
    tone = 0.5 * np.sin(2 * np.pi * 300 * np.arange(3200) / 8000.0)
    names = sorted({n.removeprefix("STIM_") for _, plan in WINGERT_SITES.values() for n in plan})
    truth["wav.zip"] = zip_bytes({f"wav/{n}": wav_bytes(tone, 8000) for n in names})
    for name in ("recordings.zip", "cell_list.csv", "wav.zip"):
        (root / name).write_bytes(truth[name])
    return truth


@pytest.fixture(scope="module")
def wingert_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("wingert")
    return root, build_wingert(root), types.SimpleNamespace(**globals())


# ----------------------------------------------------------------------------- Le 2025
LE_MOTIFS = ["aaa", "bbb", "ccc"]
LE_VARIANTS = ["C", "G_g1", "N_g1_snr-5"]


def le_wave(name: str, rate: int) -> np.ndarray:
    f0 = 500 + 100 * (sum(name.encode()) % 7)
    return 0.4 * np.sin(2 * np.pi * f0 * np.arange(round(0.1 * rate)) / rate)


def le_trial_spikes(unit: str, stim: str, r: int) -> np.ndarray:
    """Spike times (ms from onset) of a trial: edges plus seeded ones."""
    rng = np.random.default_rng(sum((unit + stim).encode()) + r)
    return np.sort(np.concatenate([[-3.0, 0.0, 4.99, 5.0, 99.9], rng.uniform(-20, 120, size=int(rng.integers(0, 6)))]))


def build_le(root: Path, top: str = "") -> dict:
    """The archive (``zebf-auditory-restoration-1.zip``); returns spike truth per (unit, stim)."""
    prefix = f"{top}/" if top else ""
    members: dict[str, bytes] = {
        f"{prefix}metadata/recordings.csv": b"unit,bird,site\nC104_3_1_c12,C104,1\n",
        f"{prefix}metadata/song-birds.csv": b"bird,motif\nS1,aaa\n",
        f"{prefix}metadata/ephys-birds.csv": b"bird,sex,cohort\nC104,M,1\nR233,F,2\n",
    }
    truth: dict = {}
    names_b = [f"ep_{m}_{v}" for m in LE_MOTIFS for v in LE_VARIANTS]
    for n in names_b:
        members[f"{prefix}nat8b-stimuli/{n}.wav"] = wav_bytes(le_wave(n, 48000), 48000)
    for n in [f"{m}_C" for m in LE_MOTIFS[:2]]:
        members[f"{prefix}nat8a-stimuli/{n}.wav"] = wav_bytes(le_wave(n, 40000), 40000)
    # legacy schema (ms, stim_on): unit C104_3_1_c12 on nat8b, 3 repeats of each stimulus but the last
    legacy = []
    for n in names_b[:-1]:
        for r in range(3):
            sp = le_trial_spikes("C104_3_1_c12", n, r)
            truth[("C104_3_1_c12", n, r)] = sp
            legacy.append(
                {
                    "stimulus": n,
                    "condition": n.split("_")[2],
                    "event": (sp + 1000.0).tolist(),
                    "stim_on": 1000.0,
                    "trial": r,
                }
            )
    members[f"{prefix}nat8b-responses/C104_3_1_c12.pprox"] = json.dumps(
        {"$schema": "https://meliza.org/spec:2/pprox.json#", "pprox": legacy}
    ).encode()
    # stimtrial schema (s from onset): unit R233_1_2_c3, 4 repeats
    new = []
    for n in names_b:
        for r in range(4):
            sp = le_trial_spikes("R233_1_2_c3", n, r)
            truth[("R233_1_2_c3", n, r)] = sp
            new.append({"stimulus": {"name": n, "gap": None}, "events": (sp / 1000.0).tolist(), "index": r})
    members[f"{prefix}nat8b-responses/R233_1_2_c3.pprox"] = json.dumps(
        {"$schema": "https://meliza.org/spec:2/stimtrial.json#", "pprox": new}
    ).encode()
    # nat8a: legacy, stimulus = motif, condition separate
    a = [{"stimulus": m, "condition": "C", "event": [1010.0], "stim_on": 1000.0} for m in LE_MOTIFS[:2]]
    members[f"{prefix}nat8a-alpha-responses/C104_2_1_c1.pprox"] = json.dumps(
        {"$schema": "spec:2/pprox", "pprox": a}
    ).encode()
    members[f"{prefix}nat8a-beta-responses/C104_2_2_c7.pprox"] = json.dumps(
        {"$schema": "spec:2/pprox", "pprox": a[:1]}
    ).encode()
    blob = zip_bytes(members)
    root.mkdir(parents=True, exist_ok=True)
    (root / "zebf-auditory-restoration-1.zip").write_bytes(blob)
    truth["zip"] = blob
    return truth


@pytest.fixture(scope="module")
def le_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("le")
    return root, build_le(root), types.SimpleNamespace(**globals())


# ----------------------------------------------------------------------------- Downer 2025
DOWNER_FS = 16000
DOWNER_N_SENT = 13  # codes 1..13; 12 and 13 are published test codes
DOWNER_SESSIONS = {"180613": ("c", ["Ch1", "Ch2p"]), "180731": ("b", ["Ch3"])}


def _structs(rows: list[dict]) -> np.ndarray:
    arr = np.zeros((1, len(rows)), dtype=[(k, object) for k in rows[0]])
    for i, r in enumerate(rows):
        for k, v in r.items():
            arr[0, i][k] = v
    return arr


def downer_sentence(code: int) -> np.ndarray:
    n = round((0.5 + 0.1 + 0.01 * code + 0.5) * DOWNER_FS)
    x = np.zeros(n)
    core = slice(round(0.5 * DOWNER_FS), n - round(0.5 * DOWNER_FS))
    t = np.arange(core.stop - core.start) / DOWNER_FS
    x[core] = 0.3 * np.sin(2 * np.pi * (300 + 150 * code) * t)
    return x


def downer_trials(session: str) -> list[tuple[float, int, int]]:
    """(stimon, timit code, mvoc code) per trial."""
    plan = [(c, 0) for c in range(1, DOWNER_N_SENT + 1)] + [(12, 0), (13, 0), (12, 0), (13, 0)]
    plan += [(0, 1), (0, 2), (0, 3), (0, 1), (0, 1)]
    return [(2.0 + 1.5 * i + (0.25 if session == "180731" else 0.0), a, b) for i, (a, b) in enumerate(plan)]


def downer_spikes(unit: str, trials) -> np.ndarray:
    rng = np.random.default_rng(sum(unit.encode()))
    times = [t0 + np.array([-0.004, 0.0, 0.0099, 0.0101, 0.05]) for t0, _, _ in trials]
    times += [t0 + rng.uniform(-0.2, 0.4, size=int(rng.integers(0, 6))) for t0, _, _ in trials]
    return np.sort(np.concatenate(times))


def build_downer(root: Path, top: str = "auditory_cortex_data", as_zip: bool = True) -> dict:
    import scipy.io
    import yaml

    prefix = f"{top}/" if top else ""
    members: dict[str, bytes] = {}
    truth: dict = {}

    def mat_bytes(d: dict) -> bytes:
        buf = io.BytesIO()
        scipy.io.savemat(buf, d)
        return buf.getvalue()

    sentdet = _structs(
        [
            {
                "sound": downer_sentence(c).reshape(-1, 1),
                "soundf": float(DOWNER_FS),
                "befaft": np.array([[0.5, 0.5]]),
                "sentId": float(100 + c),
                "name": f"si{c}",
            }
            for c in range(1, DOWNER_N_SENT + 1)
        ]
    )
    members[f"{prefix}stimuli/out_sentence_details_timit_all_loudness.mat"] = mat_bytes({"sentdet": sentdet})
    members[f"{prefix}stimuli/SqMoPhys_MVOCStimcodes.mat"] = mat_bytes(
        {
            "mVocsStimCodes": np.array([[1, 2, 1, 3, 2, 1]], float),
            "mVocsStimOnTimes": np.array([[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]]),
        }
    )
    voc = 0.2 * np.sin(2 * np.pi * 700 * np.arange(round(1.2 * 41000)) / 41000)
    members[f"{prefix}stimuli/MonkVocs_15Blocks.wav"] = wav_bytes(voc, 41000, channels=2)
    meta = {
        "c_RH_sessions": [180613],
        "b_LH_sessions": [180731],
        "area_wise_sessions": {"core": [180613], "belt": [180731]},
        "session_coordinates": {180613: [1.0, 2.0], 180731: [3.0, -1.0]},
        "bad_sessions": [180731],
        "stim_wise_num_repeats": {"timit": {12: 3, 13: 3, 1: 1}, "mVocs": {1: 3, 2: 1, 3: 1}},
    }
    members[f"{prefix}sessions_metadata.yml"] = yaml.safe_dump(meta).encode()
    for session, (animal, channels) in DOWNER_SESSIONS.items():
        trials = downer_trials(session)
        stimon = np.array([[t for t, _, _ in trials]])
        trial = {
            "stimon": stimon.T,
            "timitStimcode": np.array([[a for _, a, _ in trials]], float).T,
            "mVocStimcode": np.array([[np.nan if b == 0 else b for _, _, b in trials]], float).T,
        }
        for ch in channels:
            unit = f"{animal}_{session}_{ch}"
            spikes = downer_spikes(unit, trials)
            truth[unit] = (trials, spikes)
            members[f"{prefix}sessions/{session}/{unit}_MUspk.mat"] = mat_bytes(
                {"spike": {"spktimes": spikes.reshape(-1, 1)}, "trial": trial}
            )
    blob = zip_bytes(members)
    root.mkdir(parents=True, exist_ok=True)
    if as_zip:
        (root / "auditory_cortex_data.zip").write_bytes(blob)
    truth["zip"] = blob
    return truth


@pytest.fixture(scope="module")
def downer_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("downer")
    return root, build_downer(root), types.SimpleNamespace(**globals())


# ----------------------------------------------------------------------------- Alice EEG
ALICE_SF = 500.0
ALICE_CHANNELS = ["Fp1", "Fz", "Cz", "Pz"]
ALICE_FIRST_SAMP = 1234
ALICE_SEG_S = 0.3


def alice_onset(subject: str, seg: int) -> float:
    """Onset (s from the first sample) of a segment."""
    return 1.0 + 0.5 * (seg - 1) + (0.05 if subject == "S02" else 0.0)


def alice_marker(seg: int, n: int) -> np.ndarray:
    return seg + 0.001 * np.arange(n)


def write_alice_subject(path: Path, subject: str, bads=(), bad_window=None) -> np.ndarray:
    import datetime

    import mne

    n = round((alice_onset(subject, 12) + ALICE_SEG_S + 1.0) * ALICE_SF)
    rng = np.random.default_rng(sum(subject.encode()))
    x = rng.normal(0, 1.0, size=(len(ALICE_CHANNELS), n))
    for seg in range(1, 13):
        a = round(alice_onset(subject, seg) * ALICE_SF)
        m = round(ALICE_SEG_S * ALICE_SF)
        x[0, a : a + m] = alice_marker(seg, m)  # channel Fp1 carries a marker from each onset
    info = mne.create_info(ALICE_CHANNELS, ALICE_SF, "eeg")
    raw = mne.io.RawArray(x * 1e-6, info, first_samp=ALICE_FIRST_SAMP, verbose="error")
    raw.set_meas_date(datetime.datetime(2019, 5, 1, tzinfo=datetime.timezone.utc))
    onsets = [alice_onset(subject, s) for s in range(1, 13)]
    desc = [str(s) for s in range(1, 13)]
    durations = [0.0] * 12
    if bad_window is not None:
        onsets.append(bad_window[0])
        durations.append(bad_window[1])
        desc.append("BAD_blink")
    raw.set_annotations(mne.Annotations(onsets, durations, desc, orig_time=None))
    raw.info["bads"] = list(bads)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.save(path, overwrite=True, verbose="error")
    return x


def build_alice(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / "_build"
    truth: dict = {}
    truth["S01"] = write_alice_subject(
        tmp / "eeg.0/eeg/S01/S01_alice-raw.fif", "S01", bad_window=(alice_onset("S01", 2) + 0.1, 0.05)
    )
    truth["S02"] = write_alice_subject(tmp / "eeg.0/eeg/S02/S02_alice-raw.fif", "S02", bads=("Pz",))
    truth["S03"] = write_alice_subject(tmp / "eeg.1/eeg/S03/S03_alice-raw.fif", "S03")
    stim = {}
    for seg in range(1, 13):
        t = np.arange(round(ALICE_SEG_S * 44100)) / 44100
        stim[f"stimuli/{seg}.wav"] = wav_bytes(
            0.3 * np.sin(2 * np.pi * (200 * seg) * t) * (1 + np.sin(2 * np.pi * 4 * t)) / 2, 44100
        )
    stim["stimuli/AliceChapterOne-EEG.csv"] = ("Word,Segment,onset,offset\n" + "".join(
        f"w{i},{1 + i % 12},{0.01 * i},{0.01 * i + 0.01}\n" for i in range(30))).encode()  # fmt: skip
    archives = {"stimuli.zip": zip_bytes(stim)}
    for k in (0, 1):
        base = tmp / f"eeg.{k}"
        archives[f"eeg.{k}.zip"] = zip_bytes(
            {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(base.rglob("*.fif"))}
        )
    archives["eeg.2.zip"] = zip_bytes({"eeg.2/eeg/README.txt": b"no subject in this fixture part\n"})
    import shutil

    shutil.rmtree(tmp)
    for name, blob in archives.items():
        (root / name).write_bytes(blob)
    truth["archives"] = archives
    return truth


@pytest.fixture(scope="module")
def alice_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("alice")
    return root, build_alice(root), types.SimpleNamespace(**globals())
