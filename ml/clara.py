"""CLARA k-medoids (Kaufman & Rousseeuw) on samples, in two modes: R's ``cluster::clara`` exactly, and a
faster mode with a lower objective.

What R's ``clara`` does (``rngR = FALSE``, ``pamLike = FALSE``, its defaults), and what ``method="r"`` with
``sampler="r"``, ``restart_from_best=False`` and ``polish_iterations=0`` reproduces to the last bit:

* draw ``samples`` samples of ``sampsize`` rows with clara's own generator,
  ``nrun = (nrun * 5761 + 999) mod 65536`` starting at 0, row = floor(n · nrun / 65536) (so the seed has no
  effect, exactly as ``set.seed`` has none in R, and for n > 65,536 some rows can never be drawn);
* after the first sample, **force the best medoids so far into every later sample** and top it up with
  random rows;
* on each sample's Euclidean dissimilarities run clara's own BUILD and SWAP (``bswap2``, whose SWAP moves the
  members of a removed medoid to the incoming one rather than to their second-nearest medoid, unlike
  ``pam``);
* assign **every** row to its nearest medoid; the objective is the **mean distance to the nearest medoid
  over all n rows**, and the medoids of the first sample with the lowest objective win;
* ``silinfo`` (the silhouette that clara reports) is the silhouette of the **best sample only**.

Beyond R (the K sweep's settings are ``ml.typology.SWEEP_CLARA``): FasterPAM on each sample (``kmedoids``,
from a BUILD or a random start), a seeded numpy sampler, and three steps that spend the time R spends on
scoring every sample on all n rows where it buys more:

* ``score_rows``: each sample's medoids are scored on a fixed random subset of rows instead of all n, after
  ``score_polish_iterations`` polish steps on that subset (so samples are compared by where they lead, not
  where they start); only the winner is assigned on all n. The reported objective is always over all n;
* the best medoids are then **polished on all n** (:func:`polish_medoids`, Park & Jun's alternating step
  restricted to ``polish_candidates`` members near each cluster's mean): a medoid moves only if that lowers
  its cluster's exact total distance, and an iteration is kept only if it lowers the objective;
* ``polish_screen``: the polish ranks its candidates on a random sample of members per cluster and checks
  only the winner on all members, so a step costs about as much as one assignment of all rows;
* optionally (``restart_from_best``) each later sample is also clustered starting from the forced best
  medoids.

Assignment, sample dissimilarities and the polish costs are compiled (numba), single-threaded, and sum the
squared differences dimension by dimension in a fixed order, as R's C code does: results are identical
whatever the number of threads, and identical to a plain numpy loop over the dimensions (the tests check
both). Also reported: the **medoid silhouette** over all n (Lenssen & Schubert; from the nearest and
second-nearest medoid distances) and the **exact silhouette** on a fixed (stratified) subsample, see
:class:`SubsampleSilhouette`.

Plain library: no Dagster, no dbt. ``kmedoids`` (FasterPAM) needs a square dissimilarity matrix, so it is
only ever given samples (full PAM on 140k rows would need a 78 GB matrix).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import kmedoids
import numba
import numpy as np

R_DEFAULT_SAMPLES = 5
METHODS = ("fasterpam", "pam", "r")
SAMPLERS = ("numpy", "r")
#: Below this many medoids the assignment computes one distance at a time (faster for few medoids).
FEW_MEDOIDS = 8


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

    def row(self, n: int) -> int:
        """A 0-based row, as clara draws it: ``floor(n · u)`` (clara adds 1 for its 1-based rows)."""
        return min(int(n * self.uniform()), n - 1)


def _draw_r(n: int, sampsize: int, forced: np.ndarray | None, r_random: RClaraRandom) -> np.ndarray:
    """clara's sampling loop (C ``cl_clara``), including the case of a sample larger than n/2, where clara
    draws the rows left out instead (and never leaves out a forced medoid)."""
    forced_set = set() if forced is None else {int(i) for i in forced}
    large = n < 2 * sampsize
    wanted = n - sampsize if large else sampsize
    chosen: set[int] = set() if large else set(forced_set)
    attempts = 0
    while len(chosen) < wanted:
        row = r_random.row(n)
        attempts += 1
        if attempts > 200 * n + 1000:  # the 16-bit generator has run out of new rows
            raise RuntimeError("clara's built-in sampler cannot reach sampsize distinct rows")
        if large and row in forced_set:
            continue
        chosen.add(row)
    if large:
        return np.setdiff1d(np.arange(n), np.fromiter(chosen, dtype=np.int64))
    return np.array(sorted(chosen), dtype=np.int64)


def draw_sample(
    n: int,
    sampsize: int,
    forced: np.ndarray | None,
    sampler: str,
    rng: np.random.Generator | None = None,
    r_random: RClaraRandom | None = None,
) -> np.ndarray:
    """Sorted row indices of one sample: the ``forced`` rows plus random rows up to ``sampsize``."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r} (use 'numpy' or 'r')")
    if sampsize >= n:
        return np.arange(n)
    if sampler == "r":
        assert r_random is not None
        return _draw_r(n, sampsize, forced, r_random)
    assert rng is not None
    chosen = set() if forced is None else {int(i) for i in forced}
    need = sampsize - len(chosen)
    candidates = rng.choice(n, size=min(n, sampsize + len(chosen)), replace=False)
    extra = [int(i) for i in candidates if int(i) not in chosen][:need]
    return np.array(sorted(chosen.union(extra)), dtype=np.int64)


