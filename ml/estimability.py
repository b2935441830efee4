"""Estimability: an analysis that cannot be estimated on this data degrades; it never takes the run down.

The publication rule (docs/publication-rule.md) in code. Every estimator call in ``ml/`` goes through
``attempt`` (any result), ``estimate_row`` (a dict row of an estimates table) or ``estimate_rows`` (an
estimator that returns several rows at once). They turn the ways a model legitimately fails on a force's
data into a status and a reason:

- the estimator itself says so, by raising ``NotEstimable("3 treated people, all with zero DA incidents")``
  after checking its preconditions (too few people, no variation, an empty arm);
- the numerics say so: a singular design (``LinAlgError``), perfect separation, an overflow, a fit that
  did not converge, or an estimate that comes out NaN or infinite.

Programming errors (``KeyError``, ``TypeError``, a wrong column name, ...) are *not* caught: a bug must
still fail loudly. A published number that is internally wrong (an interval that does not contain its
estimate) is not this module's business either: a blocking check catches it.

Rows carry two columns, ``status`` (``estimated`` or ``not estimable``) and ``reason``; warning checks and
the reports read them (``not_estimable``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

ESTIMATED = "estimated"
NOT_ESTIMABLE = "not estimable"
STATUS_COLUMNS = ("status", "reason")

T = TypeVar("T")


class NotEstimable(Exception):
    """This data cannot support the analysis; the message says why, in the reader's words."""


def _numerical_failures() -> tuple[type[BaseException], ...]:
    failures: list[type[BaseException]] = [np.linalg.LinAlgError, FloatingPointError, OverflowError]
    try:  # statsmodels' own signals of an unidentified model
        from statsmodels.tools.sm_exceptions import PerfectSeparationError

        failures.append(PerfectSeparationError)
    except ImportError:  # pragma: no cover - older statsmodels
        pass
    try:
        from scipy.linalg import LinAlgError as ScipyLinAlgError

        failures.append(ScipyLinAlgError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(dict.fromkeys(failures))


NUMERICAL_FAILURES = _numerical_failures()


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """The outcome of one estimator call: its value when estimated, else ``None`` and the reason."""

    analysis: str
    value: T | None
    status: str = ESTIMATED
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == ESTIMATED

    def describe(self) -> str:
        return f"{self.analysis}: {self.status}" + (f": {self.reason}" if self.reason else "")


def _failure_reason(error: BaseException) -> str:
    if isinstance(error, NotEstimable):
        return str(error) or "the data cannot support this analysis"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    kind = {
        "LinAlgError": "singular design (the data do not separate the terms)",
        "PerfectSeparationError": "perfect separation (an outcome fully determined by a term)",
        "FloatingPointError": "numerical overflow or invalid operation",
        "OverflowError": "numerical overflow",
    }.get(type(error).__name__, type(error).__name__)
    return f"{kind}: {text}" if text and text.lower() not in kind.lower() else kind


def attempt(analysis: str, estimator: Callable[..., T], /, *args: Any, **kwargs: Any) -> Attempt[T]:
    """Call ``estimator(*args, **kwargs)``; a ``NotEstimable`` or a numerical failure becomes a status.

    ``analysis`` names the figure for the reader (``"DRIVE: rct_itt_negbin, da_incidents"``)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = estimator(*args, **kwargs)
    except (NotEstimable, *NUMERICAL_FAILURES) as error:
        return Attempt(analysis, None, NOT_ESTIMABLE, _failure_reason(error))
    return Attempt(analysis, value)


def _is_finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def estimate_row(
    analysis: str,
    estimator: Callable[..., Mapping[str, Any]],
    /,
    *args: Any,
    required: tuple[str, ...] = ("estimate",),
    **kwargs: Any,
) -> dict[str, Any]:
    """Like ``attempt`` for estimators that return one row (a dict with ``estimate``, ``ci_low``, ...).

    The row always comes back: estimated, with ``status='estimated'``; or with its estimate fields empty
    (NaN), ``status='not estimable'`` and the reason. An estimator may also return its row with a
    ``reason`` of its own (a figure it computed but cannot stand behind, e.g. an interval from too few
    people). A required field that is not finite makes the row not estimable ("estimate not finite on this
    data"), unless the estimator gave its own reason. Fields the estimator set besides the figures (group
    sizes, estimand, note) are kept either way."""
    outcome = attempt(analysis, estimator, *args, **kwargs)
    return _finish_row(dict(outcome.value or {}), outcome.reason, required)


def estimate_rows(
    analysis: str,
    estimator: Callable[..., Mapping[str, Mapping[str, Any]]],
    /,
    *args: Any,
    parts: tuple[str, ...],
    required: tuple[str, ...] = ("estimate",),
    **kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """``estimate_row`` for an estimator that returns several rows at once (``{part: row}``, e.g. the
    matched design's effect and its comparison group's fall). Every part comes back, each with its own
    status; when the estimator itself is not estimable, every part carries its reason."""
    outcome = attempt(analysis, estimator, *args, **kwargs)
    values = outcome.value or {}
    return {part: _finish_row(dict(values.get(part) or {}), outcome.reason, required) for part in parts}


_FIGURES = ("estimate", "ci_low", "ci_high", "p_value", "std_error")


def _finish_row(row: dict[str, Any], reason: str, required: tuple[str, ...]) -> dict[str, Any]:
    reason = reason or str(row.pop("reason", "") or "")
    status = NOT_ESTIMABLE if reason else ESTIMATED
    if status == ESTIMATED:
        missing = [name for name in required if not _is_finite(row.get(name))]
        if missing:
            status, reason = NOT_ESTIMABLE, f"{', '.join(missing)} not finite on this data"
    if status == NOT_ESTIMABLE:
        for name in _FIGURES:
            if name in row or name in required or name != "std_error":
                row[name] = np.nan
    row["status"] = status
    row["reason"] = reason
    return row


def not_estimable(frame: pd.DataFrame, label_columns: tuple[str, ...] = ()) -> list[str]:
    """One line per not-estimable row of an estimates table: ``"<labels>: <reason>"`` (for checks, reports)."""
    if frame is None or frame.empty or "status" not in frame:
        return []
    rows = frame.loc[frame["status"] == NOT_ESTIMABLE]
    labels = [c for c in label_columns if c in rows]
    lines = []
    for record in rows.to_dict("records"):
        label = ", ".join(str(record[c]) for c in labels if str(record[c]) not in ("", "nan", "None"))
        lines.append(
            f"{label}: {record.get('reason') or 'not estimable'}" if label else str(record["reason"])
        )
    return lines


__all__ = [
    "ESTIMATED",
    "NOT_ESTIMABLE",
    "STATUS_COLUMNS",
    "Attempt",
    "NotEstimable",
    "attempt",
    "estimate_row",
    "estimate_rows",
    "not_estimable",
]
