"""Calibration at demo scale: every computable target within its tolerance, and the planted truths are
recoverable from the extract alone."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth import calibration
from synth.generate import generate


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_demo")
    generate("demo", 1, out, progress=False)
    return out


def test_every_computable_target_within_tolerance(demo):
    rows, ok = calibration.report(demo)
    text = calibration.format_report(rows, demo)
    judged = [r for r in rows if r.status in ("ok", "OUT")]
    assert len(judged) >= 20, text
    bad = [r.target for r in judged if r.status == "OUT" and r.target not in calibration.KNOWN_DEVIATIONS]
    assert not bad, text
    assert ok, text
    platform = {r.target for r in rows if r.status == "platform"}
    assert platform == calibration.PLATFORM_ONLY


def test_planted_regression_effects_are_recoverable(demo):
    """OLS of total DA severity on the planted non-DA offence-type indicators (from the extract) plus an
    indicator of any non-DA history recovers the true effects within 4 robust standard errors."""
    inc, off = calibration.build_incidents(demo)
    types = pd.read_parquet(demo / "offence_types.parquet")
    off = off.merge(types, on="offence_code", how="left")
    da_inc = inc[inc["is_da"]]
    people = pd.Index(sorted(off["person_id"].unique()))
    y = da_inc.groupby("person_id")["severity"].sum().reindex(people, fill_value=0.0).to_numpy()
    # non-DA offences: offences of non-DA incidents
    key = ["person_id", "reported_at", "day"]
    off = off.merge(inc[key + ["is_da"]], on=key)
    nda = off[~off["is_da"]]
    with open(demo / "_truth" / "regression_effects.csv", newline="") as fh:
        terms = [r for r in csv.DictReader(fh) if r["term_kind"] == "offence_type"]
    cols = [np.ones(len(people)), people.isin(set(nda["person_id"])).astype(float)]
    for t in terms:
        cols.append(people.isin(set(nda.loc[nda["offence_type"] == t["term"], "person_id"])).astype(float))
    x = np.column_stack(cols)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    bread = np.linalg.inv(x.T @ x)
    meat = (x * resid[:, None] ** 2).T @ x
    se = np.sqrt(np.diag(bread @ meat @ bread) * len(y) / (len(y) - x.shape[1]))
    for j, t in enumerate(terms, start=2):
        true = float(t["true_effect"])
        assert abs(beta[j] - true) < 4 * se[j], (t["term"], beta[j], true, se[j])
        if t["planted"] == "true" and true > 500:
            assert beta[j] / se[j] > 2.5, (t["term"], beta[j], se[j])


def test_drive_selection_shows_regression_to_the_mean_and_the_effect_is_recorded(demo):
    v = calibration.compute(demo)
    assert v["reoffending_selected_cohort_before"] > v["reoffending_after_selection"] + 0.3
    prog = json.loads((demo / "_truth" / "programme_effects.json").read_text())
    assert prog["DRIVE"]["incidents_removed"] > 0
    assert prog["DRIVE"]["n_affected"] == len(set(prog["DRIVE"]["affected_person_ids"])) > 100
