"""The typology report: one self-contained HTML page (plots inlined, readable offline).

Sections: the feature matrix and PCA (who is clustered, missing values), the K sweep (silhouettes and
objective against K), the stability of each cluster across resamples of the offenders, the cluster table in the shape of Tables 1–5, Groups A–E (Figure 2's view), the
medoid timelines and the caveats. Every count under 5 people is suppressed with the columns that depend
on it. Plain library: no Dagster, no dbt.
"""

from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ml import reporting as rp  # noqa: E402
from ml.typology import GROUP_DESCRIPTIONS, group_summary  # noqa: E402

GROUP_COLOURS = {"A": "#1f77b4", "B": "#d62728", "C": "#2ca02c", "D": "#9467bd", "E": "#7f7f7f"}
BAND_COLOURS = {"Low": "#4caf50", "Medium": "#ff9800", "High": "#d32f2f", None: "#9e9e9e"}
RISK_EDGE = {"standard": "#4caf50", "medium": "#ff9800", "high": "#d32f2f"}
MEDOIDS_PER_FIGURE = 6


def _note(text: str) -> str:
    return f"<div class='note'>{html.escape(text)}</div>"


def pca_figure(variance: pd.DataFrame, target: float) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    kept = variance["kept"].astype(bool)
    ax.bar(
        variance["component"], variance["explained_variance_ratio"], color=np.where(kept, "#1f77b4", "#bbb")
    )
    ax2 = ax.twinx()
    ax2.plot(variance["component"], variance["cumulative_ratio"], color="black", marker=".")
    ax2.axhline(target, color="#d62728", linestyle="--", linewidth=1)
    ax2.set_ylim(0, 1.02)
    ax.set_xlabel("principal component")
    ax.set_ylabel("share of variance")
    ax2.set_ylabel("cumulative share")
    ax.set_title(
        f"PCA: {int(kept.sum())} components kept, {variance.loc[kept, 'explained_variance_ratio'].sum():.1%} of variance"
    )
    return rp.figure_to_img(fig, "PCA explained and cumulative variance")


def sweep_figure(sweep: pd.DataFrame, chosen_k: int, criterion: str) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    labels = {
        "subsample_silhouette": "exact silhouette, fixed subsample",
        "sample_silhouette": "best-sample silhouette (R clara's silinfo)",
        "medoid_silhouette": "medoid silhouette, all offenders",
    }
    for column, label in labels.items():
        if sweep[column].notna().any():
            left.plot(
                sweep["k"],
                sweep[column],
                marker=".",
                label=label,
                linewidth=2.2 if column == criterion else 1,
            )
    left.axvline(chosen_k, color="black", linestyle=":", linewidth=1)
    left.set_xlabel("K")
    left.set_ylabel("average silhouette width")
    left.legend(fontsize=7)
    left.set_title(f"Silhouette against K (chosen K = {chosen_k})")
    right.plot(sweep["k"], sweep["objective"], marker=".", color="#444")
    right.axvline(chosen_k, color="black", linestyle=":", linewidth=1)
    right.set_xlabel("K")
    right.set_ylabel("mean distance to nearest medoid")
    right.set_title("CLARA objective (all offenders)")
    return rp.figure_to_img(fig, "Silhouette and objective against K")


def stability_figure(stability: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(8, 3))
    criteria = list(dict.fromkeys(stability["criterion"]))
    width = 0.8 / max(len(criteria), 1)
    ks = sorted(stability["chosen_k"].unique())
    positions = {k: i for i, k in enumerate(ks)}
    for j, criterion in enumerate(criteria):
        counts = stability[stability["criterion"] == criterion]["chosen_k"].value_counts()
        ax.bar([positions[k] + j * width for k in counts.index], counts.values, width=width, label=criterion)
    ax.set_xticks([positions[k] + 0.4 - width / 2 for k in ks], [str(k) for k in ks])
    ax.set_xlabel("K chosen")
    ax.set_ylabel("seeds")
    ax.legend(fontsize=7)
    ax.set_title(f"K chosen across {stability['seed'].nunique()} CLARA seeds")
    return rp.figure_to_img(fig, "K chosen across seeds")


