"""RFG (recency, frequency, gravity) scoring, MATAC's RFGV, the "power few" list and concentration figures.

No canonical published RFG formula exists (forces set their own weighted matrices), so every part is
configuration with documented defaults:

* eligible: at least one DA incident in the lookback before the as-of date (default 730 days = 24 months,
  the MATAC/IOM convention of "recent" serial offending), **reported before the as-of date**: the score is
  what the panel could have seen that day (knowledge time; an incident reported later never changes a
  past snapshot, so a snapshot can be reproduced from any later extract);
* recency score 5..1 by days since the last DA incident: ≤90, ≤180, ≤365, ≤545, else 1;
* frequency score 1..5 by DA incidents in the lookback: 1, 2, 3–4, 5–7, ≥8;
* gravity score 1..5 by the harm of those incidents (ONS CSS by default, CCHI or a bespoke column). By
  default the bands are quintiles of the eligible pool *by mid-rank*: each distinct harm value gets the
  percentile (share of the pool below it + half the share equal to it), and the bands cut those
  percentiles at 0.2, 0.4, 0.6, 0.8, so people with the same harm always share a band and a pool with many
  equal values (e.g. 40% with zero harm) does not push them into a middle band; zero harm always scores 1.
  Fixed thresholds can be given instead (``gravity_band_values``: harm ≥ threshold k → score k + 1). The
  thresholds used (as lower bounds of bands 2..5) are stored with each snapshot;
* RFG score = weighted sum (default weights 1, 1, 1); rank 1 = highest score, ties broken by gravity,
  then frequency, then recency, then offender id (deterministic);
* RFGV (``ranking="rfgv"``, MATAC): a fourth term for the number of distinct DA victims in the last
  ``victim_lookback_days`` (default three years): 1..5 for 1, 2, 3, 4, ≥5 victims (weight 1 by default).
  A *serial* perpetrator (Northumbria MATAC) has two or more victims in those three years; the snapshot
  shows ``n_victims_lookback`` and ``is_serial`` either way when victim identifiers are available.

The ranking used (``RFG`` or ``RFGV``) and the configuration fingerprint are written into every snapshot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ml.evaluation.incidents import IncidentIndex, VictimIndex, from_days, to_days

HARM_MEASURES = {"css": "harm_css", "ons_css": "harm_css", "cchi": "harm_cchi", "bespoke": "harm_gravity"}
RANKINGS = ("rfg", "rfgv")


@dataclass(frozen=True)
class RFGConfig:
    lookback_days: int = 730
    recency_band_days: tuple[int, ...] = (90, 180, 365, 545)
    frequency_band_counts: tuple[int, ...] = (2, 3, 5, 8)
    gravity_measure: str = "harm_css"
    gravity_band_values: tuple[float, ...] | None = None  # None → mid-rank quintiles of the pool
    gravity_quantiles: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)  # recency, frequency, gravity
    ranking: str = "rfg"  # 'rfg' or 'rfgv' (adds the number of victims, MATAC)
    victim_lookback_days: int = 1095  # three years (MATAC's serial-perpetrator window)
    victim_band_counts: tuple[int, ...] = (2, 3, 4, 5)
    victim_weight: float = 1.0

    def __post_init__(self):
        if self.ranking not in RANKINGS:
            raise ValueError(f"RFG ranking must be one of {RANKINGS}, got {self.ranking!r}")

    def measure(self) -> str:
        return HARM_MEASURES.get(self.gravity_measure, self.gravity_measure)

    def fingerprint(self) -> str:
        """A short hash of the configuration, stored with every snapshot."""
        payload = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class RFGComponents:
    """RFG inputs and scores for a set of (person, as-of day) pairs; arrays aligned with ``codes``."""

    codes: np.ndarray
    as_of_days: np.ndarray
    days_since_last_da: np.ndarray
    n_da_lookback: np.ndarray
    harm_lookback: np.ndarray
    recency_score: np.ndarray
    frequency_score: np.ndarray
    gravity_score: np.ndarray
    rfg_score: np.ndarray
    gravity_thresholds: dict[int, list[float]] = field(default_factory=dict)
    n_victims: np.ndarray | None = None
    victim_score: np.ndarray | None = None
    ranking: str = "RFG"


def recency_scores(days_since: np.ndarray, bands: Sequence[int]) -> np.ndarray:
    bands = np.asarray(bands, dtype=float)
    score = (len(bands) + 1) - np.searchsorted(bands, days_since, side="left")
    return np.where(np.isnan(days_since), 0, score).astype(np.int64)


def frequency_scores(counts: np.ndarray, bands: Sequence[int]) -> np.ndarray:
    score = 1 + np.searchsorted(np.asarray(bands, dtype=float), counts, side="right")
    return np.where(counts > 0, score, 0).astype(np.int64)


def gravity_thresholds_for(harm: np.ndarray, config: RFGConfig) -> list[float]:
    """Lower bounds of gravity bands 2..5 (harm ≥ bound k → score ≥ k + 2).

    Fixed values when configured; otherwise mid-rank quintiles of ``harm`` (the pool at one as-of date):
    tied harm values share a band, and zero harm is always band 1. A band nobody reaches gets a bound above
    the pool's largest harm."""
    if config.gravity_band_values is not None:
        return [float(v) for v in config.gravity_band_values]
    harm = np.asarray(harm, dtype=float)
    harm = harm[np.isfinite(harm)]
    n_bands = len(config.gravity_quantiles)
    if harm.size == 0:
        return [0.0] * n_bands
    values, counts = np.unique(harm, return_counts=True)
    below = np.cumsum(counts) - counts
    mid_rank = (below + 0.5 * counts) / harm.size
    band = 1 + np.searchsorted(np.asarray(config.gravity_quantiles, float), mid_rank, side="left")
    band[values <= 0] = 1
    ceiling = float(values.max()) + 1.0
    bounds = []
    for k in range(2, n_bands + 2):
        reached = values[band >= k]
        bounds.append(float(reached.min()) if reached.size else ceiling)
    return bounds


