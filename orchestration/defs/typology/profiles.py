"""The cluster profiles (Tables 1–5, Groups A–E, medoid timelines) and the typology report."""

import dagster as dg
import pandas as pd

from ml import typology as typ
from ml.estimability import NOT_ESTIMABLE
from ml.reporting import Lineage
from ml.typology_report import build_typology_report
from orchestration.defs.typology.common import (
    CLUSTER_PROFILES,
    CLUSTER_STABILITY,
    CODE_VERSION,
    GROUP,
    K_SWEEP,
    OFFENDER_CLUSTERS,
    PCA,
    REPORT,
    empty_table,
)
from orchestration.keys import mart
from orchestration.lib.warehouse_io import read_table, table_exists, write_table
from orchestration.resources import PlatformResource

_NO_PROFILES = empty_table(
    cluster="int64",
    n_offenders="int64",
    offender_group="object",
    median_da_incidents="float64",
    median_non_da_incidents="float64",
)


def staging(model: str) -> dg.AssetKey:
    """The key of a dbt staging model (dbt models are ``[schema, model]``)."""
    return dg.AssetKey(["staging", model])


_VICTIMS = "staging.stg_wmp__victims"
_RELATIONSHIPS = "staging.stg_wmp__relationships"

#: What the profiles need of the incidents and offences, counted per cluster in the warehouse: a few hundred
#: rows instead of one per incident or offence (at national scale tens of millions, which do not fit).
_COUNTED_INCIDENTS = """
    SELECT c.cluster, i.is_da, i.is_non_crime, i.risk_level, count(*) AS n
    FROM marts.fct_incidents i JOIN analytics.offender_clusters c USING (offender_id)
    GROUP BY ALL ORDER BY ALL
"""
_COUNTED_OFFENCES = """
    SELECT c.cluster, o.is_da, o.offence_type, count(*) AS n
    FROM marts.fct_offences o JOIN analytics.offender_clusters c USING (offender_id)
    GROUP BY ALL ORDER BY ALL
"""


def _medoid_crimes_sql(con) -> str:
    """The crimes of the medoids' timelines: those they offended in and, when the staging victims are there,
    those they were a victim in (a temporary table, so that every read below is only of these crimes)."""
    as_victim = (
        f"UNION SELECT crime_number FROM {_VICTIMS} WHERE person_id IN (SELECT offender_id FROM _medoids)"
        if table_exists(con, _VICTIMS)
        else ""
    )
    return f"""
        CREATE OR REPLACE TEMP TABLE _medoids AS
            SELECT offender_id FROM analytics.offender_clusters WHERE is_medoid;
        CREATE OR REPLACE TEMP TABLE _medoid_crimes AS
            SELECT crime_number FROM marts.fct_offences WHERE offender_id IN (SELECT offender_id FROM _medoids)
            {as_victim};
    """


def _read_medoid_rows(con, relation: str) -> pd.DataFrame:
    """Every row of ``relation`` about a crime of the medoids' timelines, in the order of :func:`read_table`."""
    return con.execute(
        f"SELECT * FROM {relation} WHERE crime_number IN (SELECT crime_number FROM _medoid_crimes) ORDER BY ALL"
    ).df()


