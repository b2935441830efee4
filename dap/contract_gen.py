"""Writes every file that restates the raw extract contract, from ``dap/contract.yml``.

    python -m dap.contract_gen           write the generated files (``make contract``)
    python -m dap.contract_gen --check   list the files that are out of date; exit 1 if any is

Generated: the dbt source of the raw schema, the YAML of the base, staging and quarantine models, the dbt
contract macros, the vars block of dbt_project.yml and the contract table of README.md. Each says that it is
generated and by what command. The Python (``dap.contract``, ``expectations.raw``, ``synth.schema``) reads the
YAML itself, so it needs no generated copy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from dap.contract import CONTRACT_FILE, SEX_VALUES, TABLES, VARS, Column, Table

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "make contract"
_HEADER = f"Generated from dap/contract.yml by `{COMMAND}` (python -m dap.contract_gen): do not edit."
_YAML_HEADER = f"# {_HEADER}\n"
# The generated part of a hand-written file lies between these two lines.
_VARS_BEGIN = f"  # --- begin: the contract's thresholds and bands. {_HEADER}"
_VARS_END = "  # --- end of the generated vars"
_README_BEGIN = f"<!-- begin: the extract contract. {_HEADER} -->"
_README_END = "<!-- end of the generated contract table -->"


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _flow(values) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


# --- dbt YAML ----------------------------------------------------------------------------------------------


def raw_sources() -> str:
    lines = [
        _YAML_HEADER + "version: 2",
        "",
        "sources:",
        "  - name: raw",
        "    schema: raw",
        "    description: >",
        "      The raw extract (spec: raw-extract-contract.md) as loaded by the Python ingest (`dap.extract.load_raw`)",
        "      from the folder named by DA_EXTRACT_DIR, plus the reference tables in use. Every column is text",
        "      (CSV as it arrived, Parquet values cast to text) and `_row_number` is the 1-based row in the source file.",
        "      Optional tables that are absent arrive empty with the same columns.",
        "    tables:",
    ]
    for table in TABLES.values():
        lines += [
            f"      - name: {table.name}",
            f"        description: {_q(table.description)}",
            "        columns:",
        ]
        for column in table.columns:
            lines += [
                f"          - name: {column.name}",
                f"            description: {_q(column.description + ' Text as it arrived.')}",
            ]
        lines += [
            "          - name: _row_number",
            '            description: "1-based row in the source file; unique per table."',
        ]
    return "\n".join(lines) + "\n"


def _staging_tests(table: Table, column: Column) -> list[str]:
    tests: list[str] = []
    if not column.nullable or column.kind == "sex":  # sex is normalised: NULL becomes 'unknown'
        tests.append("- not_null")
    if table.key == (column.name,):
        tests.append("- unique")
    if column.references:
        (key,) = TABLES[column.references].key
        tests += [
            "- relationships:",
            "    arguments:",
            f"      to: ref('stg_wmp__{column.references}')",
            f"      field: {key}",
        ]
    values = SEX_VALUES if column.kind == "sex" else column.accepted_values
    if values:
        tests += ["- accepted_values:", "    arguments:", f"      values: {_flow(values)}"]
    return tests


def staging_models() -> str:
    lines = [_YAML_HEADER + "version: 2", "", "models:"]
    for table in TABLES.values():
        lines += [
            f"  - name: stg_wmp__{table.name}",
            f"    description: {_q(f'Staged {table.name}: {table.description} Typed, trimmed and normalised; only the raw rows that broke no row-level rule (the others are in quarantine.qua_wmp__{table.name}).')}",  # noqa: E501
        ]
        if len(table.key) > 1:
            lines += [
                "    data_tests:",
                "      - unique_combination_of_columns:",
                "          arguments:",
                f"            combination_of_columns: [{', '.join(table.key)}]",
            ]
        lines += [
            "    columns:",
            "      - name: _row_number",
            '        description: "1-based row in the source file (lineage back to the raw extract)."',
            "        data_tests: [unique, not_null]",
        ]
        for column in table.columns:
            lines += [f"      - name: {column.name}", f"        description: {_q(column.description)}"]
            tests = _staging_tests(table, column)
            if tests:
                lines += ["        data_tests:", *(f"          {t}" for t in tests)]
    return "\n".join(lines) + "\n"


def base_models() -> str:
    lines = [_YAML_HEADER + "version: 2", "", "models:"]
    for table in TABLES.values():
        name = table.name
        helpers = [table.parent_rule_column] if table.parent_rule_column else []
        helpers += [
            (
                "failed_check",
                "Position of the first failing check in the table's rule list (macros/rules.sql); NULL when the"
                " row is staged.",
            ),
            ("_kept_row_number", "For a key with duplicates: the _row_number of the copy that was kept."),
            ("rule", "The first row-level rule the row breaks; NULL when it breaks none."),
        ]
        lines += [
            f"  - name: base_wmp__{name}",
            f"    description: {_q(f'Every raw {name} row, cast once, with the first row-level rule it breaks (NULL when none). stg_wmp__{name} and qua_wmp__{name} are the two halves of this table.')}",  # noqa: E501
            "    data_tests:",
            "      - quarantined_share_within_threshold:",
            "          arguments:",
            f"            table: {name}",
            "    columns:",
            "      - name: _row_number",
            '        description: "1-based row in the source file."',
        ]
        for column in table.columns:
            lines += [
                f"      - name: {column.name}__value",
                f"        description: {_q(f'Typed, normalised {column.name} ({column.type}).')}",
            ]
        for helper, description in helpers:
            lines += [f"      - name: {helper}", f"        description: {_q(description)}"]
    return "\n".join(lines) + "\n"


def quarantine_models() -> str:
    lines = [_YAML_HEADER + "version: 2", "", "models:"]
    for table in TABLES.values():
        lines += [
            f"  - name: qua_wmp__{table.name}",
            f"    description: {_q(f'Raw {table.name} rows that broke a row-level rule, as they arrived (text), with the first rule broken and a reason naming the column and the value.')}",  # noqa: E501
            "    columns:",
        ]
        for column in table.columns:
            lines += [
                f"      - name: {column.name}",
                f"        description: {_q(column.description + ' Raw text.')}",
            ]
        lines += [
            "      - name: _row_number",
            '        description: "1-based row in the source file."',
            "        data_tests: [unique, not_null]",
            "      - name: rule",
            '        description: "The first row-level rule the row broke (rules and their order: dbt_project/README.md)."',
            "        data_tests: [not_null]",
            "      - name: reason",
            '        description: "Human-readable reason naming the column and the bad value."',
            "        data_tests: [not_null]",
        ]
    return "\n".join(lines) + "\n"


# --- dbt macros --------------------------------------------------------------------------------------------


def contract_macros() -> str:
    out = [
        f"{{#- {_HEADER}",
        "    The raw extract contract (spec: raw-extract-contract.md), as the staging layer reads it.",
        "    Each column: [name, kind, required]. Kinds say how a text value is cast and normalised:",
        "      text      trimmed; empty = NULL",
        "      code      trimmed, upper-cased (offence codes, LSOA codes)",
        "      category  trimmed, lower-cased, inner whitespace collapsed",
        "      sex       normalised to male / female / unknown (NULL and unrecognised values = unknown)",
        "      int, double, bool, date, timestamp   parsed; a value that does not parse breaks rule `unparseable` -#}",
        "{% macro wmp_contract() -%}",
        "    {{ return({",
    ]
    for table in TABLES.values():
        out.append(f"        '{table.name}': [")
        for c in table.columns:
            out.append(f"            ['{c.name}', '{c.kind}', {'false' if c.nullable else 'true'}],")
        out.append("        ],")
    out += ["    }) }}", "{%- endmacro %}", ""]
    names = ", ".join(f"'{t}'" for t in TABLES)
    out += [
        "{#- The tables in the order the audit lists them. -#}",
        "{% macro wmp_tables() -%}",
        f"    {{{{ return([{names}]) }}}}",
        "{%- endmacro %}",
        "",
        "{#- The key whose duplicates are quarantined (last rule), or none. -#}",
        "{% macro wmp_duplicate_rule(table) -%}",
        "    {%- set rules = {",
    ]
    for t in TABLES.values():
        if t.key:
            keys = ", ".join(f"'{k}'" for k in t.key)
            out.append(f"        '{t.name}': {{'keys': [{keys}], 'rule': '{t.duplicate_rule}'}},")
    out += [
        "    } -%}",
        "    {{ return(rules.get(table)) }}",
        "{%- endmacro %}",
        "",
        "{#- The values a column accepts after normalising (rule `<column>_not_accepted`), by table and column. -#}",
        "{% macro wmp_accepted_values(table, column) -%}",
        "    {%- set values = {",
    ]
    for t in TABLES.values():
        for c in t.columns:
            if c.accepted_values:
                out.append(f"        '{t.name}.{c.name}': {_flow(c.accepted_values)},")
    out += ["    } -%}", "    {{ return(values[table ~ '.' ~ column]) }}", "{%- endmacro %}"]
    return "\n".join(out) + "\n"


# --- regions of hand-written files -------------------------------------------------------------------------


def _yaml_value(value) -> str:
    if isinstance(value, str):
        return _q(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return json.dumps(value)


def dbt_vars_block() -> str:
    lines = [
        _VARS_BEGIN,
        "  # What each var means is in dap/contract.yml. Change a value there (not with dbt's --vars alone),",
        "  # so that the Python, which reads the same file, bands and checks the same way.",
    ]
    for name, value in VARS.items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value) and len(value) > 2:
            lines.append(f"  {name}:")
            lines += [f"    - {v}" for v in value]
        else:
            lines.append(f"  {name}: {_yaml_value(value)}")
    return "\n".join([*lines, _VARS_END])


def readme_table() -> str:
    lines = [
        _README_BEGIN,
        "| table | | columns (**required**) |",
        "|---|---|---|",
    ]
    for t in TABLES.values():
        role = "reference" if t.reference else ("required" if t.required else "optional")
        columns = ", ".join(f"**{c.name}**" if not c.nullable else c.name for c in t.columns)
        lines.append(f"| `{t.name}` | {role} | {columns} |")
    return "\n".join([*lines, _README_END])


def _replace_region(text: str, begin: str, end: str, block: str, path: str) -> str:
    start = text.find(begin.split(".")[0])
    stop = text.find(end)
    if start < 0 or stop < start:
        raise SystemExit(
            f"{path}: the generated region (a line beginning {begin[:40]!r} ... {end!r}) is missing"
        )
    return text[:start] + block + text[stop + len(end) :]


def _region(path: str, begin: str, end: str, block: Callable[[], str]) -> Callable[[], str]:
    return lambda: _replace_region((ROOT / path).read_text(encoding="utf-8"), begin, end, block(), path)


#: Every generated file (relative to the repository root) and what writes it.
GENERATED: dict[str, Callable[[], str]] = {
    "dbt_project/models/staging/_raw__sources.yml": raw_sources,
    "dbt_project/models/staging/_stg_wmp__models.yml": staging_models,
    "dbt_project/models/staging/base/_base_wmp__models.yml": base_models,
    "dbt_project/models/quarantine/_qua_wmp__models.yml": quarantine_models,
    "dbt_project/macros/contract.sql": contract_macros,
    "dbt_project/dbt_project.yml": _region(
        "dbt_project/dbt_project.yml", _VARS_BEGIN, _VARS_END, dbt_vars_block
    ),
    "README.md": _region("README.md", _README_BEGIN, _README_END, readme_table),
}


def stale() -> list[str]:
    """The generated files whose content on disk differs from what the contract gives."""
    return [p for p, make in GENERATED.items() if (ROOT / p).read_text(encoding="utf-8") != make()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dap.contract_gen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for path in out_of_date:
            print(f"{path} is out of date with {CONTRACT_FILE.name}: run `{COMMAND}`", file=sys.stderr)
        return 1 if out_of_date else 0
    for path, make in GENERATED.items():
        text = make()
        target = ROOT / path
        if target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
