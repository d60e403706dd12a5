"""Count checks for the wave-2b ``verify()`` methods, on :class:`~deepSTRF.datasets.verify.VerificationReport`.

A documented figure is either a value (checked for equality) or a ``(low, high)`` range
(both inclusive), for figures the documentation gives as a range (repeats, durations).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepSTRF.datasets.verify import VerificationReport


def add_counts(
    report: VerificationReport, observed: Mapping[str, Any], expected: Mapping[str, Any], prefix: str = ""
) -> None:
    """One ``count <prefix><name>`` check per expected figure.

    Example:
        >>> report = VerificationReport("demo")
        >>> add_counts(report, {"units": 3, "repeats": 7}, {"units": 4, "repeats": (5, 30)})
        >>> print(report)
        demo: 1 of 2 checks passed
        FAIL  count units: found 3, documented 4
        ok    count repeats: found 7, documented 5 to 30
    """
    for key, want in expected.items():
        got = observed.get(key)
        if isinstance(want, tuple) and len(want) == 2 and not isinstance(got, tuple):
            ok = got is not None and want[0] <= got <= want[1]
            report.check(f"count {prefix}{key}", ok, f"found {got}, documented {want[0]} to {want[1]}")
        else:
            report.check(f"count {prefix}{key}", got == want, f"found {got}, documented {want}")
