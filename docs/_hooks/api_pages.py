"""MkDocs hook: expand ``<!-- submodules: PACKAGE -->`` into one ``::: module`` block per public submodule.

The API pages of the packages that grow most (datasets, metrics, training) list their
modules this way, so a new public module is documented without editing the page. A
module is public when no part of its dotted name starts with an underscore. Submodules
are listed recursively, in alphabetical order; ``except A B`` leaves the named modules
out (documented elsewhere). A subpackage shows only its docstring: the names it
re-exports are documented once, in the module that defines them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

_MARKER = re.compile(r"^<!-- submodules: ([\w.]+)(?: except ([\w. ]+))? -->$", flags=re.MULTILINE)


def _blocks(match: re.Match[str]) -> str:
    package = importlib.import_module(match.group(1))
    excluded = set((match.group(2) or "").split())
    found = sorted(
        (info.name, info.ispkg)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        if not any(part.startswith("_") for part in info.name.split(".")) and info.name not in excluded
    )
    package_options = "\n    options:\n      members: false"
    return "\n\n".join(f"::: {name}{package_options if is_package else ''}" for name, is_package in found)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Expand the markers of one page."""
    return _MARKER.sub(_blocks, markdown)
