"""Descriptive outcome measures: reoffending rates with right-censoring, six-month harm blocks,
12-month before / during / after rates, and the stage funnel.

Conventions (all windows are half-open ``[start, end)`` in days):
* after an anchor: ``[anchor, anchor + window)``; before it: ``[anchor - window, anchor)``;
* the population rate anchors on each person's index (first) DA incident and counts a *later* DA incident
  within the window after it;
* a person whose window runs past the end (or, looking back, before the start) of the extract is
  *censored*: excluded from the simple rate and counted in ``n_censored``; ``km_rate`` is the
  Kaplan–Meier estimate of 1 − S(window) that keeps everyone, so the two can be compared;
* a six-month block is ``block_days`` long (default 183 = 6 × 30.44); block −1 ends the day before the
  anchor and block +1 starts on it; a person counts in a block only if the block is fully observed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.evaluation.incidents import IncidentIndex
from ml.evaluation.participants import STAGE_LABELS

DEFAULT_WINDOW_DAYS = 365
DAYS_PER_MONTH = 30.4375


def block_days_for(months: int) -> int:
    return int(round(months * DAYS_PER_MONTH))


def km_risk(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """Kaplan–Meier 1 − S(horizon) from follow-up times and event indicators (vectorised)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    if len(time) == 0:
        return float("nan")
    event_times = np.unique(time[event & (time <= horizon)])
    if len(event_times) == 0:
        return 0.0
    sorted_time = np.sort(time)
    at_risk = len(time) - np.searchsorted(sorted_time, event_times, side="left")
    ev_sorted = np.sort(time[event])
    deaths = np.searchsorted(ev_sorted, event_times, side="right") - np.searchsorted(
        ev_sorted, event_times, side="left"
    )
    return float(1.0 - np.prod(1.0 - deaths / at_risk))


def _rate_row(
    population: str,
    anchor: str,
    window: int,
    reoffended: np.ndarray,
    censored: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    **extra,
) -> dict:
    complete = ~censored
    n_people = int(complete.sum())
    n_re = int((reoffended & complete).sum())
    return {
        **extra,
        "population": population,
        "anchor": anchor,
        "window_days": int(window),
        "n_people": n_people,
        "n_reoffended": n_re,
        "n_censored": int(censored.sum()),
        "rate": n_re / n_people if n_people else np.nan,
        "km_rate": km_risk(time, event, window) if len(time) else np.nan,
    }


def reoffending_population(
    index: IncidentIndex,
    window_days: int = DEFAULT_WINDOW_DAYS,
    population: str = "all DA perpetrators",
    **extra,
) -> dict:
    """Share of DA perpetrators with a further DA incident within ``window_days`` of their first one."""
    codes = index.da_offender_codes()
    first, second = index.first_two(codes)
    gap = second - first
    reoffended = ~np.isnan(gap) & (gap < window_days)
    # Strict rule: anyone whose window is incomplete is excluded from the simple rate, reoffended or not,
    # so that early reoffenders are not over-represented among the incomplete windows.
    censored = first + window_days > index.last_day + 1
    follow = np.minimum(window_days, index.last_day + 1 - first)
    time = np.where(reoffended, gap, follow)
    return _rate_row(
        population, "index DA incident", window_days, reoffended, censored, time, reoffended, **extra
    )


def reoffending_around(
    index: IncidentIndex,
    codes,
    anchor_days,
    window_days: int = DEFAULT_WINDOW_DAYS,
    direction: str = "after",
    population: str = "",
    anchor: str = "",
    censor_days=None,
    reporting_lag_days: int = 0,
    **extra,
) -> dict:
    """Share of people with ≥1 DA incident in the window after (or before) their own anchor date.
    ``censor_days`` ends follow-up early (a comparison person joining a programme later). Before the
    anchor: what had been reported by the anchor. After it: incidents reported within
    ``reporting_lag_days`` of the window's close, and the extract's last ``reporting_lag_days`` are not
    yet complete (censored)."""
    codes = np.asarray(codes, dtype=np.int64)
    anchors = np.asarray(anchor_days, dtype=float)
    keep = ~np.isnan(anchors)
    codes, anchors = codes[keep], anchors[keep]
    end = np.full(len(anchors), float(index.last_day + 1 - reporting_lag_days))
    if censor_days is not None:
        censor = np.asarray(censor_days, dtype=float)[keep]
        end = np.where(np.isnan(censor), end, np.minimum(end, censor))
    if direction == "after":
        known = np.minimum(anchors + window_days + reporting_lag_days, index.last_day + 1)
        first = index.first_on_or_after(codes, anchors, known_by=known)
        gap = first - anchors
        reoffended = ~np.isnan(gap) & (gap < window_days) & (first < end)
        censored = anchors + window_days > end
        time = np.where(reoffended, gap, np.clip(np.minimum(window_days, end - anchors), 0, None))
    elif direction == "before":
        last = index.last_before(codes, anchors, known_by=anchors)
        gap = anchors - 1 - last  # days back from the day before the anchor
        reoffended = ~np.isnan(gap) & (gap < window_days)
        censored = anchors - window_days < index.first_day
        time = np.where(reoffended, gap, np.minimum(window_days, anchors - index.first_day))
    else:
        raise ValueError("direction must be 'after' or 'before'")
    time = np.maximum(time, 0.0)
    return _rate_row(population, anchor, window_days, reoffended, censored, time, reoffended, **extra)


