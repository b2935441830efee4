"""The perpetrator typology of seed 000: the K sweep, the choice of K and its stability, the final CLARA fit,
cluster profiles in the shape of the report's Tables 1–5, Groups A–E, and medoid timelines.

Plain library: no Dagster, no dbt. Inputs are frames with the column names of ``marts.dim_offenders``,
``marts.fct_incidents`` and ``marts.fct_offences`` (docs/data-model.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from dap.contract import RISK_LEVELS, SEVERITY_HIGH_ABOVE, SEVERITY_MEDIUM_FROM, VOLUME_HIGH_FROM
from ml.clara import ClaraResult, SubsampleSilhouette, clara
from ml.estimability import NotEstimable

# --- The seed's named choices -------------------------------------------------------------------------

#: K range tested by the report (Annex 1): 2..40.
K_MIN, K_MAX = 2, 40
#: ONS Crime Severity Score bands (Tables 1–5, glossary): Low < 100 ≤ Medium ≤ 500 < High; volume bands
#: (Sections A–B): low volume < 3 incidents ≤ high volume, DA and non-DA separately. Set in the contract
#: (dap/contract.yml), which gives the dbt models the same values as vars.
SEVERITY_LOW_BELOW = SEVERITY_MEDIUM_FROM
HIGH_VOLUME_FROM = VOLUME_HIGH_FROM
#: How a cluster's "offender type" is worded: DA-only if at least this share has no non-DA history,
#: "DA and non-DA" if at most 1 − this share has none, a mix otherwise.
OFFENDER_TYPE_PURITY = 0.95
#: The sweep's criteria; the default selection uses the exact silhouette on the fixed subsample.
SELECTION_CRITERIA = ("subsample_silhouette", "sample_silhouette", "medoid_silhouette")


def severity_band(value: float | None) -> str | None:
    """ONS band of a severity value: ``Low`` (< 100), ``Medium`` (100–500), ``High`` (> 500)."""
    if value is None or pd.isna(value):
        return None
    if value < SEVERITY_LOW_BELOW:
        return "Low"
    if value <= SEVERITY_HIGH_ABOVE:
        return "Medium"
    return "High"


def volume_band(median_incidents: float, allow_none: bool = False) -> str:
    """``High`` (≥ 3), ``Low`` (< 3) or, for non-DA, ``None`` (0)."""
    if allow_none and median_incidents == 0:
        return "None"
    return "High" if median_incidents >= HIGH_VOLUME_FROM else "Low"


def offender_group(median_da_incidents: float, median_non_da_incidents: float) -> str:
    """Groups A–E from the cluster medians (seed000_numbers.md §1.1; consistent with all 29 clusters).

    A: DA ≥ 3 and non-DA < 3 · B: DA ≥ 3 and non-DA ≥ 3 · C: DA < 3 and 0 < non-DA < 3 ·
    D: DA < 3 and non-DA ≥ 3 · E: DA < 3 and non-DA = 0.
    """
    high_da = median_da_incidents >= HIGH_VOLUME_FROM
    if high_da:
        return "B" if median_non_da_incidents >= HIGH_VOLUME_FROM else "A"
    if median_non_da_incidents >= HIGH_VOLUME_FROM:
        return "D"
    return "C" if median_non_da_incidents > 0 else "E"


GROUP_DESCRIPTIONS = {
    "A": "high-volume DA, low or no non-DA",
    "B": "high-volume DA and high-volume non-DA",
    "C": "low-volume DA and low-volume non-DA",
    "D": "low-volume DA and high-volume non-DA",
    "E": "low-volume DA only",
}


# --- The K sweep ------------------------------------------------------------------------------------------


@dataclass
class ClaraSettings:
    """How CLARA samples, scores and polishes (see :func:`ml.clara.clara`).

    ``sampsize = min(n, sampsize_base + sampsize_per_k · K)``. The defaults are R's sample settings (5 samples
    of 40 + 2K) with FasterPAM, a restart from the best medoids and two polish steps; :meth:`r_exact` is R's
    ``cluster::clara`` exactly, and :data:`SWEEP_CLARA` is what the pipeline's K sweep runs.
    """

    samples: int = 5
    sampsize_base: int = 40
    sampsize_per_k: int = 2
    sampler: str = "numpy"
    method: str = "fasterpam"
    init: str = "build"
    restart_from_best: bool = True
    polish_iterations: int = 2
    polish_candidates: int = 64
    polish_screen: int = 0
    score_rows: int = 0
    score_polish_iterations: int = 0
    seed: int = 0

    @classmethod
    def r_exact(cls, seed: int = 0) -> ClaraSettings:
        """R's ``clara(x, k)`` with its defaults (rngR = FALSE, pamLike = FALSE), reproduced exactly: clara's
        sampler, BUILD and SWAP, samples scored on all rows, no restart, no polish (the seed has no effect)."""
        return cls(
            samples=5,
            sampsize_base=40,
            sampsize_per_k=2,
            sampler="r",
            method="r",
            init="build",
            restart_from_best=False,
            polish_iterations=0,
            polish_screen=0,
            score_rows=0,
            score_polish_iterations=0,
            seed=seed,
        )

    def sampsize(self, k: int, n: int) -> int:
        return int(min(n, max(k + 1, self.sampsize_base + self.sampsize_per_k * k)))

    def fit(self, x: np.ndarray, k: int, seed: int | None = None) -> ClaraResult:
        return clara(
            x,
            k,
            samples=self.samples,
            sampsize=self.sampsize(k, len(x)),
            seed=self.seed if seed is None else seed,
            sampler=self.sampler,
            method=self.method,
            init=self.init,
            restart_from_best=self.restart_from_best,
            polish_candidates=self.polish_candidates,
            polish_iterations=self.polish_iterations,
            polish_screen=self.polish_screen,
            score_rows=self.score_rows,
            score_polish_iterations=self.score_polish_iterations,
        )


def k_range(n_offenders: int, k_min: int = K_MIN, k_max: int = K_MAX, exclude_k2: bool = True) -> range:
    """The K values this data can support: ``k_min``..``k_max`` capped at ``n − 1`` (a silhouette needs
    a cluster with two members). Raises ``NotEstimable`` when no K is left to choose from (K = 2 does not
    count when ``exclude_k2``): too few offenders to cluster."""
    values = range(max(k_min, 2), min(k_max, n_offenders - 1) + 1)
    choosable = [k for k in values if not (exclude_k2 and k == 2)]
    if not choosable:
        smallest = 3 if exclude_k2 and k_min <= 2 else max(k_min, 2)
        raise NotEstimable(
            f"{n_offenders} offenders with complete features: too few to cluster "
            f"(K = {smallest} needs at least {smallest + 1})"
        )
    return values


#: The K sweep's CLARA in the pipeline (``analytics/k_sweep``'s defaults): 4 samples of 400 + 10K rows
#: (FasterPAM from a random start), each sample's medoids polished once and scored on a fixed 8,192-row
#: subset, the best polished once more on all rows (32 candidates per cluster ranked on 256 members).
#: On the wmp matrix (137,193 × 23): an objective 8.0–11.9% below R clara's defaults at every K of 2..40,
#: the sweep about 4× faster than R's, one thread each (``bench/typology.py`` measures both, beside R).
SWEEP_CLARA = ClaraSettings(
    samples=4,
    sampsize_base=400,
    sampsize_per_k=10,
    init="random",
    restart_from_best=False,
    polish_iterations=1,
    polish_candidates=32,
    polish_screen=256,
    score_rows=8192,
    score_polish_iterations=1,
)


def run_k_sweep(
    x: np.ndarray,
    k_values: Sequence[int] = range(K_MIN, K_MAX + 1),
    settings: ClaraSettings | None = None,
    subsample: SubsampleSilhouette | None = None,
    seed: int | None = None,
    progress: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Cluster ``x`` for every K and record, per K: the objective (mean distance to the nearest medoid over
    all rows), the sample silhouette R's clara would report, the medoid silhouette over all rows, the exact
    silhouette on the fixed subsample (if given), the smallest cluster and the seconds taken.
    """
    settings = settings or SWEEP_CLARA
    rows = []
    for k in k_values:
        start = time.perf_counter()
        result = settings.fit(x, int(k), seed=seed)
        fit_seconds = time.perf_counter() - start
        subsample_value = subsample.score(result.labels) if subsample is not None else np.nan
        row = {
            "k": int(k),
            "objective": result.objective,
            "sample_silhouette": result.sample_silhouette,
            "medoid_silhouette": result.medoid_silhouette,
            "subsample_silhouette": subsample_value,
            "seconds": time.perf_counter() - start,
            "clara_seconds": fit_seconds,
            "samples": result.samples,
            "sampsize": result.sampsize,
            "seed": settings.seed if seed is None else seed,
            "smallest_cluster": int(result.cluster_sizes().min()),
        }
        rows.append(row)
        if progress is not None:
            progress(row)
    return pd.DataFrame(rows)


