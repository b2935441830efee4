"""CLARA k-medoids (Kaufman & Rousseeuw) with FasterPAM on each sample, behaving like R's ``cluster::clara``.

What R's ``clara`` does, and what this module reproduces:

* draw ``samples`` samples of ``sampsize`` rows; run PAM on each sample's Euclidean dissimilarities;
* after the first sample, **force the best medoids so far into every later sample** and top it up with
  random rows;
* assign **every** row to its nearest medoid; the objective is the **mean distance to the nearest medoid
  over all n rows**, and the medoids of the sample with the lowest objective win;
* ``silinfo`` (the silhouette that clara reports) is the silhouette of the **best sample only**;
* with ``rngR = FALSE`` (R's default) the samples come from clara's own generator,
  ``nrun = (nrun * 5761 + 999) mod 65536`` starting at 0, row = floor(n · nrun / 65536). That sampler is
  available here as ``sampler="r"``; ``sampler="numpy"`` uses a seeded numpy generator instead (with
  ``"r"`` the seed has no effect, exactly as ``set.seed`` has none in R, and for n > 65,536 some rows can
  never be drawn).

Beyond R: each later sample is clustered twice, once from a BUILD start (as R does) and once starting from
the forced best medoids, and both are scored on all n (``restart_from_best``); this never makes the
objective worse than R's choice from the same sample. Then the best medoids are polished on all n
(:func:`polish_medoids`: alternating medoid update among candidates near each cluster mean, then reassignment;
it can only lower the objective; ``polish_iterations=0`` gives R's procedure alone). Also reported: the **medoid silhouette** over all n
(Lenssen & Schubert; from the nearest and second-nearest medoid distances) and the **exact silhouette** on
a fixed (stratified) subsample, see :class:`SubsampleSilhouette`.

Plain library: no Dagster, no dbt. ``kmedoids`` needs a square dissimilarity matrix, so it is only ever
given samples (full PAM on 140k rows would need a 78 GB matrix).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import kmedoids
import numpy as np

R_DEFAULT_SAMPLES = 5


def r_default_sampsize(n: int, k: int) -> int:
    """R's ``clara`` default sample size: ``min(n, 40 + 2k)``."""
    return int(min(n, 40 + 2 * k))


class RClaraRandom:
    """clara's built-in generator (``rngR = FALSE``): deterministic, restarted at 0 on every call."""

    def __init__(self) -> None:
        self.nrun = 0

    def uniform(self) -> float:
        self.nrun = (self.nrun * 5761 + 999) % 65536
        return self.nrun / 65536.0


def draw_sample(
    n: int,
    sampsize: int,
    forced: np.ndarray | None,
    sampler: str,
    rng: np.random.Generator | None = None,
    r_random: RClaraRandom | None = None,
) -> np.ndarray:
    """Sorted row indices of one sample: the ``forced`` rows plus random rows up to ``sampsize``."""
    chosen = set() if forced is None else {int(i) for i in forced}
    if sampsize >= n:
        return np.arange(n)
    if sampler == "r":
        assert r_random is not None
        attempts = 0
        while len(chosen) < sampsize:
            row = min(int(n * r_random.uniform()), n - 1)
            chosen.add(row)
            attempts += 1
            if attempts > 200 * sampsize:  # the 16-bit generator has run out of new rows
                raise RuntimeError("clara's built-in sampler cannot reach sampsize distinct rows")
        return np.array(sorted(chosen), dtype=np.int64)
    if sampler != "numpy":
        raise ValueError(f"unknown sampler {sampler!r} (use 'numpy' or 'r')")
    assert rng is not None
    need = sampsize - len(chosen)
    candidates = rng.choice(n, size=min(n, sampsize + len(chosen)), replace=False)
    extra = [int(i) for i in candidates if int(i) not in chosen][:need]
    return np.array(sorted(chosen.union(extra)), dtype=np.int64)