@dataclass
class BlockPanel:
    """Per-person values in blocks −k..−1, +1..+k around each person's anchor."""

    codes: np.ndarray
    anchor_days: np.ndarray
    blocks: np.ndarray  # labels, e.g. [-4, -3, -2, -1, 1, 2, 3, 4]
    block_days: int
    values: dict[str, np.ndarray]  # measure → (n_people, n_blocks)
    observed: np.ndarray  # (n_people, n_blocks) bool: block fully inside the extract

    def pre_post(self, measure: str, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sums over blocks −k..−1 and +1..+k, and the number of fully observed blocks in each."""
        pre_cols = (self.blocks < 0) & (self.blocks >= -k)
        post_cols = (self.blocks > 0) & (self.blocks <= k)
        values = np.where(self.observed, self.values[measure], 0.0)
        return (
            values[:, pre_cols].sum(1),
            values[:, post_cols].sum(1),
            self.observed[:, pre_cols].sum(1),
            self.observed[:, post_cols].sum(1),
        )


def block_panel(
    index: IncidentIndex,
    codes,
    anchor_days,
    n_blocks: int = 4,
    block_days: int = 183,
    measures: Sequence[str] | None = None,
    censor_days=None,
    reporting_lag_days: int = 0,
) -> BlockPanel:
    """Per-person sums in blocks around each anchor. ``censor_days`` (optional, per person) ends a person's
    observation early, e.g. a comparison person who joins a programme later. Blocks before the anchor count
    what had been reported by the anchor; blocks after it, what was reported within
    ``reporting_lag_days`` of the block's end (a block counts as observed once that lag has passed)."""
    codes = np.asarray(codes, dtype=np.int64)
    anchors = np.asarray(anchor_days, dtype=float)
    measures = list(measures or index.measures)
    blocks = np.array([b for b in range(-n_blocks, n_blocks + 1) if b != 0])
    starts = np.where(blocks < 0, blocks * block_days, (blocks - 1) * block_days)
    start = anchors[:, None] + starts[None, :]
    end = start + block_days
    observed = (
        (start >= index.first_day) & (end + reporting_lag_days <= index.last_day + 1) & ~np.isnan(start)
    )
    if censor_days is not None:
        censor = np.asarray(censor_days, dtype=float)[:, None]
        observed &= ~(end > censor)  # NaN censor day = never censored
    flat_codes = np.repeat(codes, len(blocks))
    known = np.where(blocks[None, :] < 0, anchors[:, None], end + reporting_lag_days).ravel()
    values = {
        m: index.window_sum(flat_codes, start.ravel(), end.ravel(), m, known).reshape(len(codes), len(blocks))
        for m in measures
    }
    return BlockPanel(codes, anchors, blocks, block_days, values, observed)


@dataclass
class PrePost:
    """Sums and observed days in the window before and after each person's anchor."""

    pre: np.ndarray
    pre_days: np.ndarray
    post: np.ndarray
    post_days: np.ndarray


def pre_post_window(
    index: IncidentIndex,
    codes,
    anchor_days,
    window_days: int,
    measure: str = "da_incidents",
    censor_days=None,
) -> PrePost:
    """``[anchor − window, anchor)`` (clipped at the extract start) and ``[anchor, anchor + window)``
    (clipped at the extract end and at ``censor_days``), with the days actually observed in each."""
    codes = np.asarray(codes, dtype=np.int64)
    anchors = np.asarray(anchor_days, dtype=float)
    pre_start = np.maximum(anchors - window_days, index.first_day)
    post_end = np.minimum(anchors + window_days, index.last_day + 1)
    if censor_days is not None:
        censor = np.asarray(censor_days, dtype=float)
        post_end = np.where(np.isnan(censor), post_end, np.minimum(post_end, censor))
    pre_days = np.clip(anchors - pre_start, 0, None)
    post_days = np.clip(post_end - anchors, 0, None)
    return PrePost(
        index.window_sum(codes, pre_start, anchors, measure),
        pre_days,
        index.window_sum(codes, anchors, post_end, measure),
        post_days,
    )


def summarise_blocks(
    panel: BlockPanel, group: np.ndarray | None = None, weights: np.ndarray | None = None, **labels
) -> pd.DataFrame:
    """Long table: one row per group × block × measure with n_people (fully observed), total and mean per
    person. ``weights`` (e.g. 1/k for k matched comparisons) make totals and means weighted; n_people
    counts distinct rows."""
    n = len(panel.codes)
    group = np.asarray(group if group is not None else np.full(n, "cohort"), dtype=object)
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    rows = []
    for g in pd.unique(group):
        in_group = group == g
        obs = panel.observed[in_group]
        w = weights[in_group][:, None] * obs
        for measure, values in panel.values.items():
            totals = (values[in_group] * w).sum(0)
            n_people = obs.sum(0)
            wsum = w.sum(0)
            for j, block in enumerate(panel.blocks):
                rows.append(
                    {
                        **labels,
                        "group": g,
                        "block": int(block),
                        "measure": measure,
                        "n_people": int(n_people[j]),
                        "total": float(totals[j]),
                        "mean": float(totals[j] / wsum[j]) if wsum[j] > 0 else np.nan,
                    }
                )
    # nobody in the panel (e.g. no matched comparison): no rows, but the table keeps its columns
    return pd.DataFrame(rows, columns=[*labels, "group", "block", "measure", "n_people", "total", "mean"])


def participation_rates(
    index: IncidentIndex,
    codes,
    start_days,
    end_days,
    window_days: int = DEFAULT_WINDOW_DAYS,
    measures: Sequence[str] = (
        "da_incidents",
        "da_crime_incidents",
        "da_non_crime_incidents",
        "harm_css",
        "harm_cchi",
    ),
    **labels,
) -> pd.DataFrame:
    """Rates per person-year in the ``window_days`` before participation, during it (start to exit, or to
    the end of the extract for people still on the programme), and in the ``window_days`` after exit
    (people who exited only). Only observed person-time counts."""
    codes = np.asarray(codes, dtype=np.int64)
    start = np.asarray(start_days, dtype=float)
    end = np.asarray(end_days, dtype=float)
    last = index.last_day + 1
    end_or_last = np.where(np.isnan(end), last, np.minimum(end, last))
    periods = {
        "before": (np.maximum(start - window_days, index.first_day), start, ~np.isnan(start)),
        "during": (start, end_or_last, ~np.isnan(start)),
        "after": (end, np.minimum(end + window_days, last), ~np.isnan(end) & (end < last)),
    }
    rows = []
    for period, (a, b, ok) in periods.items():
        a, b = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
        exposure = np.clip(b - a, 0, None) * ok
        person_years = exposure.sum() / 365.25
        for m in measures:
            total = index.window_sum(codes[ok], a[ok], b[ok], m).sum() if ok.any() else 0.0
            rows.append(
                {
                    **labels,
                    "period": period,
                    "measure": m,
                    "n_people": int((exposure > 0).sum()),
                    "person_years": float(person_years),
                    "total": float(total),
                    "rate_per_person_year": float(total / person_years) if person_years > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows)


def stage_funnel(participants: pd.DataFrame) -> pd.DataFrame:
    """Counts at each stage per programme (and arm where randomised), with exits by reason."""
    rows = []
    keys = ["programme", "arm"]
    frame = participants.assign(arm=participants["arm"].fillna("all"))
    for (programme, arm), rows_p in frame.groupby(keys, sort=True, dropna=False):
        n_selected = int(rows_p["selected_day"].notna().sum())
        referred = int(rows_p["referred_day"].notna().sum())
        for order, column in enumerate(
            (
                "referred_on",
                "selected_on",
                "disruption_started_on",
                "full_engagement_on",
                "completed_on",
                "exited_on",
            )
        ):
            n = referred if column == "referred_on" else int(rows_p[f"{column[:-3]}_day"].notna().sum())
            rows.append(
                {
                    "programme": programme,
                    "arm": arm,
                    "order": order,
                    "stage": STAGE_LABELS[column],
                    "n_people": n,
                    "share_of_selected": n / n_selected if n_selected else np.nan,
                }
            )
        exits = rows_p.loc[rows_p["exited_day"].notna(), "exit_reason"].fillna("not recorded")
        for i, (reason, n) in enumerate(exits.value_counts().sort_index().items()):
            rows.append(
                {
                    "programme": programme,
                    "arm": arm,
                    "order": 10 + i,
                    "stage": f"exit: {reason}",
                    "n_people": int(n),
                    "share_of_selected": n / n_selected if n_selected else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=["programme", "arm", "order", "stage", "n_people", "share_of_selected"])
