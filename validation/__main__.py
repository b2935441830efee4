"""``python -m validation`` (``make validate``): the simulation study; writes a CSV table and an HTML page."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from validation.dgp import SCENARIOS, World
from validation.page import markdown, render
from validation.study import EFFECTS, StudySettings, default_workers, run_study, summarise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--effects", nargs="*", type=float, default=list(EFFECTS))
    parser.add_argument("--people", type=int, default=World().n_people)
    parser.add_argument("--bootstrap-reps", type=int, default=199)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument(
        "--half-sample-fraction",
        type=float,
        default=0.5,
        help="share of each stratum a matched half-sample keeps (0.5: the delete-half jackknife)",
    )
    parser.add_argument(
        "--outcome-ridge",
        type=float,
        default=None,
        help="a fixed ridge penalty for the matched outcome models (default: chosen by generalised "
        "cross-validation)",
    )
    parser.add_argument(
        "--library-only",
        action="store_true",
        help="run only the library estimator (Callaway–Sant'Anna): the study of it in minutes, not hours",
    )
    parser.add_argument(
        "--library-bootstrap-reps",
        type=int,
        default=99,
        help="resamples behind the library estimate's bootstrap-t interval (0: the library's own interval)",
    )
    parser.add_argument(
        "--library-method",
        default="dr",
        choices=["dr", "reg", "ipw"],
        help="the library's estimator in each cell (the platform's default: dr)",
    )
    parser.add_argument("--out", default="reports/validation")
    args = parser.parse_args(argv)
    settings = StudySettings(
        replicates=args.replicates,
        scenarios=tuple(args.scenarios),
        effects=tuple(args.effects),
        world=World(n_people=args.people),
        bootstrap_reps=args.bootstrap_reps,
        workers=args.workers,
        half_sample_fraction=args.half_sample_fraction,
        outcome_ridge=args.outcome_ridge,
        library_only=args.library_only,
        library_bootstrap_reps=args.library_bootstrap_reps,
        library_method=args.library_method,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    raw = run_study(settings)
    seconds = time.perf_counter() - start
    table = summarise(raw)
    raw.to_csv(out / "replicates.csv", index=False)
    table.to_csv(out / "summary.csv", index=False)
    meta = {
        "replicates": args.replicates,
        "people": args.people,
        "bootstrap_reps": args.bootstrap_reps,
        "library_bootstrap_reps": args.library_bootstrap_reps,
        "library_only": args.library_only,
        "library_method": args.library_method,
        "workers": args.workers,
        "seconds": seconds,
    }
    (out / "index.html").write_text(render(table, meta), encoding="utf-8")
    (out / "summary.md").write_text(markdown(table), encoding="utf-8")
    cols = [
        "scenario",
        "effect",
        "estimator",
        "outcome",
        "estimated",
        "bias",
        "rmse",
        "coverage",
        "rejects_no_effect",
    ]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        f"\n{len(raw)} estimates in {seconds:.0f} s; written to {out}/summary.csv, summary.md and index.html"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
