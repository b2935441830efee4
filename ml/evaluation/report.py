"""The evaluation report: one self-contained HTML page per programme (plots inlined, readable offline).

Every table that counts people passes through ``suppress_small_cells`` (cells under the threshold, default
5, are shown as "<5" and the rates and means computed from them are blanked)."""

from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ml.estimability import NOT_ESTIMABLE  # noqa: E402
from ml.evaluation.incidents import MEASURE_LABELS  # noqa: E402
from ml.evaluation.pipeline import EvaluationResult  # noqa: E402
from ml.reporting import (  # noqa: E402
    Lineage,
    Section,
    figure_to_img,
    html_page,
    not_estimable_text,
    suppress_small_cells,
    table_html,
)

DESIGN_LABELS = {
    "naive_pre_post": "naive before/after (not an effect)",
    "rtm_comparison_fall": "regression to the mean (comparison's own change)",
    "matched_did": "matched difference-in-differences",
    "matched_post": "matched comparison after selection (no pre-period differencing)",
    "placebo_did": "placebo DiD in the pre-period (expect 1)",
    "library_did": "Callaway–Sant'Anna (diff-diff)",
    "library_placebo": "Callaway–Sant'Anna pre-period cell (shows the selection, not a placebo: expect it away from 1)",
    "rct_itt": "RCT intention to treat",
    "rct_itt_negbin": "RCT intention to treat (negative binomial)",
    "rct_per_protocol": "RCT per protocol (secondary)",
    "survival_cox": "Cox hazard ratio",
}
DESIGN_ORDER = list(DESIGN_LABELS)


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _note(text: str) -> str:
    return f"<div class='note'>{html.escape(text)}</div>"


def _block_chart(blocks: pd.DataFrame, measure: str, threshold: int) -> str:
    data = blocks.loc[(blocks["anchor"] == "selection") & (blocks["measure"] == measure)]
    if data.empty:
        return _p("No block data.")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for group, rows in data.groupby("group"):
        rows = rows.sort_values("block")
        mean = rows["mean"].where(rows["n_people"] >= threshold)
        ax.plot(rows["block"], mean, marker="o", label=f"{group}")
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_xlabel("six-month block relative to selection (−1 = the 6 months before)")
    ax.set_ylabel(f"mean per person: {MEASURE_LABELS.get(measure, measure)}")
    ax.legend()
    ax.grid(alpha=0.3)
    return figure_to_img(fig, f"six-month blocks of {measure}, treated vs comparison")


def _km_chart(curves: pd.DataFrame) -> str:
    if curves.empty:
        return _p("No survival data.")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for group, rows in curves.groupby("group"):
        ax.step(
            rows["time"], rows["survival"], where="post", label=f"{group} (n={int(rows['n_people'].iloc[0])})"
        )
    ax.set_xlabel("days after selection")
    ax.set_ylabel("share with no DA incident yet")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.grid(alpha=0.3)
    return figure_to_img(fig, "Kaplan-Meier curves")


def _effect_table(effects: pd.DataFrame, threshold: int) -> pd.DataFrame:
    table = effects.copy()
    table["order"] = table["design"].map({d: i for i, d in enumerate(DESIGN_ORDER)}).fillna(99)
    table = table.sort_values(["outcome", "order"])
    table["design"] = table["design"].map(lambda d: DESIGN_LABELS.get(d, d))
    table["95% CI"] = [
        "" if pd.isna(lo) else f"{lo:.3g} – {hi:.3g}"
        for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
    ]
    reasons = (
        [
            not_estimable_text(r, threshold) if st == NOT_ESTIMABLE else None
            for st, r in zip(table["status"], table["reason"], strict=True)
        ]
        if "status" in table
        else [None] * len(table)
    )
    table = table[
        [
            "outcome",
            "design",
            "estimand",
            "estimate",
            "95% CI",
            "p_value",
            "n_treated",
            "n_comparison",
            "window",
            "note",
        ]
    ]
    table = suppress_small_cells(
        table, ["n_treated", "n_comparison"], threshold, ["estimate", "95% CI", "p_value"]
    )
    # The rule: where a figure could not be estimated, the reason stands where the figure would be.
    table["estimate"] = [
        reason if reason else value
        for reason, value in zip(reasons, table["estimate"].astype(object), strict=True)
    ]
    return table


