"""Reference tables shipped with the project (reference/*.csv) and copied into every extract.

``python -m synth.reference`` rewrites reference/ref_offences.csv, reference/offence_types.csv and
reference/ref_lsoa.csv from synth/catalogue.py; the files are versioned, and a test checks they are in
step with the catalogue. The LSOA table is synthetic (codes ``SYN0001``..``SYN1700``), made with a fixed
seed so that it never changes between runs or machines.
"""

from __future__ import annotations

from pathlib import Path

from synth import catalogue

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
N_LSOA = 1700
LSOA_SEED = 2019
# Approximate IMD 2019 national score cut points between deciles 1|2, 2|3, ..., 9|10 (descending: decile 1
# is the most deprived tenth of England's 32,844 LSOAs). Approximations; see reference/README.md.
IMD_DECILE_CUTS = (45.0, 34.2, 27.4, 22.0, 17.6, 14.0, 11.0, 8.5, 6.0)


def ref_offences_table():
    import pyarrow as pa

    rows = catalogue.offence_rows()
    return pa.table(
        {
            "offence_code": pa.array([r["offence_code"] for r in rows], pa.string()),
            "offence_description": pa.array([r["offence_description"] for r in rows], pa.string()),
            "offence_group": pa.array([r["offence_group"] for r in rows], pa.string()),
            "ons_css_weight": pa.array([r["ons_css_weight"] for r in rows], pa.float64()),
            "cchi_days": pa.array([r["cchi_days"] for r in rows], pa.float64()),
            "substance_related": pa.array([r["substance_related"] for r in rows], pa.bool_()),
            "weight_source": pa.array([r["weight_source"] for r in rows], pa.string()),
        }
    )


def offence_types_table():
    import pyarrow as pa

    rows = catalogue.offence_rows()
    return pa.table(
        {
            "offence_code": pa.array([r["offence_code"] for r in rows], pa.string()),
            "offence_type": pa.array([r["offence_type"] for r in rows], pa.string()),
        }
    )


def imd_decile(scores):
    import numpy as np

    cuts = np.asarray(IMD_DECILE_CUTS)
    # decile 1 when score >= 45.0, ..., decile 10 when score < 6.0
    return (np.sum(np.asarray(scores)[:, None] < cuts[None, :], axis=1) + 1).astype(np.int64)


def ref_lsoa_table():
    import numpy as np
    import pyarrow as pa

    rng = np.random.Generator(np.random.PCG64(LSOA_SEED))
    # A West-Midlands-like spread: more deprived than England as a whole (about a fifth in decile 1).
    scores = np.clip(np.round(28.0 * np.exp(0.6 * rng.standard_normal(N_LSOA)), 3), 0.5, 92.0)
    codes = [f"SYN{i + 1:04d}" for i in range(N_LSOA)]
    return pa.table(
        {
            "lsoa_code": pa.array(codes, pa.string()),
            "imd_score": pa.array(scores, pa.float64()),
            "imd_decile": pa.array(imd_decile(scores), pa.int64()),
        }
    )


def reference_tables() -> dict:
    return {
        "ref_offences": ref_offences_table(),
        "offence_types": offence_types_table(),
        "ref_lsoa": ref_lsoa_table(),
    }


def write_reference(directory: Path = REFERENCE_DIR) -> list[Path]:
    from synth.writer import write_csv

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in reference_tables().items():
        path = directory / f"{name}.csv"
        write_csv(table, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_reference():
        print(p)