# --- Compiled kernels ---------------------------------------------------------------------------------------
# Squared differences are summed over the dimensions in order (t = 0, 1, ..., d-1), never reassociated, so
# every distance equals the plain loop ``sum((x[i, t] - c[t]) ** 2 for t in range(d))`` and R's C code.


@numba.njit(inline="always")
def _keep_two(s, j, best, runner_up, label):  # pragma: no cover - compiled
    """The smallest and second-smallest sums so far and the index of the smallest, after candidate ``j``."""
    if s < best:
        return s, best, j
    if s < runner_up:
        return best, s, label
    return best, runner_up, label


@numba.njit(inline="always")
def _record(i, best, runner_up, label, labels, first, second):  # pragma: no cover - compiled
    """Row ``i``'s nearest centre and its two distances; returns the nearest distance."""
    labels[i] = label
    first[i] = math.sqrt(best)
    second[i] = math.sqrt(runner_up)
    return first[i]


@numba.njit(cache=True, nogil=True)
def _nearest_two(x, centres_t, labels, first, second):  # pragma: no cover - compiled
    """Nearest and second-nearest centre of every row (ties: the lower centre index); returns Σ nearest.
    The centres are given transposed (d × k) so that the inner loop runs over centres (vectorised)."""
    n, d = x.shape
    k = centres_t.shape[1]
    acc = np.empty(k)
    total = 0.0
    for i in range(n):
        acc[:] = 0.0
        for t in range(d):
            value = x[i, t]
            for j in range(k):
                diff = value - centres_t[t, j]
                acc[j] += diff * diff
        best, runner_up, label = np.inf, np.inf, 0
        for j in range(k):
            best, runner_up, label = _keep_two(acc[j], j, best, runner_up, label)
        total += _record(i, best, runner_up, label, labels, first, second)
    return total


@numba.njit(cache=True, nogil=True)
def _nearest_two_few(x, centres, labels, first, second):  # pragma: no cover - compiled
    """:func:`_nearest_two` for a few centres (faster below about 8): one distance at a time, same sums."""
    n, d = x.shape
    k = centres.shape[0]
    total = 0.0
    for i in range(n):
        best, runner_up, label = np.inf, np.inf, 0
        for j in range(k):
            s = 0.0
            for t in range(d):
                diff = x[i, t] - centres[j, t]
                s += diff * diff
            best, runner_up, label = _keep_two(s, j, best, runner_up, label)
        total += _record(i, best, runner_up, label, labels, first, second)
    return total