def headline_design(outcome: str, randomised: bool) -> str:
    """The adjusted estimate a sentence leads with. Randomised: the ITT. Matched: the DiD for counts; for
    harm, the matched after-selection contrast — selection on harm itself leaves the heavy-tailed
    pre-period harm of the selected unmatched in its raw totals, and differencing it turns their regression
    to the mean into a false effect (the simulation study, ``make validate``, measures both). With the
    matching's regression adjustment (on by default) the pre-period is balanced and the two agree."""
    if randomised:
        return "rct_itt"
    return "matched_post" if outcome.startswith("harm") else "matched_did"


def _fmt_ratio(row) -> str:
    if row is None or row.get("status") != "estimated" or pd.isna(row.get("estimate")):
        reason = "" if row is None else (row.get("reason") or "")
        return f"not estimable ({reason})" if reason else "not estimable"
    return f"{row['estimate']:.2f} (95% CI {row['ci_low']:.2f}–{row['ci_high']:.2f})"


def _overlap(a, b) -> bool:
    return not (a["ci_high"] < b["ci_low"] or b["ci_high"] < a["ci_low"])


def headline_sentences(effects: pd.DataFrame, summary, threshold: int = 5) -> list[str]:
    """One sentence per outcome: the adjusted estimate and its interval, how many of the cohort it covers,
    the naive figure and the comparison group's own fall beside it, the placebo, and whether the library
    estimator agrees."""
    randomised = bool(summary and summary.design == "randomised")
    out = []
    for outcome in [o for o in effects["outcome"].drop_duplicates() if o != "time_to_da_reoffence"]:
        rows = effects.loc[effects["outcome"] == outcome]

        def pick(design, rows=rows):
            hit = rows.loc[rows["design"] == design]
            if design == "rct_itt":
                hit = hit.loc[hit["estimand"].astype(str).str.contains("ratio")]
            return None if hit.empty else hit.iloc[0].to_dict()

        main, naive, fall = (
            pick(headline_design(outcome, randomised)),
            pick("naive_pre_post"),
            pick("rtm_comparison_fall"),
        )
        label = MEASURE_LABELS.get(outcome, outcome)
        if main is None:
            continue
        n_t = main.get("n_treated")
        covers = ""
        if summary is not None and n_t is not None and not pd.isna(n_t):
            n_t = int(n_t)
            shown = f"{n_t}" if n_t >= threshold else f"<{threshold}"
            covers = (
                f" for {shown} of the {summary.n_participants} selected (matched)"
                if not randomised
                else f" ({shown} in the treatment arm, {summary.n_comparison} in the control arm)"
            )
        what = DESIGN_LABELS.get(main["design"], main["design"])
        text = f"{label}: {what} {_fmt_ratio(main)}{covers}"
        if naive is not None:
            text += f"; the naive before/after figure is {_fmt_ratio(naive)}"
        if fall is not None:
            text += f", while the {'control arm' if randomised else 'matched comparison group'} fell by itself to {_fmt_ratio(fall)}"
        if not randomised:
            placebo = pick("placebo_did")
            if placebo is not None:
                verdict = ""
                if placebo.get("status") == "estimated":
                    verdict = (
                        " — passes"
                        if placebo["ci_low"] <= 1 <= placebo["ci_high"]
                        else " — fails: the pre-periods were not parallel"
                    )
                text += f". Placebo in the pre-period: {_fmt_ratio(placebo)}{verdict}"
            library = pick("library_did")
            did = pick("matched_did")
            if library is not None and library.get("status") == "estimated":
                agree = did is not None and did.get("status") == "estimated" and _overlap(library, did)
                text += f". Callaway–Sant'Anna (diff-diff): {_fmt_ratio(library)}" + (
                    "" if agree else " — it disagrees with the matched DiD beyond their intervals"
                )
        out.append(text + ".")
    return out


def _diagnostics_html(summary) -> str:
    d = summary.diagnostics if summary else {}
    if not d or "ess_comparison" not in d:
        return ""
    return _p(
        f"Comparison weights (matching × IPCW): {d.get('n_comparison_people')} people, effective sample size "
        f"{d.get('ess_comparison', float('nan')):.0f}; largest person weight {d.get('max_comparison_weight', float('nan')):.2f}; "
        f"largest IPCW weight {d.get('max_ipcw_weight', float('nan')):.2f} ({d.get('n_ipcw_capped', 0)} capped); "
        f"the top 1% of comparison people carry {d.get('share_weight_top_1pct', float('nan')):.0%} of the weight. "
        f"Matched on: {', '.join(d.get('covariates', []))}."
    )


