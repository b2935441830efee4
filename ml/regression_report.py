"""The Section C report section: tables in the shape of seed 000's Figures 12 and 13, the sensitivity
comparison, the risk-assessment models and descriptives, diagnostics, a coefficient plot and residual plots.

Reads the published tables (``analytics.regression_results``, ``analytics.risk_assessment_validation``,
the model-fit and residual-sample companions) so the report shows exactly what was published. Counts of
people are suppressed below 5 (``ml.reporting.suppress_small_cells``). Plain library: no Dagster, no dbt.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml import regression as reg
from ml.estimability import NOT_ESTIMABLE
from ml.reporting import (
    Lineage,
    Section,
    figure_to_img,
    html_page,
    not_estimable_text,
    suppress_small_cells,
    table_html,
)

_SEVERITY = "Estimate of impact on DA total severity"
_N_OFFENDERS = "Number of offenders with the offence"


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def not_estimable_reason(model_fit: pd.DataFrame, model: str) -> str | None:
    """``not estimable: <reason>`` for a model the data could not support (None when it was estimated or
    not in the table): what the report prints where the model's figures would be."""
    if "status" not in model_fit:
        return None
    row = model_fit.loc[(model_fit["model"] == model) & (model_fit["status"] == NOT_ESTIMABLE)]
    return not_estimable_text(row["reason"].iloc[0]) if len(row) else None


def figure_table(rows: pd.DataFrame, label: str, alpha: float) -> pd.DataFrame:
    """Rows of :func:`ml.regression.presentation_filter` in the report's shape: offence, estimate, p band,
    number of offenders (suppressed under 5)."""
    shaped = pd.DataFrame(
        {
            label: rows["term_label"].astype(str),
            _SEVERITY: rows["estimate"].round(2),
            "95% CI": [
                f"{lo:,.1f} to {hi:,.1f}" for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)
            ],
            "p value": [reg.p_band(p, alpha) for p in rows["p_value"]],
            "q value": [_fmt_p(q) for q in rows["q_value"]],
            _N_OFFENDERS: rows["n_with_term"].astype("Int64"),
        }
    )
    return suppress_small_cells(shaped, [_N_OFFENDERS])


def full_term_table(results: pd.DataFrame, model: str, label: str) -> pd.DataFrame:
    """Every term of ``model`` with both standard errors and the sensitivity fits beside it."""
    primary = results.loc[results["model"] == model].copy()
    out = pd.DataFrame(
        {
            label: primary["term_label"].astype(str),
            "kind": primary["term_kind"],
            "estimate": primary["estimate"],
            "SE (robust)": primary["std_error"],
            "p (robust)": [_fmt_p(p) for p in primary["p_value"]],
            "95% CI low": primary["ci_low"],
            "95% CI high": primary["ci_high"],
            "SE (classical)": primary["std_error_classical"],
            "p (classical)": [_fmt_p(p) for p in primary["p_value_classical"]],
            "q (BH)": [_fmt_p(q) for q in primary["q_value"]],
            "offenders": primary["n_with_term"].astype("Int64"),
        }
    ).reset_index(drop=True)
    for suffix, column, transform in (
        ("_unadjusted", "unadjusted estimate", None),
        ("_log1p", "log1p: % change", lambda b: 100 * (np.exp(b) - 1)),
        ("_tweedie", "Tweedie: ratio", np.exp),
    ):
        other = results.loc[results["model"] == model + suffix, ["term", "estimate", "p_value"]]
        if other.empty:
            continue
        merged = primary[["term"]].merge(other, on="term", how="left")
        values = merged["estimate"].to_numpy(dtype=float)
        out[column] = transform(values) if transform else values
        out[column.split(":")[0] + " p"] = [_fmt_p(p) for p in merged["p_value"]]
    return suppress_small_cells(out, ["offenders"])


def coefficient_plot(results: pd.DataFrame, model: str, title: str, max_terms: int = 40):
    """Estimates with their 95% intervals (robust), one line per indicator; the unadjusted fit beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results.loc[(results["model"] == model) & (results["term_kind"] == "indicator")]
    rows = rows.sort_values("estimate").tail(max_terms)
    fig, ax = plt.subplots(figsize=(8, 0.28 * max(len(rows), 4) + 1.2))
    y = np.arange(len(rows))
    ax.errorbar(
        rows["estimate"], y, xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
        fmt="o", color="#1f4e79", ecolor="#7aa6d1", capsize=2, label="adjusted (robust 95% CI)",
    )  # fmt: skip
    unadjusted = results.loc[results["model"] == model + "_unadjusted", ["term", "estimate"]]
    if not unadjusted.empty:
        merged = rows[["term"]].merge(unadjusted, on="term", how="left")
        ax.plot(merged["estimate"], y, "x", color="#c0504d", label="unadjusted (report-style)")
    ax.axvline(0, color="#888", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([str(t)[:45] for t in rows["term_label"]], fontsize=8)
    ax.set_xlabel("change in total DA severity (ONS points)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def residual_plot(residuals: pd.DataFrame, models: Sequence[str]):
    """Residual against fitted value for a sample of offenders of each model (one panel per model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in models if (residuals["model"] == m).any()]
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(4.2 * max(len(models), 1), 3.4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=False):
        part = residuals.loc[residuals["model"] == model]
        ax.scatter(part["fitted"], part["residual"], s=4, alpha=0.35, color="#1f4e79")
        ax.axhline(0, color="#c0504d", linewidth=0.8)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("fitted")
        ax.set_ylabel("residual")
    fig.tight_layout()
    return fig


