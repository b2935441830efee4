"""md5 of every table the `programme_evaluation` asset writes, over its rows sorted, computed by re-running
the asset's work on a built warehouse (opened read-only; nothing is written): to show that a change to the
evaluation's memory handling leaves its outputs the same.

    python -m bench.evaluation_digest data/warehouse.duckdb > before.txt   # on the code before
    python -m bench.evaluation_digest data/warehouse.duckdb > after.txt    # on the code after
    diff before.txt after.txt

Floats are hashed by their exact bits (``repr``), so any difference, even in the last bit, shows.
"""

from __future__ import annotations

import hashlib
import sys

import pandas as pd


def digest(frame: pd.DataFrame) -> str:
    frame = frame.reindex(columns=sorted(frame.columns))
    lines = sorted("\x1f".join(repr(v) for v in row) for row in frame.itertuples(index=False, name=None))
    return hashlib.md5("\n".join(lines).encode()).hexdigest()


def main() -> None:
    import duckdb

    from ml.evaluation import pipeline
    from orchestration.defs import evaluation as asset

    warehouse = sys.argv[1]
    eval_config = asset.EvaluationAssetConfig().to_evaluation_config()
    con = duckdb.connect(warehouse, read_only=True)
    try:
        incidents, offenders, participants = asset._read_inputs(con)
        sources = asset._sources(con, incidents, offenders)
        del incidents
        summaries = (
            asset._power_few_from_warehouse(con, eval_config.power_few_top_n),
            asset._concentration_from_warehouse(con, eval_config.concentration_top_ns),
        )
        result = pipeline.run_evaluation(
            None, offenders, participants, eval_config, rfg_summaries=summaries, sources=sources
        )
    finally:
        con.close()
    tables = result.tables()
    tables["evaluation_summary"] = pipeline.summary_table(result)
    for name in [*asset.PROGRAMME_TABLES, "power_few", "concentration"]:
        print(f"{name:22s} {len(tables[name]):8d} rows  {digest(tables[name])}")


if __name__ == "__main__":
    main()
