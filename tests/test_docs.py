"""The documentation site: strict build, API coverage of every public name, runnable code blocks."""

import html
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import deepSTRF

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.integration

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")


def _mkdocs_build(config: Path, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(config),
        "--site-dir",
        str(site),
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site_dir = tmp_path_factory.mktemp("site")
    build = _mkdocs_build(ROOT / "mkdocs.yml", site_dir, ROOT)
    assert build.returncode == 0, f"`mkdocs build --strict` failed:\n{build.stdout}\n{build.stderr}"
    return site_dir


def _page_text(site_dir: Path, page: str) -> str:
    raw = (site_dir / page / "index.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def _public_modules() -> list[str]:
    names = ["deepSTRF", *(m.name for m in pkgutil.walk_packages(deepSTRF.__path__, "deepSTRF."))]
    return [name for name in names if not any(part.startswith("_") for part in name.split("."))]


def _public_names(module) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    ]


def _resolve(identifier: str):
    """The object an anchor such as ``deepSTRF.models.audio.Linear.forward`` names, or None."""
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


def test_strict_build_succeeds(site):
    assert (site / "index.html").is_file()
    assert (site / "api" / "models" / "index.html").is_file()


def test_every_public_name_is_in_the_api_reference(site):
    anchors = set()
    for page in site.rglob("*.html"):
        anchors.update(re.findall(r'id="(deepSTRF(?:\.[\w]+)+)"', page.read_text(encoding="utf-8")))
    documented = {}
    for anchor in anchors:
        documented.setdefault(anchor.rsplit(".", 1)[1], []).append(anchor)
    missing = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            target = getattr(module, name)
            candidates = documented.get(name, [])
            if f"{module_name}.{name}" in candidates or any(_resolve(a) is target for a in candidates):
                continue
            missing.append(f"{module_name}.{name}")
    assert not missing, f"public names absent from the API reference ({len(missing)}): {missing}"


def test_benchmarks_page_shows_the_benchmarks_readme(site):
    text = " ".join(_page_text(site, "benchmarks").split())
    readme = ROOT / "benchmarks" / "README.md"
    if readme.is_file():
        lines = [ln for ln in readme.read_text(encoding="utf-8").splitlines() if ln.strip() and "|" in ln]
        sample = lines[2] if len(lines) > 2 else readme.read_text(encoding="utf-8").strip().splitlines()[-1]
        words = [w for w in re.split(r"[|`*#]", sample) if w.strip()]
        assert all(" ".join(w.split()) in text for w in words), sample
    else:
        assert "No benchmark results yet" in text


def test_every_public_dataset_is_listed_with_its_citation(site):
    from deepSTRF.datasets.catalog import list_datasets

    text = " ".join(_page_text(site, "datasets").split())
    for info in list_datasets():
        assert info.name in text
        first_author = info.citations[0].split()[0].rstrip(",")
        assert first_author in text, (info.name, first_author)


def test_sphinx_roles_and_maths_are_rendered(site):
    page = (site / "api" / "metrics" / "index.html").read_text(encoding="utf-8")
    assert ":class:" not in page and ":func:" not in page and ".. math::" not in page
    assert 'class="arithmatex"' in page
    assert re.search(r'<a class="autorefs autorefs-internal"[^>]*href="#deepSTRF\.metrics\.[\w.]*fve"', page)


def test_a_broken_docstring_fails_the_build(tmp_path):
    """The strict configuration turns a docstring problem into a build failure."""
    package = tmp_path / "src" / "canary"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            '''
            def f(x: int) -> int:
                """Do nothing.

                Args:
                    y: Not a parameter of f.
                """
                return x
            '''
        )
    )
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config[: config.index("\nnav:")].replace("- docs/_hooks/", f"- {DOCS}/_hooks/")
    config = re.sub(r"!relative \$config_dir(\S*)", lambda m: str(ROOT) + m.group(1), config)
    (tmp_path / "mkdocs.yml").write_text(config)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Canary\n\n::: canary\n")
    build = _mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site", tmp_path)
    assert build.returncode != 0
    assert "does not appear in the function signature" in build.stdout + build.stderr


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.S | re.M)


PAGES_WITH_CODE = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if _python_blocks(p))


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_code_blocks_of_a_page_run(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(_python_blocks(DOCS / page)):
        try:
            exec(compile(block, f"{page} (block {i + 1})", "exec"), namespace)
        except Exception as err:
            raise AssertionError(f"code block {i + 1} of docs/{page} failed:\n{block}") from err
