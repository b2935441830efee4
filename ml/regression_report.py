"""The Section C report section: tables in the shape of seed 000's Figures 12 and 13 (the report's headline
models), the adjusted and time-ordered variants beside them, the heavy-tail sensitivity comparison, what
could not be estimated and why, the risk-assessment models and descriptives, diagnostics, a coefficient
plot and residual plots.

Reads the published tables (``analytics.regression_results``, ``analytics.risk_assessment_validation``,
the model-fit and residual-sample companions) so the report shows exactly what was published. Tables filter
on the Benjamini–Hochberg q-value by default (raw p beside). Counts of people are suppressed below 5
(``ml.reporting.suppress_small_cells``). Plain library: no Dagster, no dbt.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml import regression as reg
from ml import reporting as rp
from ml.estimability import ESTIMATED, NOT_ESTIMABLE

_SEVERITY = "Estimate of impact on DA total severity"
_N_OFFENDERS = "Number of offenders with the offence"
_SIGNIFICANCE_NAMES = {"q_value": "q (Benjamini–Hochberg)", "p_value": "raw p"}


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
    return rp.not_estimable_text(row["reason"].iloc[0]) if len(row) else None


def _estimated(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.loc[rows["status"] == ESTIMATED] if "status" in rows else rows


def figure_table(rows: pd.DataFrame, label: str, alpha: float) -> pd.DataFrame:
    """Rows of :func:`ml.regression.presentation_filter` in the report's shape: offence, estimate, interval,
    q value, raw p (band and value), number of offenders (suppressed under 5)."""
    shaped = pd.DataFrame(
        {
            label: rows["term_label"].astype(str),
            _SEVERITY: rows["estimate"].round(2),
            "95% CI": [
                f"{lo:,.1f} to {hi:,.1f}" for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)
            ],
            "q value": [_fmt_p(q) for q in rows["q_value"]],
            "p value": [reg.p_band(p, alpha) for p in rows["p_value"]],
            "raw p": [_fmt_p(p) for p in rows["p_value"]],
            _N_OFFENDERS: rows["n_with_term"].astype("Int64"),
        }
    )
    return rp.suppress_small_cells(shaped, [_N_OFFENDERS])


_BESIDE = (
    ("_adjusted", "adjusted (same non-DA volume)", None),
    ("_pre_da", "time-ordered (before first DA)", None),
    ("_log1p", "log1p: % change", lambda b: 100 * (np.exp(b) - 1)),
    ("_tweedie", "Tweedie: ratio", np.exp),
)


def full_term_table(results: pd.DataFrame, model: str, label: str) -> pd.DataFrame:
    """Every term of ``model`` with both standard errors, q and raw p, status, and its variants beside it
    (adjusted, time-ordered, log1p and Tweedie estimates with their q-values)."""
    primary = results.loc[results["model"] == model].copy()
    out = pd.DataFrame(
        {
            label: primary["term_label"].astype(str),
            "kind": primary["term_kind"],
            "estimate": primary["estimate"],
            "SE (robust)": primary["std_error"],
            "q (BH)": [_fmt_p(q) for q in primary["q_value"]],
            "p (robust)": [_fmt_p(p) for p in primary["p_value"]],
            "95% CI low": primary["ci_low"],
            "95% CI high": primary["ci_high"],
            "SE (classical)": primary["std_error_classical"],
            "p (classical)": [_fmt_p(p) for p in primary["p_value_classical"]],
            "offenders": primary["n_with_term"].astype("Int64"),
            "status": primary["status"] if "status" in primary else ESTIMATED,
        }
    ).reset_index(drop=True)
    for suffix, column, transform in _BESIDE:
        other = results.loc[results["model"] == model + suffix, ["term", "estimate", "q_value"]]
        if other.empty:
            continue
        merged = primary[["term"]].merge(other, on="term", how="left")
        values = merged["estimate"].to_numpy(dtype=float)
        out[column] = transform(values) if transform else values
        out[column.split(":")[0].split(" (")[0] + " q"] = [_fmt_p(q) for q in merged["q_value"]]
    return rp.suppress_small_cells(out, ["offenders"])


def coefficient_plot(results: pd.DataFrame, model: str, title: str, max_terms: int = 40):
    """Headline estimates with their 95% intervals (robust), one line per estimated indicator; the adjusted
    and time-ordered estimates beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _estimated(results.loc[(results["model"] == model) & (results["term_kind"] == "indicator")])
    rows = rows.sort_values("estimate").tail(max_terms)
    fig, ax = plt.subplots(figsize=(8, 0.28 * max(len(rows), 4) + 1.2))
    y = np.arange(len(rows))
    ax.errorbar(
        rows["estimate"],
        y,
        xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
        fmt="o",
        color="#1f4e79",
        ecolor="#7aa6d1",
        capsize=2,
        label="headline, unadjusted (robust 95% CI)",
    )
    for suffix, marker, color, label in (
        ("_adjusted", "x", "#c0504d", "adjusted (same non-DA volume)"),
        ("_pre_da", "^", "#4f8f3a", "time-ordered (before first DA)"),
    ):
        other = _estimated(results.loc[results["model"] == model + suffix])[["term", "estimate"]]
        if not other.empty:
            merged = rows[["term"]].merge(other, on="term", how="left")
            ax.plot(merged["estimate"], y, marker, color=color, linestyle="none", label=label)
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
    columns = [
        "model",
        "role",
        "status",
        "family",
        "se_type",
        "n_obs",
        "n_params",
        "n_aliased",
        "n_leverage_one",
        "r_squared",
        "adj_r_squared",
        "sigma",
        "max_leverage",
        "residual_skewness",
        "residual_excess_kurtosis",
        "converged",
    ]
    shown = model_fit[[c for c in columns if c in model_fit.columns]].copy()
    if "reason" in model_fit:
        shown["status"] = [
            rp.not_estimable_text(r) if st == NOT_ESTIMABLE else st
            for st, r in zip(model_fit["status"], model_fit["reason"], strict=True)
        ]
    return rp.suppress_small_cells(shown, ["n_obs"])


