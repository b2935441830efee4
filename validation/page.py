"""The simulation study's HTML page: the table, and in words which estimator fails where, and by how much."""

from __future__ import annotations

import html

import pandas as pd

from validation.dgp import ASSUMPTIONS_HOLD, SCENARIOS
from validation.study import BIAS_TARGET, COVERAGE_TARGET, ESTIMATORS


def _findings(table: pd.DataFrame) -> list[str]:
    lines = []
    for (scenario, effect), g in table.groupby(["scenario", "effect"], sort=False):
        holds = ASSUMPTIONS_HOLD[scenario]
        for r in g.itertuples(index=False):
            if r.estimator in ("naive_pre_post",) or r.verdict == "meets target":
                continue
            what = ESTIMATORS.get(r.estimator, r.estimator)
            lines.append(
                f"{SCENARIOS[scenario]} (true effect {effect:+.0%}; the matched design's assumptions "
                f"{'hold' if holds else 'fail'}): {what}, {r.outcome}: {r.verdict.replace('fails: ', '')} "
                f"(bias {r.bias:+.3f} ± {r.bias_mcse:.3f} MCSE; coverage {r.coverage:.1%} ± {r.coverage_mcse:.1%}; "
                f"excludes no effect in {r.rejects_no_effect:.1%})"
            )
    return lines


def render(table: pd.DataFrame, meta: dict) -> str:
    shown = table.copy()
    shown["effect"] = shown["effect"].map(lambda e: f"{e:+.0%}")
    shown["estimator"] = shown["estimator"].map(lambda e: ESTIMATORS.get(e, e))
    for c in ("bias", "bias_mcse", "rmse"):
        shown[c] = shown[c].map(lambda v, c=c: f"{v:+.3f}" if c == "bias" else f"{v:.3f}")
    for c in ("coverage", "coverage_mcse", "rejects_no_effect"):
        shown[c] = shown[c].map(lambda v: f"{v:.1%}")
    head = (
        f"<p>{meta['replicates']} replicates per scenario and effect; {meta['people']} people per simulated world; "
        f"{meta['bootstrap_reps']} bootstrap replicates per matched estimate; {meta['workers']} processes; "
        f"{meta['seconds']:.0f} s in all. Targets where the assumptions hold: |bias of the log rate ratio| ≤ "
        f"{BIAS_TARGET} and 95% interval coverage between {COVERAGE_TARGET[0]:.0%} and {COVERAGE_TARGET[1]:.0%}. "
        "Monte Carlo standard errors (MCSE) say how far each figure may be from its limit with this many "
        "replicates. The placebo DiD's truth is 0 (no programme in the pre-period). 'Excludes no effect' is the "
        "share of intervals that exclude a ratio of 1: with a zero true effect it is the false-positive rate "
        "(nominal 5%).</p>"
    )
    findings = "".join(f"<li>{html.escape(line)}</li>" for line in _findings(table)) or "<li>none</li>"
    scenarios = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(v)} (assumptions {'hold' if ASSUMPTIONS_HOLD[k] else 'fail'})</li>"
        for k, v in SCENARIOS.items()
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Evaluation simulation study</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px}}tr:nth-child(even){{background:#f6f6f6}}</style></head><body>
<h1>Evaluation simulation study</h1>{head}
<h2>Scenarios</h2><ul>{scenarios}</ul>
<h2>Where an estimator misses its target</h2><ul>{findings}</ul>
<h2>All results</h2>{shown.to_html(index=False, escape=True)}
</body></html>"""


def markdown(table: pd.DataFrame) -> str:
    """The study's table as Markdown, one table per outcome (rows: scenario × effect; cells: bias / RMSE of
    the log rate ratio / 95% coverage, estimated replicates), then the share of intervals that exclude "no
    effect" at a zero effect, per estimator: what docs/evaluation.md quotes."""
    order = [e for e in ESTIMATORS if e in set(table["estimator"])]
    parts = []
    for outcome, g in table.groupby("outcome", sort=False):
        parts.append(f"{outcome}: bias / RMSE of the log rate ratio / 95% coverage (estimated replicates)\n")
        parts.append("| scenario | effect | " + " | ".join(ESTIMATORS[e] for e in order) + " |")
        parts.append("|:--|--:|" + ":--|" * len(order))
        for (scenario, effect), cell in g.groupby(["scenario", "effect"], sort=False):
            by = cell.set_index("estimator")
            shown = [
                (
                    f"{by.loc[e, 'bias']:+.2f} / {by.loc[e, 'rmse']:.2f} / {by.loc[e, 'coverage']:.0%} "
                    f"(n={int(by.loc[e, 'estimated'])})"
                )
                if e in by.index and by.loc[e, "estimated"]
                else ""
                for e in order
            ]
            parts.append(f"| {scenario} | {effect:g} | " + " | ".join(shown) + " |")
        parts.append("")
    null = table[(table["effect"] == 0) & (table["estimator"] != "naive_pre_post")]
    parts.append('Excludes "no effect" at a zero true effect (nominal 5%), by outcome and scenario\n')
    shown_est = [e for e in order if e != "naive_pre_post"]
    parts.append("| outcome | scenario | " + " | ".join(ESTIMATORS[e] for e in shown_est) + " |")
    parts.append("|:--|:--|" + "--:|" * len(shown_est))
    for (outcome, scenario), cell in null.groupby(["outcome", "scenario"], sort=False):
        by = cell.set_index("estimator")["rejects_no_effect"]
        shown = [f"{by[e]:.1%}" if e in by.index and pd.notna(by[e]) else "" for e in shown_est]
        parts.append(f"| {outcome} | {scenario} | " + " | ".join(shown) + " |")
    return "\n".join(parts) + "\n"
