"""Every example script runs in quick mode and writes the figures and numbers it promises."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.integration

pytest.importorskip("matplotlib")

#: script -> files it must write (relative to --out)
OUTPUTS = {
    "fit_linear_strf": ["strfs.png", "scores.png", "scores.json"],
    "compare_models": ["scores.png", "scatter.png", "scores.json"],
    "adaptrans_prefilter": ["on_off_strfs.png", "kernels.png", "scores.json"],
    "waveform_model": ["filterbank_before.png", "filterbank_after.png", "responses.png", "scores.json"],
    "load_your_data": ["dataset_summary.json", "responses.png", "my_recording.h5", "session.nwb"],
    "cross_validation": ["cv_scores.png", "summary.json", "run/metrics.json"],
    "checkpoints": ["reloaded.json", "ln_adaptrans/config.json", "ln_adaptrans/model.safetensors"],
    "alice_eeg_trf": ["scores.json", "scores.png", "trf.png", "alice_eeg_layout/stimuli/12.wav"],
    "published_checkpoint": ["strfs.png", "scores.json", "converted/config.json", "converted/model.safetensors"],
    "dstrf_adaptation": ["dstrf_strip.png", "indices.png", "indices.json"],
}


def _run(name: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEEPSTRF_EXAMPLES_QUICK": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    command = [sys.executable, str(EXAMPLES / f"{name}.py"), "--out", str(out)]
    return subprocess.run(command, cwd=out.parent, env=env, capture_output=True, text=True, timeout=300)


def test_every_example_is_listed():
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(OUTPUTS)
    listed = (ROOT / "docs" / "examples.md").read_text(encoding="utf-8")
    assert all(f"`{name}.py`" in listed for name in scripts)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_example_runs_and_writes_its_outputs(name, tmp_path):
    out = tmp_path / name
    result = _run(name, out)
    assert result.returncode == 0, f"examples/{name}.py failed:\n{result.stdout}\n{result.stderr}"
    for relative in OUTPUTS[name]:
        path = out / relative
        assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {relative}"
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert path.stat().st_size > 10_000, f"{relative} looks empty"
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    _check_numbers(name, out)


def _check_numbers(name: str, out: Path) -> None:
    """Claims each example makes that hold even in quick mode."""
    if name == "fit_linear_strf":
        scores = json.loads((out / "scores.json").read_text())
        recovered = sorted(r for r in scores["ridge_strf_r"] if r is not None)
        assert recovered[len(recovered) // 2] > 0.5, scores["ridge_strf_r"]  # ridge recovers the true STRFs
    elif name == "load_your_data":
        summary = json.loads((out / "dataset_summary.json").read_text())
        assert summary["hdf5_round_trip_equal"] is True
        assert summary["a1_neurons"] == 3
        assert [m["area"] for m in summary["nwb_neuron_metadata"]] == ["A1", "A1", "MGB"]
    elif name == "checkpoints":
        reloaded = json.loads((out / "reloaded.json").read_text())
        assert reloaded["identical_predictions"] is True
        assert (reloaded["model_class"], reloaded["prefilter_class"]) == ("LinearNonlinear", "AdapTrans")
    elif name == "alice_eeg_trf":
        scores = json.loads((out / "scores.json").read_text())
        target, ridge = scores["fixture_signal_share"], scores["models"]["ridge TRF"]["median_fve"]
        assert 0.1 < target < 0.3 and 0.5 * target < ridge < 1.5 * target, scores  # the TRF finds the planted signal
        assert scores["bad_channels_left_out"] == 1
    elif name == "dstrf_adaptation":
        indices = json.loads((out / "indices.json").read_text())["indices"]
        static, truth = indices["Linear (static STRF)"], indices["ground truth"]
        assert all(abs(v) < 1e-4 for values in static.values() for v in values)  # a static STRF never changes
        assert min(truth["shape_change"]) > 1e-3 and min(truth["gain_change"]) > 0.05  # adaptation does
    elif name == "compare_models":
        scores = json.loads((out / "scores.json").read_text())
        assert scores["best"] in scores["models"] and len(scores["models"]) >= 3
