"""Write the deepSTRF 0.1.0 CRCNS AC1 responses used by ``tests/datasets/public/test_ac1_published.py``.

Run it with an interpreter where the published ``deepSTRF==0.1.0`` wheel is installed (and
*not* this repository on ``PYTHONPATH``)::

    /path/to/published-venv/bin/python tools/make_ac1_published_responses.py \\
        tests/datasets/public/published_fixtures/ac1_responses.npz

It builds the synthetic Wehr and Asari trees of ``tests/datasets/public/conftest.py``
(``build_ac1``, ``build_asari``) in a temporary folder, moves the Asari results where the
published loader looks for them (``crcns-ac1-asari-results-<k>/asari-results-<k>``), runs the
published ``CRCNSAC1Dataset`` on whole-cell A1 recordings (``dt_ms=5``, its defaults otherwise)
and saves every (stimulus, cell) response, float32, repeats by bins, under the key
``'<experimenter>|<session>|<stimulus description>'``. Modules that the published package
imports for other datasets (pandas, soundfile, ...) are stubbed when missing; the AC1 loader
itself uses only NumPy, SciPy and torch. ``pytest`` is stubbed too, to import the conftest.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _stub(name: str) -> None:
    try:
        __import__(name)
        return
    except ImportError:
        pass

    def attribute(attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return type(attr, (), {})

    module = types.ModuleType(name)
    module.__getattr__ = attribute  # type: ignore[method-assign]
    module.rank_zero_only = lambda fn: fn  # type: ignore[attr-defined]
    module.fixture = lambda *a, **k: a[0] if a and callable(a[0]) else (lambda fn: fn)  # type: ignore[attr-defined]
    sys.modules[name] = module


def _conftest() -> types.ModuleType:
    path = REPO / "tests" / "datasets" / "public" / "conftest.py"
    spec = importlib.util.spec_from_file_location("ac1_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(out: str) -> None:
    warnings.filterwarnings("ignore")
    for name in ("pytest", "pandas", "pytorch_lightning", "pytorch_lightning.utilities", "h5py", "mne", "soundfile"):
        _stub(name)
    conftest = _conftest()
    from deepSTRF.datasets.audio.crcns_ac1 import CRCNSAC1Dataset  # noqa: PLC0415 (after the stubs)

    arrays: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        conftest.build_ac1(root)
        conftest.build_asari(root)
        for k in (1, 2):
            (root / f"crcns-ac1-asari-results-{k}").mkdir()
            shutil.move(str(root / f"asari-results-{k}"), str(root / f"crcns-ac1-asari-results-{k}"))
        for experimenter in ("wehr", "asari"):
            ds = CRCNSAC1Dataset(path=str(root), experimenter=experimenter, sites="A1", dt_ms=5.0)
            for s, row in enumerate(ds.responses):
                for n, resp in enumerate(row):
                    if resp is None or resp.shape[-1] < 2:  # a pair never presented
                        continue
                    key = f"{experimenter}|{ds.nrn_meta[n]['session']}|{ds.stim_meta[s]['description']}"
                    arrays[key] = resp.numpy().astype(np.float32)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    for key, value in arrays.items():
        print(key, value.shape)


if __name__ == "__main__":
    main(sys.argv[1])