def _model_fit_table(model_fit: pd.DataFrame) -> pd.DataFrame:
    columns = ["model", "family", "se_type", "n_obs", "n_params", "n_aliased", "r_squared", "adj_r_squared",
               "sigma", "max_leverage", "residual_skewness", "residual_excess_kurtosis", "converged",
               "status"]  # fmt: skip
    shown = model_fit[[c for c in columns if c in model_fit.columns]].copy()
    if "reason" in model_fit:
        shown["status"] = [not_estimable_text(r) if st == NOT_ESTIMABLE else st
                           for st, r in zip(model_fit["status"], model_fit["reason"], strict=True)]  # fmt: skip
    return suppress_small_cells(shown, ["n_obs"])


def _validation_tables(validation: pd.DataFrame, threshold: float) -> list[str]:
    parts = []
    share = f"share_total_da_severity_ge_{threshold:g}"
    for section, title in (("first_da_grade", "First DA incident's risk grade"),
                           ("first_non_crime_grade", "First non-crime DA incident's risk grade")):  # fmt: skip
        part = validation.loc[(validation["section"] == section) & validation["group"].isin(reg.RISK_LEVELS)]
        if part.empty:
            continue
        if not (pd.to_numeric(part["n_offenders"], errors="coerce").fillna(0) > 0).any():
            parts.append(
                _p(f"{title}: {not_estimable_text('no offender has a graded incident of this kind')}.")
            )
            continue
        measures = ["mean_total_da_severity", "median_total_da_severity", share]
        wide = part.pivot_table(
            index="group", columns="measure", values="value", aggfunc="first", dropna=False
        )
        wide = wide.reindex(columns=measures)
        counts = part.groupby("group")["n_offenders"].first()
        wide = wide.reindex([g for g in reg.RISK_LEVELS if g in wide.index])
        shaped = pd.DataFrame(
            {
                "grade": wide.index,
                "offenders": counts.reindex(wide.index).astype("Int64").to_numpy(),
                "mean total DA severity": wide.get("mean_total_da_severity"),
                "median total DA severity": wide.get("median_total_da_severity"),
                f"share with total ≥ {threshold:g}": [
                    f"{v:.1%}" if np.isfinite(v) else "" for v in wide.get(share)
                ],
            }
        ).reset_index(drop=True)
        shaped = suppress_small_cells(
            shaped, ["offenders"],
            dependent_columns=["mean total DA severity", "median total DA severity", f"share with total ≥ {threshold:g}"],
        )  # fmt: skip
        parts.append(table_html(shaped, float_format="{:,.1f}", caption=title))
        extra = validation.loc[
            (validation["section"] == section) & ~validation["group"].isin(reg.RISK_LEVELS)
        ]
        for row in extra.itertuples():
            parts.append(_p(f"{title}: {row.measure.replace('_', ' ')} ({row.group}) = {row.value:.3f}"))
    ever = validation.loc[validation["section"] == "ever_high"]
    if not ever.empty:
        shaped = suppress_small_cells(
            ever[["group", "measure", "value", "n_offenders"]].assign(
                n_offenders=ever["n_offenders"].astype("Int64")
            ),
            ["n_offenders"], dependent_columns=["value"],
        )  # fmt: skip
        parts.append(
            table_html(shaped, float_format="{:,.2f}", caption="Ever graded high vs never (report: 30×)")
        )
    clusters = validation.loc[validation["section"] == "cluster"]
    if not clusters.empty:
        shaped = pd.DataFrame(
            {
                "cluster": clusters["group"].to_numpy(),
                "offenders graded at first DA incident": clusters["n_offenders"].astype("Int64").to_numpy(),
                "share of first grades high": [f"{v:.1%}" for v in clusters["value"]],
            }
        )
        shaped = suppress_small_cells(shaped, ["offenders graded at first DA incident"],
                                      dependent_columns=["share of first grades high"])  # fmt: skip
        parts.append(table_html(shaped, caption="Share of high first grades per cluster"))
    else:
        parts.append(
            _p("The share of high first grades per cluster appears once the typology has been built.")
        )
    return parts


