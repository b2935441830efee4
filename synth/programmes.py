"""Intervention cohorts: a DRIVE-like programme selected on an RFG ranking, and a focused-deterrence RCT.

Selection uses only the observable DA history before the as-of date (recency, frequency in 24 months,
gravity = ONS CSS of those incidents), plus panel/capacity randomness, so a comparison group matched on
that history is valid. The true effect is applied by thinning each affected person's DA incidents *committed*
after the anchor date with keep-probability (1 + effect); with effect 0 nothing is thinned, and the fall in
reoffending after selection is then pure regression to the mean (people are chosen in a hot spell). Selection
uses what had been *reported* before the as-of date (knowledge time), as a panel would.

``prompt_disclosures`` models a programme that prompts disclosures: DA incidents that were never reported
(the hidden pool) are reported within six months of selection when they belong to a participant and were
committed in the three years before selection.
"""

from __future__ import annotations

import numpy as np

from synth.engine import DAY, EPOCH, WINDOW_END

DRIVE_EXITS = ["completed", "removed - victim risk", "declined", "moved away"]


def _day(iso: str) -> int:
    return int((np.datetime64(f"{iso}T00:00:00", "s") - EPOCH).astype(np.int64))


def _pct_rank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    r = np.empty(x.size)
    r[order] = (np.arange(x.size) + 0.5) / max(x.size, 1)
    return r


def rfg_scores(n: int, io, is_da, alive, t_rep, sev, asof: int):
    """Recency, frequency (24 months) and gravity (24 months, ONS CSS) at ``asof`` for every offender."""
    prior = is_da & alive & (t_rep < asof)
    last = np.full(n, -1, np.int64)
    np.maximum.at(last, io[prior], t_rep[prior])
    recent = prior & (t_rep >= asof - 730 * DAY)
    freq = np.bincount(io[recent], minlength=n)
    grav = np.bincount(io[recent], weights=sev[recent], minlength=n)
    days_since = np.where(last >= 0, (asof - last) / DAY, np.inf)
    return days_since, freq, grav


def _thin(rng, io, is_da, alive, t_from, anchor_by_offender: np.ndarray, keep: float) -> int:
    """Drop DA incidents committed after each affected offender's anchor with probability 1 - keep."""
    anchor = anchor_by_offender[io]
    target = alive & is_da & (anchor >= 0) & (t_from > anchor)
    u = rng.random(io.size)
    drop = target & (u >= keep)
    alive &= ~drop
    return int(drop.sum())


