"""Suites for the marts: distributions and business rules that should hold for any force's data.

The bounds are deliberately wide (seed 000's West Midlands figures sit well inside them): a breach is a
warning to look, not proof of an error.
"""

from __future__ import annotations

import great_expectations as gx

FCT_INCIDENTS_SQL = """
SELECT incident_id, offender_id, is_da, severity, severity_band, n_offences, duration_days, risk_level
FROM marts.fct_incidents
"""
SEVERITY_BANDS = ["low", "medium", "high"]
#: Rows of fct_incidents validated beside the rows that could fail (so the frame is never empty).
SAMPLE_ROWS = 1_000


def fct_incidents_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="marts_fct_incidents")
    add = suite.add_expectation
    add(gx.expectations.ExpectColumnValuesToBeUnique(column="incident_id"))
    # Seed 000: 388k DA of 623k incidents (62%); the extract is built around DA perpetrators.
    add(gx.expectations.ExpectColumnMeanToBeBetween(column="is_da_numeric", min_value=0.35, max_value=0.95))
    add(gx.expectations.ExpectColumnValuesToBeInSet(column="severity_band", value_set=SEVERITY_BANDS))
    # Most incidents are low severity; a high share of 'high' means the weights or grouping went wrong.
    add(gx.expectations.ExpectColumnMeanToBeBetween(column="is_low_band", min_value=0.5, max_value=1.0))
    add(gx.expectations.ExpectColumnMeanToBeBetween(column="is_high_band", min_value=0.0, max_value=0.2))
    add(gx.expectations.ExpectColumnValuesToBeBetween(column="n_offences", min_value=1))
    add(gx.expectations.ExpectColumnValuesToBeBetween(column="duration_days", min_value=0))
    return suite


def fct_incidents_frame_sql(sample_rows: int = SAMPLE_ROWS) -> str:
    """The frame the suite validates, without reading every incident into memory: every row on which one
    of the suite's row expectations can fail (a repeated ``incident_id``, a ``severity_band`` outside the
    set, ``n_offences`` < 1, ``duration_days`` < 0) and the first ``sample_rows`` of the others by
    ``incident_id``. The share columns (``is_da_numeric``, ``is_low_band``, ``is_high_band``) carry the
    whole table's share, computed in DuckDB, on every row, so their mean is the table's share. The verdict
    of every expectation, the failing counts and the shares are those of the whole table (a share can differ
    in its last bit: the mean of n copies); GX's unexpected *percent* is of the rows validated."""
    bands = ", ".join(f"'{band}'" for band in SEVERITY_BANDS)
    suspect = (
        "coalesce(incident_id IN (SELECT incident_id FROM repeated), false) "
        f"OR coalesce(severity_band NOT IN ({bands}), false) "
        "OR coalesce(n_offences < 1, false) OR coalesce(duration_days < 0, false)"
    )
    return f"""
        WITH rows AS ({FCT_INCIDENTS_SQL}),
        repeated AS (
            SELECT incident_id FROM rows WHERE incident_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1
        ),
        shares AS (
            SELECT avg(CAST(is_da AS INTEGER)) AS is_da_numeric,
                   avg(CAST(severity_band = 'low' AS INTEGER)) AS is_low_band,
                   avg(CAST(severity_band = 'high' AS INTEGER)) AS is_high_band
            FROM rows
        ),
        validated AS (
            SELECT * FROM rows WHERE {suspect}
            UNION ALL
            (SELECT * FROM rows WHERE NOT ({suspect}) ORDER BY incident_id LIMIT {int(sample_rows)})
        )
        SELECT validated.*, shares.* FROM validated CROSS JOIN shares
    """


def fct_incidents_whole_table_sql() -> str:
    """Every row of fct_incidents with its per-row indicators: what the suite was first run on (kept to show,
    in the tests, that ``fct_incidents_frame_sql`` gives the same verdict and counts)."""
    return (
        "SELECT *, CAST(is_da AS INTEGER) AS is_da_numeric, "
        "CAST(severity_band = 'low' AS INTEGER) AS is_low_band, "
        "CAST(severity_band = 'high' AS INTEGER) AS is_high_band "
        f"FROM ({FCT_INCIDENTS_SQL})"
    )


def dim_offenders_suite(pca_features: list[str]) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="marts_dim_offenders")
    add = suite.add_expectation
    add(gx.expectations.ExpectColumnValuesToBeUnique(column="offender_id"))
    add(gx.expectations.ExpectColumnValuesToBeBetween(column="n_da_incidents", min_value=1))
    # The typology's population (DA perpetrators without a missing age); seed 000: ~60% have one DA incident.
    add(gx.expectations.ExpectColumnMeanToBeBetween(column="one_da_incident", min_value=0.3, max_value=0.9))
    for feature in pca_features:
        add(gx.expectations.ExpectColumnValuesToNotBeNull(column=feature))
    return suite


def dim_offenders_frame_sql(pca_features: list[str]) -> str:
    cols = ", ".join(f'"{c}"' for c in pca_features)
    return (
        f"SELECT offender_id, n_da_incidents, CAST(n_da_incidents = 1 AS INTEGER) AS one_da_incident, {cols} "
        "FROM marts.dim_offenders WHERE is_da_perpetrator AND NOT coalesce(has_missing_age, false)"
    )
