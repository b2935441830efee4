"""A vectorised index of each offender's incidents, answering window queries for many people at once.

Every evaluation measure is a sum over a window of days for a person: incidents (or harm) in
``[start, end)``, the last incident before a date, the first incident on or after a date. The index sorts
incidents by ``(offender, committed day)`` into one integer key and keeps cumulative sums per measure, so a
query for n people costs two ``searchsorted`` calls — no Python loop over people.

**Knowledge time.** Every incident has two dates: when it was committed (``started_on``) and when it was
reported (``reported_at``). Windows are always of *committed* days, but a query can ask for what was
*known* by a date: ``known_by=K`` keeps only incidents reported strictly before day ``K``. "As of" queries
(eligibility, RFG, matching covariates, the pre-period of a difference-in-differences) pass the as-of day,
so an incident committed before a panel met but reported after it is not part of what the panel saw.
Outcome windows pass their closing day plus a reporting lag. Incidents reported later than their committed
day are kept in a small second index, so the correction costs time only for them.

Dates are integer days since 1970-01-01 (``to_days``); a missing date is ``NaN`` in float arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Outcome measures every DA index carries. ``harm_css`` is the ONS Crime Severity Score weight sum of the
#: incident (``severity`` in marts.fct_incidents); ``harm_cchi`` the Cambridge Crime Harm Index days.
BASE_MEASURES = ("da_incidents", "da_crime_incidents", "da_non_crime_incidents", "harm_css", "harm_cchi")
MEASURE_LABELS = {
    "da_incidents": "DA incidents (crime and non-crime call-outs)",
    "da_crime_incidents": "DA crime incidents",
    "da_non_crime_incidents": "DA non-crime incidents",
    "harm_css": "harm, ONS Crime Severity Score",
    "harm_cchi": "harm, Cambridge Crime Harm Index (days)",
    "harm_gravity": "harm, bespoke DA gravity",
    "risk_high": "DA incidents graded high risk",
    "risk_medium": "DA incidents graded medium risk",
    "events": "events",
}


def to_days(values) -> np.ndarray:
    """Dates (strings, datetimes, dates; NULLs allowed) → float days since 1970-01-01, NaN for missing."""
    series = pd.to_datetime(pd.Series(values), errors="coerce")
    raw = series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = raw.astype(np.int64).astype(np.float64)
    out[np.isnat(raw)] = np.nan
    return out


def from_days(days) -> pd.Series:
    """Float days since 1970-01-01 → pandas datetime64 dates (NaT for NaN)."""
    days = np.asarray(days, dtype=np.float64)
    out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~np.isnan(days)
    out[ok] = days[ok].astype(np.int64).astype("datetime64[D]")
    return pd.Series(out.astype("datetime64[s]"))


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo_i, hi_i)``: every position and the range it belongs to."""
    count = np.clip(hi - lo, 0, None)
    owner = np.repeat(np.arange(len(lo)), count)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(lo, count) + offset, owner


def _offender_codes(offender_id: pd.Series, offender_ids: Iterable | None) -> tuple[pd.Index, np.ndarray]:
    """The sorted index of every offender (``offender_ids`` and those in the column) and each row's code in
    it (−1 for a missing id). A categorical column (what the evaluation reads from the warehouse: integer
    codes into one sorted list of ids) is coded through its categories, without a string per row."""
    given = pd.Series([] if offender_ids is None else list(offender_ids), dtype=object)
    if isinstance(offender_id.dtype, pd.CategoricalDtype):
        row_codes = offender_id.cat.codes.to_numpy()
        categories = offender_id.cat.categories
        if categories.dtype == object:
            categories = categories.astype(str)
        used = np.flatnonzero(np.bincount(row_codes[row_codes >= 0], minlength=len(categories)))
        present = categories[used]
        if len(given):
            known = pd.concat([given.dropna().astype(str), pd.Series(present.to_numpy(), dtype=object)])
            known = pd.Index(np.sort(pd.unique(known.to_numpy(dtype=object)).astype(str)))
        else:
            known = pd.Index(np.sort(present.to_numpy()))
        remap = known.get_indexer(categories).astype(np.int64)
        codes = np.where(row_codes >= 0, remap[np.maximum(row_codes, 0)], -1).astype(np.int64)
        return known, codes
    known = pd.concat([given, offender_id.astype(object)]).dropna().astype(str)
    known = pd.Index(np.sort(pd.unique(known.to_numpy(dtype=object)).astype(str)))
    return known, known.get_indexer(offender_id.astype(str)).astype(np.int64)


