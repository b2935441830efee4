"""A vectorised index of each offender's DA incidents, answering window queries for many people at once.

Every evaluation measure is a sum over a window of days for a person: incidents (or harm) in
``[start, end)``, the last incident before a date, the first incident on or after a date. The index sorts
DA incidents by ``(offender, day)`` into one integer key and keeps cumulative sums per measure, so a query
for n people costs two ``searchsorted`` calls — no Python loop over people.

Dates are integer days since 1970-01-01 (``to_days``); a missing date is ``NaN`` in float arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Outcome measures every index carries. ``harm_css`` is the ONS Crime Severity Score weight sum of the
#: incident (``severity`` in marts.fct_incidents); ``harm_cchi`` the Cambridge Crime Harm Index days.
BASE_MEASURES = ("da_incidents", "da_crime_incidents", "da_non_crime_incidents", "harm_css", "harm_cchi")
MEASURE_LABELS = {
    "da_incidents": "DA incidents (crime and non-crime call-outs)",
    "da_crime_incidents": "DA crime incidents",
    "da_non_crime_incidents": "DA non-crime incidents",
    "harm_css": "harm, ONS Crime Severity Score",
    "harm_cchi": "harm, Cambridge Crime Harm Index (days)",
    "harm_gravity": "harm, bespoke DA gravity",
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


@dataclass
class IncidentIndex:
    """DA incidents sorted by (offender, day), with cumulative sums per measure."""

    offender_ids: pd.Index  # the code → offender_id map (every offender known to the extract)
    codes: np.ndarray  # per DA incident, sorted
    days: np.ndarray  # per DA incident (int64), sorted within code
    keys: np.ndarray  # code * span + (day - base)
    cumsums: dict[str, np.ndarray]  # measure → length n+1 cumulative sums
    base_day: int
    span: int
    first_day: int  # first day observed in the extract (any incident)
    last_day: int  # last day observed in the extract (any incident)

    @classmethod
    def build(
        cls,
        incidents: pd.DataFrame,
        offender_ids: Iterable[str] | None = None,
        extra_measures: Mapping[str, str] | None = None,
        observation_start=None,
        observation_end=None,
    ) -> IncidentIndex:
        """Index the DA incidents of ``incidents`` (columns of marts.fct_incidents: offender_id, is_da,
        started_on, severity, cchi_days, is_non_crime). ``extra_measures`` maps a measure name to a column
        (e.g. ``{"harm_gravity": "gravity"}``). The observation window defaults to the first and last
        ``started_on`` of any incident in the frame.
        """
        all_days = to_days(incidents["started_on"])
        if np.isnan(all_days).all():
            raise ValueError("fct_incidents has no usable started_on dates")
        first_day = (
            int(np.nanmin(all_days)) if observation_start is None else int(to_days([observation_start])[0])
        )
        last_day = int(np.nanmax(all_days)) if observation_end is None else int(to_days([observation_end])[0])

        is_da = incidents["is_da"].fillna(False).astype(bool).to_numpy()
        da = incidents.loc[is_da & ~np.isnan(all_days)]
        da_days = all_days[is_da & ~np.isnan(all_days)].astype(np.int64)
        given = pd.Series([] if offender_ids is None else list(offender_ids), dtype=object)
        known = pd.concat([given, incidents["offender_id"].astype(object)]).dropna().astype(str)
        known = pd.Index(np.sort(pd.unique(known.to_numpy(dtype=object)).astype(str)))
        codes = known.get_indexer(da["offender_id"].astype(str)).astype(np.int64)

        base_day = int(min(first_day, da_days.min() if len(da_days) else first_day)) - 4000
        span = int(max(last_day, da_days.max() if len(da_days) else last_day)) - base_day + 4000
        keys = codes * span + (da_days - base_day)
        order = np.argsort(keys, kind="stable")

        non_crime = (
            da["is_non_crime"].fillna(False).astype(bool).to_numpy()
            if "is_non_crime" in da
            else np.zeros(len(da), bool)
        )
        values = {
            "da_incidents": np.ones(len(da)),
            "da_crime_incidents": (~non_crime).astype(float),
            "da_non_crime_incidents": non_crime.astype(float),
            "harm_css": pd.to_numeric(da.get("severity", 0), errors="coerce").fillna(0).to_numpy(dtype=float)
            if "severity" in da
            else np.zeros(len(da)),
            "harm_cchi": pd.to_numeric(da.get("cchi_days", 0), errors="coerce")
            .fillna(0)
            .to_numpy(dtype=float)
            if "cchi_days" in da
            else np.zeros(len(da)),
        }
        for name, column in (extra_measures or {}).items():
            values[name] = pd.to_numeric(da[column], errors="coerce").fillna(0).to_numpy(dtype=float)
        cumsums = {name: np.concatenate([[0.0], np.cumsum(v[order])]) for name, v in values.items()}
        return cls(
            offender_ids=known,
            codes=codes[order],
            days=da_days[order],
            keys=keys[order],
            cumsums=cumsums,
            base_day=base_day,
            span=span,
            first_day=first_day,
            last_day=last_day,
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

    # ---- window queries -----------------------------------------------------------------------------
    def window_sum(self, codes, start, end, measure: str = "da_incidents") -> np.ndarray:
        """Sum of ``measure`` over each person's DA incidents with ``start <= day < end``."""
        codes = np.asarray(codes, dtype=np.int64)
        lo = np.searchsorted(self.keys, self._key(codes, start), side="left")
        hi = np.searchsorted(self.keys, self._key(codes, end), side="left")
        out = self.cumsums[measure][hi] - self.cumsums[measure][lo]
        out[
            (codes < 0) | ~(np.broadcast_to(np.asarray(end, float) > np.asarray(start, float), codes.shape))
        ] = 0.0
        return out

    def last_before(self, codes, day) -> np.ndarray:
        """Day of each person's last DA incident strictly before ``day`` (NaN if none)."""
        codes = np.asarray(codes, dtype=np.int64)
        pos = np.searchsorted(self.keys, self._key(codes, day), side="left") - 1
        ok = (pos >= 0) & (codes >= 0) & ~np.isnan(np.broadcast_to(np.asarray(day, float), codes.shape))
        ok[ok] = self.codes[pos[ok]] == codes[ok]
        out = np.full(len(codes), np.nan)
        out[ok] = self.days[pos[ok]]
        return out

    def first_on_or_after(self, codes, day) -> np.ndarray:
        """Day of each person's first DA incident on or after ``day`` (NaN if none)."""
        codes = np.asarray(codes, dtype=np.int64)
        pos = np.searchsorted(self.keys, self._key(codes, day), side="left")
        ok = (
            (pos < len(self.keys))
            & (codes >= 0)
            & ~np.isnan(np.broadcast_to(np.asarray(day, float), codes.shape))
        )
        ok[ok] = self.codes[pos[ok]] == codes[ok]
        out = np.full(len(codes), np.nan)
        out[ok] = self.days[pos[ok]]
        return out

    def first_two(self, codes) -> tuple[np.ndarray, np.ndarray]:
        """Days of each person's first and second DA incidents (NaN where absent)."""
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

    def active_between(self, start: int, end: int) -> np.ndarray:
        """Codes of the people with at least one DA incident with ``start <= day < end``."""
        by_day = self._by_day()
        lo, hi = np.searchsorted(by_day[0], [start, end], side="left")
        return np.unique(by_day[1][lo:hi])

    def _by_day(self) -> tuple[np.ndarray, np.ndarray]:
        cached = getattr(self, "_by_day_cache", None)
        if cached is None:
            order = np.argsort(self.days, kind="stable")
            cached = (self.days[order], self.codes[order])
            object.__setattr__(self, "_by_day_cache", cached)
        return cached

    def da_offender_codes(self) -> np.ndarray:
        """Codes of every person with at least one DA incident."""
        return np.unique(self.codes)
