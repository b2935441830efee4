"""dbt's `exceptions`, for sqlfluff's jinja templater (lint only)."""


def raise_compiler_error(message: str) -> None:
    raise RuntimeError(message)
