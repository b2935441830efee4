"""Unit tests of the evaluation library on small frames and simulated panels built here."""

import numpy as np
import pandas as pd
import pytest

from ml.evaluation import estimators as est
from ml.evaluation.incidents import IncidentIndex, to_days
from ml.evaluation.outcomes import reoffending_around, reoffending_population
from ml.evaluation.participants import ParticipantError, validate_participants
from ml.evaluation.pipeline import EvaluationConfig, run_evaluation
from ml.evaluation.rfg import RFGConfig, concentration, power_few, score_rfg
from ml.evaluation.simulate import simulate_panel


def _incidents(rows):
    frame = pd.DataFrame(rows, columns=["offender_id", "started_on", "severity"])
    frame["is_da"] = True
    frame["cchi_days"] = frame["severity"] * 2
    frame["is_non_crime"] = False
    return frame


@pytest.fixture
def small_incidents():
    return _incidents(
        [
            ("A", "2020-01-01", 10),
            ("A", "2020-03-01", 50),
            ("A", "2020-12-20", 100),
            ("B", "2020-01-01", 5),
            ("C", "2020-12-25", 20),
            ("C", "2020-12-30", 20),
            ("D", "2019-01-01", 1000),
        ]
    )


def test_window_queries(small_incidents):
    index = IncidentIndex.build(small_incidents)
    codes = index.code_of(["A", "A", "B", "Z"])
    start = to_days(["2020-01-01", "2020-01-02", "2019-01-01", "2019-01-01"])
    end = to_days(["2020-03-02", "2021-01-01", "2021-01-01", "2021-01-01"])
    assert index.window_sum(codes, start, end).tolist() == [2, 2, 1, 0]
    assert index.window_sum(codes, start, end, "harm_css").tolist() == [60, 150, 5, 0]
    last = index.last_before(index.code_of(["A"]), to_days(["2020-03-01"]))
    assert last[0] == to_days(["2020-01-01"])[0]
    nxt = index.first_on_or_after(index.code_of(["A", "B"]), to_days(["2020-03-01", "2020-01-02"]))
    assert nxt[0] == to_days(["2020-03-01"])[0] and np.isnan(nxt[1])


def test_rfg_scores_bands_rank_and_snapshot(small_incidents):
    index = IncidentIndex.build(small_incidents)
    config = RFGConfig(gravity_band_values=(20, 50, 100, 500))
    scores = score_rfg(index, ["2021-01-01"], config)
    by_id = scores.set_index("offender_id")
    # D's only incident is two years before: outside the 730-day lookback, so D is not eligible.
    assert set(by_id.index) == {"A", "B", "C"}
    assert by_id.loc["A", "frequency_score"] == 3 and by_id.loc["A", "n_da_incidents_lookback"] == 3
    assert by_id.loc["C", "recency_score"] == 5 and by_id.loc["B", "recency_score"] == 2  # 366 days
    assert by_id.loc["A", "gravity_score"] == 4  # 160 in (100, 500]
    assert (
        by_id.loc["A", "rfg_score"]
        == by_id.loc["A", ["recency_score", "frequency_score", "gravity_score"]].sum()
    )
    assert by_id.sort_values("rfg_rank").index.tolist() == ["A", "C", "B"]
    # The snapshot records what is needed to reproduce it: the same config gives the same ranking.
    again = score_rfg(index, ["2021-01-01"], config)
    pd.testing.assert_frame_equal(scores, again)
    assert scores["config_fingerprint"].nunique() == 1
    assert power_few(scores, 2)["offender_id"].tolist() == ["A", "C"]
    conc = concentration(scores, top_shares=(0.34,), top_ns=(1,))
    top1 = conc.loc[(conc["ranked_by"] == "rfg_rank") & (conc["group"] == "top 1")].iloc[0]
    assert top1["share_of_da_incidents"] == pytest.approx(3 / 6)