def components_at(
    index: IncidentIndex,
    codes,
    as_of_days,
    config: RFGConfig,
    thresholds_by_day: dict[int, list[float]] | None = None,
    victims: VictimIndex | None = None,
) -> RFGComponents:
    """RFG components for arbitrary (person, as-of day) pairs, from what was reported before each as-of
    day. Gravity bands come from ``thresholds_by_day`` (per as-of day) or, when absent, from the pool of
    the pairs at the same day."""
    codes = np.asarray(codes, dtype=np.int64)
    as_of = np.asarray(as_of_days, dtype=np.float64)
    start = as_of - config.lookback_days
    last = index.last_before(codes, as_of, known_by=as_of)
    since = as_of - last
    since[since > config.lookback_days] = np.nan
    counts = index.window_sum(codes, start, as_of, "da_incidents", known_by=as_of)
    harm = index.window_sum(codes, start, as_of, config.measure(), known_by=as_of)
    recency = recency_scores(since, config.recency_band_days)
    frequency = frequency_scores(counts, config.frequency_band_counts)
    gravity = np.zeros(len(codes), dtype=np.int64)
    thresholds = dict(thresholds_by_day or {})
    for day in np.unique(as_of):
        at = (as_of == day) & (counts > 0)
        key = int(day)
        if key not in thresholds:
            thresholds[key] = gravity_thresholds_for(harm[at], config)
        gravity[at] = 1 + np.searchsorted(np.asarray(thresholds[key]), harm[at], side="right")
    w_r, w_f, w_g = config.weights
    score = w_r * recency + w_f * frequency + w_g * gravity
    n_victims = victim_score = None
    ranking = "RFG"
    if victims is not None:
        n_victims = victims.distinct(codes, as_of - config.victim_lookback_days, as_of, known_by=as_of)
        victim_score = frequency_scores(n_victims, config.victim_band_counts)
        if config.ranking == "rfgv":
            score = score + config.victim_weight * victim_score
            ranking = "RFGV"
    elif config.ranking == "rfgv":
        ranking = "RFG (RFGV requested, but the extract has no victim identifiers)"
    return RFGComponents(
        codes,
        as_of,
        since,
        counts,
        harm,
        recency,
        frequency,
        gravity,
        score,
        thresholds,
        n_victims,
        victim_score,
        ranking,
    )


def score_rfg(
    index: IncidentIndex,
    as_of_dates,
    config: RFGConfig | None = None,
    victims: VictimIndex | None = None,
) -> pd.DataFrame:
    """Score every eligible DA perpetrator at each as-of date: one row per (as-of date, offender), ranked.
    Eligible = a DA incident committed in the lookback and reported before the as-of date.

    Columns: as_of_date, offender_id, days_since_last_da, n_da_incidents_lookback, gravity_lookback,
    recency_score, frequency_score, gravity_score, (n_victims_lookback, is_serial, victim_score), rfg_score,
    rfg_rank, ranking, gravity_measure, lookback_days, gravity_thresholds (JSON), config_fingerprint.
    """
    config = config or RFGConfig()
    frames = []
    for day in sorted({int(d) for d in to_days(list(as_of_dates)) if not np.isnan(d)}):
        pool = index.active_between(day - config.lookback_days, day, known_by=day)
        comp = components_at(index, pool, np.full(len(pool), float(day)), config, victims=victims)
        frames.append(_snapshot_frame(index, comp, config, day))
    if not frames:
        empty = components_at(index, np.array([], np.int64), np.array([]), config, victims=victims)
        return _snapshot_frame(index, empty, config, 0)
    return pd.concat(frames, ignore_index=True)