def _validation_tables(validation: pd.DataFrame, threshold: float) -> list[str]:
    parts = []
    share = f"share_total_da_severity_ge_{threshold:g}"
    for section, title in (
        ("first_da_grade", "First DA incident's risk grade"),
        ("first_non_crime_grade", "First non-crime DA incident's risk grade"),
    ):
        part = validation.loc[
            (validation["section"] == section)
            & validation["group"].isin(reg.RISK_LEVELS)
            & (validation["n_offenders"].fillna(0) > 0)
        ]
        if part.empty:
            parts.append(
                rp.paragraph(
                    f"{title}: {rp.not_estimable_text('no offender has a graded incident of this kind')}."
                )
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
        shaped = rp.suppress_small_cells(
            shaped,
            ["offenders"],
            dependent_columns=[
                "mean total DA severity",
                "median total DA severity",
                f"share with total ≥ {threshold:g}",
            ],
        )
        parts.append(rp.table_html(shaped, float_format="{:,.1f}", caption=title))
        extra = validation.loc[
            (validation["section"] == section) & ~validation["group"].isin(reg.RISK_LEVELS)
        ]
        for row in extra.itertuples():
            parts.append(
                rp.paragraph(f"{title}: {row.measure.replace('_', ' ')} ({row.group}) = {row.value:.3f}")
            )
    ever = validation.loc[validation["section"] == "ever_high"]
    if not ever.empty:
        shaped = rp.suppress_small_cells(
            ever[["group", "measure", "value", "n_offenders"]].assign(
                n_offenders=ever["n_offenders"].astype("Int64")
            ),
            ["n_offenders"],
            dependent_columns=["value"],
        )
        parts.append(
            rp.table_html(shaped, float_format="{:,.2f}", caption="Ever graded high vs never (report: 30×)")
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
        shaped = rp.suppress_small_cells(
            shaped,
            ["offenders graded at first DA incident"],
            dependent_columns=["share of first grades high"],
        )
        parts.append(rp.table_html(shaped, caption="Share of high first grades per cluster"))
    else:
        parts.append(
            rp.paragraph(
                "The share of high first grades per cluster appears once the typology has been built."
            )
        )
    return parts


def _filtered_table(
    results: pd.DataFrame,
    model_fit: pd.DataFrame,
    model: str,
    label: str,
    caption: str,
    min_offenders: int,
    alpha: float,
    significance_column: str,
    top_k: int | None = None,
) -> str:
    reason = not_estimable_reason(model_fit, model)
    if reason:
        return rp.paragraph(f"{caption}: {reason}.")
    rows = reg.presentation_filter(
        results.loc[results["model"] == model], min_offenders, alpha, significance_column
    )
    if top_k is not None:
        rows = rows.head(top_k)
    if rows.empty:
        return rp.paragraph(f"{caption}: no term passed the filter.")
    return rp.table_html(figure_table(rows, label, alpha), float_format="{:,.2f}", caption=caption)


def _summary_line(results: pd.DataFrame, model_fit: pd.DataFrame, model: str, alpha: float, what: str) -> str:
    reason = not_estimable_reason(model_fit, model)
    if reason:
        return rp.paragraph(f"{what.capitalize()}: {reason}.")
    rows = results.loc[results["model"] == model]
    if rows.empty:
        return ""
    s = reg.significance_summary(rows, alpha)
    if not s["n_terms"]:
        return rp.paragraph(f"No {what} was held by enough offenders to fit.")
    return rp.paragraph(
        f"{s['n_terms']:,} {what} fitted; {s['n_q_lt_alpha']:,} ({s['share_q_lt_alpha']:.0%}) with q < {alpha:g} "
        f"after the Benjamini–Hochberg adjustment; {s['n_significant']:,} ({s['share_significant']:.0%}) with "
        f"raw p < {alpha:g} (the report's count: 656 offences, 16%), {s['share_p_lt_0_01']:.0%} with p < 0.01; "
        f"{s['n_significant_classical']:,} with classical p < {alpha:g}. Positive among the raw-p significant: "
        f"{_share_or_dash(s['share_significant_positive'])}."
        + (f" {s['n_not_estimable']:,} not estimable (see below)." if s["n_not_estimable"] else "")
    )


def _not_estimable_section(results: pd.DataFrame, model_fit: pd.DataFrame) -> str:
    body = []
    if "status" in model_fit:
        failed = model_fit.loc[model_fit["status"] != ESTIMATED, ["model", "role", "reason"]].copy()
        failed["reason"] = [rp.not_estimable_text(r) for r in failed["reason"]]
        if len(failed):
            body.append(rp.table_html(failed, caption="Models that could not be estimated on this data"))
    if "status" in results:
        terms = results.loc[
            (results["status"] != ESTIMATED) & (results["term_kind"] != "model"),
            ["model", "term_label", "term_kind", "n_with_term", "reason"],
        ].copy()
        terms["reason"] = [rp.not_estimable_text(r) for r in terms["reason"]]
        if len(terms):
            shown = rp.suppress_small_cells(
                terms.assign(n_with_term=terms["n_with_term"].astype("Int64")), ["n_with_term"]
            )
            body.append(
                rp.table_html(shown.head(200), caption=f"Terms not estimable ({len(terms):,}; first 200)")
            )
    if not body:
        return rp.paragraph("Every model and every term was estimated.")
    return rp.paragraph(
        "A term held by one offender has leverage 1: the fit passes through that person's outcome, so "
        "its estimate is their outcome alone and has no standard error. It is listed here, not published; "
        "the rest of its model keeps its standard errors (those of the same fit without that offender). "
        "Aliased terms duplicate earlier ones (held by exactly the same offenders) or by no one."
    ) + "".join(body)


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
    significance_column: str = reg.DEFAULT_SIGNIFICANCE,
    high_harm_threshold: float = reg.HIGH_HARM_THRESHOLD,
) -> list[rp.Section]:
    """The rp.Section C sections, ready for :func:`ml.reporting.html_page` (or another report's page)."""
    sections: list[rp.Section] = []
    controls_text = ", ".join(controls) if controls else "none"
    first = model_fit.iloc[0] if len(model_fit) else pd.Series(dtype=object)
    n_da = int(first.get("n_da_perpetrators", 0) or 0)
    n_out = int(first.get("n_without_da_incident", 0) or 0)
    se_type = ", ".join(
        sorted(set(model_fit.loc[model_fit.get("family", pd.Series()) == "ols", "se_type"].dropna()))
    )
    sig_name = _SIGNIFICANCE_NAMES.get(significance_column, significance_column)
    spec = (
        rp.paragraph(
            f"Population: the {n_da:,} DA perpetrators (offenders with at least one DA incident); "
            f"{n_out:,} people recorded only on non-DA crimes are left out (they have no DA harm to explain). "
            "Outcome: total DA severity (sum of ONS Crime Severity Score weights over the offender's DA incidents)."
        )
        + rp.paragraph(
            "Headline models (the report's): OLS of the outcome on an indicator of having each non-DA offence "
            "type (Figure 12) or specific offence (Figure 13) anywhere in the offender's history, unadjusted. "
            "An estimate is the association the report describes: how much more DA harm perpetrators with the "
            "offence caused than those without, volume of offending included."
        )
        + rp.paragraph(
            f"Sensitivity, non-DA volume (…_adjusted): the same indicators controlling for {controls_text} — a "
            "step function of the number of non-DA incidents (none, 1, 2, 3–4, 5–9, 10–19, 20–49, 50+), so each "
            "estimate compares offenders with a similar amount of non-DA offending. Sensitivity, heavy tail: "
            "OLS of log1p(total DA severity) and a Tweedie GLM (log link) on the headline design. "
            "Time-ordered (…_pre_da): indicators of the non-DA offences reported before the offender's first DA "
            "incident only, with an exposure term (a step function of the years observed from the first DA "
            "report to the end of the extract); offending that followed the DA harm no longer counts."
        )
        + rp.paragraph(
            f"Standard errors: {se_type or 'HC3'} (heteroskedasticity-robust), classical beside them. Tables "
            f"filter on {sig_name} < {alpha:g} (Benjamini–Hochberg across each model's offence terms, as hundreds "
            f"are tested at once) and at least {min_offenders:,} offenders with the offence (the report's 200 of "
            f"145,392 offenders, scaled to these {n_da:,}); the raw p is printed beside. The filter is applied "
            "to the tables, not to the fits. These are associations, not causes."
        )
    )
    sections.append(rp.Section("rp.Section C: specification", spec, "regression-spec"))

    type_label = "Offence type"
    body = [
        _filtered_table(
            results,
            model_fit,
            "offence_type",
            type_label,
            f"Figure 12: offence types with {sig_name} < {alpha:g}",
            min_offenders,
            alpha,
            significance_column,
        ),
        _filtered_table(
            results,
            model_fit,
            "offence_type_adjusted",
            type_label,
            "Sensitivity: the same at the same non-DA volume",
            min_offenders,
            alpha,
            significance_column,
        ),
    ]
    if (results["model"] == "offence_type").any() and not not_estimable_reason(model_fit, "offence_type"):
        body.append(
            rp.figure_to_img(
                coefficient_plot(results, "offence_type", "Offence types: estimates and 95% CIs"),
                "coefficient plot of the offence-type models",
            )
        )
        body.append(
            "<details><summary>All offence types, both standard errors and every variant</summary>"
            + rp.table_html(full_term_table(results, "offence_type", type_label))
            + "</details>"
        )
    sections.append(
        rp.Section("Non-DA offence types and total DA severity (Figure 12)", "".join(body), "fig12")
    )

    body = [_summary_line(results, model_fit, "offence_code", alpha, "specific offences")]
    if (results["model"] == "offence_code").any():
        body.append(
            _filtered_table(
                results,
                model_fit,
                "offence_code",
                "Offence",
                f"Figure 13: top {top_k} offences by estimate with {sig_name} < {alpha:g}",
                min_offenders,
                alpha,
                significance_column,
                top_k,
            )
        )
        body.append(
            _filtered_table(
                results,
                model_fit,
                "offence_code_adjusted",
                "Offence",
                f"Sensitivity: top {top_k} at the same non-DA volume",
                min_offenders,
                alpha,
                significance_column,
                top_k,
            )
        )
        body.append(
            "<details><summary>All fitted offences</summary>"
            + rp.table_html(full_term_table(results, "offence_code", "Offence"))
            + "</details>"
        )
    sections.append(rp.Section("Specific non-DA offences (Figure 13)", "".join(body), "fig13"))

    body = [
        rp.paragraph(
            "Non-DA offences reported before the offender's first DA incident, and the DA harm from that "
            "incident on, with the years observed after it as exposure. The report's models count offences "
            "from the whole history, including those that followed the DA harm; this variant keeps only "
            "what preceded it."
        )
    ]
    for model, label, what in (
        ("offence_type_pre_da", type_label, "offence types"),
        ("offence_code_pre_da", "Offence", "specific offences"),
    ):
        if not (model_fit["model"] == model).any():
            continue
        body.append(_summary_line(results, model_fit, model, alpha, what + " (before the first DA incident)"))
        if not_estimable_reason(model_fit, model):
            continue
        body.append(
            _filtered_table(
                results,
                model_fit,
                model,
                label,
                f"Time-ordered: {what} with {sig_name} < {alpha:g}",
                min_offenders,
                alpha,
                significance_column,
                top_k,
            )
        )
    exposure = results.loc[(results["model"] == "offence_type_pre_da") & (results["term_kind"] == "exposure")]
    if len(exposure):
        shown = pd.DataFrame(
            {
                "years observed from the first DA report": exposure["term"],
                "estimate (vs under a year)": exposure["estimate"],
                "95% CI": [
                    f"{lo:,.1f} to {hi:,.1f}"
                    for lo, hi in zip(exposure["ci_low"], exposure["ci_high"], strict=True)
                ],
                "offenders": exposure["n_with_term"].astype("Int64"),
            }
        )
        body.append(
            rp.table_html(
                rp.suppress_small_cells(shown, ["offenders"]),
                float_format="{:,.1f}",
                caption="The exposure term (offence-type model)",
            )
        )
    sections.append(
        rp.Section("Time-ordered: offending before the first DA incident", "".join(body), "time-ordered")
    )

    body = [
        rp.paragraph(
            "A term is listed where the conclusion ("
            + sig_name
            + f" < {alpha:g}) differs between the headline "
            "fit and a sensitivity fit: significant in one and not the other, or in both with opposite signs. "
            "The adjusted fit answers a different question (an offence beyond the volume of offending); the "
            "heavy-tail fits the same question on a multiplicative scale."
        )
    ]
    for model in ("offence_type", "offence_code"):
        primary = results.loc[results["model"] == model]
        for suffix in ("_adjusted", "_log1p", "_tweedie"):
            other = results.loc[results["model"] == model + suffix]
            reason = not_estimable_reason(model_fit, model) or not_estimable_reason(model_fit, model + suffix)
            if reason:
                body.append(rp.paragraph(f"{model} vs {model + suffix}: {reason}."))
                continue
            if primary.empty or other.empty:
                continue
            diff = reg.compare_sensitivity(primary, other, alpha, significance_column)
            n_ind = int(((primary["term_kind"] == "indicator") & (primary["status"] == ESTIMATED)).sum())
            body.append(
                rp.paragraph(
                    f"{model} vs {model + suffix}: {len(diff):,} of {n_ind:,} terms differ in conclusion."
                )
            )
            if len(diff):
                shown = diff.head(25)[
                    [
                        "term_label",
                        "n_with_term",
                        "estimate_primary",
                        "q_value_primary",
                        "estimate_sensitivity",
                        "q_value_sensitivity",
                        "difference",
                    ]
                ]
                shown = rp.suppress_small_cells(
                    shown.assign(n_with_term=shown["n_with_term"].astype("Int64")), ["n_with_term"]
                )
                body.append(rp.table_html(shown, caption=f"{model} vs {model + suffix} (first 25)"))
    sections.append(rp.Section("Sensitivity analyses", "".join(body), "sensitivity"))

    sections.append(
        rp.Section("Not estimable on this data", _not_estimable_section(results, model_fit), "not-estimable")
    )

    body = []
    for model, title in (
        ("risk_first_non_crime", "Grade of the first non-crime DA incident (vs standard)"),
        ("risk_first_da", "Grade of the first DA incident (vs standard), controlling for its severity"),
        ("risk_share_high", "Share of assessments graded high, controlling for their number"),
    ):
        rows = results.loc[(results["model"] == model) & (results["term_kind"] != "intercept")]
        reason = not_estimable_reason(model_fit, model)
        if reason:
            body.append(rp.paragraph(f"{title}: {reason}."))
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
        body.append(
            rp.table_html(rp.suppress_small_cells(shaped, ["n"]), float_format="{:,.2f}", caption=title)
        )
    body += _validation_tables(validation, high_harm_threshold)
    sections.append(rp.Section("How predictive is the first risk assessment?", "".join(body), "risk"))

    body = [rp.table_html(_model_fit_table(model_fit), caption="Fit and residual diagnostics by model")]
    if residuals is not None and not residuals.empty:
        models = [
            m
            for m in ("offence_type", "offence_code", "offence_code_log1p", "risk_first_da")
            if (residuals["model"] == m).any()
        ]
        body.append(rp.figure_to_img(residual_plot(residuals, models), "residuals against fitted values"))
        body.append(
            rp.paragraph(
                "Residual plots show a sample of offenders. The fan shape on the raw scale is why robust "
                "standard errors are the default."
            )
        )
    sections.append(rp.Section("Diagnostics", "".join(body), "diagnostics"))
    return sections


def regression_report_html(
    results: pd.DataFrame,
    validation: pd.DataFrame,
    model_fit: pd.DataFrame,
    residuals: pd.DataFrame | None = None,
    *,
    lineage: rp.Lineage | None = None,
    **options,
) -> str:
    """A self-contained HTML page with the rp.Section C sections (see :func:`regression_sections`)."""
    intro = rp.paragraph(
        "Regressions of rp.Section C of the perpetrator typology: non-DA offending, DA harm and risk grades."
    )
    return rp.html_page(
        "rp.Section C: non-DA offending, risk assessment and DA harm",
        regression_sections(results, validation, model_fit, residuals, **options),
        lineage,
        intro,
    )


def _share_or_dash(share: float) -> str:
    """A share as a percentage, or a dash where it is undefined (nothing to take a share of)."""
    return "–" if share is None or share != share else f"{share:.0%}"