def groups_figure(profiles: pd.DataFrame) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, max(3.5, 0.22 * len(profiles) + 1)))
    summary = group_summary(profiles)
    left.bar(
        summary["offender_group"],
        summary["share"],
        color=[GROUP_COLOURS[g] for g in summary["offender_group"]],
    )
    for x, share in enumerate(summary["share"]):
        left.text(x, share, f"{share:.0%}", ha="center", va="bottom", fontsize=8)
    left.set_ylabel("share of clustered offenders")
    left.set_title("Groups A–E")
    ordered = profiles.sort_values(["offender_group", "n_offenders"], ascending=[True, True])
    right.barh(
        [f"{c} ({g})" for c, g in zip(ordered["cluster"], ordered["offender_group"], strict=True)],
        ordered["n_offenders"],
        color=[GROUP_COLOURS[g] for g in ordered["offender_group"]],
    )
    right.set_xlabel("offenders")
    right.set_title("Clusters by group")
    right.tick_params(axis="y", labelsize=7)
    return rp.figure_to_img(fig, "Groups A to E and the clusters in them")


def timeline_figures(timelines: pd.DataFrame, clusters: list[int]) -> list[str]:
    """One panel per medoid: offences by date of occurrence, height = ONS severity, colour = band, edge =
    risk grade, circle = DA, square = non-DA, cross = the medoid as a victim."""
    images = []
    for start in range(0, len(clusters), MEDOIDS_PER_FIGURE):
        chunk = clusters[start : start + MEDOIDS_PER_FIGURE]
        fig, axes = plt.subplots(len(chunk), 1, figsize=(11, 1.9 * len(chunk)), squeeze=False)
        for ax, cluster in zip(axes[:, 0], chunk, strict=True):
            rows = timelines[timelines["cluster"] == cluster]
            for _, row in rows.iterrows():
                severity = max(float(row["severity"]) if pd.notna(row["severity"]) else 1.0, 1.0)
                if row["role"] == "victim":
                    ax.scatter(row["committed_from"], severity, marker="x", color="#555", s=30, zorder=3)
                    continue
                ax.scatter(
                    row["committed_from"],
                    severity,
                    marker="o" if row["is_da"] else "s",
                    s=55,
                    color=BAND_COLOURS.get(row["severity_band"], "#9e9e9e"),
                    edgecolors=RISK_EDGE.get(str(row["risk_level"]).lower(), "black"),
                    linewidths=1.8 if pd.notna(row["risk_level"]) else 0.6,
                    zorder=3,
                )
            offender_rows = rows[rows["role"] == "offender"]
            for _, row in offender_rows.head(8).iterrows():
                label = str(row["offence_type"] or row["offence_description"] or "")[:22]
                severity = max(float(row["severity"]) if pd.notna(row["severity"]) else 1.0, 1.0)
                ax.annotate(
                    label,
                    (row["committed_from"], severity),
                    fontsize=6,
                    rotation=20,
                    xytext=(3, 4),
                    textcoords="offset points",
                )
            ax.set_yscale("log")
            ax.set_ylim(0.8, 20000)
            ax.set_ylabel("severity", fontsize=7)
            n_da = int(offender_rows["is_da"].astype(bool).sum())
            ax.set_title(
                f"Cluster {cluster} medoid: {len(offender_rows)} offences ({n_da} DA), "
                f"{int((rows['role'] == 'victim').sum())} as victim",
                fontsize=8,
                loc="left",
            )
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        images.append(rp.figure_to_img(fig, f"Medoid timelines, clusters {chunk[0]}–{chunk[-1]}"))
    return images


def _timeline_table(rows: pd.DataFrame) -> str:
    view = pd.DataFrame(
        {
            "#": rows["position"],
            "role": rows["role"],
            "occurred": pd.to_datetime(rows["committed_from"]).dt.strftime("%Y-%m"),
            "age": rows["offender_age"].round(0),
            "offence": rows["offence_description"].fillna(rows["offence_type"]),
            "victim": rows["victim_sex"].fillna("").astype(str)
            + " "
            + rows["victim_age"].map(lambda a: "" if pd.isna(a) else str(int(a))),
            "relationship": rows["relationship"],
            "IMD decile": rows["imd_decile"],
            "outcome": rows["outcome_code"],
            "DA": np.where(rows["is_da"].astype(bool), "DA", ""),
            "S": np.where(rows["substance_flag"].fillna(False).astype(bool), "S", ""),
            "risk": rows["risk_level"],
            "severity": rows["severity_band"],
        }
    )
    return rp.table_html(view, float_format="{:.0f}")