def run_drive(rng, n: int, io, is_da, alive, t_rep, sev, opts, t_from=None) -> dict:
    dates = [_day(d) for d in opts.drive_dates]
    total = int(round(opts.drive_share * n))
    quotas = np.full(len(dates), total // len(dates))
    quotas[: total % len(dates)] += 1
    chosen = np.zeros(n, bool)
    rows = []
    for k, (asof, q) in enumerate(zip(dates, quotas, strict=True)):
        days_since, freq, grav = rfg_scores(n, io, is_da, alive, t_rep, sev, asof)
        elig = np.flatnonzero((freq >= 2) & ~chosen)
        if q == 0 or elig.size == 0:
            continue
        score = (
            0.30 * _pct_rank(-days_since[elig])
            + 0.35 * _pct_rank(freq[elig] + 1e-3 * grav[elig])
            + 0.35 * _pct_rank(grav[elig])
        )
        top = elig[np.argsort(-score, kind="stable")[: min(3 * q, elig.size)]]
        top_score = np.sort(score)[::-1][: top.size]
        w = top_score**8
        pick = rng.choice(top.size, size=min(q, top.size), replace=False, p=w / w.sum())
        people = top[np.sort(pick)]
        chosen[people] = True
        rows.append(_drive_stages(rng, people, asof, f"DRIVE cohort {k + 1}"))
    rows = _concat(rows)
    anchor_col = {"selected": "selected", "full_engagement": "full", "disruption": "disruption"}[
        opts.drive_anchor
    ]
    anchor = np.full(n, -1, np.int64)
    if rows["person"].size:
        a = rows[anchor_col]
        ok = a >= 0
        anchor[rows["person"][ok]] = a[ok] * DAY + DAY - 1  # incidents after the end of the anchor day
    keep = 1.0 + opts.drive_effect
    committed = t_rep if t_from is None else t_from
    removed = _thin(rng, io, is_da, alive, committed, anchor, keep) if opts.drive_effect != 0 else 0
    rows["programme"] = "DRIVE"
    selected = np.full(n, -1, np.int64)
    if rows["person"].size:
        selected[rows["person"]] = rows["selected"] * DAY
    return dict(
        rows=rows, affected=np.flatnonzero(anchor >= 0), removed=removed, chosen=chosen, selected=selected
    )


def prompt_disclosures(rng, io, hidden, alive, t_rep, t_from, selected_at: np.ndarray, share: float) -> int:
    """Report hidden DA incidents of participants committed in the three years before their selection,
    each with probability ``share``, at a time within six months after selection (inside the extract)."""
    sel = selected_at[io]
    eligible = hidden & (sel >= 0) & (t_from < sel) & (t_from >= sel - 3 * 365 * DAY)
    disclosed = eligible & (rng.random(io.size) < share)
    when = sel + rng.integers(DAY, 183 * DAY, io.size)
    t_rep[disclosed] = np.minimum(when[disclosed], WINDOW_END)
    alive |= disclosed
    return int(disclosed.sum())


def _drive_stages(rng, people: np.ndarray, asof: int, cohort: str) -> dict:
    k = people.size
    sel = asof // DAY
    end = WINDOW_END // DAY
    referred = sel - rng.integers(7, 43, k)
    disrupted = np.where(rng.random(k) < 0.9, sel + rng.integers(3, 31, k), -1)
    engaged = np.where(rng.random(k) < 0.6, sel + rng.integers(30, 151, k), -1)
    completes = (engaged >= 0) & (rng.random(k) < 0.7)
    completed = np.where(completes, engaged + rng.integers(150, 301, k), -1)
    reason = np.full(k, -1)
    exited = np.full(k, -1)
    exited = np.where(completes, completed, exited)
    reason = np.where(completes, 0, reason)
    # engaged but not completed: removed for victim risk, declined, or moved away
    drop = (engaged >= 0) & ~completes
    why = rng.choice([1, 2, 3], size=k, p=[0.3, 0.4, 0.3])
    exited = np.where(drop, engaged + rng.integers(30, 201, k), exited)
    reason = np.where(drop, why, reason)
    # never fully engaged: most decline within months, the rest are still open
    never = (engaged < 0) & (rng.random(k) < 0.6)
    exited = np.where(never, sel + rng.integers(30, 121, k), exited)
    reason = np.where(never, 2, reason)
    # nothing after the end of the extract
    completed = np.where(completed > end, -1, completed)
    late = exited > end
    exited = np.where(late, -1, exited)
    reason = np.where(late, -1, reason)
    engaged = np.where(engaged > end, -1, engaged)
    return dict(
        person=people,
        cohort=np.full(k, cohort, object),
        arm=np.full(k, None, object),
        referred=referred,
        selected=np.full(k, sel),
        disruption=disrupted,
        full=engaged,
        completed=completed,
        exited=exited,
        reason=np.array([DRIVE_EXITS[r] if r >= 0 else None for r in reason], object),
    )


def run_focused_deterrence(
    rng, n: int, io, is_da, alive, t_rep, exclude: np.ndarray, opts, t_from=None
) -> dict:
    dates = [_day(d) for d in opts.fd_dates]
    cap = max(10, int(round(opts.fd_share * n)))
    in_trial = np.zeros(n, bool)
    rows = []
    anchor = np.full(n, -1, np.int64)
    for k, asof in enumerate(dates):
        prior = is_da & alive & (t_rep < asof) & (t_rep >= asof - 365 * DAY)
        cnt = np.bincount(io[prior], minlength=n)
        elig = np.flatnonzero((cnt >= 3) & ~exclude & ~in_trial)
        if elig.size < 2:
            continue
        if elig.size > cap:
            elig = np.sort(rng.choice(elig, size=cap, replace=False))
        perm = rng.permutation(elig.size)
        treat = np.zeros(elig.size, bool)
        treat[perm[: elig.size // 2]] = True
        in_trial[elig] = True
        sel = asof // DAY
        m = elig.size
        notified = np.where(treat, sel + rng.integers(1, 11, m), -1)
        removed = treat & (rng.random(m) < 0.07)
        exited = np.where(treat, np.where(removed, sel + rng.integers(10, 121, m), sel + 365), -1)
        reason = np.array(
            [
                ("removed - victim risk" if r else "completed") if t else None
                for t, r in zip(treat, removed, strict=True)
            ],
            object,
        )
        rows.append(
            dict(
                person=elig,
                cohort=np.full(m, f"FD cohort {k + 1}", object),
                arm=np.where(treat, "treatment", "control").astype(object),
                referred=np.full(m, sel - 14),
                selected=np.full(m, sel),
                disruption=notified,
                full=np.full(m, -1),
                completed=np.full(m, -1),
                exited=exited,
                reason=reason,
            )
        )
        anchor[elig[treat]] = asof + DAY - 1
    rows = _concat(rows)
    keep = 1.0 + opts.fd_effect
    committed = t_rep if t_from is None else t_from
    removed_n = _thin(rng, io, is_da, alive, committed, anchor, keep) if opts.fd_effect != 0 else 0
    rows["programme"] = "focused deterrence"
    return dict(rows=rows, affected=np.flatnonzero(anchor >= 0), removed=removed_n)


_COLS = [
    "person",
    "cohort",
    "arm",
    "referred",
    "selected",
    "disruption",
    "full",
    "completed",
    "exited",
    "reason",
]


def _concat(parts: list[dict]) -> dict:
    if not parts:
        return {
            c: np.array([], dtype=object if c in ("cohort", "arm", "reason") else np.int64) for c in _COLS
        }
    return {c: np.concatenate([p[c] for p in parts]) for c in _COLS}