@dg.asset(
    key=CLUSTER_PROFILES,
    deps=[
        OFFENDER_CLUSTERS,
        mart("dim_offenders"),
        mart("fct_incidents"),
        mart("fct_offences"),
        staging("stg_wmp__victims"),
        staging("stg_wmp__relationships"),
    ],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="Per cluster what Tables 1–5 show (medians, bands, shares, risk grades, offence types), "
    "Groups A–E by the cluster-median rule, and the medoids' timelines. Incidents and offences are counted per "
    "cluster in the warehouse; only the medoids' own crimes are read row by row.",
)
def cluster_profiles(context: dg.AssetExecutionContext, platform: PlatformResource):
    with platform.connect() as con:
        clusters = read_table(con, "analytics.offender_clusters")
        dim = read_table(con, "marts.dim_offenders", _present_columns(con, "marts.dim_offenders"))
        incidents = con.execute(_COUNTED_INCIDENTS).df()
        offences = con.execute(_COUNTED_OFFENCES).df()
        con.execute(_medoid_crimes_sql(con))
        medoid_offences = _read_medoid_rows(con, "marts.fct_offences")
        victims = relationships = None
        if table_exists(con, _VICTIMS):
            victims = _columns_or_none(
                _read_medoid_rows(con, _VICTIMS), ["crime_number", "person_id", "age", "sex"]
            )
        if table_exists(con, _RELATIONSHIPS):
            relationships = _columns_or_none(
                _read_medoid_rows(con, _RELATIONSHIPS),
                ["crime_number", "victim_person_id", "offender_person_id", "relationship"],
            )
        profiles = typ.cluster_profiles(clusters, dim, incidents, offences) if len(clusters) else _NO_PROFILES
        medoids = clusters.loc[clusters["is_medoid"], ["cluster", "offender_id"]].sort_values("cluster")
        timelines = typ.medoid_timelines(medoids, medoid_offences, victims, relationships)
        write_table(con, "analytics.cluster_profiles", profiles)
        write_table(con, "analytics.medoid_timelines", timelines)
    if victims is None:
        context.log.warning("staging victims/relationships not found: timelines lack victim details")
    groups = (
        typ.group_summary(profiles)
        if len(profiles)
        else pd.DataFrame({"offender_group": [], "n_offenders": [], "clusters": []})
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(profiles),
            "groups": {
                g: int(n) for g, n in zip(groups["offender_group"], groups["n_offenders"], strict=True)
            },
            "clusters_by_group": {
                g: c for g, c in zip(groups["offender_group"], groups["clusters"], strict=True)
            },
            "timeline_rows": len(timelines),
        }
    )


def _present_columns(con, relation: str) -> list[str]:
    """The columns of ``typ.PROFILE_COLUMNS`` that ``relation`` has (the profiles leave out what is absent)."""
    schema, name = relation.split(".", 1)
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }
    return [c for c in typ.PROFILE_COLUMNS if c in present]


def _columns_or_none(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame | None:
    return frame[columns] if all(c in frame.columns for c in columns) else None


@dg.asset(
    key=REPORT,
    deps=[PCA, K_SWEEP, OFFENDER_CLUSTERS, CLUSTER_STABILITY, CLUSTER_PROFILES],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="The typology report (self-contained HTML): PCA, K sweep, stability, Tables 1–5, groups, "
    "medoid timelines, caveats.",
)
def typology_report(context: dg.AssetExecutionContext, platform: PlatformResource):
    with platform.connect() as con:
        tables = {
            name: read_table(con, f"analytics.{name}")
            for name in (
                "pca_variance",
                "typology_dropped",
                "k_sweep",
                "k_stability",
                "k_selection",
                "typology_fit",
                "cluster_profiles",
                "medoid_timelines",
                "typology_settings",
            )
        }
        optional = {
            name: read_table(con, f"analytics.{name}")
            for name in ("typology_imputed", "cluster_stability", "stability_resamples")
            if table_exists(con, f"analytics.{name}")
        }
    settings = tables["typology_settings"]
    selection = tables["k_selection"].iloc[0]
    pca_settings = settings[settings["asset"] == "pca"].set_index("setting")["value"]
    final_fit = tables["typology_fit"].iloc[0].to_dict()
    page = build_typology_report(
        variance=tables["pca_variance"],
        variance_target=float(pca_settings.get("variance_target", 0.9)),
        dropped=tables["typology_dropped"].iloc[0].to_dict(),
        sweep=tables["k_sweep"],
        chosen_k=int(selection["chosen_k"]) if pd.notna(selection["chosen_k"]) else 0,
        criterion=str(selection["criterion"]),
        exclude_k2=bool(selection["exclude_k2"]),
        stability=tables["k_stability"],
        profiles=tables["cluster_profiles"],
        timelines=tables["medoid_timelines"],
        final_fit=final_fit,
        settings={
            f"{a}.{s}": v for a, s, v in settings[["asset", "setting", "value"]].itertuples(index=False)
        },
        lineage=Lineage(run_id=context.run_id, code_version=CODE_VERSION),
        not_estimable=final_fit["reason"] if final_fit.get("status") == NOT_ESTIMABLE else None,
        imputed=optional.get("typology_imputed"),
        cluster_stability=optional.get("cluster_stability"),
        stability_resamples=optional.get("stability_resamples"),
    )
    path = platform.output_path("typology.html")
    path.write_text(page, encoding="utf-8")
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(path)), "bytes": len(page.encode("utf-8"))}
    )