PROFILE_VIEW = {
    "cluster": "Cl",
    "offender_group": "Group",
    "n_offenders": "n",
    "share": "%",
    "offender_type": "Offender type",
    "median_da_incidents": "DA inc (median)",
    "da_volume_band": "DA volume",
    "median_da_victims": "DA victims",
    "da_severity_band": "DA sev per incident",
    "da_total_severity_band": "DA sev total",
    "median_non_da_incidents": "nDA inc (median)",
    "non_da_volume_band": "nDA volume",
    "non_da_severity_band": "nDA sev per incident",
    "non_da_total_severity_band": "nDA sev total",
    "median_age": "age",
    "share_female": "female (descriptive)",
    "share_da_incidents_substance": "DA substance",
    "share_non_da_incidents_substance": "nDA substance",
    "share_da_incidents_non_crime": "DA non-crime",
}

DETAIL_VIEW = {
    "cluster": "Cl",
    "n_offenders": "n",
    "median_age_at_first_da": "age at first DA",
    "median_victim_age_difference": "victim − offender age",
    "median_mean_da_duration_days": "DA duration (days)",
    "median_mean_non_da_duration_days": "nDA duration (days)",
    "median_da_timespan_days": "DA span (days)",
    "median_days_between_da_incidents": "DA gap (days)",
    "median_days_between_non_da_incidents": "nDA gap (days)",
    "median_days_between_da_and_non_da_incidents": "DA–nDA gap (days)",
    "median_da_imd_score": "DA IMD",
    "median_times_da_victim": "times DA victim",
    "median_mean_da_severity": "DA sev per incident",
    "median_total_da_severity": "DA sev total",
    "median_mean_non_da_severity": "nDA sev per incident",
    "median_total_non_da_severity": "nDA sev total",
}


def _risk_view(profiles: pd.DataFrame) -> pd.DataFrame:
    view = profiles[["cluster", "n_offenders"]].copy()
    for prefix, label in [
        ("share_da_risk", "all DA"),
        ("share_non_crime_da_risk", "non-crime DA"),
        ("share_first_da_risk", "first DA"),
        ("share_first_non_crime_da_risk", "first non-crime DA"),
    ]:
        columns = [f"{prefix}_{level}" for level in ("standard", "medium", "high")]
        if all(c in profiles for c in columns):
            view[label + " S/M/H"] = [
                "" if any(pd.isna(v) for v in values) else " / ".join(f"{v:.0%}" for v in values)
                for values in profiles[columns].itertuples(index=False, name=None)
            ]
    for column, label in [
        ("top_da_offence_types", "most common DA offence types"),
        ("top_non_da_offence_types", "most common non-DA offence types"),
    ]:
        if column in profiles:
            view[label] = profiles[column]
    return view


def _suppressed(view: pd.DataFrame, count_column: str = "n") -> pd.DataFrame:
    dependent = [
        c for c in view.columns if c not in ("Cl", "Group", count_column, "cluster", "offender_group")
    ]
    return rp.suppress_small_cells(view, [count_column], dependent_columns=dependent)