def regression_sections(
    results: pd.DataFrame,
    validation: pd.DataFrame,
    model_fit: pd.DataFrame,
    residuals: pd.DataFrame | None = None,
    *,
    min_offenders: int,
    alpha: float = reg.DEFAULT_ALPHA,
    controls: Sequence[str] = reg.DEFAULT_CONTROLS,
    top_k: int = 10,
    significance_column: str = "p_value",
    high_harm_threshold: float = reg.HIGH_HARM_THRESHOLD,
) -> list[Section]:
    """The Section C sections, ready for :func:`ml.reporting.html_page` (or another report's page)."""
    sections: list[Section] = []
    controls_text = ", ".join(controls) if controls else "none"
    fit_rows = model_fit.set_index("model")
    n_obs = int(fit_rows.loc["offence_type", "n_obs"]) if "offence_type" in fit_rows.index else 0
    spec = (
        _p(
            "Outcome: total DA severity (sum of ONS Crime Severity Score weights over the offender's DA incidents). "
            "Offence models: OLS of the outcome on an indicator of having each non-DA offence type (or specific "
            f"offence code) in the offender's history, controlling for: {controls_text}. "
            f"Standard errors: {model_fit['se_type'].iloc[0] if len(model_fit) else ''} (heteroskedasticity-"
            "robust) by default, classical beside them. Benjamini–Hochberg q-values across the indicator tests "
            "of each model."
        )
        + _p(
            f"Presentation filter (applied to the tables, not to the fits): p < {alpha:g} and at least "
            f"{min_offenders:,} offenders with the offence (the report's 200 of 145,392 offenders, scaled to "
            f"this data's {n_obs:,} offenders). These are associations, not causes."
        )
        + _note(
            "The report-style fit without controls is shown beside the adjusted one. Offenders with any non-DA "
            "history differ from DA-only offenders, and offenders with many non-DA incidents hold more offence "
            "types by volume alone; without the controls an indicator's estimate mixes those differences in."
        )
    )
    sections.append(Section("Section C: specification", spec, "regression-spec"))

    type_label = "Offence type"
    body = []
    for model, caption in (("offence_type", "Figure 12 (adjusted)"),
                           ("offence_type_unadjusted", "Figure 12, report-style (no controls)")):  # fmt: skip
        rows = reg.presentation_filter(results.loc[results["model"] == model], min_offenders, alpha,
                                       significance_column)  # fmt: skip
        reason = not_estimable_reason(model_fit, model)
        if reason:
            body.append(_p(f"{caption}: {reason}."))
        elif rows.empty:
            body.append(_p(f"{caption}: no offence type passed the filter."))
        else:
            body.append(
                table_html(figure_table(rows, type_label, alpha), float_format="{:,.2f}", caption=caption)
            )
    if (results["model"] == "offence_type").any() and not not_estimable_reason(model_fit, "offence_type"):
        body.append(figure_to_img(coefficient_plot(results, "offence_type", "Offence types: estimates and 95% CIs"),
                                  "coefficient plot of the offence-type model"))  # fmt: skip
        body.append("<details><summary>All offence types, both standard errors and the sensitivity fits</summary>"
                    + table_html(full_term_table(results, "offence_type", type_label)) + "</details>")  # fmt: skip
    sections.append(Section("Non-DA offence types and total DA severity (Figure 12)", "".join(body), "fig12"))

    body = []
    code_results = results.loc[results["model"] == "offence_code"]
    code_reason = not_estimable_reason(model_fit, "offence_code")
    if code_reason:
        body.append(_p(f"Specific offences: {code_reason}."))
    elif not code_results.empty:
        summary = reg.significance_summary(code_results, alpha)
        body.append(
            _p(
                f"{summary['n_terms']:,} specific offences fitted; {summary['n_significant']:,} "
                f"({summary['share_significant']:.0%}) significant at p < {alpha:g} (the report: 656, 16%), "
                f"{summary['share_p_lt_0_01']:.0%} at p < 0.01; {summary['n_q_lt_alpha']:,} with q < {alpha:g} "
                f"after the Benjamini–Hochberg adjustment; {summary['n_significant_classical']:,} significant "
                f"with classical standard errors. Positive among the significant: "
                f"{_share_or_dash(summary['share_significant_positive'])}."
                if summary["n_terms"]
                else "No specific offence was held by enough offenders to fit."
            )
        )
        top = reg.top_significant(code_results, top_k, min_offenders, alpha, significance_column)
        if top.empty:
            body.append(_p("No specific offence passed the filter."))
        else:
            body.append(table_html(figure_table(top, "Offence", alpha), float_format="{:,.2f}",
                                   caption=f"Figure 13: top {top_k} significant offences by estimate"))  # fmt: skip
        body.append("<details><summary>All fitted offences</summary>"
                    + table_html(full_term_table(results, "offence_code", "Offence")) + "</details>")  # fmt: skip
    sections.append(Section("Specific non-DA offences (Figure 13)", "".join(body), "fig13"))

    body = [_p("Total DA severity is heavy-tailed. Beside each OLS fit: OLS of log1p(total DA severity) "
               "(multiplicative effects) and a Tweedie GLM with log link (sandwich standard errors). A term is "
               "listed where the conclusion differs: significant in one fit and not the other, or significant "
               "in both with opposite signs.")]  # fmt: skip
    for model in ("offence_type", "offence_code"):
        primary = results.loc[results["model"] == model]
        for suffix in ("_log1p", "_tweedie"):
            other = results.loc[results["model"] == model + suffix]
            if primary.empty or other.empty:
                continue
            reason = not_estimable_reason(model_fit, model) or not_estimable_reason(model_fit, model + suffix)
            if reason:
                body.append(_p(f"{model} vs {model + suffix}: {reason}."))
                continue
            diff = reg.compare_sensitivity(primary, other, alpha)
            n_ind = int((primary["term_kind"] == "indicator").sum())
            body.append(
                _p(f"{model} vs {model + suffix}: {len(diff):,} of {n_ind:,} terms differ in conclusion.")
            )
            if len(diff):
                shown = diff.head(25)[["term_label", "n_with_term", "estimate_ols", "p_value_ols",
                                       "estimate_sensitivity", "p_value_sensitivity", "difference"]]  # fmt: skip
                shown = suppress_small_cells(shown.assign(n_with_term=shown["n_with_term"].astype("Int64")),
                                             ["n_with_term"])  # fmt: skip
                body.append(table_html(shown, caption=f"{model} vs {model + suffix} (first 25)"))
    sections.append(Section("Heavy-tail sensitivity", "".join(body), "sensitivity"))

    body = []
    for model, title in (("risk_first_non_crime", "Grade of the first non-crime DA incident (vs standard)"),
                         ("risk_first_da", "Grade of the first DA incident (vs standard), controlling for its severity"),
                         ("risk_share_high", "Share of assessments graded high, controlling for their number")):  # fmt: skip
        rows = results.loc[(results["model"] == model) & (results["term_kind"] != "intercept")]
        reason = not_estimable_reason(model_fit, model)
        if reason:
            body.append(_p(f"{title}: {reason}."))
            continue
        if rows.empty:
            continue
        shaped = pd.DataFrame(
            {
                "term": rows["term"],
                "estimate": rows["estimate"],
                "SE (robust)": rows["std_error"],
                "95% CI": [
                    f"{lo:,.1f} to {hi:,.1f}" for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)
                ],
                "p (robust)": [_fmt_p(p) for p in rows["p_value"]],
                "SE (classical)": rows["std_error_classical"],
                "n": rows["n_obs"].astype("Int64"),
            }
        )
        body.append(table_html(suppress_small_cells(shaped, ["n"]), float_format="{:,.2f}", caption=title))
    body += _validation_tables(validation, high_harm_threshold)
    sections.append(Section("How predictive is the first risk assessment?", "".join(body), "risk"))

    body = [table_html(_model_fit_table(model_fit), caption="Fit and residual diagnostics by model")]
    if residuals is not None and not residuals.empty:
        models = [m for m in ("offence_type", "offence_code", "offence_code_log1p", "risk_first_da")
                  if (residuals["model"] == m).any()]  # fmt: skip
        body.append(figure_to_img(residual_plot(residuals, models), "residuals against fitted values"))
        body.append(_p("Residual plots show a sample of offenders. The fan shape on the raw scale is why robust "
                       "standard errors are the default."))  # fmt: skip
    sections.append(Section("Diagnostics", "".join(body), "diagnostics"))
    return sections


def regression_report_html(
    results: pd.DataFrame,
    validation: pd.DataFrame,
    model_fit: pd.DataFrame,
    residuals: pd.DataFrame | None = None,
    *,
    lineage: Lineage | None = None,
    **options,
) -> str:
    """A self-contained HTML page with the Section C sections (see :func:`regression_sections`)."""
    intro = _p(
        "Regressions of Section C of the perpetrator typology: non-DA offending, DA harm and risk grades."
    )
    return html_page(
        "Section C: non-DA offending, risk assessment and DA harm",
        regression_sections(results, validation, model_fit, residuals, **options),
        lineage,
        intro,
    )


def _share_or_dash(share: float) -> str:
    """A share as a percentage, or a dash where it is undefined (nothing to take a share of)."""
    return "–" if share is None or share != share else f"{share:.0%}"
