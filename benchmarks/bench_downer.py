"""Memory and time of Downer 2025 read session by session, on a synthetic archive of the real shape.

The real archive (``auditory_cortex_data.zip``, about 29 GB) is not needed: this script writes
one with the documented shape (41 sessions, 1718 multi-units in all, 499 TIMIT sentences of
about 3 s with 0.5 s of silence before and after, 10 of them at 11 repeats, 303 vocalisation
codes, 11 of them at 15 repeats), every multi-unit a MATLAB v5 ``*_MUspk.mat`` file of spike
times at ``--rate-hz`` over the whole session, stored uncompressed in one zip. The loader reads
that zip in place, one session at a time, like a real download.

It reports the time to index a session (list its files, read its trial table), the time to
load one (bin every unit's spikes on every sentence), and the peak resident memory of the
process over a pass through every session (``ru_maxrss``; the baseline after importing
torch and computing the 499 stimulus spectrograms is shown separately).

Usage::

    python benchmarks/bench_downer.py                     # the full shape (writes ~3 GB to a temp folder)
    python benchmarks/bench_downer.py --sessions 4 --units 168 --rate-hz 20   # a quick check
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from deepSTRF.datasets.audio.downer2025 import Downer2025Sessions

FS = 16000


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _mat(d: dict) -> bytes:
    import scipy.io

    buf = io.BytesIO()
    scipy.io.savemat(buf, d)
    return buf.getvalue()


def write_archive(path: Path, n_sessions: int, n_units: int, rate_hz: float, seed: int = 0) -> dict:
    """Write the synthetic archive; return its shape."""
    import soundfile
    import yaml

    rng = np.random.default_rng(seed)
    durations = rng.uniform(2.0, 4.0, size=499)
    test = {12, 13, 32, 43, 56, 163, 212, 218, 287, 308}
    n_mvoc = 303
    mvoc_test = set(range(1, 12))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        sentdet = np.zeros((1, 499), dtype=[(k, object) for k in ("sound", "soundf", "befaft", "sentId", "name")])
        for k in range(499):
            n = round((durations[k] + 1.0) * FS)
            sound = np.zeros(n, dtype=np.float32)
            core = rng.standard_normal(n - FS).astype(np.float32) * 0.1
            sound[FS // 2 : FS // 2 + core.size] = core
            sentdet[0, k]["sound"] = sound.reshape(-1, 1)
            sentdet[0, k]["soundf"] = float(FS)
            sentdet[0, k]["befaft"] = np.array([[0.5, 0.5]])
            sentdet[0, k]["sentId"] = float(k + 1)
            sentdet[0, k]["name"] = f"s{k + 1}"
        prefix = "auditory_cortex_data/"
        zf.writestr(prefix + "stimuli/out_sentence_details_timit_all_loudness.mat", _mat({"sentdet": sentdet}))
        slots = np.concatenate([np.arange(1, n_mvoc + 1), np.repeat(sorted(mvoc_test), 14)])[:780]
        onsets = np.arange(slots.size) * 1.0
        zf.writestr(
            prefix + "stimuli/SqMoPhys_MVOCStimcodes.mat",
            _mat({"mVocsStimCodes": slots[None].astype(float), "mVocsStimOnTimes": onsets[None]}),
        )
        wav = io.BytesIO()
        noise = (rng.standard_normal((slots.size * 41000, 2)) * 0.05).astype(np.float32)
        soundfile.write(wav, noise, 41000, format="WAV")
        zf.writestr(prefix + "stimuli/MonkVocs_15Blocks.wav", wav.getvalue())
        sessions = [f"{180000 + 7 * i}" for i in range(n_sessions)]
        meta = {
            "x_RH_sessions": [int(s) for s in sessions[::2]],
            "x_LH_sessions": [int(s) for s in sessions[1::2]],
            "area_wise_sessions": {"core": [int(s) for s in sessions]},
            "bad_sessions": [],
        }
        zf.writestr(prefix + "sessions_metadata.yml", yaml.safe_dump(meta))
        per_session = np.full(n_sessions, n_units // n_sessions)
        per_session[: n_units % n_sessions] += 1
        timit_plan = [c for c in range(1, 500) for _ in range(11 if c in test else 1)]
        mvoc_plan = [c for c in range(1, n_mvoc + 1) for _ in range(15 if c in mvoc_test else 1)]
        total_bytes = 0
        for s, session in enumerate(sessions):
            order = [(c, 0) for c in timit_plan] + [(0, c) for c in mvoc_plan]
            rng.shuffle(order)
            gaps = np.array([durations[a - 1] if a else 1.0 for a, _ in order]) + 1.0
            stimon = 5.0 + np.concatenate([[0.0], np.cumsum(gaps)[:-1]])
            session_s = float(stimon[-1] + 5.0)
            trial = {
                "stimon": stimon[:, None],
                "timitStimcode": np.array([a for a, _ in order], float)[:, None],
                "mVocStimcode": np.array([np.nan if b == 0 else b for _, b in order], float)[:, None],
            }
            animal = "abc"[s % 3]
            for ch in range(int(per_session[s])):
                n_spikes = rng.poisson(rate_hz * session_s)
                spikes = np.sort(rng.uniform(0.0, session_s, size=n_spikes))
                blob = _mat({"spike": {"spktimes": spikes[:, None]}, "trial": trial})
                total_bytes += len(blob)
                zf.writestr(f"{prefix}sessions/{session}/{animal}_{session}_Ch{ch + 1}_MUspk.mat", blob)
    return {
        "sessions": n_sessions,
        "units": int(per_session.sum()),
        "trials_per_session": len(timit_plan) + len(mvoc_plan),
        "session_minutes": session_s / 60.0,
        "unit_files_gb": total_bytes / 1e9,
        "archive_gb": path.stat().st_size / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=41)
    parser.add_argument("--units", type=int, default=1718)
    parser.add_argument("--rate-hz", type=float, default=50.0, help="spike rate of each synthetic multi-unit")
    parser.add_argument("--keep", type=Path, default=None, help="write the archive here and keep it")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="downer-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "auditory_cortex_data.zip"
    if args.write_only:
        print(json.dumps(write_archive(archive, args.sessions, args.units, args.rate_hz)))
        return
    try:
        t0 = time.perf_counter()
        shape: dict = {}
        if not archive.exists():  # written by a child process, so that its memory is not counted here
            cmd = [sys.executable, __file__, "--write-only", "--keep", str(folder), "--sessions", str(args.sessions)]
            cmd += ["--units", str(args.units), "--rate-hz", str(args.rate_hz)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            shape = json.loads(out.strip().splitlines()[-1])
        write_s = time.perf_counter() - t0
        rss_start = _maxrss_mb()
        t0 = time.perf_counter()
        index = Downer2025Sessions(folder, progress=False)
        open_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.stims()
        stims_s = time.perf_counter() - t0
        rss_stims = _maxrss_mb()
        index_s, load_s, resp_mb, n_units = [], [], 0.0, 0
        for session in index.session_ids:
            t0 = time.perf_counter()
            index.index_session(session)
            index_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            data = index.load_session(session)
            load_s.append(time.perf_counter() - t0)
            resp_mb += sum(r.numel() * r.element_size() for r in data._resp) / 1e6
            n_units += data.n_neurons
            del data
        rss_peak = _maxrss_mb()
        print(f"synthetic archive: {shape} (written in {write_s:.0f} s)")
        print(f"sessions {len(index.session_ids)}, units {n_units}, sentences {len(index.stim_meta)}")
        print("| step | time | peak RSS |")
        print("| --- | --- | --- |")
        print(f"| import (torch, deepSTRF) | | {rss_start:.0f} MB |")
        print(f"| open the archive (central directory, metadata) | {open_s:.2f} s | |")
        print(f"| 499 stimulus spectrograms (computed once) | {stims_s:.1f} s | {rss_stims:.0f} MB |")
        print(
            f"| index a session (files + trial table) | median {statistics.median(index_s) * 1000:.0f} ms, "
            f"max {max(index_s) * 1000:.0f} ms | |"
        )
        print(
            f"| load a session (~{n_units / max(len(index.session_ids), 1):.0f} units x 499 sentences) | "
            f"median {statistics.median(load_s):.2f} s, max {max(load_s):.2f} s | |"
        )
        total_s = sum(load_s) + sum(index_s)
        print(f"| pass over all {len(index.session_ids)} sessions | {total_s:.0f} s | {rss_peak:.0f} MB |")
        print(f"responses of all sessions together (never held at once): {resp_mb:.0f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
