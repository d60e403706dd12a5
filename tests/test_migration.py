"""docs/migration.md lists every public name of deepSTRF 0.1.0, and every equivalent it names exists."""

import importlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
PUBLISHED = json.loads((ROOT / "tests" / "data" / "published_names.json").read_text())
ROWS = re.findall(r"^\| `(deepSTRF\.[\w.]+)` \| (`[\w.]+`|—) \| (.*) \|$", PAGE, flags=re.M)


def _resolve(path: str) -> object:
    module, _, name = path.rpartition(".")
    while module:
        try:
            return getattr(importlib.import_module(module), name)
        except ModuleNotFoundError:
            module, _, parent = module.rpartition(".")
            name = f"{parent}.{name}"
        except AttributeError:
            break
    obj = importlib.import_module(path.split(".")[0])
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def test_every_published_name_is_listed_once():
    names = [f"{module}.{name}" for module, names in PUBLISHED.items() for name in names]
    listed = [row[0] for row in ROWS]
    assert sorted(listed) == sorted(names)
    assert f"({len(names)} names)" in PAGE and len(names) == 190


def test_every_equivalent_exists_and_every_gone_name_says_why():
    for published, here, note in ROWS:
        if here == "—":
            assert note.strip(), f"{published} is gone without a reason"
        else:
            assert _resolve(here.strip("`")) is not None, here
