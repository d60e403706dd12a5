"""Checks of a loaded public dataset against the counts its documentation gives (``verify()``).

A real download is checked once against the documented figures (units, sites, stimuli,
repeats, bands); each figure is one :class:`Check`, so a report names exactly which
assumption failed. Fixture tests pass their own expected figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    """One documented figure compared with what the files hold.

    Args:
        name: What is counted (e.g. ``"units"``).
        expected: The documented value (or a ``(low, high)`` range, both inclusive).
        found: The value read from the files.

    Example:
        >>> Check("units", (4, 10), 7).ok, Check("bands", 18, 2).ok
        (True, False)
    """

    name: str
    expected: Any
    found: Any

    @property
    def ok(self) -> bool:
        """Whether ``found`` equals ``expected`` (or lies in the ``(low, high)`` range)."""
        if isinstance(self.expected, tuple) and len(self.expected) == 2 and not isinstance(self.found, tuple):
            low, high = self.expected
            return self.found is not None and low <= self.found <= high
        return bool(self.found == self.expected)


@dataclass
class VerificationReport:
    """Every check of one dataset; ``ok`` only when all of them pass.

    Example:
        >>> report = VerificationReport("demo", [Check("units", 3, 3), Check("sites", 2, 1)])
        >>> report.ok, [c.name for c in report.failures]
        (False, ['sites'])
        >>> print(report)
        demo: 1 of 2 checks failed
          ok    units: expected 3, found 3
          FAIL  sites: expected 2, found 1
    """

    dataset: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    def __str__(self) -> str:
        head = f"{self.dataset}: " + (
            f"all {len(self.checks)} checks passed"
            if self.ok
            else f"{len(self.failures)} of {len(self.checks)} checks failed"
        )
        lines = [
            f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: expected {c.expected}, found {c.found}" for c in self.checks
        ]
        return "\n".join([head, *lines])

    def raise_if_failed(self) -> None:
        """Raise ``ValueError`` listing the failed checks, if any.

        Raises:
            ValueError: If a check failed.

        Example:
            >>> VerificationReport("demo", [Check("units", 3, 3)]).raise_if_failed()
        """
        if not self.ok:
            raise ValueError(str(self))


def build_report(dataset: str, found: Mapping[str, Any], expected: Mapping[str, Any]) -> VerificationReport:
    """Compare the figures in ``found`` with ``expected`` (only the names ``expected`` lists).

    Example:
        >>> build_report("demo", {"units": 3, "sites": 1}, {"units": 3}).ok
        True
    """
    return VerificationReport(dataset, [Check(k, v, found.get(k)) for k, v in expected.items()])
