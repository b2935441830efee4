"""Asset keys, in one place. dbt models are ``[schema, model]``; raw tables ``["raw", table]``;
Python outputs ``["analytics", table]``; reports ``["reports", name]``.
"""

import dagster as dg


def raw(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


def mart(model: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", model])


def analytics(table: str) -> dg.AssetKey:
    return dg.AssetKey(["analytics", table])


def report(name: str) -> dg.AssetKey:
    return dg.AssetKey(["reports", name])
