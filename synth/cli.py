"""`dap synth`: generate a synthetic WMP-style extract, or report its calibration.

Heavy imports (numpy, pandas, pyarrow) happen inside run() so that `dap --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SCALE_NAMES = ("tiny", "demo", "wmp", "national")

EPILOG = """\
scales: tiny 500 offenders, demo 10,000, wmp 145,392 (the West Midlands data of seed 000),
national 2,907,840 (20x wmp, streamed in chunks of 20,000 offenders), or any positive number of
offenders (e.g. --scale 20 for a very small extract).

The extract holds every table of the raw-extract contract plus ref_offences, ref_lsoa and offence_types;
the ground truth (latent profiles, planted regression effects, programme effects, edge cases) is in
OUT/_truth/ and is never read by the pipeline.

--calibration-report prints generated vs target for every row of spec/calibration-targets.csv (and the
platform's typology targets in synth/calibration-targets.csv) and exits 1 if any is outside its tolerance
(except the documented known deviations, which are printed as OUT with their reason). Targets that need the
clustering (group shares, silhouettes, the chosen K, agreement with the planted profiles) are read from a
platform run on the extract: `dap synth --calibration-report --out DIR` reads the published warehouse
(DA_WAREHOUSE) when it was built from DIR, or the warehouse given with --warehouse.
"""


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be an integer >= 0, got {value}")
    return value


def _scale(text: str) -> str | int:
    if text in SCALE_NAMES:
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"scale must be one of {', '.join(SCALE_NAMES)} or a positive number of offenders, got {text!r}"
        )
    return value


def _effect(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an effect is a number between -1 and 0, got {text!r}") from None
    if not -1.0 <= value <= 0.0:
        raise argparse.ArgumentTypeError(f"an effect is a number between -1 and 0, got {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a probability is a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability is a number between 0 and 1, got {value}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a share is a number between 0 and 0.2, got {text!r}") from None
    if not 0.0 <= value <= 0.2:
        raise argparse.ArgumentTypeError(f"a share is a number between 0 and 0.2, got {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--scale",
        type=_scale,
        default="demo",
        metavar="{tiny,demo,wmp,national,N}",
        help="how many offenders: a named scale or a positive number (default demo)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=1,
        help="random seed, an integer >= 0 (default 1); the same seed and options give byte-identical files",
    )
    parser.add_argument("--out", metavar="DIR", help="output folder (required unless --calibration-report)")
    parser.add_argument(
        "--format",
        choices=("parquet", "csv"),
        default="parquet",
        help="file format of the tables (default parquet)",
    )
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing if DIR already holds a complete extract with _truth/",
    )
    parser.add_argument(
        "--calibration-report",
        action="store_true",
        help="report generated vs target values; with --out DIR: on that extract (generated "
        "first if missing); without --out: on demo seed 1 in a temporary folder",
    )
    parser.add_argument(
        "--drive-effect",
        type=_effect,
        default=-0.30,
        help="true effect of the DRIVE-like programme on later DA incidents, as a "
        "multiplicative change (default -0.30: seed 003, DRIVE -30%%; 0 = no effect)",
    )
    parser.add_argument(
        "--drive-anchor",
        choices=("selected", "disruption", "full_engagement"),
        default="selected",
        help="the stage after which the DRIVE effect applies (default selected)",
    )
    parser.add_argument(
        "--drive-share",
        type=_share,
        default=0.05,
        help="DRIVE cohort size as a share of offenders, over 6 staggered as-of dates (default 0.05)",
    )
    parser.add_argument(
        "--drive-prompted-disclosures",
        type=_probability,
        default=0.0,
        help="probability that a never-reported DA incident of a DRIVE participant, committed in the three "
        "years before selection, is disclosed within six months after it (default 0: no prompting; with a "
        "value above 0, 10%% of DA incidents are never reported unless prompted)",
    )
    parser.add_argument(
        "--fd-effect",
        type=_effect,
        default=-0.16,
        help="true effect of focused deterrence on the treatment arm (default -0.16: the "
        "randomised trials of the Braga, Turchan & Weisburd review, "
        "research/anchors_domain.md 3.2)",
    )
    parser.add_argument(
        "--fd-share",
        type=_share,
        default=0.01,
        help="cap on each focused-deterrence cohort as a share of offenders (default 0.01)",
    )
    parser.add_argument(
        "--warehouse",
        metavar="FILE",
        help="with --calibration-report: the DuckDB warehouse of a platform run on --out, for the clustering "
        "targets (default: the published warehouse, if it was built from --out)",
    )
    parser.add_argument(
        "--separated-profiles",
        action="store_true",
        help="only four well-separated latent profiles (clusters 5, 2, 24, 13) with a quarter "
        "of the usual spread: a clustering-recovery fixture",
    )
    parser.add_argument(
        "--no-planted-effects", action="store_true", help="plant no regression terms (effects and nulls)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    parser.set_defaults(func=run)


def _options(args) -> dict:
    return {
        "drive_effect": args.drive_effect,
        "drive_anchor": args.drive_anchor,
        "drive_share": args.drive_share,
        "drive_prompted_disclosures": args.drive_prompted_disclosures,
        "fd_effect": args.fd_effect,
        "fd_share": args.fd_share,
        "separated_profiles": args.separated_profiles,
        "plant_scale": 0.0 if args.no_planted_effects else 1.0,
    }


def run(args) -> int:
    from dap.cli import CliError
    from synth.generate import SynthError, generate, is_complete

    if args.out is None and not args.calibration_report:
        raise CliError("--out DIR is required (or use --calibration-report)")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise CliError(f"--out {out} exists and is not a directory")

    if args.calibration_report:
        return _report(args, out)

    if args.if_missing and is_complete(out):
        if not args.quiet:
            print(f"dap synth: {out} already holds a complete extract; nothing to do")
        return 0
    try:
        summary = generate(
            args.scale,
            args.seed,
            out,
            fmt=args.format,
            progress=None if not args.quiet else False,
            **_options(args),
        )
    except SynthError as error:
        raise CliError(str(error)) from None
    if not args.quiet:
        rows = summary["rows"]
        print(
            f"dap synth: {summary['offenders']:,} offenders, {rows['crimes']:,} crime records -> {out} "
            f"({args.format}, seed {args.seed}, {summary['seconds']:.1f} s)"
        )
    return 0


def _warehouse(args, out: Path) -> Path | None:
    """The warehouse to read the clustering targets from: --warehouse, else the published one if it was
    built from ``out`` (a mismatch is then a note, not an error)."""
    from dap import settings
    from synth import calibration

    if args.warehouse:
        return Path(args.warehouse)
    published = settings.warehouse_path()
    if not published.is_file():
        return None
    try:
        calibration.platform_values(published, out)
    except calibration.CalibrationError as error:
        print(f"note: clustering targets not read: {error}")
        return None
    return published


def _report(args, out: Path | None) -> int:
    import tempfile

    from dap.cli import CliError
    from synth import calibration
    from synth.generate import SynthError, generate, is_complete

    try:
        if out is None:
            with tempfile.TemporaryDirectory(prefix="dap-synth-") as tmp:
                generate("demo", 1, tmp, progress=False, **_options(args))
                rows, ok = calibration.report(Path(tmp))
                print(calibration.format_report(rows, Path("(demo, seed 1, temporary folder)")))
        else:
            if not is_complete(out):
                generate(args.scale, args.seed, out, fmt=args.format, progress=None, **_options(args))
            warehouse = _warehouse(args, out)
            rows, ok = calibration.report(out, warehouse)
            print(calibration.format_report(rows, out))
            if warehouse is not None:
                print(f"clustering targets from the platform run in {warehouse}")
    except (SynthError, calibration.CalibrationError) as error:
        raise CliError(str(error)) from None
    print()
    known = [r.target for r in rows if r.status == "OUT" and r.target in calibration.KNOWN_DEVIATIONS]
    if ok:
        print(
            "all computable targets within tolerance"
            + (f" except the known deviation(s): {', '.join(known)}" if known else "")
        )
    else:
        print("SOME TARGETS ARE OUTSIDE THEIR TOLERANCE")
    return 0 if ok else 1
