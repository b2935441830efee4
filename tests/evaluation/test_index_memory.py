"""The incident index keeps counts as one byte a row and sums a measure only when it is first read: the sums
are those of the same values as float64 added in the same order (bit for bit), and a measure nothing reads
costs its compact values only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.evaluation.incidents import CumulativeSums, IncidentIndex


def _incidents(n: int = 5000, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    committed = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    return pd.DataFrame(
        {
            "offender_id": [f"P{i:04d}" for i in rng.integers(0, 900, n)],
            "is_da": rng.random(n) < 0.8,
            "started_on": committed,
            "reported_at": committed + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
            "severity": rng.lognormal(0.0, 2.0, n),
            "cchi_days": rng.gamma(1.0, 10.0, n),
            "is_non_crime": rng.random(n) < 0.3,
            "risk_level": pd.Categorical(rng.choice(["standard", "medium", "high"], n)),
        }
    )


def test_lazy_sums_equal_eager_float64_sums_bit_for_bit():
    rng = np.random.default_rng(0)
    values = {"count": (rng.random(10_000) < 0.3).view(np.uint8), "harm": rng.lognormal(0, 3, 10_000)}
    sums = CumulativeSums(dict(values))
    assert list(sums) == ["count", "harm"] and len(sums) == 2
    for name, v in values.items():
        eager = np.concatenate([[0.0], np.cumsum(v.astype(np.float64))])
        np.testing.assert_array_equal(sums[name], eager)
        assert sums[name].dtype == np.float64


def test_an_index_holds_only_the_sums_it_was_asked_for():
    frame = _incidents()
    index = IncidentIndex.build(frame)
    n = len(index.keys)
    assert index.codes.dtype == np.int32 and index.days.dtype == np.int32 and index.keys.dtype == np.int64
    before = index.cumsums.nbytes
    assert before == n * (1 + 1 + 1 + 8 + 8 + 1 + 1)  # five counts of one byte, two harms of eight
    start, end = index.base_day, index.base_day + index.span - 1  # every indexed day
    codes = index.active_between(start, end)
    assert codes.dtype == np.int64
    got = index.window_sum(codes, start, end, "risk_high")
    assert index.cumsums.nbytes == before - n + 8 * (n + 1)  # only risk_high was summed
    # the count equals a count over the rows, and a categorical risk grade counts as its strings do
    da = frame.loc[frame["is_da"]]
    expected = (da["risk_level"].astype(str) == "high").groupby(da["offender_id"]).sum()
    np.testing.assert_array_equal(got, expected.reindex(index.offender_ids[codes]).to_numpy(float))
    as_strings = IncidentIndex.build(frame.assign(risk_level=frame["risk_level"].astype(object)))
    for measure in index.measures:
        np.testing.assert_array_equal(index.cumsums[measure], as_strings.cumsums[measure])