def _codes_in(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Each value's position in ``index`` (−1 where absent); a categorical column through its categories."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        row_codes = values.cat.codes.to_numpy()
        remap = index.get_indexer(values.cat.categories.astype(str)).astype(np.int64)
        return np.where(row_codes >= 0, remap[np.maximum(row_codes, 0)], -1).astype(np.int64)
    return index.get_indexer(values.astype(str)).astype(np.int64)


class CumulativeSums(Mapping):
    """Measure → cumulative sums (float64, length n + 1) of the sorted incidents, each computed when first
    read from the measure's values in their most compact exact type (a count is one byte a row) and then
    kept in place of them: a measure nothing queries costs only its values. The sums are those of the same
    values as float64, added in the same order, so to the last bit what summing up front gave."""

    def __init__(self, values: Mapping[str, np.ndarray]):
        self._names = list(values)
        self._values = dict(values)
        self._sums: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        sums = self._sums.get(name)
        if sums is None:
            values = self._values.pop(name)  # KeyError for a measure the index does not carry
            sums = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
            self._sums[name] = sums
        return sums

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    @property
    def nbytes(self) -> int:
        """Bytes held now (values not yet summed, and the sums)."""
        return sum(a.nbytes for a in [*self._values.values(), *self._sums.values()])


@dataclass
class IncidentIndex:
    """Incidents sorted by (offender, committed day), with cumulative sums per measure."""

    offender_ids: pd.Index  # the code → offender_id map (every offender known to the extract)
    codes: np.ndarray  # per incident (int32), sorted
    days: np.ndarray  # committed day per incident (int32), sorted within code
    reported: np.ndarray  # reported day per incident (int32, >= committed day)
    keys: np.ndarray  # code * span + (day - base) (int64)
    cumsums: Mapping[str, np.ndarray]  # measure → length n+1 cumulative sums (``CumulativeSums``)
    base_day: int
    span: int
    first_day: int  # first day observed in the extract (first report)
    last_day: int  # last day observed in the extract (last report)
    late: np.ndarray  # positions (into the sorted arrays) of incidents reported after their committed day

    @classmethod
    def build(
        cls,
        incidents: pd.DataFrame,
        offender_ids: Iterable[str] | None = None,
        extra_measures: Mapping[str, str] | None = None,
        observation_start=None,
        observation_end=None,
        which: str = "da",
    ) -> IncidentIndex:
        """Index the incidents of ``incidents`` (columns of marts.fct_incidents: offender_id, is_da,
        started_on, reported_at, severity, cchi_days, is_non_crime, risk_level). ``which`` is ``"da"`` (DA
        incidents; the default), ``"non_da"`` or ``"all"`` (any event table with offender_id and
        started_on, e.g. custody arrests). Without ``reported_at`` an incident counts as reported on its
        committed day. ``extra_measures`` maps a measure name to a column (e.g. ``{"harm_gravity":
        "gravity"}``). The observation window defaults to the first and last report of any incident in the
        frame (the extract is selected on record date)."""
        committed = to_days(incidents["started_on"])
        if np.isnan(committed).all() and len(incidents):
            raise ValueError("fct_incidents has no usable started_on dates")
        reported = to_days(incidents["reported_at"]) if "reported_at" in incidents else committed.copy()
        reported = np.where(np.isnan(reported), committed, reported)
        reported = np.fmax(reported, committed)  # a report cannot precede the offence
        observed = reported[~np.isnan(reported)]
        first_day = (
            int(observed.min() if observed.size else 0)
            if observation_start is None
            else int(to_days([observation_start])[0])
        )
        last_day = (
            int(observed.max() if observed.size else 0)
            if observation_end is None
            else int(to_days([observation_end])[0])
        )

        if which == "da":
            keep = incidents["is_da"].fillna(False).astype(bool).to_numpy().copy()
        elif which == "non_da":
            keep = ~incidents["is_da"].fillna(False).astype(bool).to_numpy()
        else:
            keep = np.ones(len(incidents), bool)
        keep &= ~np.isnan(committed)
        day = committed[keep].astype(np.int64)
        rep = reported[keep].astype(np.int64)
        known, all_codes = _offender_codes(incidents["offender_id"], offender_ids)
        codes = all_codes[keep]

        lowest = min(first_day, int(day.min()) if len(day) else first_day)
        highest = max(last_day, int(rep.max()) if len(rep) else last_day)
        base_day = lowest - 20000
        span = highest - base_day + 20000
        keys = codes * span + (day - base_day)
        order = np.lexsort((rep, keys))

        n_rows = int(keep.sum())

        def column(name: str) -> np.ndarray:  # the kept rows of one column (no copy of the whole frame)
            if name not in incidents:
                return np.zeros(n_rows, np.uint8)
            return pd.to_numeric(incidents[name], errors="coerce").fillna(0).to_numpy(dtype=float)[keep]

        # Counts (0/1 per incident) are kept as one byte a row; their sums are float64 as before.
        non_crime = (
            incidents["is_non_crime"].fillna(False).astype(bool).to_numpy()[keep]
            if "is_non_crime" in incidents
            else np.zeros(n_rows, bool)
        )
        if which == "all":
            values = {"events": np.ones(n_rows, np.uint8)}
        else:
            prefix = "da" if which == "da" else "non_da"
            values = {
                f"{prefix}_incidents": np.ones(n_rows, np.uint8),
                f"{prefix}_crime_incidents": (~non_crime).view(np.uint8),
                f"{prefix}_non_crime_incidents": non_crime.view(np.uint8),
                "harm_css": column("severity"),
                "harm_cchi": column("cchi_days"),
            }
            if "risk_level" in incidents:
                risk = incidents["risk_level"]
                if isinstance(risk.dtype, pd.CategoricalDtype):  # no Python object per row
                    levels = risk.cat.categories.astype(object).to_numpy()
                    row_codes = risk.cat.codes.to_numpy()[keep]
                    for level in ("high", "medium"):
                        hit = np.flatnonzero(levels == level)
                        values[f"risk_{level}"] = (
                            (row_codes == hit[0]).view(np.uint8) if hit.size else np.zeros(n_rows, np.uint8)
                        )
                else:
                    risk = risk.astype(object).to_numpy()[keep]
                    values["risk_high"] = (risk == "high").view(np.uint8)
                    values["risk_medium"] = (risk == "medium").view(np.uint8)
        for name, col in (extra_measures or {}).items():
            values[name] = column(col)
        sorted_values = {}
        for name in list(values):
            sorted_values[name] = values.pop(name)[order]
        rep_sorted = rep[order].astype(np.int32)
        day_sorted = day[order].astype(np.int32)
        return cls(
            offender_ids=known,
            codes=codes[order].astype(np.int32),
            days=day_sorted,
            reported=rep_sorted,
            keys=keys[order],
            cumsums=CumulativeSums(sorted_values),
            base_day=base_day,
            span=span,
            first_day=first_day,
            last_day=last_day,
            late=np.flatnonzero(rep_sorted > day_sorted),
        )

    # ---- people ---------------------------------------------------------------------------------
    @property
    def measures(self) -> list[str]:
        return list(self.cumsums)

    def code_of(self, offender_ids) -> np.ndarray:
        """Offender ids → codes (−1 for ids not in the extract)."""
        return self.offender_ids.get_indexer(pd.Index(pd.Series(offender_ids).astype(str)))

    def _key(self, codes: np.ndarray, days) -> np.ndarray:
        days = np.broadcast_to(np.asarray(days, dtype=np.float64), np.shape(codes))
        days = np.where(np.isnan(days), self.base_day, days)
        clipped = np.clip(np.floor(days), self.base_day, self.base_day + self.span - 1)
        return np.asarray(codes, dtype=np.int64) * self.span + (clipped.astype(np.int64) - self.base_day)

    def _measure_values(self, measure: str) -> np.ndarray:
        cached = getattr(self, "_values_cache", None)
        if cached is None:
            cached = {}
            object.__setattr__(self, "_values_cache", cached)
        if measure not in cached:
            cached[measure] = np.diff(self.cumsums[measure])
        return cached[measure]

    # ---- window queries -----------------------------------------------------------------------------
    def window_sum(self, codes, start, end, measure: str = "da_incidents", known_by=None) -> np.ndarray:
        """Sum of ``measure`` over each person's incidents committed with ``start <= day < end``; with
        ``known_by``, only those reported strictly before that day (per person or one day for all)."""
        codes = np.asarray(codes, dtype=np.int64)
        if known_by is not None:  # nothing committed on or after the known-by day was reported before it
            end = np.fmin(np.broadcast_to(np.asarray(end, float), codes.shape), np.asarray(known_by, float))
        lo = np.searchsorted(self.keys, self._key(codes, start), side="left")
        hi = np.searchsorted(self.keys, self._key(codes, end), side="left")
        out = self.cumsums[measure][hi] - self.cumsums[measure][lo]
        if known_by is not None and len(self.late) and len(codes):
            known = np.broadcast_to(np.asarray(known_by, dtype=np.float64), codes.shape)
            late_lo = np.searchsorted(self.late, lo, side="left")
            late_hi = np.searchsorted(self.late, hi, side="left")
            pos, owner = _expand(late_lo, late_hi)
            if pos.size:
                where = self.late[pos]
                unknown = ~(self.reported[where] < known[owner])  # NaN known_by: nothing is unknown
                unknown &= ~np.isnan(known[owner])
                if unknown.any():
                    out = out - np.bincount(
                        owner[unknown], self._measure_values(measure)[where[unknown]], minlength=len(codes)
                    )
        bad = (codes < 0) | ~(np.broadcast_to(np.asarray(end, float) > np.asarray(start, float), codes.shape))
        out[bad] = 0.0
        return out

    def _known(self, pos: np.ndarray, known: np.ndarray) -> np.ndarray:
        return np.isnan(known) | (self.reported[pos] < known)

    def last_before(self, codes, day, known_by=None) -> np.ndarray:
        """Day of each person's last incident committed strictly before ``day`` (NaN if none); with
        ``known_by``, the last one reported strictly before that day."""
        codes = np.asarray(codes, dtype=np.int64)
        day_arr = np.broadcast_to(np.asarray(day, float), codes.shape)
        pos = np.searchsorted(self.keys, self._key(codes, day), side="left") - 1
        ok = (pos >= 0) & (codes >= 0) & ~np.isnan(day_arr)
        ok[ok] = self.codes[pos[ok]] == codes[ok]
        if known_by is not None:
            known = np.broadcast_to(np.asarray(known_by, float), codes.shape)
            todo = np.flatnonzero(ok)
            todo = todo[~self._known(pos[todo], known[todo])]
            while todo.size:  # step back over incidents not yet reported (few: only late ones)
                pos[todo] -= 1
                alive = (pos[todo] >= 0) & (self.codes[np.maximum(pos[todo], 0)] == codes[todo])
                ok[todo[~alive]] = False
                todo = todo[alive]
                todo = todo[~self._known(pos[todo], known[todo])]
        out = np.full(len(codes), np.nan)
        out[ok] = self.days[pos[ok]]
        return out

    def first_on_or_after(self, codes, day, known_by=None) -> np.ndarray:
        """Day of each person's first incident committed on or after ``day`` (NaN if none); with
        ``known_by``, the first one reported strictly before that day."""
        codes = np.asarray(codes, dtype=np.int64)
        day_arr = np.broadcast_to(np.asarray(day, float), codes.shape)
        pos = np.searchsorted(self.keys, self._key(codes, day), side="left")
        n = len(self.keys)
        ok = (pos < n) & (codes >= 0) & ~np.isnan(day_arr)
        ok[ok] = self.codes[pos[ok]] == codes[ok]
        if known_by is not None:
            known = np.broadcast_to(np.asarray(known_by, float), codes.shape)
            ok[ok] &= ~(self.days[pos[ok]] >= known[ok])  # committed after the known-by day: unknown
            todo = np.flatnonzero(ok)
            todo = todo[~self._known(pos[todo], known[todo])]
            while todo.size:
                pos[todo] += 1
                alive = (pos[todo] < n) & (self.codes[np.minimum(pos[todo], n - 1)] == codes[todo])
                alive[alive] &= ~(self.days[pos[todo[alive]]] >= known[todo[alive]])
                ok[todo[~alive]] = False
                todo = todo[alive]
                todo = todo[~self._known(pos[todo], known[todo])]
        out = np.full(len(codes), np.nan)
        out[ok] = self.days[pos[ok]]
        return out

    def first_two(self, codes) -> tuple[np.ndarray, np.ndarray]:
        """Committed days of each person's first and second incidents (NaN where absent)."""
        codes = np.asarray(codes, dtype=np.int64)
        pos = np.searchsorted(self.keys, codes * self.span, side="left")
        out = []
        for shift in (0, 1):
            p = pos + shift
            ok = (p < len(self.keys)) & (codes >= 0)
            ok[ok] = self.codes[p[ok]] == codes[ok]
            days = np.full(len(codes), np.nan)
            days[ok] = self.days[p[ok]]
            out.append(days)
        return out[0], out[1]

    def active_between(self, start: int, end: int, known_by: int | None = None) -> np.ndarray:
        """Codes of the people with at least one incident committed with ``start <= day < end`` (and, with
        ``known_by``, reported strictly before that day)."""
        by_day = self._by_day()
        lo, hi = np.searchsorted(by_day[0], [start, end], side="left")
        codes = by_day[1][lo:hi]
        if known_by is not None:
            codes = codes[by_day[2][lo:hi] < known_by]
        return np.unique(codes).astype(np.int64)

    def _by_day(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cached = getattr(self, "_by_day_cache", None)
        if cached is None:
            order = np.argsort(self.days, kind="stable")
            cached = (self.days[order], self.codes[order], self.reported[order])
            object.__setattr__(self, "_by_day_cache", cached)
        return cached

    def da_offender_codes(self) -> np.ndarray:
        """Codes of every person with at least one indexed incident."""
        return np.unique(self.codes).astype(np.int64)

    def reindexed(self, offender_ids: pd.Index) -> np.ndarray:
        """This index's codes for the people of another index (−1 where absent), to query with its codes."""
        return self.offender_ids.get_indexer(offender_ids)


@dataclass
class VictimIndex:
    """Each offender's DA incidents per victim, to count *distinct* victims in a window (MATAC's "V").

    Built from (offender_id, victim_id, started_on, reported_at) rows, one per DA incident and victim. A
    person–victim pair is indexed like a person in ``IncidentIndex``; a query enumerates the person's pairs
    (a handful each) and counts those with an incident in the window."""

    pairs: IncidentIndex
    pair_owner: np.ndarray  # per pair code: the offender's code in ``offender_ids``
    pair_start: np.ndarray  # per offender code: first pair code (pairs sorted by owner)
    pair_count: np.ndarray
    offender_ids: pd.Index

    @classmethod
    def build(cls, rows: pd.DataFrame, offender_ids: pd.Index) -> VictimIndex:
        """Pairs are coded as integers (offender code, victim code), sorted by offender, without a string per
        row; rows of offenders not in ``offender_ids`` cannot be queried and are left out."""
        frame = rows.dropna(subset=["offender_id", "victim_id"])
        owner = _codes_in(offender_ids, frame["offender_id"])
        victim, victims = pd.factorize(frame["victim_id"], sort=True)
        keep = (owner >= 0) & (victim >= 0)
        key = owner[keep] * max(len(victims), 1) + victim[keep]
        unique_keys, pair = np.unique(key, return_inverse=True)
        pair_owner = unique_keys // max(len(victims), 1)  # sorted by offender: owners are grouped
        pairs = IncidentIndex.build(
            pd.DataFrame(
                {
                    "offender_id": pd.Categorical.from_codes(
                        pair, categories=pd.RangeIndex(len(unique_keys))
                    ),
                    "is_da": True,
                    "started_on": frame["started_on"].to_numpy()[keep],
                    "reported_at": frame["reported_at"].to_numpy()[keep],
                }
            )
        )
        count = np.bincount(pair_owner, minlength=len(offender_ids))
        start = np.cumsum(count) - count
        return cls(pairs, pair_owner, start, count, offender_ids)

    def distinct(self, codes, start, end, known_by=None) -> np.ndarray:
        """Distinct victims of each person's incidents committed in ``[start, end)`` (known by ``known_by``)."""
        codes = np.asarray(codes, dtype=np.int64)
        ok = codes >= 0
        safe = np.where(ok, codes, 0)
        lo = np.where(ok, self.pair_start[safe], 0)
        hi = lo + np.where(ok, self.pair_count[safe], 0)
        pos, owner = _expand(lo, hi)
        if pos.size == 0:
            return np.zeros(len(codes))

        def per(values):
            return None if values is None else np.broadcast_to(np.asarray(values, float), codes.shape)[owner]

        hits = self.pairs.window_sum(pos, per(start), per(end), "da_incidents", per(known_by))
        return np.bincount(owner, (hits > 0).astype(float), minlength=len(codes))
