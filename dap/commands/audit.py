"""`dap audit RUN_ID`: verify a past run against its audit manifest.

Finds the run's manifest (published version, kept versions, or a build folder), recomputes the SHA-256
of every input file it names and says, file by file, whether the inputs still match. Exit code 0 when
every input matches, 1 when one changed or is missing, 2 when the run or its manifest cannot be found.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dap import publication, settings
from dap.cli import CliError
from dap.lineage import manifest as lineage


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_id",
        nargs="?",
        default="latest",
        help="run id or its first characters (default: the published run)",
    )
    parser.add_argument(
        "--manifest", metavar="FILE", help="read this manifest.json instead of looking the run up"
    )
    parser.add_argument(
        "--extract",
        metavar="DIR",
        help="look for the input files (by name) in this folder instead of where the run read them",
    )
    parser.add_argument("--warehouse", metavar="FILE", help="published warehouse (default: $DA_WAREHOUSE)")
    parser.add_argument("--output", metavar="DIR", help="reports folder (default: $DA_OUTPUT_DIR)")
    parser.set_defaults(func=run)


def candidate_manifests(layout: publication.Layout) -> list[Path]:
    """Every manifest this installation keeps: the published one first, then versions and build folders."""
    parts = Path(*lineage.MANIFEST_PARTS)
    found = [layout.reports_link / parts]
    for folder in (layout.versions_dir, layout.builds_dir):
        if folder.exists():
            found += sorted((p / "reports" / parts for p in folder.iterdir() if p.is_dir()), reverse=True)
    return [p for p in found if p.is_file()]


def find_manifest(
    run_id: str | None, manifest: str | None = None, warehouse: str | None = None, output: str | None = None
) -> tuple[Path, dict]:
    if manifest:
        path = Path(manifest)
        if not path.is_file():
            raise CliError(f"no manifest at {path}")
        return path, lineage.load_manifest(path)
    layout = publication.Layout(
        settings.absolute(warehouse) if warehouse else settings.warehouse_path(),
        settings.absolute(output) if output else settings.output_dir(),
    )
    candidates = candidate_manifests(layout)
    if not candidates:
        raise CliError(
            f"no audit manifest found for warehouse {layout.published_warehouse}; "
            "has a run finished there (dap run)?"
        )
    if not run_id or run_id == "latest":
        published = layout.reports_link / Path(*lineage.MANIFEST_PARTS)
        if not published.is_file():
            raise CliError("nothing is published yet; give a RUN_ID")
        return published, lineage.load_manifest(published)
    matches: dict[str, tuple[Path, dict]] = {}
    for path in candidates:
        try:
            data = lineage.load_manifest(path)
        except (OSError, ValueError):
            continue
        ids = [data["run"]["run_id"], *data["run"].get("dagster_run_ids", [])]
        if any(i.startswith(run_id) for i in ids):
            matches.setdefault(data["run"]["run_id"], (path, data))
    if not matches:
        raise CliError(
            f"no audit manifest for run {run_id}; runs with manifests: "
            + ", ".join(sorted({lineage.load_manifest(p)["run"]["run_id"][:8] for p in candidates}))
        )
    if len(matches) > 1:
        raise CliError(f"{run_id} matches several runs: {', '.join(sorted(matches))}")
    return next(iter(matches.values()))


def run(args: argparse.Namespace) -> int:
    path, manifest = find_manifest(args.run_id, args.manifest, args.warehouse, args.output)
    results = lineage.verify_inputs(manifest, Path(args.extract) if args.extract else None)
    git = manifest["code"]["git"]
    print(f"run {manifest['run']['run_id']} (manifest {path})")
    print(
        f"code: commit {git.get('commit')}{' with uncommitted changes' if git.get('dirty') is True else ''}; "
        f"checks: {manifest['check_summary']['passed']}/{manifest['check_summary']['total']} passed"
    )
    width = max((len(r.table) for r in results), default=5)
    for result in results:
        if result.status == "match":
            print(f"  ok       {result.table:<{width}}  {result.file}")
        elif result.status == "changed":
            print(
                f"  CHANGED  {result.table:<{width}}  {result.file}\n"
                f"           recorded sha256 {result.expected}\n           now      sha256 {result.actual}"
            )
        elif result.status == "absent":
            print(f"  absent   {result.table:<{width}}  (optional table: not in the extract the run read)")
        else:
            print(f"  MISSING  {result.table:<{width}}  {result.file} (recorded sha256 {result.expected})")
    bad = [r for r in results if r.status not in ("match", "absent")]
    read = [r for r in results if r.status != "absent"]
    if not read:
        print("the manifest lists no input files")
        return 1
    if bad:
        print(
            f"inputs do NOT match: {len(bad)} of {len(read)} file(s) differ from the run's: "
            + ", ".join(Path(r.file).name for r in bad)
        )
        return 1
    print(f"inputs match: all {len(read)} input files have the hashes recorded by the run")
    return 0
