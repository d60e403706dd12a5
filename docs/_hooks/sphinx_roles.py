"""MkDocs hook: render the Sphinx roles used in docstrings (``:class:`Name```) as linked code.

Docstrings cross-reference with Sphinx roles, which Markdown leaves as ``:class:<code>Name</code>``.
This hook replaces each with an optional mkdocs-autorefs reference to the object's
canonical path (``module.QualName``): a link when the object is documented, plain code
otherwise. Short names are looked up among the package's classes and functions; a
``~`` prefix shows only the last component, as in Sphinx.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|obj|exc|const):<code>(~?)([\w.]+)(\(\))?</code>")
_INDEX: dict[str, set[str]] = {}


def _build_index() -> None:
    package = importlib.import_module("deepSTRF")
    names = ["deepSTRF", *(m.name for m in pkgutil.walk_packages(package.__path__, "deepSTRF."))]
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        _INDEX.setdefault(name.rsplit(".", 1)[-1], set()).add(name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if getattr(value, "__module__", "").startswith("deepSTRF"):
                _INDEX.setdefault(attr, set()).add(f"{value.__module__}.{value.__qualname__}")


def _target(path: str) -> str | None:
    if path.startswith("deepSTRF"):
        return path
    head, _, rest = path.partition(".")
    found = _INDEX.get(head, set())
    if len(found) != 1:
        return None
    (full,) = found
    return f"{full}.{rest}" if rest else full


def _replace(match: re.Match[str]) -> str:
    tilde, path, call = match.groups()
    shown = (path.rsplit(".", 1)[-1] if tilde else path) + (call or "")
    target = _target(path)
    code = f"<code>{shown}</code>"
    return code if target is None else f'<autoref identifier="{target}" optional>{code}</autoref>'


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite the roles in a rendered page."""
    if not _INDEX:
        _build_index()
    return _ROLE.sub(_replace, html)