@numba.njit(cache=True, nogil=True)
def _sample_dissimilarities(xs):  # pragma: no cover - compiled
    """Symmetric Euclidean dissimilarities of the sample rows (zero diagonal), as R's ``dysta2``."""
    m, d = xs.shape
    out = np.zeros((m, m))
    for a in range(1, m):
        for b in range(a):
            s = 0.0
            for t in range(d):
                diff = xs[a, t] - xs[b, t]
                s += diff * diff
            out[a, b] = math.sqrt(s)
            out[b, a] = out[a, b]
    return out


@numba.njit(cache=True, nogil=True)
def _gaps_to_means(x, labels, k):  # pragma: no cover - compiled
    """Squared distance of every row to the mean of its cluster."""
    n, d = x.shape
    means = np.zeros((k, d))
    counts = np.zeros(k)
    for i in range(n):
        counts[labels[i]] += 1.0
        for t in range(d):
            means[labels[i], t] += x[i, t]
    for j in range(k):
        if counts[j] > 0:
            for t in range(d):
                means[j, t] /= counts[j]
    gaps = np.empty(n)
    for i in range(n):
        s = 0.0
        for t in range(d):
            diff = x[i, t] - means[labels[i], t]
            s += diff * diff
        gaps[i] = s
    return gaps


@numba.njit(cache=True, nogil=True)
def _total_distances(x, pool, members):  # pragma: no cover - compiled
    """For each row in ``pool``: the sum of its distances to the ``members`` rows (in their order)."""
    d = x.shape[1]
    costs = np.empty(pool.shape[0])
    for a in range(pool.shape[0]):
        p = pool[a]
        total = 0.0
        for b in range(members.shape[0]):
            m = members[b]
            s = 0.0
            for t in range(d):
                diff = x[m, t] - x[p, t]
                s += diff * diff
            total += math.sqrt(s)
        costs[a] = total
    return costs


@numba.njit(cache=True, nogil=True)
def _r_bswap(dys, k):  # pragma: no cover - compiled
    """R ``cluster``'s ``bswap2`` with ``pam_like = FALSE`` (clara's default): BUILD, then SWAP until no swap
    lowers the sample's total distance. Returns a 0/1 flag per sample row (1 = medoid)."""
    n = dys.shape[0]
    big = 0.0
    for a in range(n):
        for b in range(a):
            if big < dys[a, b]:
                big = dys[a, b]
    big = big * 1.1 + 1.0
    nrepr = np.zeros(n, np.int64)
    dysma = np.full(n, big)
    dysmb = np.full(n, big)
    for _ in range(k):  # BUILD
        nmax = -1
        ammax = 0.0
        for i in range(n):
            if nrepr[i] == 0:
                beter = 0.0
                for j in range(n):
                    cmd = dysma[j] - dys[i, j]
                    if cmd > 0.0:
                        beter += cmd
                if ammax <= beter:  # ties go to the later row, as in R
                    ammax = beter
                    nmax = i
        nrepr[nmax] = 1
        for j in range(n):
            if dysma[j] > dys[nmax, j]:
                dysma[j] = dys[nmax, j]
    if k == 1:
        return nrepr
    while True:  # SWAP
        for j in range(n):
            dysma[j] = big
            dysmb[j] = big
            for i in range(n):
                if nrepr[i] == 1:
                    if dysma[j] > dys[i, j]:
                        dysmb[j] = dysma[j]
                        dysma[j] = dys[i, j]
                    elif dysmb[j] > dys[i, j]:
                        dysmb[j] = dys[i, j]
        dzsky = 1.0
        hbest = -1
        nbest = -1
        for h in range(n):
            if nrepr[h] == 1:
                continue
            for i in range(n):
                if nrepr[i] == 0:
                    continue
                dz = 0.0
                for j in range(n):
                    if dys[i, j] == dysma[j]:
                        small = dys[h, j] if dysmb[j] > dys[i, j] else dysmb[j]
                        dz += -dysma[j] + small
                    elif dys[h, j] < dysma[j]:
                        dz += -dysma[j] + dys[h, j]
                if dzsky > dz:
                    dzsky = dz
                    hbest = h
                    nbest = i
        if dzsky < 0.0:
            nrepr[hbest] = 1
            nrepr[nbest] = 0
        else:
            return nrepr


