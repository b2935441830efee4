"""Design matrices of Section C: who enters, which terms, which controls.

* the population: DA perpetrators (``n_da_incidents > 0``) with a known total DA severity
  (:func:`da_perpetrators`); people who appear only on non-DA crimes have no DA harm to explain;
* offender × indicator matrices from the **non-DA** offences (one indicator per broad ``offence_type`` —
  Figure 12's view — or per specific ``offence_code`` — Figure 13's view), sparse;
* controls by name (:func:`resolve_controls`), among them the non-linear non-DA volume control of the
  adjusted sensitivity model (a step function of the number of non-DA incidents) and the exposure term of
  the time-ordered model (a step function of the years observed after the first DA incident).

Never use sex or ethnicity as covariates: :func:`resolve_controls` refuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.regression.constants import OUTCOME

# Step functions: each bin starts at its edge and runs to the next; values below the first edge are the
# reference level. A bin held by fewer than ``MIN_BIN_OFFENDERS`` offenders is merged into the bin below
# it (it is a control: a level resting on one or two people would only add a leverage-one row).
NON_DA_VOLUME_EDGES = (1, 2, 3, 5, 10, 20, 50)  # non-DA incidents; reference: none (DA-only offenders)
# Years observed from the first DA report; reference: under a year. Yearly steps over a 10-year window.
EXPOSURE_EDGES_YEARS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
MIN_BIN_OFFENDERS = 5

NON_DA_VOLUME = "non_da_volume_steps"  # the adjusted model's default control
DERIVED_CONTROLS = (
    NON_DA_VOLUME,
    "has_non_da_history",
    "log1p_n_non_da_incidents",
    "has_high_non_da_volume",
)
DEFAULT_CONTROLS = (NON_DA_VOLUME,)
_FORBIDDEN_COVARIATE_WORDS = ("sex", "ethnic", "gender", "race")


# --- Population -----------------------------------------------------------------------------------------
def outcome(offenders: pd.DataFrame) -> np.ndarray:
    """Total DA severity as floats (NaN where unknown)."""
    return pd.to_numeric(offenders[OUTCOME], errors="coerce").to_numpy(dtype=float)


def da_perpetrators(offenders: pd.DataFrame) -> pd.DataFrame:
    """The population of every Section C model: offenders with at least one DA incident and a known total
    DA severity. People recorded only on non-DA crimes (total DA severity 0 by construction) are out."""
    if "n_da_incidents" not in offenders.columns:
        raise KeyError(
            "dim_offenders has no column 'n_da_incidents': Section C needs it to restrict the population to "
            "DA perpetrators"
        )
    n_da = pd.to_numeric(offenders["n_da_incidents"], errors="coerce").fillna(0).to_numpy()
    keep = (n_da > 0) & np.isfinite(outcome(offenders))
    return offenders.loc[keep]


def population_counts(offenders: pd.DataFrame) -> dict[str, int]:
    """How many offenders the marts hold and how many enter Section C (for the model-fit table)."""
    n_da = pd.to_numeric(offenders["n_da_incidents"], errors="coerce").fillna(0).to_numpy()
    y = outcome(offenders)
    return {
        "n_offenders_in_marts": len(offenders),
        "n_without_da_incident": int((n_da <= 0).sum()),
        "n_da_without_outcome": int(((n_da > 0) & ~np.isfinite(y)).sum()),
        "n_da_perpetrators": int(((n_da > 0) & np.isfinite(y)).sum()),
    }


# --- Indicators -----------------------------------------------------------------------------------------
@dataclass
class IndicatorDesign:
    """A sparse 0/1 offender × term matrix (rows in ``offender_ids`` order)."""

    offender_ids: np.ndarray
    matrix: sp.csr_matrix
    terms: list[str]
    n_with_term: np.ndarray
    labels: dict[str, str] = field(default_factory=dict)

    def keep(self, mask: np.ndarray) -> IndicatorDesign:
        idx = np.flatnonzero(mask)
        return IndicatorDesign(
            self.offender_ids,
            self.matrix[:, idx].tocsr(),
            [self.terms[i] for i in idx],
            self.n_with_term[idx],
            {t: self.labels[t] for t in (self.terms[i] for i in idx) if t in self.labels},
        )


def non_da_offences(offences: pd.DataFrame) -> pd.DataFrame:
    """The offences of non-DA incidents (non-crime records included, as Figure 13 lists licence recalls)."""
    is_da = offences["is_da"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return offences.loc[~is_da]


def indicator_design(
    offender_ids: Sequence | np.ndarray,
    offences: pd.DataFrame,
    term_column: str,
    label_column: str | None = None,
    min_offenders: int = 1,
) -> IndicatorDesign:
    """One indicator per value of ``term_column``: 1 if the offender has at least one such offence.

    ``offences`` should already be restricted to the rows that count (e.g. :func:`non_da_offences`, or the
    offences before the first DA incident). Offences of people not in ``offender_ids`` are ignored. Terms
    held by fewer than ``min_offenders`` of these offenders are left out (and can never be all-zero).
    """
    offender_ids = np.asarray(offender_ids)
    index = pd.Index(offender_ids)
    pairs = offences[["offender_id", term_column]].dropna().drop_duplicates()
    rows = index.get_indexer(pairs["offender_id"])
    pairs = pairs.loc[rows >= 0]
    rows = rows[rows >= 0]
    codes, uniques = pd.factorize(pairs[term_column].astype(str), sort=True)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, codes)), shape=(len(index), len(uniques))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    n_with = np.asarray((matrix > 0).sum(axis=0)).ravel()
    labels: dict[str, str] = {}
    if label_column is not None and label_column in offences.columns:
        first = (
            offences[[term_column, label_column]]
            .dropna()
            .astype(str)
            .drop_duplicates(subset=[term_column])
            .set_index(term_column)[label_column]
        )
        labels = first.to_dict()
    design = IndicatorDesign(offender_ids, matrix, [str(u) for u in uniques], n_with, labels)
    return design.keep(n_with >= max(1, int(min_offenders)))


# --- Step functions (the non-linear controls) -----------------------------------------------------------
def _edge_label(low: float, high: float | None, unit: str) -> str:
    def fmt(value: float) -> str:
        return f"{value:g}"

    if high is None:
        return f"{fmt(low)}+ {unit}".strip()
    if unit == "incidents" and high - low == 1:
        return f"{fmt(low)} {unit[:-1] if low == 1 else unit}"
    if unit == "incidents":
        return f"{fmt(low)}-{fmt(high - 1)} {unit}"
    return f"{fmt(low)}-{fmt(high)} {unit}"


def step_function(
    values: pd.Series | np.ndarray,
    edges: Sequence[float],
    name: str,
    unit: str,
    min_count: int = MIN_BIN_OFFENDERS,
) -> pd.DataFrame:
    """0/1 columns, one per bin ``[edge_k, edge_k+1)`` (the last open-ended); values below ``edges[0]`` are the
    reference level and get no column. Bins with fewer than ``min_count`` members (empty ones included) are
    merged into the bin below (the lowest into the one above), which then covers both ranges, so every
    column holds ``min_count`` or more members where the data allow. Column names read
    ``name[<range> <unit>]``; ranges of incidents are inclusive (``3-4``), of years ``[low, high)``.

    >>> step_function(pd.Series([0, 1, 1, 4, 12]), (1, 3, 10), "x", "incidents", min_count=1).columns.tolist()
    ['x[1-2 incidents]', 'x[3-9 incidents]', 'x[10+ incidents]']
    """
    values = pd.Series(np.asarray(values, dtype=float))
    edges = [float(e) for e in edges]
    counts = [int(((values >= lo) & (values < hi)).sum()) for lo, hi in zip(edges, edges[1:], strict=False)]
    counts.append(int((values >= edges[-1]).sum()))
    bins = [
        [lo, edges[k + 1] if k + 1 < len(edges) else None, n]
        for k, (lo, n) in enumerate(zip(edges, counts, strict=True))
    ]
    merged = True
    while merged and len(bins) > 1:
        merged = False
        for k in range(len(bins) - 1, -1, -1):
            if bins[k][2] >= min_count:
                continue
            if k > 0:  # into the bin below: it now runs to this bin's upper edge
                bins[k - 1][1], bins[k - 1][2] = bins[k][1], bins[k - 1][2] + bins[k][2]
            else:  # the lowest bin into the one above: that one now starts at the lowest edge
                bins[1][0], bins[1][2] = bins[0][0], bins[1][2] + bins[0][2]
            del bins[k]
            merged = True
            break
    columns = {}
    for low, high, n in bins:
        if n == 0:
            continue
        member = (values >= low) & ((values < high) if high is not None else True)
        columns[f"{name}[{_edge_label(low, high, unit)}]"] = member.astype(float).to_numpy()
    return pd.DataFrame(columns, index=range(len(values)))


def non_da_volume_steps(n_non_da_incidents: pd.Series | np.ndarray, prefix: str = "non_da_incidents"):
    """The adjusted model's volume control: a step function of the number of non-DA incidents (reference:
    none). It nests "any non-DA history" and lets volume act non-linearly."""
    return step_function(
        pd.Series(np.asarray(n_non_da_incidents, dtype=float)).fillna(0),
        NON_DA_VOLUME_EDGES,
        prefix,
        "incidents",
    )


def exposure_steps(years_observed: pd.Series | np.ndarray, prefix: str = "years_observed_from_first_da"):
    """The time-ordered model's exposure term: a step function of the years observed from the first DA
    report to the end of the extract (reference: under a year). DA harm accrues with time observed; the
    steps let it accrue non-linearly. The look-back before the first DA report is the window's length minus
    this, so the same steps also absorb how long prior non-DA offending could be recorded."""
    return step_function(
        pd.Series(np.asarray(years_observed, dtype=float)), EXPOSURE_EDGES_YEARS, prefix, "years"
    )


def resolve_controls(offenders: pd.DataFrame, controls: Sequence[str]) -> pd.DataFrame:
    """Numeric control columns for the indicator models, by name.

    Derived names: ``non_da_volume_steps`` (several 0/1 columns, :func:`non_da_volume_steps`),
    ``has_non_da_history`` (n_non_da_incidents > 0), ``log1p_n_non_da_incidents``, ``has_high_non_da_volume``
    (non_da_volume_band == 'high'); any other name must be a numeric (or boolean) column of
    ``dim_offenders``. Sex, gender, ethnicity and race are refused.
    """
    out: dict[str, np.ndarray | pd.Series] = {}
    for name in controls:
        if any(word in name.lower() for word in _FORBIDDEN_COVARIATE_WORDS):
            raise ValueError(f"{name!r}: sex and ethnicity are never model covariates")
        n_non_da = pd.to_numeric(offenders.get("n_non_da_incidents"), errors="coerce")
        if name == NON_DA_VOLUME:
            steps = non_da_volume_steps(n_non_da.fillna(0).to_numpy())
            for column in steps.columns:
                out[column] = steps[column].to_numpy()
        elif name == "has_non_da_history":
            out[name] = (n_non_da.fillna(0) > 0).astype(float)
        elif name == "log1p_n_non_da_incidents":
            out[name] = np.log1p(n_non_da.fillna(0).astype(float))
        elif name == "has_high_non_da_volume":
            out[name] = (offenders["non_da_volume_band"].astype(str) == "high").astype(float)
        elif name in offenders.columns:
            column = offenders[name]
            if column.dtype == bool or str(column.dtype) == "boolean":
                column = column.astype("boolean").fillna(False).astype(float)
            out[name] = pd.to_numeric(column, errors="raise").astype(float)
        else:
            raise KeyError(f"unknown control {name!r}: not derived and not a column of dim_offenders")
    return pd.DataFrame(
        {k: np.asarray(v, dtype=float) for k, v in out.items()}, index=offenders.index, columns=list(out)
    )
