"""Re-checking a downloaded dataset against the structure and counts its loader assumes.

A loader's ``verify(root)`` returns a :class:`VerificationReport`: one :class:`Check` per
documented assumption (field names, sampling rates, trial layout, units) and per expected
count (units, stimuli, repeats, as documented for the real data), each passed or failed
with what was found. ``deepstrf datasets --verify NAME`` prints it, so the first real
download says exactly which assumption did not hold.

Example:
    >>> report = VerificationReport("demo", [Check("units", True, "3 == 3"), Check("sr", False, "found 16000")])
    >>> report.ok, [c.name for c in report.failed]
    (False, ['sr'])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    """One assumption and whether the files met it.

    Example:
        >>> str(Check("units", False, "found 3, expected 4"))
        'FAIL  units: found 3, expected 4'
    """

    name: str
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


@dataclass
class VerificationReport:
    """Every check of one dataset copy.

    Example:
        >>> print(VerificationReport("demo", [Check("units", True, "3")]))
        demo: 1 of 1 checks passed
        ok    units: 3
    """

    dataset: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record a check; return ``ok``."""
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    def attempt(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; record a failed check with its error (and return ``None``) if it raises."""
        try:
            out = fn()
        except (OSError, ValueError, KeyError, TypeError) as err:
            self.check(name, False, f"{type(err).__name__}: {err}")
            return None
        self.check(name, True, "read")
        return out

    def load(self, fn: Callable[[], Any]) -> Any:
        """Build the dataset with ``fn``; record the loader's first error (it names the file and field)
        and each warning it gives, or ``None`` when it fails."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = self.attempt("loader reads every file", fn)
        for w in caught:
            if issubclass(w.category, UserWarning):
                self.check("no loader warning", False, str(w.message))
        return out

    def counts(self, observed: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
        """One check per expected count, comparing it with the observed value."""
        for key, want in expected.items():
            got = observed.get(key)
            self.check(f"count {key}", got == want, f"found {got}, documented {want}")

    def __str__(self) -> str:
        passed = sum(c.ok for c in self.checks)
        lines = [f"{self.dataset}: {passed} of {len(self.checks)} checks passed"]
        return "\n".join(lines + [str(c) for c in self.checks])