def _snapshot_frame(index: IncidentIndex, comp: RFGComponents, config: RFGConfig, day: int) -> pd.DataFrame:
    columns = {
        "as_of_date": from_days(comp.as_of_days).to_numpy(),
        "offender_id": index.offender_ids.to_numpy()[comp.codes] if len(comp.codes) else np.array([], object),
        "days_since_last_da": comp.days_since_last_da,
        "n_da_incidents_lookback": comp.n_da_lookback.astype(np.int64),
        "gravity_lookback": comp.harm_lookback,
        "recency_score": comp.recency_score,
        "frequency_score": comp.frequency_score,
        "gravity_score": comp.gravity_score,
    }
    if comp.n_victims is not None:
        columns["n_victims_lookback"] = comp.n_victims.astype(np.int64)
        columns["is_serial"] = comp.n_victims >= 2
        columns["victim_score"] = comp.victim_score
    columns["rfg_score"] = comp.rfg_score.astype(float)
    frame = pd.DataFrame(columns)
    frame = frame.sort_values(
        ["rfg_score", "gravity_lookback", "n_da_incidents_lookback", "days_since_last_da", "offender_id"],
        ascending=[False, False, False, True, True],
        kind="stable",
    )
    frame["rfg_rank"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    frame["ranking"] = comp.ranking
    frame["gravity_measure"] = config.measure()
    frame["lookback_days"] = config.lookback_days
    frame["gravity_thresholds"] = json.dumps(comp.gravity_thresholds.get(day, []))
    frame["config_fingerprint"] = config.fingerprint()
    return frame.reset_index(drop=True)


def power_few(scores: pd.DataFrame, top_n: int = 100) -> pd.DataFrame:
    """The top-N of each snapshot by RFG rank, with every component visible."""
    return (
        scores.loc[scores["rfg_rank"] <= top_n].sort_values(["as_of_date", "rfg_rank"]).reset_index(drop=True)
    )


def concentration_by_snapshot(
    snapshots: Iterable[pd.DataFrame],
    top_shares: Sequence[float] = (0.01, 0.05, 0.10),
    top_ns: Sequence[int] = (100, 200),
) -> pd.DataFrame:
    """``concentration`` of snapshots given one at a time (each the rows of one as-of date, with columns
    as_of_date, rfg_rank, n_da_incidents_lookback, gravity_lookback and gravity_measure), in as-of order: the
    same rows as ``concentration`` of them all, holding one snapshot at a time (a national run has millions
    of snapshot rows). Sums are taken in the row order given: the order ``concentration`` would see them in
    a frame read with ``read_table`` is that of offender_id within each as-of date."""
    parts = [part for part in (concentration(snap, top_shares, top_ns) for snap in snapshots) if len(part)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def concentration(
    scores: pd.DataFrame, top_shares: Sequence[float] = (0.01, 0.05, 0.10), top_ns: Sequence[int] = (100, 200)
) -> pd.DataFrame:
    """Share of DA incidents and harm in the lookback caused by the top 1%, 5%, … and the top N, ranked by
    RFG score and, for the Pareto view, by harm itself."""
    rows = []
    for as_of, snap in scores.groupby("as_of_date", sort=True):
        n = len(snap)
        total_incidents = float(snap["n_da_incidents_lookback"].sum())
        total_harm = float(snap["gravity_lookback"].sum())
        for ranking, order_col in (
            ("rfg_rank", None),
            ("harm", "gravity_lookback"),
            ("da_incidents", "n_da_incidents_lookback"),
        ):
            ordered = (
                snap.sort_values("rfg_rank")
                if order_col is None
                else snap.sort_values([order_col, "rfg_rank"], ascending=[False, True])
            )
            inc = np.cumsum(ordered["n_da_incidents_lookback"].to_numpy(dtype=float))
            harm = np.cumsum(ordered["gravity_lookback"].to_numpy(dtype=float))
            tops = [(f"top {share:.0%}", max(1, int(np.ceil(share * n)))) for share in top_shares]
            tops += [(f"top {k}", k) for k in top_ns]
            for label, k in tops:
                k = min(k, n)
                if k == 0:
                    continue
                rows.append(
                    {
                        "as_of_date": as_of,
                        "ranked_by": ranking,
                        "group": label,
                        "n_people": k,
                        "share_of_people": k / n,
                        "n_eligible": n,
                        "share_of_da_incidents": inc[k - 1] / total_incidents if total_incidents else np.nan,
                        "share_of_harm": harm[k - 1] / total_harm if total_harm else np.nan,
                        "gravity_measure": snap["gravity_measure"].iloc[0],
                    }
                )
    return pd.DataFrame(rows)
