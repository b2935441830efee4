"""The extract contract is written once (dap/contract.yml); every other file that states it is generated from it
by `make contract`, or reads it. A generated file edited by hand, or a contract changed without regenerating,
fails here with the file's name and the command that fixes it."""

from __future__ import annotations

import pytest
import yaml

from dap import contract, contract_gen, settings
from ml import typology


@pytest.mark.parametrize("path", list(contract_gen.GENERATED))
def test_generated_file_is_up_to_date(path):
    on_disk = (contract_gen.ROOT / path).read_text(encoding="utf-8")
    assert on_disk == contract_gen.GENERATED[path](), (
        f"{path} is out of date with dap/contract.yml (or was edited by hand): run `make contract`"
    )


def test_check_mode_names_a_stale_file(tmp_path, monkeypatch, capsys):
    stale_copy = tmp_path / "contract.sql"
    stale_copy.write_text("{# edited by hand #}\n")
    monkeypatch.setattr(contract_gen, "ROOT", tmp_path)
    monkeypatch.setattr(contract_gen, "GENERATED", {"contract.sql": contract_gen.contract_macros})
    assert contract_gen.main(["--check"]) == 1
    assert "contract.sql is out of date with contract.yml: run `make contract`" in capsys.readouterr().err
    stale_copy.write_text(contract_gen.contract_macros())
    assert contract_gen.main(["--check"]) == 0


def test_dbt_vars_and_python_bands_are_the_contracts():
    dbt_vars = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert dbt_vars == contract.VARS
    assert typology.severity_band(dbt_vars["severity_band_medium_from"] - 0.01) == "Low"
    assert typology.severity_band(dbt_vars["severity_band_medium_from"]) == "Medium"
    assert typology.severity_band(dbt_vars["severity_band_high_above"]) == "Medium"
    assert typology.severity_band(dbt_vars["severity_band_high_above"] + 0.01) == "High"
    assert typology.volume_band(dbt_vars["volume_band_high_from"]) == "High"
    assert typology.volume_band(dbt_vars["volume_band_high_from"] - 1) == "Low"


def test_a_wrong_contract_names_the_table_and_column():
    with pytest.raises(ValueError, match=r"tables\.crimes\.columns\.da_flag: type 'boolean'"):
        contract._table("crimes", {"columns": {"da_flag": {"type": "boolean"}}})
    with pytest.raises(ValueError, match=r"tables\.crimes\.columns\.crime_number: kind 'upper'"):
        contract._table("crimes", {"columns": {"crime_number": {"type": "string", "kind": "upper"}}})
    with pytest.raises(ValueError, match=r"tables\.crimes: a key needs its duplicate_rule"):
        contract._table(
            "crimes", {"key": ["nope"], "columns": {"crime_number": {"type": "string", "kind": "text"}}}
        )
