"""What the dbt models' Jinja uses of dbt's `adapter`, for sqlfluff's jinja templater (lint only)."""


def quote(identifier: str) -> str:
    return f'"{identifier}"'
