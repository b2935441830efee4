"""Equality monitoring: sex, ethnicity and age band of a programme's cohort against the eligible pool and
all DA perpetrators, with disparity ratios. Reported only: nothing here feeds selection or matching."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

AGE_BANDS = (18, 25, 35, 45, 55)  # <18, 18–24, 25–34, 35–44, 45–54, 55+


def age_band(age: pd.Series, edges: Sequence[int] = AGE_BANDS) -> pd.Series:
    edges = list(edges)
    labels = (
        [f"under {edges[0]}"]
        + [f"{a}–{b - 1}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        + [f"{edges[-1]}+"]
    )
    bins = [-np.inf, *edges, np.inf]
    band = pd.cut(pd.to_numeric(age, errors="coerce"), bins=bins, labels=labels, right=False)
    return band.astype(object).where(band.notna(), "unknown")


def equality_monitoring(
    offenders: pd.DataFrame,
    groups: dict[str, Sequence[str]],
    reference_groups: Sequence[str] = ("eligible pool", "all DA perpetrators"),
    cohort_group: str = "cohort",
    age_column: str = "age",
) -> pd.DataFrame:
    """Shares of each category per group, with the disparity ratio of the cohort's share to each reference
    group's share (1 = proportionate). ``offenders`` has offender_id, modal_sex, modal_ethnicity and an age
    column; ``groups`` maps a group name to its offender ids."""
    people = offenders.set_index(offenders["offender_id"].astype(str))
    characteristics = {
        "sex": people.get("modal_sex", pd.Series(index=people.index, dtype=object)),
        "ethnicity": people.get("modal_ethnicity", pd.Series(index=people.index, dtype=object)),
        "age band": age_band(people[age_column])
        if age_column in people
        else pd.Series("unknown", index=people.index),
    }
    rows = []
    shares: dict[tuple[str, str, str], float] = {}
    for characteristic, values in characteristics.items():
        values = values.astype(object).where(values.notna(), "unknown")
        for group, ids in groups.items():
            ids = pd.Index(pd.Series(list(ids), dtype=object).astype(str)).intersection(values.index)
            counts = values.loc[ids].value_counts()
            total = int(counts.sum())
            for category, n in counts.items():
                share = n / total if total else np.nan
                shares[(characteristic, str(category), group)] = share
                rows.append(
                    {
                        "characteristic": characteristic,
                        "category": str(category),
                        "group": group,
                        "n_people": int(n),
                        "group_size": total,
                        "share": share,
                    }
                )
    frame = pd.DataFrame(
        rows, columns=["characteristic", "category", "group", "n_people", "group_size", "share"]
    )
    for ref in reference_groups:
        col = f"disparity_vs_{ref.replace(' ', '_')}"
        frame[col] = [
            (r.share / shares.get((r.characteristic, r.category, ref), np.nan))
            if r.group == cohort_group and shares.get((r.characteristic, r.category, ref), 0)
            else np.nan
            for r in frame.itertuples(index=False)
        ]
    return frame.sort_values(["characteristic", "category", "group"]).reset_index(drop=True)