def pairwise_distances(a: np.ndarray, b: np.ndarray | None = None, dtype=np.float64) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and ``b`` (BLAS; symmetric with a zero diagonal if b is None)."""
    same = b is None
    b = a if same else b
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    sq = (a64 * a64).sum(axis=1)[:, None] + (b64 * b64).sum(axis=1)[None, :] - 2.0 * (a64 @ b64.T)
    np.maximum(sq, 0.0, out=sq)
    dist = np.sqrt(sq, out=sq)
    if same:
        dist = (dist + dist.T) / 2.0
        np.fill_diagonal(dist, 0.0)
    return dist.astype(dtype, copy=False)


@dataclass
class Assignment:
    """Every row's nearest medoid (label), its distance, and the distance to the second-nearest medoid."""

    labels: np.ndarray
    distance: np.ndarray
    second_distance: np.ndarray

    @property
    def objective(self) -> float:
        return float(self.distance.mean())

    @property
    def medoid_silhouette(self) -> float:
        return float(medoid_silhouette_samples(self.distance, self.second_distance).mean())


def medoid_silhouette_samples(distance: np.ndarray, second_distance: np.ndarray) -> np.ndarray:
    """Medoid silhouette per row: 1 − a/b with a, b the nearest and second-nearest medoid distances (0/0 → 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 1.0 - distance / second_distance
    return np.where(second_distance > 0, s, 0.0)


def assign_to_medoids(
    x: np.ndarray, medoids: np.ndarray, row_sq_norms: np.ndarray | None = None, chunk: int = 32768
) -> Assignment:
    """Assign all rows of ``x`` to the nearest of the medoid rows (O(n·k·d), chunked)."""
    x = np.asarray(x, dtype=np.float64)
    centres = x[medoids]
    centre_sq = (centres * centres).sum(axis=1)
    if row_sq_norms is None:
        row_sq_norms = (x * x).sum(axis=1)
    n, k = len(x), len(medoids)
    labels = np.empty(n, dtype=np.int64)
    first = np.empty(n)
    second = np.full(n, np.inf)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        sq = x[start:stop] @ centres.T
        sq *= -2.0
        sq += row_sq_norms[start:stop, None]
        sq += centre_sq[None, :]
        rows = np.arange(stop - start)
        idx = sq.argmin(axis=1)
        labels[start:stop] = idx
        first[start:stop] = sq[rows, idx]
        if k > 1:
            sq[rows, idx] = np.inf
            second[start:stop] = sq.min(axis=1)
    np.sqrt(np.maximum(first, 0.0), out=first)
    np.sqrt(np.maximum(second, 0.0), out=second)
    # A medoid always belongs to its own cluster (ties with duplicate rows would otherwise be arbitrary).
    labels[medoids] = np.arange(k)
    first[medoids] = 0.0
    return Assignment(labels=labels, distance=first, second_distance=second)


def polish_medoids(
    x: np.ndarray,
    medoids: np.ndarray,
    assignment: Assignment,
    candidates: int = 64,
    iterations: int = 2,
    row_sq_norms: np.ndarray | None = None,
) -> tuple[np.ndarray, Assignment]:
    """Alternating refinement on all rows: each medoid moves to the member (among the current medoid and the
    ``candidates`` members nearest the cluster mean) with the smallest total distance to the cluster's members,
    then every row is reassigned. Each step can only lower the objective; stops when it no longer does.
    """
    for _ in range(iterations):
        new = medoids.copy()
        for j in range(len(medoids)):
            members = np.flatnonzero(assignment.labels == j)
            if len(members) <= 2:
                continue
            centre = x[members].mean(axis=0)
            gap = ((x[members] - centre) ** 2).sum(axis=1)
            take = min(candidates, len(members))
            pool = members[np.argpartition(gap, take - 1)[:take]]
            pool = np.unique(np.append(pool, medoids[j]))
            cost = np.zeros(len(pool))
            for start in range(0, len(members), 16384):
                cost += pairwise_distances(x[pool], x[members[start : start + 16384]]).sum(axis=1)
            new[j] = pool[int(np.argmin(cost))]
        if np.array_equal(new, medoids):
            break
        candidate = assign_to_medoids(x, new, row_sq_norms)
        if candidate.objective >= assignment.objective:
            break
        medoids, assignment = new, candidate
    return medoids, assignment


@dataclass
class ClaraResult:
    """The outcome of one CLARA fit."""

    k: int
    medoids: np.ndarray  # row indices into x, one per cluster (cluster j has medoid medoids[j])
    labels: np.ndarray  # 0..k-1 for every row
    distance: np.ndarray  # each row's distance to its medoid
    objective: float  # mean distance to the nearest medoid over all rows (R's clara$objective)
    sample_silhouette: float  # average silhouette width on the best sample (R's clara$silinfo$avg.width)
    medoid_silhouette: float  # average medoid silhouette over all rows
    best_sample: np.ndarray
    samples: int
    sampsize: int
    sample_objectives: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def cluster_sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.k)


def _cluster_sample(
    diss: np.ndarray, k: int, method: str, start_medoids: np.ndarray | None, init: str, seed: int | None
) -> np.ndarray:
    if start_medoids is not None:  # start the swaps from given medoids (the seed only orders the swaps)
        medoids, seed = start_medoids, None
    else:
        medoids = k
    if method == "fasterpam":
        result = kmedoids.fasterpam(diss, medoids, init=init, random_state=seed, n_cpu=1)
    elif method == "pam":
        result = kmedoids.pam(diss, medoids, init=init, random_state=seed)
    else:
        raise ValueError(f"unknown method {method!r} (use 'fasterpam' or 'pam')")
    return np.asarray(result.medoids, dtype=np.int64)


def sample_silhouette(x: np.ndarray, sample: np.ndarray, labels: np.ndarray) -> float:
    """Average silhouette width of the rows in ``sample`` under ``labels`` (the labels of all rows).

    With the best sample and its nearest-medoid labels this is what R's clara reports as
    ``silinfo$avg.width``: the silhouette of the best sample only. Singletons count as 0, as in R.
    """
    diss = pairwise_distances(x[sample])
    labels = np.asarray(labels)[sample]
    if len(np.unique(labels)) < 2:
        return 0.0
    value, _ = kmedoids.silhouette(diss, labels, n_cpu=1)
    return float(value)


def clara(
    x: np.ndarray,
    k: int,
    samples: int = R_DEFAULT_SAMPLES,
    sampsize: int | None = None,
    seed: int | None = 0,
    sampler: str = "numpy",
    method: str = "fasterpam",
    init: str = "build",
    restart_from_best: bool = True,
    polish_candidates: int = 64,
    polish_iterations: int = 2,
) -> ClaraResult:
    """CLARA k-medoids on the rows of ``x`` (n × d, e.g. PCA scores); see the module docstring.

    ``sampsize`` defaults to R's ``40 + 2k``; ``sampler`` is ``"numpy"`` (seeded) or ``"r"`` (clara's own
    deterministic generator, ``rngR = FALSE``); ``method`` is ``"fasterpam"`` or ``"pam"`` (exact BUILD+SWAP);
    ``init`` is how each sample's PAM starts: ``"build"`` (R's choice, O(k·s²)) or ``"random"`` (much cheaper
    for large samples, same loss in practice). ``restart_from_best`` also clusters each later sample starting
    from the forced best medoids and keeps whichever candidate has the lower objective over all n.
    ``polish_iterations`` > 0 then refines the best medoids on all rows (:func:`polish_medoids`, never worse);
    0 gives R's procedure alone.
    """
    start = time.perf_counter()
    x = np.ascontiguousarray(x, dtype=np.float64)
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n ({n}); got {k}")
    sampsize = int(min(n, sampsize or r_default_sampsize(n, k)))
    if sampsize < k:
        raise ValueError(f"sampsize ({sampsize}) must be at least k ({k})")
    if sampsize == n:
        samples = 1
    rng = np.random.default_rng(seed)
    r_random = RClaraRandom()
    row_sq_norms = (x * x).sum(axis=1)
    best_medoids: np.ndarray | None = None
    best: Assignment | None = None
    best_sample: np.ndarray | None = None
    objectives: list[float] = []
    for draw in range(samples):
        sample = draw_sample(n, sampsize, best_medoids, sampler, rng=rng, r_random=r_random)
        diss = pairwise_distances(x[sample])
        seed_here = None if seed is None else int(seed) * 1000 + draw
        candidates = [sample[_cluster_sample(diss, k, method, None, init, seed_here)]]
        if restart_from_best and best_medoids is not None:
            position = np.searchsorted(sample, best_medoids)
            candidates.append(sample[_cluster_sample(diss, k, method, position, init, seed_here)])
        seen: set[tuple[int, ...]] = set()
        for medoids in candidates:
            key = tuple(sorted(int(m) for m in medoids))
            if len(set(key)) < k or key in seen:
                continue
            seen.add(key)
            if best_medoids is not None and key == tuple(sorted(int(m) for m in best_medoids)):
                continue  # the best so far, already scored
            assignment = assign_to_medoids(x, medoids, row_sq_norms)
            objectives.append(assignment.objective)
            if best is None or assignment.objective < best.objective:
                best, best_medoids, best_sample = assignment, medoids, sample
    assert best is not None and best_medoids is not None and best_sample is not None
    if polish_iterations > 0:
        best_medoids, best = polish_medoids(
            x, best_medoids, best, polish_candidates, polish_iterations, row_sq_norms
        )
    return ClaraResult(
        k=k,
        medoids=best_medoids,
        labels=best.labels,
        distance=best.distance,
        objective=best.objective,
        sample_silhouette=sample_silhouette(x, best_sample, best.labels),
        medoid_silhouette=best.medoid_silhouette,
        best_sample=best_sample,
        samples=samples,
        sampsize=sampsize,
        sample_objectives=objectives,
        seconds=time.perf_counter() - start,
    )


def stratified_subsample(
    n: int, size: int, strata: np.ndarray | None = None, seed: int | None = 0
) -> np.ndarray:
    """Sorted row indices of a fixed subsample of ``size`` rows, allocated to strata in proportion.

    Every non-empty stratum gets at least one row, so small strata (e.g. the rare high-volume offenders)
    are represented in the silhouette.
    """
    rng = np.random.default_rng(seed)
    if size >= n:
        return np.arange(n)
    if strata is None:
        return np.sort(rng.choice(n, size=size, replace=False))
    strata = np.asarray(strata)
    _, codes = np.unique(strata, return_inverse=True)
    counts = np.bincount(codes)
    quota = np.maximum(1, np.floor(counts * size / n).astype(int))
    quota = np.minimum(quota, counts)
    # Hand out what rounding left over to the largest strata.
    for idx in np.argsort(-counts):
        if quota.sum() >= size:
            break
        quota[idx] = min(counts[idx], quota[idx] + (size - quota.sum()))
    chosen = [rng.choice(np.flatnonzero(codes == c), size=q, replace=False) for c, q in enumerate(quota) if q]
    return np.sort(np.concatenate(chosen))


class SubsampleSilhouette:
    """Exact average silhouette width on one fixed subsample: the float32 distance matrix is built once
    (20,000 rows = 1.6 GB) and every clustering is scored with ``kmedoids.silhouette`` on it.
    """

    def __init__(
        self,
        x: np.ndarray,
        size: int = 20_000,
        strata: np.ndarray | None = None,
        seed: int | None = 0,
        n_threads: int = 2,
        block: int = 2048,
    ) -> None:
        self.rows = stratified_subsample(len(x), size, strata, seed)
        sub = np.asarray(x, dtype=np.float64)[self.rows]
        m = len(sub)
        self.diss = np.empty((m, m), dtype=np.float32)
        for start in range(0, m, block):
            self.diss[start : start + block] = pairwise_distances(
                sub[start : start + block], sub, dtype=np.float32
            )
        np.fill_diagonal(self.diss, 0.0)
        self.n_threads = n_threads

    @property
    def size(self) -> int:
        return len(self.rows)

    def score(self, labels: np.ndarray) -> float:
        """The average silhouette width of the subsample under ``labels`` (labels of all n rows)."""
        sub_labels = np.asarray(labels, dtype=np.int64)[self.rows]
        if len(np.unique(sub_labels)) < 2:
            return 0.0
        value, _ = kmedoids.silhouette(self.diss, sub_labels, n_cpu=self.n_threads)
        return float(value)