def _percent(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = out[column].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
    return out


def _population_text(dropped: dict) -> str:
    n_perpetrators = dropped.get("n_da_perpetrators", dropped.get("n_offenders", 0))
    missing = dropped.get("n_missing_age", 0)
    report_missing = dropped.get("report_n_missing_age", 7_731)
    report_n = dropped.get("report_n_offenders", 145_392)
    share = missing / n_perpetrators if n_perpetrators else float("nan")
    return rp.paragraph(
        f"{dropped.get('n_offenders', 0):,} people in dim_offenders, of whom "
        f"{dropped.get('n_not_da_perpetrators', 0):,} appear only on non-DA crimes: they are not DA perpetrators, "
        f"so they are neither clustered nor counted below. Of the {n_perpetrators:,} DA perpetrators, "
        f"{missing:,} ({share:.1%}) are dropped by the report's rule, a missing offender or victim age "
        f"({dropped.get('n_missing_offender_age', 0):,} with no recorded own age, "
        f"{dropped.get('n_missing_victim_age', 0):,} with no victim age to compare; the report dropped "
        f"{report_missing:,} of {report_n:,}, {report_missing / report_n:.1%}), and "
        f"{dropped.get('n_missing_other', 0):,} for a missing value of a feature that should always be recorded. "
        f"{dropped.get('n_kept', 0):,} clustered. Sex and ethnicity are never features."
    )


def _imputed_html(imputed: pd.DataFrame) -> str:
    view = imputed.rename(
        columns={
            "feature": "feature",
            "indicator": "indicator column",
            "missing_when": "missing when",
            "n_imputed": "offenders given the neutral value",
            "share_imputed": "share",
        }
    )
    view = _percent(view, ["share"])
    return rp.paragraph(
        "Missing is missing: a mean with nothing to average is not coded as a number that means something "
        "else (an IMD score of 0 would read as the least deprived area, a gap of 0 days as two incidents on "
        "one day, 00:00 as midnight). Such a feature gets the mean of its recorded values (a z-score of 0) and "
        "an indicator column (0/1, centred, not divided by its SD); the recorded values are standardised by "
        "their own SD. The six timing columns are one variable of the report's list and are weighted "
        "1/√6 each."
    ) + rp.table_html(view, caption="Features that may be missing")


def _stability_html(clusters: pd.DataFrame, resamples: pd.DataFrame | None, chosen_k: int) -> str:
    body = ""
    if resamples is not None and not resamples.empty:
        ari = resamples["ari"]
        body += rp.paragraph(
            f"{len(resamples)} subsamples of {int(resamples['n_offenders'].iloc[0]):,} offenders, each clustered "
            f"afresh at K = {chosen_k} (new samples and medoids; only K is kept). Agreement with the final "
            f"clustering on the subsample: adjusted Rand index median {ari.median():.2f} (10th–90th percentile "
            f"{ari.quantile(0.1):.2f}–{ari.quantile(0.9):.2f}, range {ari.min():.2f}–{ari.max():.2f})."
        )
    stable = clusters[clusters["verdict"] == "stable"]
    judged = clusters[clusters["verdict"] != "too small to judge"]
    body += rp.paragraph(
        "Per cluster, the Jaccard index of its members in a subsample with the best-matching new cluster, "
        "averaged over the subsamples (Hennig's clusterwise stability: ≥ 0.75 stable, 0.6–0.75 a pattern, "
        f"0.5–0.6 weak, < 0.5 dissolves). {len(stable)} of {len(judged)} judged clusters are stable"
        + (f" ({', '.join(str(int(c)) for c in stable['cluster'])})" if len(stable) else "")
        + f", holding {stable['n_offenders'].sum() / max(clusters['n_offenders'].sum(), 1):.0%} of the "
        "clustered offenders."
    )
    view = clusters[
        ["cluster", "n_offenders", "mean_jaccard", "min_jaccard", "share_recovered", "verdict"]
    ].rename(
        columns={
            "cluster": "Cl",
            "n_offenders": "n",
            "mean_jaccard": "mean Jaccard",
            "min_jaccard": "lowest",
            "share_recovered": "recovered (Jaccard ≥ 0.5)",
        }
    )
    view = _percent(view, ["recovered (Jaccard ≥ 0.5)"])
    return body + rp.table_html(_suppressed(view), float_format="{:.2f}", caption="Stability of each cluster")


def build_typology_report(
    *,
    variance: pd.DataFrame,
    variance_target: float,
    dropped: dict,
    sweep: pd.DataFrame,
    chosen_k: int,
    criterion: str,
    exclude_k2: bool,
    stability: pd.DataFrame,
    profiles: pd.DataFrame,
    timelines: pd.DataFrame,
    final_fit: dict,
    settings: dict,
    lineage: rp.Lineage | None = None,
    not_estimable: str | None = None,
    imputed: pd.DataFrame | None = None,
    cluster_stability: pd.DataFrame | None = None,
    stability_resamples: pd.DataFrame | None = None,
) -> str:
    """The complete HTML page. ``not_estimable``: the reason there are no clusters (too few offenders to
    cluster); the page then says so where the K choice and the clusters would be. ``imputed``: per feature
    that may be missing, how many offenders got the neutral value (``DroppedCounts.imputed_table``).
    ``cluster_stability`` / ``stability_resamples``: the stability across resamples of the offenders
    (``Stability.clusters`` / ``.resamples``); ``stability`` the K chosen across extra CLARA seeds, if run."""
    sections = []
    kept = variance[variance["kept"].astype(bool)]
    sections.append(
        rp.Section(
            "Offenders and features",
            _population_text(dropped)
            + (_imputed_html(imputed) if imputed is not None and not imputed.empty else "")
            + pca_figure(variance, variance_target)
            + rp.paragraph(
                f"{len(kept)} principal components kept, explaining "
                f"{kept['explained_variance_ratio'].sum():.2%} of the variance (target {variance_target:.0%}; "
                "the report kept 25 of 42 for 89.49%)."
            ),
            "features",
        )
    )
    if not_estimable:
        reason = rp.not_estimable_text(not_estimable)
        sections.append(rp.Section("Choosing K", rp.paragraph(f"Typology: {reason}."), "sweep"))
        sections.append(rp.Section("Clusters (Tables 1–5)", rp.paragraph(f"Clusters: {reason}."), "clusters"))
        settings_view = pd.DataFrame(
            {"setting": list(settings), "value": [str(v) for v in settings.values()]}
        )
        sections.append(rp.Section("Settings", rp.table_html(settings_view), "settings"))
        return rp.html_page("Domestic abuse perpetrator typology", sections, lineage)
    sweep_view = sweep[
        [
            "k",
            "objective",
            "sample_silhouette",
            "medoid_silhouette",
            "subsample_silhouette",
            "sampsize",
            "seconds",
        ]
    ]
    sections.append(
        rp.Section(
            "Choosing K",
            rp.paragraph(
                f"CLARA k-medoids for K = {int(sweep['k'].min())}..{int(sweep['k'].max())}. "
                f"K is chosen by the highest {criterion.replace('_', ' ')}"
                + (
                    ", excluding K = 2 (the report's rule: K = 2 only separates DA-only offenders from the rest)"
                    if exclude_k2
                    else ""
                )
                + f". Chosen K = {chosen_k}."
            )
            + sweep_figure(sweep, chosen_k, criterion)
            + "<details><summary>Per-K figures</summary>"
            + rp.table_html(sweep_view, float_format="{:.4g}")
            + "</details>",
            "sweep",
        )
    )
    if cluster_stability is not None and not cluster_stability.empty:
        sections.append(
            rp.Section(
                "Stability across data",
                _stability_html(cluster_stability, stability_resamples, chosen_k),
                "stability",
            )
        )
    if not stability.empty and stability["seed"].nunique() > 1:
        pivot = stability.pivot_table(index="seed", columns="criterion", values="chosen_k").reset_index()
        main = stability[stability["criterion"] == criterion]["chosen_k"]
        sections.append(
            rp.Section(
                "The K choice across CLARA seeds",
                rp.paragraph(
                    f"The sweep repeated with {stability['seed'].nunique()} CLARA seeds (same subsample). Under "
                    f"{criterion.replace('_', ' ')} the chosen K was {', '.join(str(k) for k in main)}; "
                    f"{(main == chosen_k).mean():.0%} of seeds agree with K = {chosen_k}."
                )
                + stability_figure(stability)
                + rp.table_html(pivot, float_format="{:.0f}"),
                "stability",
            )
        )
    profile_view = profiles[[c for c in PROFILE_VIEW if c in profiles]].rename(columns=PROFILE_VIEW)
    profile_view = _percent(
        profile_view, ["%", "female (descriptive)", "DA substance", "nDA substance", "DA non-crime"]
    )
    detail_view = profiles[[c for c in DETAIL_VIEW if c in profiles]].rename(columns=DETAIL_VIEW)
    risk_view = _risk_view(profiles).rename(columns={"cluster": "Cl", "n_offenders": "n"})
    sections.append(
        rp.Section(
            "Clusters (Tables 1–5)",
            rp.paragraph(
                f"Final fit: K = {final_fit.get('k')}, {final_fit.get('samples')} samples of "
                f"{final_fit.get('sampsize')} rows; objective {final_fit.get('objective', float('nan')):.4g}, "
                f"medoid silhouette {final_fit.get('medoid_silhouette', float('nan')):.3f}. Clusters are numbered "
                "from the largest; values are cluster medians (the report's 'cluster average'); severity bands "
                "are ONS Low < 100 ≤ Medium ≤ 500 < High of the median per-incident and total severity; volume "
                "bands Low < 3 ≤ High. Counts under 5 are shown as <5 and their row's figures blanked."
            )
            + rp.table_html(
                _suppressed(profile_view), float_format="{:.3g}", caption="Volume, victims and severity"
            )
            + rp.table_html(
                _suppressed(detail_view),
                float_format="{:.3g}",
                caption="Age, durations, gaps, deprivation, victimisation",
            )
            + rp.table_html(
                _suppressed(risk_view), caption="Risk grades (standard / medium / high) and offence types"
            ),
            "clusters",
        )
    )
    summary = group_summary(profiles)
    summary_view = rp.suppress_small_cells(
        _percent(summary, ["share"]), ["n_offenders"], dependent_columns=["share"]
    )
    sections.append(
        rp.Section(
            "Groups A–E",
            rp.paragraph(
                "Clusters are gathered into groups by their median DA and non-DA incident counts: "
                + "; ".join(f"{g}: {d}" for g, d in GROUP_DESCRIPTIONS.items())
                + ". Individuals can sit outside their cluster's band."
            )
            + groups_figure(profiles[profiles["n_offenders"] >= rp.SMALL_CELL_THRESHOLD])
            + rp.table_html(summary_view),
            "groups",
        )
    )
    shown = profiles[profiles["n_offenders"] >= rp.SMALL_CELL_THRESHOLD]["cluster"].tolist()
    timeline_body = rp.paragraph(
        "Each medoid's offences in order of occurrence (not reporting). Circles are DA, squares non-DA, crosses "
        "offences against the medoid; fill = ONS severity band (green Low, orange Medium, red High), outline = "
        "risk grade. Location is given as the IMD decile of the LSOA (1 = most deprived). Medoids of clusters "
        "under 5 people are not shown."
    )
    if not timelines.empty and shown:
        present = [c for c in shown if c in set(timelines["cluster"])]
        for image in timeline_figures(timelines, present):
            timeline_body += image
        for cluster in present:
            rows = timelines[timelines["cluster"] == cluster]
            timeline_body += f"<details><summary>Cluster {cluster} medoid: {len(rows)} rows</summary>{_timeline_table(rows)}</details>"
    sections.append(rp.Section("Medoid timelines", timeline_body, "medoids"))
    main_choices = (
        stability[stability["criterion"] == criterion]["chosen_k"] if not stability.empty else pd.Series()
    )
    caveats = [
        "Police data record what was reported and recorded, not all abuse: offenders with no recorded incidents "
        "are invisible, and non-DA victimisation only counts offences by other offenders in the data.",
        "Offenders with a missing own or victim age are left out of the clustering (the report lost 5% this way).",
        "A medoid is a real, typical member of its cluster, but need not sit at the median of every feature.",
        "Cluster medians describe the typical member; individuals can sit outside their cluster's band, so a "
        "group is not a label for a person. Sex and ethnicity are shown only to describe clusters.",
        "Severity uses ONS Crime Severity Score weights; harm is not the same as risk, and retrospective reports "
        "(long committed windows) inflate durations.",
        "CLARA clusters samples: results depend on the samples drawn. The silhouette R's clara reports is "
        "computed on the best sample only (a few dozen rows at R's defaults).",
        "Clusters are only as real as their stability across resamples of the offenders: a cluster whose "
        "mean Jaccard is under 0.75 is a pattern at best, under 0.5 it dissolves when the data change."
        + (
            f" Across {len(main_choices)} CLARA seeds the chosen K ranged from {int(main_choices.min())} to "
            f"{int(main_choices.max())}."
            if len(main_choices) > 1
            else ""
        )
        + " Average silhouettes around 0.1–0.2 (the report's 0.11 at K = 29) mean weak structure.",
    ]
    sections.append(
        rp.Section(
            "Caveats", "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in caveats) + "</ul>", "caveats"
        )
    )
    settings_view = pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})
    sections.append(rp.Section("Settings", rp.table_html(settings_view), "settings"))
    intro = _note(
        "Perpetrator typology after seed 000 (Crest Advisory / West Midlands Police): offender features → "
        "z-scores → PCA → CLARA k-medoids, K by average silhouette, clusters gathered into Groups A–E."
    )
    return rp.html_page("Domestic abuse perpetrator typology", sections, lineage, intro=intro)
