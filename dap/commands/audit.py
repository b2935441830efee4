"""`dap audit RUN_ID`: verify a past run against its audit manifest.

Finds the run's manifest (published version, kept versions, or a build folder), recomputes the SHA-256
of every input file it names and says, file by file, whether the inputs still match. Exit code 0 when
every input matches, 1 when one changed or is missing, 2 when the run or its manifest cannot be found.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dap import publication, settings
from dap.cli import CliError, add_location_arguments
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
    add_location_arguments(parser)
    parser.set_defaults(func=run)


def find_manifest(run_id: str | None, manifest=None, warehouse=None, output=None) -> tuple[Path, dict]:
    """The manifest given, or of the run ``run_id`` (or its first characters; 'latest' is the published
    one) among those this installation keeps: published, then kept versions and build folders."""
    if manifest:
        if not Path(manifest).is_file():
            raise CliError(f"no manifest at {manifest}")
        return Path(manifest), lineage.load_manifest(manifest)
    layout = publication.Layout(
        settings.absolute(warehouse) if warehouse else settings.warehouse_path(),
        settings.absolute(output) if output else settings.output_dir(),
    )
    parts = Path(*lineage.MANIFEST_PARTS)
    found = [layout.reports_link / parts]
    for folder in (f for f in (layout.versions_dir, layout.builds_dir) if f.exists()):
        found += sorted((p / "reports" / parts for p in folder.iterdir() if p.is_dir()), reverse=True)
    candidates = [p for p in found if p.is_file()]
    if not candidates:
        raise CliError(
            f"no audit manifest found for warehouse {layout.published_warehouse}; has a run finished there (dap run)?"
        )
    if not run_id or run_id == "latest":
        if not found[0].is_file():
            raise CliError("nothing is published yet; give a RUN_ID")
        return found[0], lineage.load_manifest(found[0])
    matches: dict[str, tuple[Path, dict]] = {}
    known = set()
    for path in candidates:
        try:
            data = lineage.load_manifest(path)
        except (OSError, ValueError):
            continue
        known.add(data["run"]["run_id"][:8])
        if any(
            i.startswith(run_id) for i in [data["run"]["run_id"], *data["run"].get("dagster_run_ids", [])]
        ):
            matches.setdefault(data["run"]["run_id"], (path, data))
    if len(matches) != 1:
        raise CliError(
            f"{run_id} matches several runs: {', '.join(sorted(matches))}"
            if matches
            else f"no audit manifest for run {run_id}; runs with manifests: {', '.join(sorted(known))}"
        )
    return next(iter(matches.values()))


def run(args: argparse.Namespace) -> int:
    path, manifest = find_manifest(args.run_id, args.manifest, args.warehouse, args.output)
    results = lineage.verify_inputs(manifest, Path(args.extract) if args.extract else None)
    git, checks = manifest["code"]["git"], manifest["check_summary"]
    print(f"run {manifest['run']['run_id']} (manifest {path})")
    print(
        f"code: commit {git.get('commit')}{' with uncommitted changes' if git.get('dirty') is True else ''}; "
        f"checks: {checks['passed']}/{checks['total']} passed"
    )
    width = max((len(r.table) for r in results), default=5)
    for r in results:
        print(
            {
                "match": f"  ok       {r.table:<{width}}  {r.file}",
                "changed": f"  CHANGED  {r.table:<{width}}  {r.file}\n           recorded sha256 {r.expected}"
                f"\n           now      sha256 {r.actual}",
                "absent": f"  absent   {r.table:<{width}}  (optional table: not in the extract the run read)",
                "missing": f"  MISSING  {r.table:<{width}}  {r.file} (recorded sha256 {r.expected})",
            }[r.status]
        )
    read = [r for r in results if r.status != "absent"]
    bad = [r for r in read if r.status != "match"]
    if not read:
        print("the manifest lists no input files")
    elif bad:
        names = ", ".join(Path(r.file).name for r in bad)
        print(f"inputs do NOT match: {len(bad)} of {len(read)} file(s) differ from the run's: {names}")
    else:
        print(f"inputs match: all {len(read)} input files have the hashes recorded by the run")
    return 0 if read and not bad else 1
