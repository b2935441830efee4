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


def fct_incidents_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="marts_fct_incidents")
    add = suite.add_expectation
    add(gx.expectations.ExpectColumnValuesToBeUnique(column="incident_id"))
    # Seed 000: 388k DA of 623k incidents (62%); the extract is built around DA perpetrators.
    add(gx.expectations.ExpectColumnMeanToBeBetween(column="is_da_numeric", min_value=0.35, max_value=0.95))
    add(
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="severity_band", value_set=["low", "medium", "high"]
        )
    )
    # Most incidents are low severity; a high share of 'high' means the weights or grouping went wrong.
    add(gx.expectations.ExpectColumnMeanToBeBetween(column="is_low_band", min_value=0.5, max_value=1.0))
    add(gx.expectations.ExpectColumnMeanToBeBetween(column="is_high_band", min_value=0.0, max_value=0.2))
    add(gx.expectations.ExpectColumnValuesToBeBetween(column="n_offences", min_value=1))
    add(gx.expectations.ExpectColumnValuesToBeBetween(column="duration_days", min_value=0))
    return suite


def fct_incidents_frame_sql() -> str:
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