def sample_dissimilarities(xs: np.ndarray) -> np.ndarray:
    """Euclidean dissimilarities of a sample's rows (symmetric, zero diagonal), computed as R's clara does."""
    return _sample_dissimilarities(np.ascontiguousarray(xs, dtype=np.float64))


def r_clara_swap(diss: np.ndarray, k: int) -> np.ndarray:
    """Positions (ascending) of the medoids that R clara's BUILD + SWAP (``pamLike = FALSE``) finds."""
    return np.flatnonzero(_r_bswap(np.ascontiguousarray(diss, dtype=np.float64), int(k))).astype(np.int64)


def total_distances(x: np.ndarray, pool: np.ndarray, members: np.ndarray) -> np.ndarray:
    """For each row index in ``pool``, the sum of its Euclidean distances to the rows in ``members``."""
    return _total_distances(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(pool, dtype=np.int64),
        np.ascontiguousarray(members, dtype=np.int64),
    )


def pairwise_distances(a: np.ndarray, b: np.ndarray | None = None, dtype=np.float64) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and ``b`` (BLAS; symmetric with a zero diagonal if b is None).

    Fast for large blocks but rounded differently from the compiled kernels; used for the subsample silhouette.
    """
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
    """Every row's nearest medoid (label), its distance, the distance to the second-nearest medoid, and the sum
    of the distances in row order (as R's clara adds them up)."""

    labels: np.ndarray
    distance: np.ndarray
    second_distance: np.ndarray
    total: float

    @property
    def objective(self) -> float:
        return self.total / len(self.distance)

    @property
    def medoid_silhouette(self) -> float:
        return float(medoid_silhouette_samples(self.distance, self.second_distance).mean())


def medoid_silhouette_samples(distance: np.ndarray, second_distance: np.ndarray) -> np.ndarray:
    """Medoid silhouette per row: 1 − a/b with a, b the nearest and second-nearest medoid distances (0/0 → 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 1.0 - distance / second_distance
    return np.where(second_distance > 0, s, 0.0)


def _nearest(x: np.ndarray, centres: np.ndarray) -> Assignment:
    n, k = len(x), len(centres)
    labels = np.empty(n, dtype=np.int64)
    first = np.empty(n)
    second = np.empty(n)
    if k < FEW_MEDOIDS:
        total = _nearest_two_few(x, np.ascontiguousarray(centres), labels, first, second)
    else:
        total = _nearest_two(x, np.ascontiguousarray(centres.T), labels, first, second)
    return Assignment(labels=labels, distance=first, second_distance=second, total=float(total))


def assign_to_medoids(x: np.ndarray, medoids: np.ndarray, rows: np.ndarray | None = None) -> Assignment:
    """Assign every row of ``x`` (or only ``rows``, in their order) to the nearest of the medoid rows
    (compiled, O(n·k·d), one pass).

    Ties go to the medoid listed first, except that a medoid always belongs to its own cluster (with duplicate
    rows the tie would otherwise be arbitrary). With one medoid the second distance is infinite.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    medoids = np.asarray(medoids, dtype=np.int64)
    if rows is not None:
        return _nearest(np.ascontiguousarray(x[rows]), x[medoids])
    assignment = _nearest(x, x[medoids])
    assignment.labels[medoids] = np.arange(len(medoids))  # distance 0 either way: the total is unchanged
    return assignment


@numba.njit(cache=True, nogil=True)
def _counting_order(labels, k):  # pragma: no cover - compiled
    """Row indices grouped by label (ascending within each label) and the group boundaries."""
    counts = np.zeros(k + 1, np.int64)
    for i in range(labels.shape[0]):
        counts[labels[i] + 1] += 1
    for j in range(k):
        counts[j + 1] += counts[j]
    fill = counts[:k].copy()
    order = np.empty(labels.shape[0], np.int64)
    for i in range(labels.shape[0]):
        order[fill[labels[i]]] = i
        fill[labels[i]] += 1
    return order, counts


def cluster_members(labels: np.ndarray, k: int) -> list[np.ndarray]:
    """The ascending row indices of each cluster 0..k-1 (one counting sort instead of k scans)."""
    order, bounds = _counting_order(np.asarray(labels, dtype=np.int64), int(k))
    return [order[bounds[j] : bounds[j + 1]] for j in range(k)]


def _some(rng: np.random.Generator, members: np.ndarray, size: int) -> np.ndarray:
    """``size`` members drawn at random (all of them if ``size`` is 0 or not smaller), ascending."""
    if size <= 0 or size >= len(members):
        return members
    return np.sort(rng.choice(members, size=size, replace=False))


def polish_medoids(
    x: np.ndarray,
    medoids: np.ndarray,
    assignment: Assignment,
    candidates: int = 64,
    iterations: int = 2,
    screen: int = 0,
    seed: int | None = 0,
) -> tuple[np.ndarray, Assignment]:
    """Alternating refinement on all rows of ``x`` (Park & Jun's k-medoids step, restricted to candidates).

    In each iteration every medoid may move to one of the ``candidates`` members nearest its cluster's mean,
    the one with the smallest total distance to the cluster's members; then every row is reassigned.
    ``screen`` > 0 ranks the candidates on that many random members of each larger cluster and moves the
    medoid only if the winner's total distance to *all* members is lower than the medoid's (so ranking costs
    about ``candidates × screen × k`` distances instead of ``candidates × n``); 0 ranks them on all members.
    An iteration is kept only if it lowers the objective over all rows, so the result is never worse than the
    start; the refinement stops at the first iteration that does not.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    k = len(medoids)
    for _ in range(iterations):
        new = medoids.copy()
        gaps = _gaps_to_means(x, assignment.labels, k)
        for j, members in enumerate(cluster_members(assignment.labels, k)):
            if len(members) <= 2:
                continue
            take = min(candidates, len(members))
            pool = np.unique(np.append(members[np.argpartition(gaps[members], take - 1)[:take]], medoids[j]))
            ranked_on = _some(rng, members, screen)
            costs = _total_distances(x, pool, ranked_on)
            choice = pool[int(np.argmin(costs))]
            if choice == medoids[j]:
                continue
            if ranked_on is members:
                moves = costs.min() < costs[np.searchsorted(pool, medoids[j])]
            else:
                exact = _total_distances(x, np.array([choice, medoids[j]]), members)
                moves = exact[0] < exact[1]
            if moves:
                new[j] = choice
        if np.array_equal(new, medoids):
            break
        candidate = assign_to_medoids(x, new)
        if candidate.total >= assignment.total:
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
    if method == "r":
        return r_clara_swap(diss, k)
    if start_medoids is not None:  # start the swaps from given medoids (the seed only orders the swaps)
        medoids, seed = start_medoids, None
    else:
        medoids = k
    if method == "fasterpam":
        result = kmedoids.fasterpam(diss, medoids, init=init, random_state=seed, n_cpu=1)
    elif method == "pam":
        result = kmedoids.pam(diss, medoids, init=init, random_state=seed)
    else:
        raise ValueError(f"unknown method {method!r} (use one of {METHODS})")
    return np.asarray(result.medoids, dtype=np.int64)


def sample_silhouette(x: np.ndarray, sample: np.ndarray, labels: np.ndarray) -> float:
    """Average silhouette width of the rows in ``sample`` under ``labels`` (the labels of all rows).

    With the best sample and its nearest-medoid labels this is what R's clara reports as
    ``silinfo$avg.width``: the silhouette of the best sample only. Singletons count as 0, as in R.
    """
    diss = sample_dissimilarities(x[sample])
    labels = np.asarray(labels)[sample]
    if len(np.unique(labels)) < 2:
        return 0.0
    value, _ = kmedoids.silhouette(diss, labels, n_cpu=1)
    return float(value)


def _score(
    x: np.ndarray,
    medoids: np.ndarray,
    scored: np.ndarray | None,
    polish_iterations: int,
    polish_candidates: int,
    polish_screen: int,
    seed: int | None,
) -> tuple[np.ndarray, Assignment]:
    """A sample's medoids scored on all rows (``scored`` None), or polished and scored on the ``scored`` rows
    (with the medoids added to them, at distance 0, so that every candidate is scored on the same rows)."""
    if scored is None:
        return medoids, assign_to_medoids(x, medoids)
    if polish_iterations == 0:
        return medoids, assign_to_medoids(x, medoids, scored)
    rows = np.union1d(scored, medoids)
    subset = x[rows]
    position = np.searchsorted(rows, medoids)
    position, assignment = polish_medoids(
        subset,
        position,
        assign_to_medoids(subset, position),
        polish_candidates,
        polish_iterations,
        polish_screen,
        seed,
    )
    return rows[position], assignment


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
    polish_screen: int = 0,
    score_rows: int = 0,
    score_polish_iterations: int = 0,
) -> ClaraResult:
    """CLARA k-medoids on the rows of ``x`` (n × d, e.g. PCA scores); see the module docstring.

    ``sampsize`` defaults to R's ``40 + 2k``; ``sampler`` is ``"numpy"`` (seeded) or ``"r"`` (clara's own
    deterministic generator, ``rngR = FALSE``); ``method`` is ``"fasterpam"``, ``"pam"`` (exact BUILD+SWAP)
    or ``"r"`` (R clara's own BUILD+SWAP, for R-exact runs); ``init`` is how FasterPAM/PAM start on each
    sample: ``"build"`` (O(k·s²)) or ``"random"`` (much cheaper for large samples, same loss in practice).
    ``restart_from_best`` also clusters each later sample starting from the forced best medoids (not with
    ``method="r"``).

    Each sample's medoids are scored on all rows (``score_rows=0``, as R) or on a fixed random subset of
    ``score_rows`` rows, after ``score_polish_iterations`` polish steps on that subset; the best are then
    assigned on all rows. ``polish_iterations`` > 0 then refines them on all rows (:func:`polish_medoids`,
    never worse; ``polish_candidates`` near each cluster's mean, ranked on ``polish_screen`` members); 0 gives
    R's procedure alone. The objective is always exact, over all rows.
    """
    start = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (use one of {METHODS})")
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r} (use 'numpy' or 'r')")
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
    scored = None
    if 0 < score_rows < n:  # drawn apart from the samples, so that the samples are those of score_rows=0
        subset_rng = np.random.default_rng(None if seed is None else [int(seed), 1])
        scored = np.sort(subset_rng.choice(n, size=score_rows, replace=False))
    best_medoids: np.ndarray | None = None
    best: Assignment | None = None
    best_sample: np.ndarray | None = None
    objectives: list[float] = []
    for draw in range(samples):
        sample = draw_sample(n, sampsize, best_medoids, sampler, rng=rng, r_random=r_random)
        diss = sample_dissimilarities(x[sample])
        seed_here = None if seed is None else int(seed) * 1000 + draw
        candidates = [sample[_cluster_sample(diss, k, method, None, init, seed_here)]]
        if restart_from_best and best_medoids is not None and method != "r":
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
            medoids, assignment = _score(
                x, medoids, scored, score_polish_iterations, polish_candidates, polish_screen, seed_here
            )
            objectives.append(assignment.objective)
            if best is None or assignment.total < best.total:  # the first of equals wins, as in R
                best, best_medoids, best_sample = assignment, medoids, sample
    assert best is not None and best_medoids is not None and best_sample is not None
    if scored is not None:
        best = assign_to_medoids(x, best_medoids)
    if polish_iterations > 0:
        best_medoids, best = polish_medoids(
            x, best_medoids, best, polish_candidates, polish_iterations, polish_screen, seed
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
