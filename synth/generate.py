"""Generate a whole extract: chunks of offenders streamed to one file per table, truth on the side."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from synth import catalogue, schema
from synth.engine import Options

SCALES = {"tiny": 500, "demo": 10_000, "wmp": 145_392, "national": 2_907_840}
CHUNK_SIZE = 20_000
GENERATOR_VERSION = "1.0"
TRUTH_DIR = "_truth"
FORMATS = ("parquet", "csv")


class SynthError(ValueError):
    """Bad options for the generator (the CLI turns it into a clean error)."""


def _chunks(n: int) -> list[tuple[int, int]]:
    return [(start, min(CHUNK_SIZE, n - start)) for start in range(0, n, CHUNK_SIZE)]


def make_options(**options) -> Options:
    known = {f.name for f in fields(Options)}
    unknown = set(options) - known
    if unknown:
        raise SynthError(
            f"unknown option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    opts = Options(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items()})
    for name in ("drive_effect", "fd_effect"):
        value = getattr(opts, name)
        if not -1.0 <= value <= 0.0:
            raise SynthError(
                f"{name} must be between -1 and 0 (a multiplicative change in the DA incident "
                f"rate; -0.3 = 30% fewer), got {value}"
            )
    if opts.drive_anchor not in ("selected", "disruption", "full_engagement"):
        raise SynthError("drive_anchor must be one of selected, disruption, full_engagement")
    if not 0 <= opts.drive_share <= 0.2 or not 0 <= opts.fd_share <= 0.2:
        raise SynthError("drive_share and fd_share must be between 0 and 0.2")
    if opts.plant_scale < 0 or not 0 <= opts.edge_share <= 0.2:
        raise SynthError("plant_scale must be >= 0 and edge_share between 0 and 0.2")
    if not 0 <= opts.unknown_time_share <= 0.5:
        raise SynthError("unknown_time_share must be between 0 and 0.5")
    return opts


def is_complete(out_dir: Path) -> bool:
    """True when ``out_dir`` holds a finished extract (every table and the truth files)."""
    out_dir = Path(out_dir)
    manifest = out_dir / TRUTH_DIR / "summary.json"
    if not manifest.is_file():
        return False
    try:
        fmt = json.loads(manifest.read_text())["format"]
    except (ValueError, KeyError):
        return False
    return all((out_dir / f"{t}.{fmt}").is_file() for t in schema.ALL_TABLES)


def generate(
    scale: str | int, seed: int, out_dir, fmt: str = "parquet", progress: bool | None = None, **options
) -> dict:
    """Write a synthetic WMP-style extract to ``out_dir`` and return a summary.

    scale: ``tiny`` (500 offenders), ``demo`` (10,000), ``wmp`` (145,392), ``national`` (2,907,840), or an
    int number of offenders. seed: int >= 0 (same seed and options give byte-identical files).
    fmt: ``parquet`` (default) or ``csv``. progress: a progress bar on stderr (default: when it is a tty and
    there is more than one chunk). options (all optional):
      drive_effect (-0.30)  true multiplicative effect of DRIVE on later DA incidents (0 = no effect)
      drive_anchor ('selected')  the stage after which the effect applies: selected, disruption,
                    full_engagement
      drive_share (0.03)    DRIVE cohort size as a share of offenders (spread over the as-of dates)
      drive_dates           as-of dates of the staggered DRIVE selections (ISO strings)
      fd_effect (-0.16)     true effect of focused deterrence on the treatment arm
      fd_dates              the two randomisation dates; fd_share (0.01) cap on each cohort's size
      separated_profiles (False)  only four latent profiles (clusters 5, 2, 24, 13), equally likely, with a
                    quarter of the usual within-profile spread; in this mode every member of profile 2 has
                    non-DA history and no member of the others has, and profile 24's DA records are all
                    grave crimes (rape, GBH with intent, attempted murder, homicide); every time of
                    day is known: a unit fixture for the clustering path (not a test of recovery on
                    realistic data)
      plant_scale (1.0)     multiplies the prevalences of the planted regression terms (0 = none)
      edge_share (0.01)     share of eligible incidents made into grouping edge cases
      unknown_time_share (0.06)  share of incidents whose committed_from times are all recorded as 00:00:00
                    (an unknown time of day, as some forces record it; the date stays right)
      drive_prompted_disclosures (0.0)  with p > 0, 10% of DA incidents are never reported, except that
                    a DRIVE participant's, committed in the three years before selection, are disclosed with
                    probability p within six months after it (a programme that prompts historic
                    disclosures). DA reporting delays (always on): 80% within hours, 13% days to weeks,
                    5% months, 2% historic disclosures 6 months to 3 years after the abuse
    """
    import numpy as np

    from synth import reference
    from synth.chunk import Counters, generate_chunk
    from synth.writer import TableSink, write_table

    started = time.perf_counter()
    if isinstance(scale, str):
        if scale not in SCALES:
            raise SynthError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
        n_offenders = SCALES[scale]
    elif isinstance(scale, int) and not isinstance(scale, bool) and scale > 0:
        n_offenders = scale
    else:
        raise SynthError(f"scale must be one of {', '.join(SCALES)} or a positive number of offenders")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SynthError(f"seed must be an integer >= 0, got {seed!r}")
    if fmt not in FORMATS:
        raise SynthError(f"format must be parquet or csv, got {fmt!r}")
    opts = make_options(**options)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SynthError(f"output path {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    truth_dir = out / TRUTH_DIR
    truth_dir.mkdir(exist_ok=True)
    # a previous run's summary would make a half-written extract look complete
    (truth_dir / "summary.json").unlink(missing_ok=True)
    for t in schema.ALL_TABLES:
        for f in FORMATS:
            (out / f"{t}.{f}").unlink(missing_ok=True)

    refs = reference.reference_tables()
    lsoa = refs["ref_lsoa"]
    scores = lsoa.column("imd_score").to_numpy()
    order = np.argsort(scores, kind="stable")
    lsoa_codes = np.array(lsoa.column("lsoa_code").to_pylist(), object)[order]
    lsoa_sorted_scores = scores[order]

    sinks = {t: TableSink(out / f"{t}.{fmt}", schema.schema(t), fmt) for t in schema.STREAMED_TABLES}
    truth_sink = None
    chunks = _chunks(n_offenders)
    children = np.random.SeedSequence(seed).spawn(len(chunks))
    counters = Counters()
    agg = _TruthAggregate()
    bar = _progress(len(chunks), n_offenders, progress)
    try:
        for i, ((first, n), child) in enumerate(zip(chunks, children, strict=True)):
            rng = np.random.Generator(np.random.PCG64(child))
            tables, truth = generate_chunk(rng, i, first, n, opts, lsoa_codes, lsoa_sorted_scores, counters)
            for name, table in tables.items():
                sinks[name].write(table)
            agg.add_participants(tables["programme_participants"])
            profiles = agg.add(truth)
            if truth_sink is None:
                truth_sink = TableSink(truth_dir / "offender_profiles.parquet", profiles.schema, "parquet")
            truth_sink.write(profiles)
            if bar is not None:
                bar.update(n)
    finally:
        for sink in sinks.values():
            sink.close()
        if truth_sink is not None:
            truth_sink.close()
        if bar is not None:
            bar.close()

    for name, table in refs.items():
        write_table(table, out / name, fmt)
    summary = {
        "generator_version": GENERATOR_VERSION,
        "scale": scale if isinstance(scale, str) else "custom",
        "offenders": n_offenders,
        "seed": seed,
        "format": fmt,
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(opts).items()},
        "chunk_size": CHUNK_SIZE,
        "chunks": len(chunks),
        "rows": {name: sink.rows for name, sink in sinks.items()},
    }
    agg.write(truth_dir, opts, summary)
    (truth_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["out_dir"] = str(out)
    return summary


def _progress(n_chunks: int, total: int, progress: bool | None):
    if progress is None:
        progress = n_chunks > 1 and sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="offenders", desc="dap synth", file=sys.stderr, leave=False)


class _TruthAggregate:
    def __init__(self):
        self.terms = [("offence_type", t) for t in catalogue.PLANTED_TYPES] + [
            ("offence_code", c) for c in catalogue.PLANTED_CODES
        ]
        self.n_offenders = 0
        self.n_has_nda = 0
        self.term_counts = [0] * len(self.terms)
        self.added_sum = [0.0] * len(self.terms)
        self.drive = {"affected": [], "removed": 0}
        self.fd = {"affected": [], "removed": 0}
        self.same_day = 0
        self.midnight = 0
        self.unknown_time = 0
        self.cohorts: dict[str, int] = {}

    def add_participants(self, table) -> None:
        for cohort, arm in zip(
            table.column("cohort").to_pylist(), table.column("arm").to_pylist(), strict=True
        ):
            key = cohort if arm is None else f"{cohort} {arm}"
            self.cohorts[key] = self.cohorts.get(key, 0) + 1

    def add(self, t: dict):
        import numpy as np
        import pyarrow as pa

        from synth.engine import P_CLUSTER, PROFILES

        n = t["prof"].size
        self.n_offenders += n
        self.n_has_nda += int(t["has_nda"].sum())
        for j in range(len(self.terms)):
            self.term_counts[j] += int(t["indicators"][:, j].sum())
        self.drive["affected"].append(t["drive_affected"])
        self.drive["removed"] += t["drive_removed"]
        self.drive["prompted"] = self.drive.get("prompted", 0) + t["drive_prompted"]
        self.fd["affected"].append(t["fd_affected"])
        self.fd["removed"] += t["fd_removed"]
        self.same_day += t["n_same_day"]
        self.midnight += t["n_midnight"]
        self.unknown_time += t["n_unknown_time"]
        labels = np.array([p["label"] for p in PROFILES], object)
        groups = np.array([p["group"] for p in PROFILES], object)
        cols = {
            "person_id": pa.array([f"P{x:09d}" for x in t["person_num"].tolist()], pa.string()),
            "profile": pa.array(P_CLUSTER[t["prof"]], pa.int64()),
            "profile_label": pa.array(labels[t["prof"]], pa.string()),
            "offender_group": pa.array(groups[t["prof"]], pa.string()),
            "latent_harm": pa.array(np.round(t["harm"], 6), pa.float64()),
            "missing_age": pa.array(np.array([None, "own", "victims"], object)[t["missing"]], pa.string()),
            "n_da_incidents_generated": pa.array(t["n_da_generated"], pa.int64()),
            "n_non_da_incidents_generated": pa.array(t["n_nda_generated"], pa.int64()),
            "has_non_da_history": pa.array(t["has_nda"], pa.bool_()),
            "planted_true_effect": pa.array(np.round(t["effect"], 6), pa.float64()),
            "planted_added_da_severity": pa.array(t["added_severity"], pa.float64()),
        }
        for j, (kind, term) in enumerate(self.terms):
            cols[f"term:{kind}:{term}"] = pa.array(t["indicators"][:, j], pa.bool_())
        return pa.table(cols)

    def write(self, truth_dir: Path, opts: Options, summary: dict) -> None:
        import numpy as np

        rows = ["term_kind,term,true_effect,planted,prevalence_among_non_da,n_offenders,assignment"]
        for j, (kind, term) in enumerate(self.terms):
            eff, prev = (
                catalogue.PLANTED_TYPES[term][:2] if kind == "offence_type" else catalogue.PLANTED_CODES[term]
            )
            planted = "true" if eff != 0 else "false"
            prev = min(prev * opts.plant_scale, 0.95)
            rows.append(
                f'{kind},"{term}",{eff},{planted},{prev:.4f},{self.term_counts[j]},'
                '"independent Bernoulli(prevalence) among offenders with >=1 non-DA incident, '
                "independent of latent profile; one offence of the term added to one of their "
                'non-DA incidents"'
            )
        (truth_dir / "regression_effects.csv").write_text("\n".join(rows) + "\n")

        def ids(parts):
            a = np.concatenate(parts) if parts else np.array([], np.int64)
            return [f"P{x:09d}" for x in np.sort(a).tolist()]

        drive_ids = ids(self.drive["affected"])
        fd_ids = ids(self.fd["affected"])
        prog = {
            "DRIVE": {
                "true_effect": opts.drive_effect,
                "effect_kind": "multiplicative change in the DA incident rate after the anchor "
                "(each DA incident committed later kept with probability 1 + effect)",
                "selection_knowledge": "selection uses DA incidents reported before the as-of date",
                "prompted_disclosures": {
                    "probability": opts.drive_prompted_disclosures,
                    "n_disclosed": int(self.drive.get("prompted", 0)),
                    "what": "never-reported DA incidents of participants, committed in the three years "
                    "before selection, reported within six months after it",
                },
                "anchor_stage": opts.drive_anchor,
                "as_of_dates": list(opts.drive_dates),
                "selection": "per chunk of up to 20,000 offenders: eligible = >=2 DA incidents in the 24 "
                "months before the as-of date; RFG = 0.30 recency + 0.35 frequency + 0.35 "
                "gravity (percentile ranks); top 3x quota are candidates; the panel picks the "
                "quota with probability proportional to score^8",
                "cohort_sizes": {k: v for k, v in self.cohorts.items() if k.startswith("DRIVE")},
                "n_affected": len(drive_ids),
                "affected_person_ids": drive_ids,
                "incidents_removed": self.drive["removed"],
            },
            "focused deterrence": {
                "true_effect": opts.fd_effect,
                "effect_kind": "multiplicative change in the DA incident rate after randomisation, "
                "treatment arm only",
                "anchor_stage": "selected (randomisation date)",
                "cohort_dates": list(opts.fd_dates),
                "selection": "eligible = >=3 DA incidents in the 12 months before the cohort date, not a "
                "DRIVE participant, not in an earlier cohort; capped at fd_share of the chunk's "
                "offenders (random subset); randomised 50/50",
                "cohort_sizes": {k: v for k, v in self.cohorts.items() if k.startswith("FD")},
                "n_affected": len(fd_ids),
                "affected_person_ids": fd_ids,
                "incidents_removed": self.fd["removed"],
            },
            "overlap": "nobody is in both programmes (DRIVE participants are excluded from the trial)",
        }
        (truth_dir / "programme_effects.json").write_text(json.dumps(prog, indent=2) + "\n")
        edges = {
            "midnight_pairs": self.midnight,
            "midnight_pairs_note": "incidents whose first offence was committed before midnight and the others "
            "after it, all with one reported_at: the grouping rule makes two incidents",
            "unknown_time_incidents": self.unknown_time,
            "unknown_time_note": "incidents whose offences all carry committed_from at 00:00:00 (the force's "
            "record of an unknown time of day; the date is right)",
            "same_day_separate_reports": self.same_day,
            "same_day_note": "pairs of DA incidents of one offender committed on the same date but reported "
            "separately (different reported_at): two incidents (approximate: a pair can "
            "lose a member to programme thinning)",
        }
        (truth_dir / "edge_cases.json").write_text(json.dumps(edges, indent=2) + "\n")
        from synth.truth_readme import README

        (truth_dir / "README.txt").write_text(README)
