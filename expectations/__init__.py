"""Great Expectations suites, as code: one module per table family.

``expectations.raw`` checks the raw tables against the extract contract (blocking: a systemic problem stops
the run before the marts are rebuilt; isolated bad rows are quarantined by dbt instead).
``expectations.marts`` checks distributions and business rules of the marts (warnings).
"""
