"""The raw extract contract (spec: raw-extract-contract.md), read from ``dap/contract.yml``: the one copy.

The loader, the validation suites, the synthetic generator and the documentation read this module; the dbt
files that describe the contract are generated from the same YAML by ``make contract``
(``python -m dap.contract_gen``). Types are the contract's logical types: string, int, double, bool, date,
timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONTRACT_FILE = Path(__file__).with_name("contract.yml")
TYPES = ("string", "int", "double", "bool", "date", "timestamp")
KINDS = ("text", "code", "category", "sex")  # how staging normalises a string


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    kind: str = ""  # a string's normalisation (KINDS); the type itself for other types
    description: str = ""
    references: str | None = None  # a table whose key this column must be a value of
    accepted_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    reference: bool = False  # shipped with the project; an extract's own copy takes precedence
    description: str = ""
    key: tuple[str, ...] = ()  # duplicates of the key are quarantined with duplicate_rule
    duplicate_rule: str | None = None
    parent_rule_column: tuple[str, str] | None = None  # (name, description) of the base model's helper

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _column(table: str, name: str, spec: dict[str, Any]) -> Column:
    where = f"{CONTRACT_FILE.name}: tables.{table}.columns.{name}"
    if spec.get("type") not in TYPES:
        raise ValueError(f"{where}: type {spec.get('type')!r} is not one of {', '.join(TYPES)}")
    kind = spec.get("kind", spec["type"])
    if spec["type"] == "string" and kind not in KINDS:
        raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if spec["type"] != "string" and kind != spec["type"]:
        raise ValueError(f"{where}: only a string column has a kind (here {kind!r})")
    return Column(
        name,
        spec["type"],
        nullable=not spec.get("required", False),
        kind=kind,
        description=spec.get("description", ""),
        references=spec.get("references"),
        accepted_values=tuple(spec.get("accepted_values", ())),
    )


def _table(name: str, spec: dict[str, Any]) -> Table:
    parent = spec.get("parent_rule_column")
    table = Table(
        name,
        tuple(_column(name, column, s) for column, s in spec["columns"].items()),
        required=spec.get("required", False),
        reference=spec.get("reference", False),
        description=spec.get("description", ""),
        key=tuple(spec.get("key", ())),
        duplicate_rule=spec.get("duplicate_rule"),
        parent_rule_column=(parent["name"], parent["description"]) if parent else None,
    )
    unknown = [k for k in table.key if k not in table.column_names]
    if unknown or bool(table.key) != bool(table.duplicate_rule):
        raise ValueError(
            f"{CONTRACT_FILE.name}: tables.{name}: a key needs its duplicate_rule, of its own columns"
        )
    return table


def load(path: Path = CONTRACT_FILE) -> dict[str, Any]:
    """The contract file as data (the YAML, unchanged)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


_CONTRACT = load()

TABLES: dict[str, Table] = {name: _table(name, spec) for name, spec in _CONTRACT["tables"].items()}
#: Thresholds and bands, as dbt receives them (dbt_project.yml's vars are generated from these).
VARS: dict[str, Any] = dict(_CONTRACT["vars"])

DA_MARKERS = tuple(VARS["da_markers"])
SUBSTANCE_MARKERS = tuple(VARS["substance_markers"])
RISK_LEVELS = TABLES["crimes"].columns[TABLES["crimes"].column_names.index("risk_level")].accepted_values
SEX_VALUES = tuple(_CONTRACT["sex_values"])
#: Severity bands of seed 000: low < SEVERITY_MEDIUM_FROM <= medium <= SEVERITY_HIGH_ABOVE < high.
SEVERITY_MEDIUM_FROM = float(VARS["severity_band_medium_from"])
SEVERITY_HIGH_ABOVE = float(VARS["severity_band_high_above"])
#: Volume bands of seed 000: low < VOLUME_HIGH_FROM <= high incidents (0 = none, for non-DA).
VOLUME_HIGH_FROM = int(VARS["volume_band_high_from"])

# Bad rows. A row that breaks a row-level rule is quarantined with the rule and a reason (the rules are the
# dbt staging layer's: dbt_project/macros/validation.sql and rules.sql). A run is refused only when a table
# has more than this share of its rows quarantined, and more than one row: a single bad row never stops a
# run. Dagster run config of `raw_extract` (`max_quarantined_share`) overrides it for a run.
MAX_QUARANTINED_SHARE = float(_CONTRACT["max_quarantined_share"])

# Parquet declares one type per column, so a column of the wrong type is a fault of the file, not of a row.
# What each logical type of the contract accepts, as DuckDB reads Parquet (values are then read as text and
# parsed row by row, exactly as a CSV value would be). Refused on purpose: a timestamp with a time zone (the
# contract's timestamps are local time without zone), a date where a timestamp is wanted (it has no time of
# day), integers for a date or timestamp (epoch units are ambiguous), floats for identifiers.
_INTEGERS = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
_NUMBERS = (*_INTEGERS, "FLOAT", "DOUBLE", "DECIMAL")
_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
PARQUET_TYPES: dict[str, tuple[str, ...]] = {
    "string": ("VARCHAR", "UUID", *_INTEGERS),
    "int": ("VARCHAR", *_NUMBERS),
    "double": ("VARCHAR", *_NUMBERS),
    "bool": ("VARCHAR", "BOOLEAN", *_INTEGERS),
    "date": ("VARCHAR", "DATE", *_TIMESTAMPS),
    "timestamp": ("VARCHAR", *_TIMESTAMPS),
}


def parquet_type_accepted(logical_type: str, duckdb_type: str) -> bool:
    """Whether a Parquet column of ``duckdb_type`` (as DuckDB names it) may hold the contract's ``logical_type``.
    A column with no values at all (type NULL) is accepted for any type."""
    base = duckdb_type.split("(")[0].strip().upper()
    return base in ('"NULL"', "NULL") or base in PARQUET_TYPES[logical_type]