def test_reoffending_counts_censoring(small_incidents):
    index = IncidentIndex.build(small_incidents)  # observed up to 2020-12-30
    row = reoffending_population(index, window_days=365)
    # A, B: index 2020-01-01, the 365-day window [2020-01-01, 2020-12-31) is fully observed; C is censored.
    assert (row["n_people"], row["n_reoffended"], row["n_censored"]) == (3, 1, 1)
    row = reoffending_population(index, window_days=366)
    # One more day and A and B run past the end too: only D (2019) has a complete window.
    assert row["n_censored"] == 3 and row["n_people"] == 1 and row["n_reoffended"] == 0
    row = reoffending_population(index, window_days=90)
    # A reoffends within 90 days (60 days later), B does not, C reoffends (5 days) but its window is cut: censored.
    assert (row["n_people"], row["n_reoffended"], row["n_censored"]) == (3, 1, 1)
    assert 0 < row["km_rate"] < 1
    after = reoffending_around(
        index, index.code_of(["A", "B"]), to_days(["2020-02-01", "2020-02-01"]), 60, "after"
    )
    assert (after["n_people"], after["n_reoffended"], after["n_censored"]) == (2, 1, 0)
    before = reoffending_around(index, index.code_of(["A"]), to_days(["2019-06-01"]), 365, "before")
    assert before["n_censored"] == 1  # the window starts before the extract (2019-01-01)


def test_participants_out_of_order_and_missing_raise_clear_errors():
    participants = pd.DataFrame(
        {
            "person_id": ["A", "B", "ZZZ"],
            "programme": ["DRIVE", "DRIVE", "DRIVE"],
            "selected_on": ["2020-05-01", "2020-05-01", "2020-05-01"],
            "exited_on": ["2020-04-01", None, None],
            "referred_on": [None, "2020-06-01", None],
        }
    )
    with pytest.raises(ParticipantError) as error:
        validate_participants(participants, known_offender_ids=["A", "B"])
    message = str(error.value)
    assert "person A in programme 'DRIVE'" in message and "exited_on = 2020-04-01" in message
    assert "selected_on = 2020-05-01" in message
    assert "person B" in message and "referred_on = 2020-06-01" in message
    assert "person ZZZ" in message and "not in the extract" in message
    valid, problems = validate_participants(participants, ["A", "B"], raise_on_error=False)
    assert valid.empty and len(problems) == 3


def test_bootstrap_ratio_and_rct_model_on_known_rates():
    rng = np.random.default_rng(3)
    n = 4000
    treated = np.arange(n) < n // 2
    y = rng.poisson(np.where(treated, 0.7, 1.0) * 2.0)
    fit = est.rct_rate_ratio(y, np.full(n, 365.0), treated)
    assert fit["ci_low"] < 0.7 < fit["ci_high"] and fit["ci_high"] < 1
    pre, post = rng.poisson(2.0, n), rng.poisson(1.0, n)
    ratio = est.ratio_with_bootstrap(post, pre, reps=299, seed=1)
    assert ratio["ci_low"] < 0.5 < ratio["ci_high"]


@pytest.fixture(scope="module")
def zero_effect_panel():
    return simulate_panel(
        n_offenders=20000, seed=1, matched_effect=0.0, rct_effect=0.0, per_panel=5, rct_per_panel=5
    )


@pytest.fixture(scope="module")
def effect_panel():
    return simulate_panel(
        n_offenders=20000, seed=2, matched_effect=-0.30, rct_effect=-0.30, per_panel=5, rct_per_panel=5
    )


def _row(result, programme, design, outcome="da_incidents"):
    e = result.effect_estimates
    return e.loc[(e["programme"] == programme) & (e["design"] == design) & (e["outcome"] == outcome)].iloc[0]


def test_zero_effect_naive_falls_but_matched_did_covers_no_change(zero_effect_panel):
    sim = zero_effect_panel
    result = run_evaluation(
        sim.incidents, sim.offenders, sim.participants, EvaluationConfig(bootstrap_reps=499)
    )
    naive = _row(result, "DRIVE", "naive_pre_post")
    did = _row(result, "DRIVE", "matched_did")
    rtm = _row(result, "DRIVE", "rtm_comparison_fall")
    assert naive["estimate"] < 0.8 and naive["ci_high"] < 1.0  # a large "fall" with no programme at all
    assert did["ci_low"] <= 1.0 <= did["ci_high"]
    assert rtm["ci_high"] < 1.0  # the comparison falls too: regression to the mean
    assert result.balance["smd_after"].abs().max() < result.balance["smd_before"].abs().max()


