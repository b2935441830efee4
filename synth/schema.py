"""The raw-extract contract (spec/raw-extract-contract.md) as pyarrow schemas, read from ``dap.contract``.

The generator writes the streamed tables with these schemas; the reference tables are copied as they ship.
"""

from __future__ import annotations

from dap.contract import TABLES

#: The contract's logical types as the generator's column kinds.
_KINDS = {
    "string": "string",
    "int": "int64",
    "double": "double",
    "bool": "bool",
    "date": "date",
    "timestamp": "timestamp",
}

CONTRACT = {t.name: [(c.name, _KINDS[c.type]) for c in t.columns] for t in TABLES.values() if not t.reference}
STREAMED_TABLES = list(CONTRACT)
REFERENCE_TABLES = [t.name for t in TABLES.values() if t.reference]
ALL_TABLES = STREAMED_TABLES + REFERENCE_TABLES


def arrow_type(name: str):
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("s"),
        "date": pa.date32(),
        "double": pa.float64(),
    }[name]


def schema(table: str):
    import pyarrow as pa

    return pa.schema([(name, arrow_type(kind)) for name, kind in CONTRACT[table]])
