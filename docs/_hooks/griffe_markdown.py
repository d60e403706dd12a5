"""Griffe extension: adapt the reStructuredText habits of the docstrings to Markdown.

- ``Example:`` section headings become Google ``Examples:`` (the parser only knows the
  plural; a singular heading would render the ``>>>`` doctest lines as Markdown quotes);
- ``:math:`x``` becomes inline maths ``\\(x\\)`` and a ``.. math::`` directive with its
  indented block becomes display maths ``\\[ ... \\]``, both rendered by MathJax through
  ``pymdownx.arithmatex``;
- a paragraph ending in ``::`` (the reStructuredText literal-block marker) ends in ``:``;
  the indented block after it is already a Markdown code block;
- ``#:`` comments right above a module or class attribute (the Sphinx convention) become
  that attribute's docstring.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", flags=re.MULTILINE)
_INLINE_MATH = re.compile(r":math:`([^`]+)`")
_DIRECTIVE = re.compile(r"^(\s*)\.\. math::[ \t]*(.*)$")
_LITERAL_MARKER = re.compile(r"(?<=\S)::[ \t]*$", flags=re.MULTILINE)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _display_maths(text: str) -> str:
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        prefix, first = match.groups()
        body = [first] if first.strip() else []
        i += 1
        while i < len(lines):
            if lines[i].strip():
                if _indent(lines[i]) <= len(prefix):
                    break
                body.append(lines[i])
                i += 1
                continue
            following = next((line for line in lines[i:] if line.strip()), "")
            if not following or _indent(following) <= len(prefix):
                break
            body.append("")
            i += 1
        content = textwrap.dedent("\n".join(body)).strip("\n")
        out += ["", f"{prefix}\\[", *(f"{prefix}{line}" for line in content.split("\n")), f"{prefix}\\]", ""]
    return "\n".join(out)


def _comment_docstring(attr: griffe.Attribute) -> griffe.Docstring | None:
    """The ``#:`` comment lines right above an attribute's assignment, as a docstring."""
    if attr.lineno is None or attr.parent is None:
        return None
    lines = attr.parent.module.lines
    found: list[str] = []
    row = attr.lineno - 2
    while row >= 0 and lines[row].lstrip().startswith("#:"):
        found.insert(0, lines[row].lstrip()[2:].strip())
        row -= 1
    return griffe.Docstring("\n".join(found), lineno=row + 2, parent=attr) if found else None


class DocstringMarkdown(griffe.Extension):
    """Rewrite each docstring as its object is loaded (see the module documentation)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of one object."""
        if obj.docstring is None and isinstance(obj, griffe.Attribute):
            obj.docstring = _comment_docstring(obj)
        if obj.docstring is None:
            return
        text = _HEADING.sub(r"\1Examples:", obj.docstring.value)
        text = _INLINE_MATH.sub(lambda m: f"\\({m.group(1)}\\)", text)
        obj.docstring.value = _LITERAL_MARKER.sub(":", _display_maths(text))
