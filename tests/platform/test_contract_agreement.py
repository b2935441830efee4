"""The extract contract is written twice, once for Python (dap/contract.py: loading, validation) and once for
dbt (macros/contract.sql: casting): the two must agree on every table, column, type and requirement."""

from __future__ import annotations

import re

from dap import settings
from dap.contract import TABLES

TEXT_KINDS = {"text", "code", "category", "sex"}  # all the contract's `string`, normalised differently


def _dbt_contract() -> dict[str, list[tuple[str, str, bool]]]:
    source = (settings.DBT_PROJECT_DIR / "macros" / "contract.sql").read_text()
    column = re.compile(r"\['(\w+)',\s*'(\w+)',\s*(true|false)\]")
    person = column.findall(source[source.index("set person") : source.index("return(")])
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    body = source[source.index("return(") :]
    for match in re.finditer(r"'(\w+)':\s*(person|\[)", body):
        name = match.group(1)
        if match.group(2) == "person":
            columns = person
        else:  # the table's list ends at the first closing bracket at its own indentation
            columns = column.findall(body[match.end() : body.index("\n        ]", match.end())])
        tables[name] = [(c, k, r == "true") for c, k, r in columns]
    return tables


def test_dbt_and_python_contracts_agree():
    dbt = _dbt_contract()
    assert set(dbt) == set(TABLES)
    assert all(dbt.values()), "a table of the dbt contract was read with no columns"
    for name, table in TABLES.items():
        python_columns = [(c.name, c.type, not c.nullable) for c in table.columns]
        dbt_columns = [(c, "string" if k in TEXT_KINDS else k, required) for c, k, required in dbt[name]]
        assert dbt_columns == python_columns, name
