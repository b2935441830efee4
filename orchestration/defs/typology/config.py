"""Run config of the typology assets, each setting with its documented default."""

import dagster as dg

from ml import typology as typ


class PCAConfig(dg.Config):
    """Feature matrix and PCA."""

    variance_target: float = 0.90
    """Keep the fewest components whose cumulative explained variance reaches this (the report: 25 of 42
    components, 89.49%)."""
    n_components: int | None = None
    """A fixed number of components instead of the variance target."""
    explained_variance_floor: float = 0.80
    """The asset check fails if the kept components explain less than this (80–95% is the usual range)."""


class KSweepConfig(dg.Config):
    """The K sweep, the choice of K and its stability. Defaults: K = 2..40 as the report; CLARA as
    ``ml.typology.SWEEP_CLARA`` (4 samples of 400 + 10K rows, each polished and scored on a fixed 8,192-row
    subset, the best polished on all offenders: a lower objective than R's clara and faster, see
    bench/typology.py); K chosen by the exact average silhouette on a fixed 20,000-row subsample stratified
    by DA and non-DA volume band; K = 2 excluded (the report's rule)."""

    k_min: int = typ.K_MIN
    k_max: int = typ.K_MAX
    samples: int = typ.SWEEP_CLARA.samples
    """CLARA samples per K (R's default: 5)."""
    sampsize_base: int = typ.SWEEP_CLARA.sampsize_base
    sampsize_per_k: int = typ.SWEEP_CLARA.sampsize_per_k
    """Sample size = sampsize_base + sampsize_per_k · K (R's default: 40 + 2K)."""
    sampler: str = typ.SWEEP_CLARA.sampler
    """`numpy` (seeded) or `r` (clara's own deterministic generator, rngR = FALSE; ignores the seed, so the
    stability seeds then all agree trivially)."""
    method: str = typ.SWEEP_CLARA.method
    """`fasterpam`, `pam` (exact BUILD + SWAP on each sample, slower) or `r` (R clara's own BUILD + SWAP)."""
    init: str = typ.SWEEP_CLARA.init
    """How each sample's FasterPAM starts: `build` (as R) or `random`."""
    restart_from_best: bool = typ.SWEEP_CLARA.restart_from_best
    """Also cluster each later sample from the best medoids so far and keep the better."""
    score_rows: int = typ.SWEEP_CLARA.score_rows
    """Rows of the fixed random subset on which each sample's medoids are scored (0: all offenders, as R)."""
    score_polish_iterations: int = typ.SWEEP_CLARA.score_polish_iterations
    """Polish steps on that subset before scoring each sample's medoids."""
    polish_iterations: int = typ.SWEEP_CLARA.polish_iterations
    """Alternating refinement of the best medoids on all offenders (never raises the objective); 0 = R alone."""
    polish_candidates: int = typ.SWEEP_CLARA.polish_candidates
    """Members nearest each cluster's mean tried as its new medoid in each refinement step."""
    polish_screen: int = typ.SWEEP_CLARA.polish_screen
    """Random members of a cluster on which the candidates are ranked (0: all members)."""
    seed: int = 0
    subsample_size: int = 0
    """Rows of a fixed subsample on which the exact silhouette is also computed (a float32 matrix of
    size² × 4 bytes: 1.6 GB at 20,000; stratified by DA and non-DA volume band). 0: not computed."""
    subsample_seed: int = 0
    criterion: str = "sample_silhouette"
    """What "best average silhouette" means: `sample_silhouette` (the report's criterion, R clara's silinfo:
    the silhouette of the best sample), `subsample_silhouette` (exact, on the fixed subsample; needs
    subsample_size > 0) or `medoid_silhouette` (all offenders)."""
    exclude_k2: bool = True
    """The report's rule: K = 2 had the best silhouette but only split DA-only offenders from the rest."""
    stability_seeds: list[int] = []
    """Extra CLARA seeds, each repeating the whole sweep, to see how the chosen K moves with the optimiser's
    noise alone. Off by default: analytics/cluster_stability measures stability across resamples of the
    data instead, at a fraction of the cost."""
    threads: int = 2


class StabilityConfig(dg.Config):
    """Stability across data (Hennig's clusterwise stability): resamples of the offenders, each clustered
    afresh at the chosen K with the sweep's CLARA; per cluster the Jaccard index with its best match, per
    resample the adjusted Rand index."""

    n_resamples: int = 20
    """Subsamples of the offenders (at least 20 for a mean Jaccard worth reading)."""
    subsample_size: int = 20_000
    """Offenders in each subsample (at most 80% of them)."""
    seed: int = 0
    threads: int = 2
    """Resamples run side by side on this many threads."""


class FinalFitConfig(dg.Config):
    """The final CLARA fit: more and larger samples than the sweep (the report gives neither)."""

    k: int = 0
    """0: the K chosen by analytics/k_sweep; otherwise this K."""
    samples: int = 50
    sampsize: int = 2_000
    sampler: str = "numpy"
    method: str = "fasterpam"
    init: str = "random"
    """`random` is as good as `build` on 2,000-row samples and several times cheaper."""
    restart_from_best: bool = True
    polish_iterations: int = 3
    polish_candidates: int = 128
    seed: int = 0

    def clara_settings(self) -> typ.ClaraSettings:
        """These settings as CLARA's: a fixed sample size of ``sampsize`` rows whatever the K."""
        return typ.ClaraSettings(
            samples=self.samples,
            sampsize_base=self.sampsize,
            sampsize_per_k=0,
            sampler=self.sampler,
            method=self.method,
            init=self.init,
            restart_from_best=self.restart_from_best,
            polish_iterations=self.polish_iterations,
            polish_candidates=self.polish_candidates,
            seed=self.seed,
        )