def evaluation_report(
    result: EvaluationResult, programme: str, lineage: Lineage | None = None, threshold: int = 5
) -> str:
    """The HTML page for one programme."""
    summary = result.programmes.get(programme)
    effects = result.effect_estimates.loc[result.effect_estimates["programme"] == programme]
    blocks = result.harm_blocks.loc[result.harm_blocks["programme"] == programme]
    sections = []

    design_text = (
        "Arms were randomised: the effect is the intention-to-treat contrast of the arms."
        if summary and summary.design == "randomised"
        else "No randomisation: each selected person is compared with eligible people who were not selected, "
        "matched at the same as-of date on what the selection panel could see (RFG components, the pre-selection "
        "trajectory, harm, risk grades, non-DA offending, custody, victims, as reported by that date); the effect "
        "is the difference-in-differences of their before/after rates (for harm, their after-selection contrast)."
    )
    sentences = headline_sentences(effects, summary, threshold) if len(effects) else []
    answer = (
        "<div class='answer'><h2>The answer</h2><ul>"
        + "".join(f"<li>{html.escape(t)}</li>" for t in sentences)
        + "</ul></div>"
        if sentences
        else ""
    )
    intro = answer + _note(
        "A cohort chosen because its recent harm was high falls back without any programme (regression to "
        "the mean). The naive before/after figures below are shown for comparison with past reports; they are "
        "not effect estimates. " + design_text
    )
    if summary:
        intro += _p(
            f"Participants: {summary.n_participants}; selected {summary.first_selected} to "
            f"{summary.last_selected}; extract covers {result.extract_window[0]} to {result.extract_window[1]}."
        )

    funnel = result.stage_funnel.loc[
        result.stage_funnel["programme"] == programme, ["arm", "stage", "n_people", "share_of_selected"]
    ]
    sections.append(
        Section(
            "Stage funnel",
            table_html(suppress_small_cells(funnel, ["n_people"], threshold, ["share_of_selected"])),
            "funnel",
        )
    )

    rates = result.reoffending_rates.loc[
        result.reoffending_rates["programme"].isin([programme, "all"]),
        ["population", "anchor", "window_days", "n_people", "n_reoffended", "n_censored", "rate", "km_rate"],
    ]
    sections.append(
        Section(
            "DA reoffending rates",
            _p(
                "Share with at least one DA incident in the window. People whose window runs past the end of the "
                "extract are censored: left out of 'rate' and counted in n_censored; 'km_rate' is the Kaplan–Meier "
                "estimate that keeps them."
            )
            + table_html(
                suppress_small_cells(
                    rates, ["n_people", "n_reoffended", "n_censored"], threshold, ["rate", "km_rate"]
                )
            ),
            "rates",
        )
    )

    prates = result.participation_rates.loc[result.participation_rates["programme"] == programme]
    if len(prates):
        sections.append(
            Section(
                "Offending before, during and after participation",
                _p(
                    "Rates per person-year in the 12 months before selection, during participation and in the 12 months "
                    "after exit."
                )
                + table_html(
                    suppress_small_cells(
                        prates[
                            [
                                "group",
                                "period",
                                "measure",
                                "n_people",
                                "person_years",
                                "total",
                                "rate_per_person_year",
                            ]
                        ],
                        ["n_people"],
                        threshold,
                        ["total", "rate_per_person_year", "person_years"],
                    )
                ),
                "participation",
            )
        )

    charts = "".join(_block_chart(blocks, m, threshold) for m in ("da_incidents", "harm_css"))
    block_table = blocks.loc[
        (blocks["anchor"] == "selection")
        & (blocks["measure"].isin(["da_incidents", "harm_css", "harm_cchi"]))
    ]
    block_table = block_table[["group", "measure", "block", "n_people", "total", "mean"]]
    sections.append(
        Section(
            "Six-month blocks around selection",
            charts
            + table_html(suppress_small_cells(block_table, ["n_people"], threshold, ["total", "mean"])),
            "blocks",
        )
    )
    other = blocks.loc[blocks["anchor"] != "selection"]
    if len(other):
        gravity = (
            other.loc[other["block"].isin([-1, 1])]
            .pivot_table(index=["anchor", "group", "measure"], columns="block", values="mean")
            .reset_index()
        )
        if {-1, 1} <= set(gravity.columns):
            gravity["before / after"] = gravity[-1] / gravity[1].replace(0, np.nan)
            gravity = gravity.rename(columns={-1: "mean 6 months before", 1: "mean 6 months after"})
        sections.append(
            Section(
                "Other stage anchors (descriptive)",
                _p(
                    "Means per person in the six months before and after each later stage; descriptive only (no "
                    "comparison group at these anchors)."
                )
                + table_html(gravity),
                "stages",
            )
        )

    sections.append(
        Section(
            "Effect estimates",
            _p(
                "Rate ratios below 1 mean fewer incidents (or less harm). The naive figure and the comparison group's own "
                "change sit beside the adjusted estimate: their gap is what the programme plausibly caused."
            )
            + table_html(_effect_table(effects, threshold)),
            "effects",
        )
    )

    curves = result.survival_curves.loc[result.survival_curves["programme"] == programme]
    sections.append(Section("Time to first DA reoffence (Kaplan–Meier)", _km_chart(curves), "survival"))

    balance = result.balance.loc[result.balance["programme"] == programme]
    if len(balance):
        worst = float(balance["smd_after"].abs().max())
        sections.append(
            Section(
                "Balance of the matched comparison",
                _p(
                    f"Standardised mean differences before and after matching, every covariate (target |SMD| < 0.1; "
                    f"worst after matching {worst:.2f})."
                )
                + _diagnostics_html(summary)
                + table_html(
                    balance[
                        [
                            "covariate",
                            "mean_treated",
                            "mean_pool_before",
                            "smd_before",
                            "mean_treated_matched",
                            "mean_comparison_matched",
                            "smd_after",
                        ]
                    ]
                ),
                "balance",
            )
        )

    equality = result.equality_monitoring.loc[result.equality_monitoring["programme"] == programme]
    if len(equality):
        cols = ["characteristic", "category", "group", "n_people", "share"] + [
            c for c in equality.columns if c.startswith("disparity_vs_")
        ]
        sections.append(
            Section(
                "Equality monitoring",
                _p(
                    "Sex, ethnicity and age band of the cohort against the eligible pool and all DA perpetrators. Reported "
                    "only: these characteristics play no part in selection or matching."
                )
                + table_html(
                    suppress_small_cells(
                        equality[cols],
                        ["n_people"],
                        threshold,
                        ["share"] + [c for c in cols if c.startswith("disparity")],
                    )
                ),
                "equality",
            )
        )

    caveats = [
        f"Windows: {effects['window'].dropna().iloc[0] if len(effects) else 'n/a'}; reoffending windows "
        f"{int(result.reoffending_rates['window_days'].iloc[0])} days.",
        f"Cells under {threshold} people are suppressed ('<5') and the figures computed from them blanked.",
        "Right-censoring: people without a full window are counted in n_censored, not dropped silently.",
        "The matched comparison can only balance what the data record: selection on unrecorded judgement "
        "(e.g. panel discussions, MARAC information) is not adjusted for.",
        "Harm measures are heavy-tailed: their intervals are wide and come from resampling (in a "
        "randomised trial, from inverting a permutation test).",
        "Knowledge time: everything as of a date (eligibility, RFG, matching, the pre-period) counts only "
        "incidents reported by that date; outcomes count incidents committed in the window and reported within "
        f"{(summary.diagnostics.get('reporting_lag_days') if summary else None) or 'the configured'} days of its close.",
        "The matched intervals come from half-samples of people drawn without replacement (by default; the "
        "bootstrap is not valid for matching with replacement), each re-running the propensity model, the "
        "matching, the IPCW weights and the outcome models; the placebo DiD repeats the design on the two "
        "years before selection (no programme then).",
    ]
    if summary:
        caveats += summary.notes
    caveats += result.messages
    sections.append(
        Section(
            "Caveats", "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in caveats) + "</ul>", "caveats"
        )
    )
    return html_page(f"Outcome evaluation: {programme}", sections, lineage, intro)


def population_report(result: EvaluationResult, lineage: Lineage | None = None, threshold: int = 5) -> str:
    """The page written when the extract has no programme participants: RFG concentration and population rates."""
    rates = result.reoffending_rates[
        ["population", "anchor", "window_days", "n_people", "n_reoffended", "n_censored", "rate", "km_rate"]
    ]
    sections = [
        Section(
            "What could not be computed",
            "<ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in result.messages) + "</ul>",
        ),
        Section(
            "Population DA reoffending",
            table_html(
                suppress_small_cells(
                    rates, ["n_people", "n_reoffended", "n_censored"], threshold, ["rate", "km_rate"]
                )
            ),
        ),
        Section("Concentration (power few)", table_html(result.concentration)),
    ]
    return html_page("Outcome evaluation: population figures", sections, lineage)
