"""Statistics and machine learning of the platform: a plain library with no Dagster or dbt imports."""
