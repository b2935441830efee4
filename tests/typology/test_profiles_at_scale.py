"""The cluster profiles and medoid timelines as the asset computes them at scale (incidents and offences
counted per cluster in the warehouse, only the medoids' crimes read row by row) equal the same from every
row in pandas."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml import typology as typ
from orchestration.defs import typology as asset
from tests.typology.synthetic import make_marts


@pytest.fixture(scope="module")
def warehouse():
    marts = make_marts(n=1500, seed=3)
    rng = np.random.default_rng(3)
    ids = marts.dim_offenders["offender_id"].to_numpy()
    labels = rng.integers(1, 6, size=len(ids))
    clusters = pd.DataFrame({"offender_id": ids, "cluster": labels, "is_medoid": False})
    medoid_rows = [int(np.flatnonzero(labels == c)[0]) for c in range(1, 6)]
    clusters.loc[medoid_rows, "is_medoid"] = True
    # A medoid is also the victim of someone else's crime, so the timelines have a "victim" row.
    victim_medoid = ids[medoid_rows[0]]
    other_crime = marts.fct_offences.loc[
        marts.fct_offences["offender_id"] != victim_medoid, "crime_number"
    ].iloc[0]
    victims = pd.concat(
        [
            marts.victims,
            pd.DataFrame(
                [{"crime_number": other_crime, "person_id": victim_medoid, "age": 30, "sex": "female"}]
            ),
        ],
        ignore_index=True,
    )
    con = duckdb.connect()
    for schema in ("marts", "analytics", "staging"):
        con.execute(f"CREATE SCHEMA {schema}")
    tables = {
        "marts.dim_offenders": marts.dim_offenders,
        "marts.fct_incidents": marts.fct_incidents,
        "marts.fct_offences": marts.fct_offences,
        "analytics.offender_clusters": clusters,
        "staging.stg_wmp__victims": victims,
        "staging.stg_wmp__relationships": marts.relationships,
    }
    for name, frame in tables.items():
        con.register("_frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
        con.unregister("_frame")
    yield con, marts, clusters, victims
    con.close()


def test_profiles_from_counts_equal_profiles_from_every_row(warehouse):
    con, marts, clusters, _ = warehouse
    from_rows = typ.cluster_profiles(clusters, marts.dim_offenders, marts.fct_incidents, marts.fct_offences)
    dim = con.execute(
        f"SELECT {', '.join(asset._present_columns(con, 'marts.dim_offenders'))} FROM marts.dim_offenders"
    ).df()
    counted_incidents = con.execute(asset._COUNTED_INCIDENTS).df()
    counted_offences = con.execute(asset._COUNTED_OFFENCES).df()
    assert len(counted_incidents) < len(marts.fct_incidents) / 10
    from_counts = typ.cluster_profiles(clusters, dim, counted_incidents, counted_offences)
    pd.testing.assert_frame_equal(from_counts, from_rows, check_dtype=False)


def test_timelines_from_the_medoids_crimes_equal_timelines_from_every_row(warehouse):
    con, marts, clusters, victims = warehouse
    medoids = clusters.loc[clusters["is_medoid"], ["cluster", "offender_id"]].sort_values("cluster")
    ordered = {
        "offences": con.execute("SELECT * FROM marts.fct_offences ORDER BY ALL").df(),
        "victims": con.execute("SELECT * FROM staging.stg_wmp__victims ORDER BY ALL").df(),
        "relationships": con.execute("SELECT * FROM staging.stg_wmp__relationships ORDER BY ALL").df(),
    }
    from_rows = typ.medoid_timelines(
        medoids, ordered["offences"], ordered["victims"], ordered["relationships"]
    )
    con.execute(asset._medoid_crimes_sql(con))
    medoid_offences = asset._read_medoid_rows(con, "marts.fct_offences")
    assert len(medoid_offences) < len(marts.fct_offences) / 10
    from_medoid_crimes = typ.medoid_timelines(
        medoids,
        medoid_offences,
        asset._read_medoid_rows(con, "staging.stg_wmp__victims"),
        asset._read_medoid_rows(con, "staging.stg_wmp__relationships"),
    )
    assert (from_rows["role"] == "victim").any()
    pd.testing.assert_frame_equal(from_medoid_crimes, from_rows)
