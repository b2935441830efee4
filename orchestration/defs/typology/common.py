"""What the typology assets share: keys, code version, the settings table, the PCA scores, the status."""

import numpy as np
import pandas as pd

from ml.estimability import ESTIMATED
from orchestration.keys import analytics, report
from orchestration.lib.code_version import source_version
from orchestration.lib.warehouse_io import read_table, table_exists, write_table

CODE_VERSION = source_version(
    "orchestration.defs.typology",
    "ml.features",
    "ml.clara",
    "ml.typology",
    "ml.typology_report",
    "ml.reporting",
)
GROUP = "typology"

PCA = analytics("pca")
K_SWEEP = analytics("k_sweep")
OFFENDER_CLUSTERS = analytics("offender_clusters")
CLUSTER_STABILITY = analytics("cluster_stability")
CLUSTER_PROFILES = analytics("cluster_profiles")
REPORT = report("typology")

_STRATA_COLUMNS = ["offender_id", "da_volume_band", "non_da_volume_band"]


def _save_settings(con, asset: str, settings: dict) -> None:
    rows = pd.DataFrame(
        {"asset": asset, "setting": list(settings), "value": [str(v) for v in settings.values()]}
    )
    if table_exists(con, "analytics.typology_settings"):
        kept = con.execute(
            "SELECT * FROM analytics.typology_settings WHERE asset <> ? ORDER BY ALL", [asset]
        ).df()
        rows = pd.concat([kept, rows], ignore_index=True)
    write_table(con, "analytics.typology_settings", rows)


def _read_scores(con) -> tuple[np.ndarray, np.ndarray]:
    scores = read_table(con, "analytics.pca_scores")
    ids = scores["offender_id"].to_numpy()
    x = scores.drop(columns=["offender_id"]).to_numpy(dtype=np.float64)
    return ids, x


def _md_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |\n|" + "---|" * len(frame.columns)
    body = "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False))
    return head + "\n" + body


def _typology_status(con) -> tuple[str, str]:
    """The final fit's status and reason (``estimated`` for tables written before the column existed)."""
    fit = read_table(con, "analytics.typology_fit")
    if "status" not in fit or fit.empty:
        return ESTIMATED, ""
    return str(fit["status"].iloc[0]), str(fit["reason"].iloc[0] or "")


def empty_table(**dtypes: str) -> pd.DataFrame:
    """No rows, these columns and dtypes: what a step publishes when its analysis is not estimable."""
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in dtypes.items()})