def test_known_effect_recovered_by_matched_did_and_rct(effect_panel):
    sim = effect_panel
    result = run_evaluation(
        sim.incidents, sim.offenders, sim.participants, EvaluationConfig(bootstrap_reps=499)
    )
    did = _row(result, "DRIVE", "matched_did")
    assert did["ci_low"] <= 0.70 <= did["ci_high"]
    itt = result.effect_estimates.loc[
        (result.effect_estimates["design"] == "rct_itt")
        & (result.effect_estimates["outcome"] == "da_incidents")
        & result.effect_estimates["estimand"].str.startswith("rate ratio")
    ].iloc[0]
    assert itt["ci_low"] <= 0.70 <= itt["ci_high"]
    # Every estimate carries its interval, group sizes and window.
    e = result.effect_estimates
    assert e[["n_treated", "window", "estimand"]].notna().all().all()
    assert set(e["design"]) >= {
        "naive_pre_post",
        "matched_did",
        "rtm_comparison_fall",
        "rct_itt",
        "rct_per_protocol",
        "survival_cox",
    }
    funnel = result.stage_funnel.loc[result.stage_funnel["programme"] == "DRIVE"].set_index("stage")
    assert (
        funnel.loc["selected", "n_people"]
        >= funnel.loc["fully engaged", "n_people"]
        >= funnel.loc["completed", "n_people"]
    )
    eq = result.equality_monitoring
    assert set(eq["group"]) == {"cohort", "eligible pool", "all DA perpetrators"}


def test_without_participants_rfg_and_population_rates_still_run(zero_effect_panel):
    sim = zero_effect_panel
    result = run_evaluation(sim.incidents, sim.offenders, None, EvaluationConfig(bootstrap_reps=99))
    assert len(result.rfg_scores) > 0 and len(result.concentration) > 0
    assert result.effect_estimates.empty
    assert result.reoffending_rates["population"].tolist() == ["all DA perpetrators"]
    assert any("could not be computed" in m for m in result.messages)


def test_report_suppresses_small_cells_and_names_lineage(effect_panel):
    from ml.evaluation.report import evaluation_report
    from ml.reporting import Lineage

    sim = effect_panel
    participants = sim.participants.copy()
    # A tiny third programme: every count is under 5 and must be suppressed.
    tiny = participants.loc[participants["programme"] == "DRIVE"].head(3).assign(programme="pilot")
    tiny["person_id"] = sim.offenders["offender_id"].iloc[-3:].to_numpy()
    result = run_evaluation(
        sim.incidents, sim.offenders, pd.concat([participants, tiny]), EvaluationConfig(bootstrap_reps=99)
    )
    page = evaluation_report(result, "pilot", Lineage("run-1", "evaluation-1", {"crimes": "abc123"}))
    assert "&lt;5" in page and "run-1" in page and "abc123" in page
    funnel = result.stage_funnel.loc[result.stage_funnel["programme"] == "pilot"]
    assert funnel["is_small_cell"].any()
    page = evaluation_report(result, "DRIVE")
    for section in (
        "Stage funnel",
        "Effect estimates",
        "Balance of the matched comparison",
        "Equality monitoring",
        "Kaplan",
        "Caveats",
        "not an effect",
    ):
        assert section in page


def test_rfg_snapshots_are_scored_the_same_from_raw_or_validated_participants(small_incidents):
    """The rfg_scores asset scores on the raw participants, run_evaluation on those it keeps: a row the
    evaluation excludes (person Z is not in the extract) adds no snapshot in either, so the two agree."""
    from ml.evaluation.pipeline import build_sources, score_snapshots

    participants = pd.DataFrame(
        {"person_id": ["A", "Z"], "programme": ["P", "P"], "selected_on": ["2020-06-01", "2020-09-01"]}
    )
    config = EvaluationConfig(invalid_participants="exclude", bootstrap_reps=19, matched_bootstrap_reps=19)
    from_raw = score_snapshots(build_sources(small_incidents, None), participants, config)
    dates = sorted({str(d)[:10] for d in from_raw["as_of_date"]})
    assert "2020-06-01" in dates and "2020-09-01" not in dates
    result = run_evaluation(small_incidents, None, participants, config)
    assert len(result.participant_problems) == 1
    pd.testing.assert_frame_equal(from_raw, result.rfg_scores)
