"""The power few and concentration figures read from the warehouse one snapshot at a time (only the rows and
columns they need) are the figures of the whole rfg_scores table read at once, to the last bit."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from ml.evaluation.incidents import IncidentIndex
from ml.evaluation.rfg import concentration, concentration_by_snapshot, power_few, score_rfg
from orchestration.defs.evaluation import _concentration_from_warehouse, _power_few_from_warehouse
from orchestration.lib.warehouse_io import read_table, write_table


def _scores(seed: int = 5, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    committed = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1400, n), unit="D")
    incidents = pd.DataFrame(
        {
            "offender_id": [f"P{i:04d}" for i in rng.integers(0, 700, n)],
            "is_da": True,
            "started_on": committed,
            "reported_at": committed + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
            "severity": np.where(rng.random(n) < 0.3, 10.0, rng.lognormal(0.0, 2.5, n)),  # ties, a long tail
            "cchi_days": rng.gamma(1.0, 10.0, n),
        }
    )
    index = IncidentIndex.build(incidents)
    return score_rfg(index, ["2020-06-01", "2021-01-15", "2021-11-30", "2022-11-01"])


def test_summaries_from_the_warehouse_equal_those_of_the_whole_table():
    scores = _scores()
    assert scores["as_of_date"].nunique() == 4
    con = duckdb.connect()
    write_table(con, "analytics.rfg_scores", scores.sample(frac=1.0, random_state=1))  # rows in any order
    whole = read_table(con, "analytics.rfg_scores")
    for top_n in (1, 50, 10_000):
        pd.testing.assert_frame_equal(_power_few_from_warehouse(con, top_n), power_few(whole, top_n))
    for top_ns in ((100, 200), (7,)):
        expected = concentration(whole, top_ns=top_ns)
        got = _concentration_from_warehouse(con, top_ns)
        assert len(got) == len(expected) > 0
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_concentration_by_snapshot_of_no_snapshot_is_empty():
    assert concentration_by_snapshot([]).empty
    con = duckdb.connect()
    write_table(con, "analytics.rfg_scores", _scores().iloc[:0])
    assert _concentration_from_warehouse(con, (100,)).empty
    assert _power_few_from_warehouse(con, 100).empty