def select_k(sweep: pd.DataFrame, criterion: str = "subsample_silhouette", exclude_k2: bool = True) -> int:
    """The K with the highest average silhouette under ``criterion``.

    ``exclude_k2`` applies the report's rule: K = 2 had the best silhouette (0.23) but only split the DA-only
    offenders from those with non-DA history, so it was set aside and the second best (K = 29) chosen.
    """
    if criterion not in SELECTION_CRITERIA:
        raise ValueError(f"criterion must be one of {SELECTION_CRITERIA}")
    candidates = sweep[sweep["k"] != 2] if exclude_k2 else sweep
    candidates = candidates[candidates[criterion].notna()]
    if candidates.empty:  # a fact of the data (e.g. every offender alike), not a bug
        raise NotEstimable(
            f"no K has a {criterion.replace('_', ' ')} to choose by: the offenders do not separate"
        )
    # Highest value; ties go to the smaller K.
    ordered = candidates.sort_values([criterion, "k"], ascending=[False, True])
    return int(ordered.iloc[0]["k"])


def k_stability(
    x: np.ndarray,
    seeds: Sequence[int],
    k_values: Sequence[int] = range(K_MIN, K_MAX + 1),
    settings: ClaraSettings | None = None,
    subsample: SubsampleSilhouette | None = None,
    exclude_k2: bool = True,
    known_sweeps: dict[int, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Repeat the sweep with other CLARA seeds (same subsample) and record the K each criterion picks.

    Returns (choices: one row per seed × criterion with ``chosen_k``; sweeps: every seed's sweep, long).
    ``known_sweeps`` reuses sweeps already run (e.g. the main one) by seed. With ``sampler="r"`` the seed
    changes nothing (clara's generator is fixed), so stability needs ``sampler="numpy"``.
    """
    settings = settings or SWEEP_CLARA
    sweeps = []
    for seed in seeds:
        if known_sweeps and seed in known_sweeps:
            sweep = known_sweeps[seed].copy()
        else:
            sweep = run_k_sweep(x, k_values, settings, subsample, seed=seed)
        sweep["seed"] = seed
        sweeps.append(sweep)
    long = pd.concat(sweeps, ignore_index=True)
    choices = []
    for seed, sweep in long.groupby("seed", sort=True):
        for criterion in SELECTION_CRITERIA:
            usable = sweep.loc[sweep["k"] != 2] if exclude_k2 else sweep
            if usable[criterion].notna().any():
                choices.append(
                    {
                        "seed": int(seed),
                        "criterion": criterion,
                        "exclude_k2": exclude_k2,
                        "chosen_k": select_k(sweep, criterion, exclude_k2),
                    }
                )
    return pd.DataFrame(choices), long


# --- The final fit ----------------------------------------------------------------------------------------


@dataclass
class Typology:
    """The final clustering with clusters numbered 1..K from the largest to the smallest."""

    k: int
    offender_ids: np.ndarray
    clusters: np.ndarray  # 1..K per offender
    medoid_rows: np.ndarray  # row of cluster c's medoid at position c − 1
    distance: np.ndarray
    objective: float
    sample_silhouette: float
    medoid_silhouette: float
    samples: int
    sampsize: int
    seconds: float

    @property
    def medoid_ids(self) -> np.ndarray:
        return self.offender_ids[self.medoid_rows]

    def sizes(self) -> pd.Series:
        return pd.Series(np.bincount(self.clusters, minlength=self.k + 1)[1:], index=np.arange(1, self.k + 1))

    def offender_clusters(self) -> pd.DataFrame:
        """``analytics.offender_clusters``: offender_id, cluster, is_medoid, distance_to_medoid."""
        is_medoid = np.zeros(len(self.offender_ids), dtype=bool)
        is_medoid[self.medoid_rows] = True
        return pd.DataFrame(
            {
                "offender_id": self.offender_ids,
                "cluster": self.clusters.astype(np.int64),
                "is_medoid": is_medoid,
                "distance_to_medoid": self.distance,
            }
        )

    def medoids(self) -> pd.DataFrame:
        return pd.DataFrame({"cluster": np.arange(1, self.k + 1), "offender_id": self.medoid_ids})


def fit_typology(x: np.ndarray, offender_ids: Sequence, k: int, settings: ClaraSettings) -> Typology:
    """The final CLARA fit (usually more and larger samples than the sweep), clusters numbered by size.
    Not estimable (``NotEstimable``) when there are not more offenders than clusters."""
    if not 2 <= k < len(x):
        raise NotEstimable(f"{len(x)} offenders with complete features: too few for K = {k} clusters")
    result = settings.fit(x, k)
    sizes = result.cluster_sizes()
    order = np.argsort(-sizes, kind="stable")  # old label of the new cluster 1, 2, ...
    new_of_old = np.empty(k, dtype=np.int64)
    new_of_old[order] = np.arange(1, k + 1)
    return Typology(
        k=k,
        offender_ids=np.asarray(offender_ids),
        clusters=new_of_old[result.labels],
        medoid_rows=result.medoids[order],
        distance=result.distance,
        objective=result.objective,
        sample_silhouette=result.sample_silhouette,
        medoid_silhouette=result.medoid_silhouette,
        samples=result.samples,
        sampsize=result.sampsize,
        seconds=result.seconds,
    )


# --- Stability across data ------------------------------------------------------------------------------

#: Hennig's reading of a cluster's mean Jaccard over resamples (clusterboot): at least 0.75 a stable cluster,
#: 0.6–0.75 a pattern, 0.5–0.6 weak, below 0.5 it dissolves.
STABLE_JACCARD = 0.75
PATTERN_JACCARD = 0.60
DISSOLVED_JACCARD = 0.50
#: A cluster with fewer members than this expected in a resample is reported but not judged.
MIN_MEMBERS_TO_JUDGE = 10


def stability_verdict(mean_jaccard: float, expected_members: float) -> str:
    """``stable`` / ``pattern`` / ``weak`` / ``dissolves`` from the mean Jaccard (``too small to judge`` when a
    resample holds fewer than :data:`MIN_MEMBERS_TO_JUDGE` of the cluster's members on average)."""
    if expected_members < MIN_MEMBERS_TO_JUDGE or pd.isna(mean_jaccard):
        return "too small to judge"
    if mean_jaccard >= STABLE_JACCARD:
        return "stable"
    if mean_jaccard >= PATTERN_JACCARD:
        return "pattern"
    if mean_jaccard >= DISSOLVED_JACCARD:
        return "weak"
    return "dissolves"


def best_match_jaccard(reference: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every reference cluster present in ``reference``: the Jaccard index of its members with the
    best-matching cluster of ``labels`` (same rows) and that cluster's label. Returns (clusters, jaccard,
    matched) as arrays over the reference clusters present."""
    ref_values, ref_codes = np.unique(reference, return_inverse=True)
    new_values, new_codes = np.unique(labels, return_inverse=True)
    table = np.zeros((len(ref_values), len(new_values)), dtype=np.int64)
    np.add.at(table, (ref_codes, new_codes), 1)
    union = table.sum(axis=1)[:, None] + table.sum(axis=0)[None, :] - table
    jaccard = table / np.maximum(union, 1)
    best = jaccard.argmax(axis=1)
    return ref_values, jaccard[np.arange(len(ref_values)), best], new_values[best]


@dataclass
class Stability:
    """Stability of the final clustering across resamples of the offenders (Hennig's clusterwise stability):
    ``clusters`` one row per cluster, ``resamples`` one row per resample (ARI), ``jaccard`` the long table."""

    clusters: pd.DataFrame
    resamples: pd.DataFrame
    jaccard: pd.DataFrame

    @property
    def n_stable(self) -> int:
        return int((self.clusters["verdict"] == "stable").sum())

    def summary(self) -> dict:
        ari = self.resamples["ari"]
        return {
            "n_resamples": len(self.resamples),
            "subsample_size": int(self.resamples["n_offenders"].iloc[0]) if len(self.resamples) else 0,
            "median_ari": float(ari.median()) if len(ari) else np.nan,
            "ari_p10": float(ari.quantile(0.1)) if len(ari) else np.nan,
            "ari_p90": float(ari.quantile(0.9)) if len(ari) else np.nan,
            "n_clusters": len(self.clusters),
            "n_stable": self.n_stable,
            "share_offenders_in_stable_clusters": float(
                self.clusters.loc[self.clusters["verdict"] == "stable", "n_offenders"].sum()
                / max(self.clusters["n_offenders"].sum(), 1)
            ),
        }


def _one_resample(x, reference, k, settings, rows, seed):
    start = time.perf_counter()
    result = settings.fit(x[rows], k, seed=seed)
    clusters, jaccard, matched = best_match_jaccard(reference[rows], result.labels)
    ari = adjusted_rand_score(reference[rows], result.labels)
    return clusters, jaccard, matched, float(ari), time.perf_counter() - start


def resample_stability(
    x: np.ndarray,
    reference: np.ndarray,
    k: int,
    settings: ClaraSettings | None = None,
    n_resamples: int = 20,
    subsample_size: int = 20_000,
    seed: int = 0,
    threads: int = 2,
) -> Stability:
    """Stability across data: ``n_resamples`` subsamples of ``subsample_size`` offenders (without replacement;
    at most 80% of them), each clustered afresh at the same K with ``settings``. For every cluster of
    ``reference`` (the final clustering's labels of all rows): the Jaccard index of its members in the
    subsample with the best-matching new cluster, per resample, and their mean; for every resample the
    adjusted Rand index between the two clusterings of the subsample. Resamples run on ``threads`` threads
    (the compiled CLARA releases the GIL). Only K is fixed: the medoids are found again each time, so this
    measures the data's support for each cluster, not the optimiser's noise (as other CLARA seeds would).
    """
    settings = settings or SWEEP_CLARA
    reference = np.asarray(reference)
    n = len(x)
    size = int(min(subsample_size, max(int(0.8 * n), k + 1), n))
    jobs = []
    for b in range(n_resamples):
        rng = np.random.default_rng([seed, b])
        rows = np.sort(rng.choice(n, size=size, replace=False))
        jobs.append((rows, seed * 1000 + b))
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool, threadpool_limits(1):
        results = list(pool.map(lambda job: _one_resample(x, reference, k, settings, *job), jobs))
    long_rows, resample_rows = [], []
    for b, (clusters, jaccard, matched, ari, seconds) in enumerate(results):
        resample_rows.append({"resample": b, "n_offenders": size, "ari": ari, "seconds": seconds})
        long_rows += [
            {"resample": b, "cluster": int(c), "jaccard": float(j), "matched_cluster": int(m)}
            for c, j, m in zip(clusters, jaccard, matched, strict=True)
        ]
    long = pd.DataFrame(long_rows, columns=["resample", "cluster", "jaccard", "matched_cluster"])
    sizes = pd.Series(reference).value_counts().sort_index()
    per = long.groupby("cluster")["jaccard"] if len(long) else None
    rows = []
    for cluster, n_members in sizes.items():
        values = (
            per.get_group(cluster) if per is not None and cluster in per.groups else pd.Series(dtype=float)
        )
        expected = n_members * size / n
        mean = float(values.mean()) if len(values) else np.nan
        rows.append(
            {
                "cluster": int(cluster),
                "n_offenders": int(n_members),
                "expected_members_per_resample": float(expected),
                "n_resamples_present": int(len(values)),
                "mean_jaccard": mean,
                "median_jaccard": float(values.median()) if len(values) else np.nan,
                "min_jaccard": float(values.min()) if len(values) else np.nan,
                "share_recovered": float((values >= DISSOLVED_JACCARD).mean()) if len(values) else np.nan,
                "stable": bool(mean >= STABLE_JACCARD) if len(values) else False,
                "verdict": stability_verdict(mean, expected),
            }
        )
    return Stability(clusters=pd.DataFrame(rows), resamples=pd.DataFrame(resample_rows), jaccard=long)


# --- Cluster profiles (Tables 1–5) ------------------------------------------------------------------------

_MEDIANS = {
    "median_da_incidents": "n_da_incidents",
    "median_da_victims": "n_da_victims",
    "median_non_da_incidents": "n_non_da_incidents",
    "median_non_da_victims": "n_non_da_victims",
    "median_mean_da_severity": "mean_da_severity",
    "median_total_da_severity": "total_da_severity",
    "median_mean_non_da_severity": "mean_non_da_severity",
    "median_total_non_da_severity": "total_non_da_severity",
    "median_age": "mean_age",
    "median_age_at_first_da": "age_at_first_da_incident",
    "median_victim_age_difference": "mean_victim_age_difference",
    "median_mean_da_duration_days": "mean_da_duration_days",
    "median_mean_non_da_duration_days": "mean_non_da_duration_days",
    "median_da_timespan_days": "da_timespan_days",
    "median_non_da_timespan_days": "non_da_timespan_days",
    "median_days_between_da_incidents": "mean_days_between_da_incidents",
    "median_days_between_non_da_incidents": "mean_days_between_non_da_incidents",
    "median_days_between_da_and_non_da_incidents": "mean_days_between_da_and_non_da_incidents",
    "median_da_imd_score": "mean_da_imd_score",
    "median_non_da_imd_score": "mean_non_da_imd_score",
    "median_times_da_victim": "n_times_da_victim",
    "median_times_non_da_victim": "n_times_non_da_victim",
    "median_total_da_victimisation_severity": "total_da_victimisation_severity",
}


#: The columns of ``marts.dim_offenders`` that :func:`cluster_profiles` reads (the rest need not be loaded).
PROFILE_COLUMNS = list(
    dict.fromkeys(
        [
            "offender_id",
            *_MEDIANS.values(),
            "modal_sex",
            "n_da_substance_incidents",
            "n_non_da_substance_incidents",
            "n_da_non_crime_incidents",
            "first_da_risk_level",
            "first_non_crime_da_risk_level",
        ]
    )
)


def _weights(frame: pd.DataFrame) -> pd.Series:
    """Rows each line of ``frame`` stands for: its ``n`` column when the rows were counted beforehand (e.g. by
    the warehouse: one line per cluster and level), else 1 per line."""
    if "n" in frame.columns:
        return frame["n"].fillna(0).astype("float64")
    return pd.Series(1.0, index=frame.index)


def _shares(levels: pd.Series, prefix: str, weights: pd.Series | None = None) -> dict[str, float]:
    weights = pd.Series(1.0, index=levels.index) if weights is None else weights
    graded = levels.dropna().astype(str).str.lower()
    graded = graded[graded.isin(RISK_LEVELS)]
    counted = weights.loc[graded.index]
    total = float(counted.sum())
    return {
        f"{prefix}_{level}": (float(counted[graded == level].sum() / total) if total else np.nan)
        for level in RISK_LEVELS
    }


def _top_types(offences: pd.DataFrame, top: int = 3) -> str:
    if offences.empty:
        return ""
    counts = (
        pd.DataFrame({"offence_type": offences["offence_type"].fillna("unknown"), "n": _weights(offences)})
        .groupby("offence_type", sort=True)["n"]
        .sum()
    )
    counts = counts[counts > 0]
    if counts.empty:
        return ""
    shares = (counts / counts.sum()).sort_values(ascending=False, kind="stable").head(top)
    return "; ".join(f"{name} {share:.0%}" for name, share in shares.items())


def _by_cluster(frame: pd.DataFrame, offender_clusters: pd.DataFrame) -> dict:
    """``frame`` split by cluster: rows per offender are joined to their cluster; rows already counted per
    cluster (a ``cluster`` and an ``n`` column) are split as they are."""
    if "cluster" not in frame.columns:
        frame = frame.merge(offender_clusters[["offender_id", "cluster"]], on="offender_id")
    return dict(tuple(frame.groupby("cluster")))


def cluster_profiles(
    offender_clusters: pd.DataFrame,
    dim_offenders: pd.DataFrame,
    fct_incidents: pd.DataFrame | None = None,
    fct_offences: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per cluster with what the report's Tables 1–5 show.

    Medians are over the cluster's offenders (the report's "cluster average"). Severity bands: the band of the
    median per-incident (mean) severity and, separately, of the median total severity; for clusters whose
    median non-DA count is 0 the non-DA bands are empty (the report's "N/A"). The female share is descriptive
    only (sex is never a feature). Substance and non-crime shares are pooled over the cluster's incidents.
    Risk-grade shares are over graded incidents (all DA; non-crime DA) and over offenders (first DA; first
    non-crime DA). The offence-type columns need ``fct_offences``; the incident risk columns ``fct_incidents``.

    ``fct_incidents`` and ``fct_offences`` are either one row per incident / offence (with ``offender_id``) or,
    at scale, already counted per cluster: ``cluster``, the columns used here and ``n`` rows, as the warehouse
    returns them with a GROUP BY (the typology asset reads them so at scale); the profiles are the same
    either way (ties between offence types of equal share are listed by name).
    """
    members = offender_clusters[["offender_id", "cluster", "is_medoid"]].merge(
        dim_offenders, on="offender_id", how="left", validate="one_to_one"
    )
    total_n = len(members)
    incidents_by_cluster = offences_by_cluster = None
    if fct_incidents is not None:
        incidents_by_cluster = _by_cluster(fct_incidents, offender_clusters)
    if fct_offences is not None:
        offences_by_cluster = _by_cluster(fct_offences, offender_clusters)

    rows = []
    for cluster, group in members.groupby("cluster", sort=True):
        row: dict[str, object] = {
            "cluster": int(cluster),
            "n_offenders": len(group),
            "share": len(group) / total_n,
        }
        for name, column in _MEDIANS.items():
            row[name] = float(group[column].median()) if column in group else np.nan
        row["offender_group"] = offender_group(row["median_da_incidents"], row["median_non_da_incidents"])
        da_only = (group["n_non_da_incidents"].fillna(0) == 0).mean()
        row["share_da_only"] = float(da_only)
        row["offender_type"] = (
            "DA-only"
            if da_only >= OFFENDER_TYPE_PURITY
            else "DA and non-DA"
            if da_only <= 1 - OFFENDER_TYPE_PURITY
            else "Mix of DA-only and DA+non-DA"
        )
        row["da_volume_band"] = volume_band(row["median_da_incidents"])
        row["non_da_volume_band"] = volume_band(row["median_non_da_incidents"], allow_none=True)
        row["da_severity_band"] = severity_band(row["median_mean_da_severity"])
        row["da_total_severity_band"] = severity_band(row["median_total_da_severity"])
        has_non_da = row["median_non_da_incidents"] > 0
        row["non_da_severity_band"] = (
            severity_band(row["median_mean_non_da_severity"]) if has_non_da else None
        )
        row["non_da_total_severity_band"] = (
            severity_band(row["median_total_non_da_severity"]) if has_non_da else None
        )
        if "modal_sex" in group:
            known = group["modal_sex"].dropna().astype(str).str.lower()
            known = known[known.isin(["male", "female"])]
            row["share_female"] = float((known == "female").mean()) if len(known) else np.nan
        n_da = group["n_da_incidents"].fillna(0).sum()
        n_non_da = group["n_non_da_incidents"].fillna(0).sum()
        row["n_da_incidents_total"] = int(n_da)
        row["n_non_da_incidents_total"] = int(n_non_da)
        row["share_da_incidents_substance"] = (
            float(group["n_da_substance_incidents"].sum() / n_da)
            if "n_da_substance_incidents" in group and n_da
            else np.nan
        )
        row["share_non_da_incidents_substance"] = (
            float(group["n_non_da_substance_incidents"].sum() / n_non_da)
            if "n_non_da_substance_incidents" in group and n_non_da
            else np.nan
        )
        row["share_da_incidents_non_crime"] = (
            float(group["n_da_non_crime_incidents"].sum() / n_da)
            if "n_da_non_crime_incidents" in group and n_da
            else np.nan
        )
        if incidents_by_cluster is not None:
            incidents = incidents_by_cluster.get(
                cluster, pd.DataFrame(columns=["is_da", "is_non_crime", "risk_level"])
            )
            da = incidents[incidents["is_da"].astype(bool)]
            row.update(_shares(da["risk_level"], "share_da_risk", _weights(da)))
            non_crime = da[da["is_non_crime"].astype(bool)]
            row.update(_shares(non_crime["risk_level"], "share_non_crime_da_risk", _weights(non_crime)))
        if "first_da_risk_level" in group:
            row.update(_shares(group["first_da_risk_level"], "share_first_da_risk"))
        if "first_non_crime_da_risk_level" in group:
            row.update(_shares(group["first_non_crime_da_risk_level"], "share_first_non_crime_da_risk"))
        if offences_by_cluster is not None:
            offences = offences_by_cluster.get(cluster, pd.DataFrame(columns=["is_da", "offence_type"]))
            row["top_da_offence_types"] = _top_types(offences[offences["is_da"].astype(bool)])
            row["top_non_da_offence_types"] = _top_types(offences[~offences["is_da"].astype(bool)])
        medoid = group.loc[group["is_medoid"].astype(bool), "offender_id"]
        row["medoid_offender_id"] = medoid.iloc[0] if len(medoid) else None
        rows.append(row)
    return pd.DataFrame(rows)


def group_summary(profiles: pd.DataFrame) -> pd.DataFrame:
    """Groups A–E (Figure 2's view): clusters, offenders and share per group."""
    rows = []
    total = profiles["n_offenders"].sum()
    for group in "ABCDE":
        part = profiles[profiles["offender_group"] == group]
        rows.append(
            {
                "offender_group": group,
                "description": GROUP_DESCRIPTIONS[group],
                "clusters": ", ".join(str(c) for c in part["cluster"]),
                "n_clusters": len(part),
                "n_offenders": int(part["n_offenders"].sum()),
                "share": float(part["n_offenders"].sum() / total) if total else np.nan,
            }
        )
    return pd.DataFrame(rows)


# --- Medoid timelines -------------------------------------------------------------------------------------

TIMELINE_COLUMNS = [
    "cluster",
    "offender_id",
    "role",
    "position",
    "committed_from",
    "reported_at",
    "offender_age",
    "offence_code",
    "offence_description",
    "offence_type",
    "victim_sex",
    "victim_age",
    "relationship",
    "lsoa_code",
    "imd_decile",
    "outcome_code",
    "is_da",
    "is_non_crime",
    "substance_flag",
    "risk_level",
    "severity",
    "severity_band",
]


def medoid_timelines(
    medoids: pd.DataFrame,
    fct_offences: pd.DataFrame,
    victims: pd.DataFrame | None = None,
    relationships: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every offence of each medoid in order of occurrence (not reporting), as in the report's timelines:
    age, offence, victim sex/age/relationship, location (LSOA, IMD decile), outcome code, DA and substance
    flags, risk grade and severity band. Where ``victims`` is given, offences in which the medoid was the
    victim are added with ``role = "victim"``.

    ``victims``: crime_number, person_id, age, sex. ``relationships``: crime_number, victim_person_id,
    offender_person_id, relationship. Both are optional (the timeline then lacks those columns' values).
    """
    medoid_of = dict(zip(medoids["offender_id"], medoids["cluster"], strict=True))
    own = fct_offences[fct_offences["offender_id"].isin(medoid_of)].copy()
    own["role"] = "offender"
    own["medoid_id"] = own["offender_id"]
    parts = [own]
    if victims is not None and not victims.empty:
        as_victim = victims[victims["person_id"].isin(medoid_of)][["crime_number", "person_id"]]
        suffered = fct_offences.merge(as_victim, on="crime_number")
        suffered = suffered[suffered["offender_id"] != suffered["person_id"]]
        suffered["role"] = "victim"
        suffered["medoid_id"] = suffered["person_id"]
        parts.append(suffered.drop(columns=["person_id"]))
    rows = pd.concat(parts, ignore_index=True)
    if victims is not None and not victims.empty:
        first_victim = victims.drop_duplicates("crime_number")[["crime_number", "person_id", "age", "sex"]]
        first_victim = first_victim.rename(
            columns={"person_id": "victim_person_id", "age": "victim_age", "sex": "victim_sex"}
        )
        rows = rows.merge(first_victim, on="crime_number", how="left")
        if relationships is not None and not relationships.empty:
            rel = relationships.dropna(subset=["offender_person_id"]).drop_duplicates(
                ["crime_number", "victim_person_id", "offender_person_id"]
            )[["crime_number", "victim_person_id", "offender_person_id", "relationship"]]
            rows = rows.merge(
                rel,
                left_on=["crime_number", "victim_person_id", "offender_id"],
                right_on=["crime_number", "victim_person_id", "offender_person_id"],
                how="left",
            )
    for column in TIMELINE_COLUMNS:
        if column not in rows:
            rows[column] = None
    rows["cluster"] = rows["medoid_id"].map(medoid_of)
    rows["offender_id"] = rows["medoid_id"]
    rows["severity_band"] = rows["severity"].map(severity_band)
    rows["committed_from"] = pd.to_datetime(rows["committed_from"])
    rows["reported_at"] = pd.to_datetime(rows["reported_at"])
    sort_keys = ["cluster", "committed_from", "reported_at"] + (
        ["crime_number"] if "crime_number" in rows else []
    )
    rows = rows.sort_values(sort_keys, kind="stable")
    rows["position"] = rows.groupby("cluster").cumcount() + 1
    return rows[TIMELINE_COLUMNS].reset_index(drop=True)
