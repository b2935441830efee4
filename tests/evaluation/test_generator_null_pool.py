"""``python -m validation.generator_null --pool``: runs in chunks keep each seed's rows, and the pooled
summary is that of the rows (hand-worked: two seeds, zero true effect)."""

import numpy as np
import pandas as pd

from validation.generator_null import SEEDS_DIR, main


def _rows(seed: int, estimate: float, low: float, high: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "seed": [seed],
            "programme": ["DRIVE"],
            "design": ["matched_did"],
            "outcome": ["harm_cchi"],
            "estimand": ["rate ratio"],
            "estimate": [estimate],
            "ci_low": [low],
            "ci_high": [high],
            "status": ["estimated"],
            "true_effect": [0.0],
        }
    )


def test_pool_summarises_the_per_seed_files(tmp_path):
    seeds = tmp_path / SEEDS_DIR
    seeds.mkdir()
    _rows(7, np.e**0.3, 1.1, 2.0).to_csv(seeds / "seed7.csv", index=False)  # excludes 1, above it
    _rows(8, np.e**-0.1, 0.5, 1.5).to_csv(seeds / "seed8.csv", index=False)
    assert main(["--pool", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "generator_null_summary.csv")
    row = table.iloc[0]
    assert row["seeds"] == 2
    assert np.isclose(row["bias_log"], 0.1)  # (0.3 − 0.1) / 2
    assert np.isclose(row["bias_log_se"], np.std([0.3, -0.1], ddof=1) / np.sqrt(2))
    assert row["n_excluding"] == 1 and row["n_excluding_above"] == 1
    assert row["coverage"] == 0.5
    assert len(pd.read_csv(tmp_path / "generator_null_replicates.csv")) == 2


def test_pool_without_files_is_a_clear_error(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--pool", "--out", str(tmp_path)])
    assert "no per-seed files" in capsys.readouterr().err
