"""Run the robustness matrix: build every case's extract, run `dap run` on each (one Dagster run per case,
a shared Dagster instance per worker, workers in parallel), and tabulate what happened.

    python -m tests.robustness.matrix [--out DIR] [--workers N] [--only NAME ...]

prints the table (case, exit code, published?, analyses marked not estimable and why). The test suite
runs the same function once per session (tests/robustness/test_matrix.py) and prints the same table.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

import duckdb
import yaml

from dap import publication
from tests.robustness.cases import Case, Result, cases, copy_extract

SUMMARIES = {  # table → (label columns, what the table is called in the matrix)
    "analytics.effect_estimates": (("programme", "design", "outcome"), "effects"),
    "analytics.regression_model_fit": (("model",), "regressions"),
    "analytics.typology_fit": ((), "typology"),
}
WARN_CHECKS = {  # table → (asset key, check) that names its not-estimable rows
    "analytics.effect_estimates": ("analytics/effect_estimates", "effect_estimates_estimable"),
    "analytics.regression_model_fit": ("analytics/regression_model_fit", "regression_estimable"),
    "analytics.typology_fit": ("analytics/offender_clusters", "typology_estimable"),
}


TIMEOUT_SECONDS = 1800


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


# ── building the extracts ──────────────────────────────────────────────────────────────────────────


def prepare(root: Path, matrix: list[Case]) -> dict[str, Path]:
    """Generate each base extract once, then copy and transform it for every case."""
    import synth

    bases: dict[str, Path] = {}
    extracts: dict[str, Path] = {}
    for case in matrix:
        base = case.base
        if base.name not in bases:
            folder = root / "bases" / base.name
            if not (folder / "_truth" / "summary.json").exists():
                synth.generate(base.scale, base.seed, folder, fmt=base.fmt, progress=False)
            bases[base.name] = folder
        if case.transform is None:
            extracts[case.name] = bases[base.name]
            continue
        folder = root / "extracts" / slug(case.name)
        if not folder.exists():
            copy_extract(bases[base.name], folder)
            case.transform(folder)
        extracts[case.name] = folder
    return extracts


# ── running the cases ──────────────────────────────────────────────────────────────────────────────


def case_dir(root: Path, case: Case) -> Path:
    return root / "runs" / slug(case.name)


def run_case(root: Path, case: Case, extract: Path, dagster_home: Path) -> Result:
    """`dap run` on one case in a fresh warehouse and reports folder; the Dagster home is the worker's."""
    folder = case_dir(root, case)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "run_config.yaml"
    config.write_text(yaml.safe_dump(case.run_config()))
    env = {
        **os.environ,
        "DA_EXTRACT_DIR": str(extract),
        "DA_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "DA_OUTPUT_DIR": str(folder / "reports"),
        "DAGSTER_HOME": str(dagster_home),
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    started = time.perf_counter()
    with open(folder / "dap_run.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dap.cli", "run", "--config", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        timer = threading.Timer(TIMEOUT_SECONDS, process.kill)
        timer.start()
        # wait4 gives the CPU time of the run and of the dbt processes it waited for: a figure that does
        # not depend on what else the machine is doing, unlike the wall time
        _, status, usage = os.wait4(process.pid, 0)
        timed_out = not timer.is_alive()
        timer.cancel()
        process.returncode = code = None if timed_out else os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    cpu_seconds = usage.ru_utime + usage.ru_stime
    layout = publication.Layout(folder / "warehouse.duckdb", folder / "reports")
    published = publication.current_version(layout) is not None and (folder / "reports" / "current").exists()
    tail = (folder / "dap_run.log").read_text(errors="replace")[-4000:]
    lines = not_estimable_lines(folder) if published else []
    return Result(case.name, code, published, seconds, cpu_seconds, lines, tail)


def run_matrix(root: Path, matrix: list[Case] | None = None, workers: int = 2) -> dict[str, Result]:
    """Every case once; ``workers`` threads each drive one `dap run` at a time with their own Dagster home."""
    matrix = matrix if matrix is not None else cases()
    extracts = prepare(root, matrix)
    todo: queue.Queue[Case] = queue.Queue()
    for case in sorted(matrix, key=lambda c: -c.cost):  # longest first balances the workers
        todo.put(case)
    results: dict[str, Result] = {}

    def worker(number: int) -> None:
        home = root / f"dagster_home_{number}"
        home.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                case = todo.get_nowait()
            except queue.Empty:
                return
            results[case.name] = run_case(root, case, extracts[case.name], home)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = {case.name: results[case.name] for case in matrix}
    (root / "results.json").write_text(json.dumps([asdict(r) for r in ordered.values()], indent=1))
    return ordered


# ── reading what a case published ──────────────────────────────────────────────────────────────────


def published_tables(folder: Path) -> dict[str, object]:
    """The not-estimable figures' tables of a case's published warehouse (pandas frames)."""
    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    try:
        found = {}
        for table in SUMMARIES:
            schema, name = table.split(".")
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchone()[0]
            if exists:
                found[table] = con.execute(f"SELECT * FROM {table}").df()
        return found
    finally:
        con.close()


def not_estimable_rows(folder: Path) -> list[tuple[str, str, str]]:
    """(table, label, reason) for every not-estimable row the case published."""
    rows = []
    for table, frame in published_tables(folder).items():
        labels, _ = SUMMARIES[table]
        if "status" not in frame:
            continue
        for record in frame.loc[frame["status"] == "not estimable"].to_dict("records"):
            label = ", ".join(str(record[c]) for c in labels)
            rows.append((table, label, str(record["reason"])))
    return rows


def not_estimable_lines(folder: Path) -> list[str]:
    return [
        f"{SUMMARIES[t][1]}: {label + ': ' if label else ''}{reason}"
        for t, label, reason in not_estimable_rows(folder)
    ]


def manifest(folder: Path) -> dict:
    return json.loads((folder / "reports" / "current" / "audit" / "manifest.json").read_text())


def report_text(folder: Path, *parts: str) -> str:
    path = folder / "reports" / "current" / Path(*parts)
    return html.unescape(path.read_text(encoding="utf-8")) if path.exists() else ""


# ── the table ──────────────────────────────────────────────────────────────────────────────────────


def _summary(result: Result) -> str:
    if not result.not_estimable:
        return "none"
    by_kind: dict[str, dict[str, int]] = {}
    for line in result.not_estimable:
        kind, rest = line.split(": ", 1)
        reason = rest.split(": ", 1)[1] if kind != "typology" and ": " in rest else rest
        reason = re.sub(r"\b\d+\b", "N", reason)  # group "3 treated people" with "4 treated people"
        by_kind.setdefault(kind, {}).setdefault(reason, 0)
        by_kind[kind][reason] += 1
    parts = []
    for kind, reasons in by_kind.items():
        total = sum(reasons.values())
        shown = "; ".join(
            f"{r} (×{n})" if n > 1 else r for r, n in sorted(reasons.items(), key=lambda x: -x[1])[:3]
        )
        more = f"; +{len(reasons) - 3} more reasons" if len(reasons) > 3 else ""
        parts.append(f"{kind} {total}: {shown}{more}")
    return " · ".join(parts)


def table(results: dict[str, Result]) -> str:
    lines = [
        "| case | exit code | published? | wall / CPU min | analyses marked not estimable (count: reasons; N = a number) |",
        "|---|---|---|---|---|",
    ]
    for result in results.values():
        code = "timeout" if result.exit_code is None else str(result.exit_code)
        lines.append(
            f"| {result.case} | {code} | {'yes' if result.published else 'NO'} | "
            f"{result.seconds / 60:.1f} / {result.cpu_seconds / 60:.1f} | "
            f"{_summary(result).replace('|', '/')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the extracts and runs (default: a temporary folder, kept)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("DA_MATRIX_WORKERS", "2")))
    parser.add_argument("--only", nargs="*", help="run only the cases whose name contains one of these")
    args = parser.parse_args(argv)
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="robustness-matrix-"))
    root.mkdir(parents=True, exist_ok=True)
    matrix = [c for c in cases() if not args.only or any(o in c.name for o in args.only)]
    started = time.perf_counter()
    results = run_matrix(root, matrix, args.workers)
    print(table(results))
    cpu = sum(r.cpu_seconds for r in results.values()) / 60
    print(
        f"\n{len(results)} cases in {(time.perf_counter() - started) / 60:.1f} min wall with {args.workers} "
        f"workers, {cpu:.1f} CPU-min; runs in {root}"
    )
    return 0 if all(r.exit_code == 0 and r.published for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
