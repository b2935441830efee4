"""One chunk of offenders from latent profiles to the contract's tables (see synth/engine.py)."""

from __future__ import annotations

import numpy as np

from synth import catalogue, engine, programmes
from synth.engine import (
    CHILD_CODES,
    CI,
    CODE_NONCRIME,
    CODE_SUBSTANCE,
    CODE_WEIGHT,
    DA_CHILD,
    DA_SECOND,
    DAY,
    ETHNICITIES,
    INTIMATE,
    NDA,
    NDA_MIX_NAMES,
    OUTCOMES_2014,
    P_CLUSTER,
    P_NDA_MIX,
    REL,
    RELATIONSHIPS,
    RISK,
    SEXES,
    VICTIMLESS,
    WITNESS_START,
    sample_codes,
    sample_mixed,
    seg_index,
)

NEW_PERSON_BASE = 500_000_000
# With prompted disclosures on: the share of DA incidents that are never reported unless prompted.
UNREPORTED_DA_SHARE = 0.10
TYPES = list(catalogue.PLANTED_TYPES)
CODES = list(catalogue.PLANTED_CODES)


class Counters:
    """Global counters carried from chunk to chunk (sequential, so output is deterministic)."""

    def __init__(self):
        self.crime = 0
        self.person = 0


def _ids(prefix: str, numbers: np.ndarray, width: int) -> list:
    return [f"{prefix}{x:0{width}d}" for x in numbers.tolist()]


def generate_chunk(
    rng,
    chunk_index: int,
    first_offender: int,
    n: int,
    opts,
    lsoa_codes: np.ndarray,
    lsoa_sorted_scores: np.ndarray,
    counters: Counters,
) -> tuple[dict, dict]:
    off = engine.simulate_offenders(rng, n, opts, lsoa_sorted_scores)
    inc = engine.simulate_times(rng, off, opts)
    n_same_day = engine.plant_same_day(rng, off["prof"], inc, opts.edge_share)
    det = engine.simulate_incidents(rng, off, inc, opts)
    io, is_da, t_rep = inc["inc_off"], inc["is_da"], inc["t_rep"]
    m = io.size
    prof = off["prof"]

    # ---- offence rows before programmes: main, secondary, child victims
    sec_owner = np.repeat(np.arange(m), det["n_second"])
    sec_code = np.empty(sec_owner.size, np.int64)
    da_sec = is_da[sec_owner]
    sec_code[da_sec] = sample_codes(rng, DA_SECOND, int(da_sec.sum()))
    nd = ~da_sec
    sec_code[nd] = sample_mixed(rng, [NDA[k] for k in NDA_MIX_NAMES], P_NDA_MIX[prof[io[sec_owner[nd]]]])
    sec_code[nd & CODE_NONCRIME[sec_code]] = CI["105A"]
    ch_owner = np.flatnonzero(det["child_extra"])
    ch_code = sample_codes(rng, DA_CHILD, ch_owner.size)
    o_inc = np.concatenate([np.arange(m), sec_owner, ch_owner])
    o_code = np.concatenate([det["main"], sec_code, ch_code])
    o_kind = np.concatenate(
        [np.zeros(m, np.int8), np.ones(sec_owner.size, np.int8), np.full(ch_owner.size, 2, np.int8)]
    )
    sev = np.bincount(o_inc, weights=CODE_WEIGHT[o_code], minlength=m)
    grade = engine.risk_grades(rng, off, inc, det)

    # ---- programmes
    alive = np.ones(m, bool)
    hidden = np.zeros(m, bool)
    if opts.drive_prompted_disclosures > 0:  # a pool of DA incidents nobody reported (yet)
        hidden = is_da & (rng.random(m) < UNREPORTED_DA_SHARE)
        alive &= ~hidden
    t_from = det["t_from"]
    drive = programmes.run_drive(rng, n, io, is_da, alive, t_rep, sev, opts, t_from)
    fd = programmes.run_focused_deterrence(rng, n, io, is_da, alive, t_rep, drive["chosen"], opts, t_from)
    n_prompted = 0
    if opts.drive_prompted_disclosures > 0:
        n_prompted = programmes.prompt_disclosures(
            rng, io, hidden, alive, t_rep, t_from, drive["selected"], opts.drive_prompted_disclosures
        )

    # ---- planted regression effects (after programmes, so they are exact for everyone)
    keep = alive[o_inc]
    o_inc, o_code, o_kind = o_inc[keep], o_code[keep], o_kind[keep]
    plant = _plant(rng, n, io, is_da, alive, det["nc"], opts)
    o_inc = np.concatenate([o_inc, plant["o_inc"]])
    o_code = np.concatenate([o_code, plant["o_code"]])
    o_kind = np.concatenate([o_kind, plant["o_kind"]])

    tables, (n_midnight, n_unknown_time) = _tables(
        rng,
        chunk_index,
        first_offender,
        off,
        inc,
        det,
        grade,
        o_inc,
        o_code,
        o_kind,
        lsoa_codes,
        counters,
        opts,
    )
    tables["programme_participants"] = _participants(first_offender, [drive["rows"], fd["rows"]])

    pid = np.arange(first_offender, first_offender + n) + 1
    truth = dict(
        person_num=pid,
        prof=prof,
        harm=off["harm"],
        missing=off["missing"],
        n_da_generated=np.bincount(io[alive & is_da], minlength=n),
        n_nda_generated=np.bincount(io[alive & ~is_da], minlength=n),
        indicators=plant["indicators"],
        added_severity=plant["added"],
        effect=plant["effect"],
        has_nda=plant["has_nda"],
        drive_affected=drive["affected"] + first_offender + 1,
        drive_removed=drive["removed"],
        drive_prompted=n_prompted,
        fd_affected=fd["affected"] + first_offender + 1,
        fd_removed=fd["removed"],
        n_same_day=n_same_day,
        n_midnight=n_midnight,
        n_unknown_time=n_unknown_time,
    )
    return tables, truth


def _nth_alive(rng, owners: np.ndarray, candidates: np.ndarray, io: np.ndarray, n: int) -> np.ndarray:
    """For each owner offender, a random incident among ``candidates`` (sorted incident indices) of it;
    -1 where it has none."""
    u = rng.random(owners.size)
    if candidates.size == 0:
        return np.full(owners.size, -1, np.int64)
    cand_off = io[candidates]
    start = np.searchsorted(cand_off, np.arange(n))
    count = np.searchsorted(cand_off, np.arange(n), side="right") - start
    c = count[owners]
    pick = np.minimum(start[owners] + (u * np.maximum(c, 1)).astype(np.int64), candidates.size - 1)
    return np.where(c > 0, candidates[pick], -1)


def _plant(rng, n, io, is_da, alive, nc, opts) -> dict:
    nda_alive = np.flatnonzero(alive & ~is_da)
    has_nda = np.bincount(io[nda_alive], minlength=n) > 0
    terms = [("offence_type", t) for t in TYPES] + [("offence_code", c) for c in CODES]
    indicators = np.zeros((n, len(terms)), bool)
    effect = np.zeros(n)
    add_inc, add_code = [], []
    for j, (kind, term) in enumerate(terms):
        if kind == "offence_type":
            eff, prev, codes = catalogue.PLANTED_TYPES[term]
            mix = (np.array([CI[c] for c in codes]), np.array(list(codes.values())) / sum(codes.values()))
        else:
            eff, prev = catalogue.PLANTED_CODES[term]
            mix = (np.array([CI[term]]), np.array([1.0]))
        ind = has_nda & (rng.random(n) < min(prev * opts.plant_scale, 0.95))
        indicators[:, j] = ind
        owners = np.flatnonzero(ind)
        target = _nth_alive(rng, owners, nda_alive, io, n)
        add_inc.append(target)
        add_code.append(sample_codes(rng, mix, owners.size))
        effect[owners] += eff
    # realise the effects: whole assaults with injury (8N) on existing DA incidents, preferring crimes
    w = CODE_WEIGHT[CI[catalogue.EFFECT_CARRIER_CODE]]
    k = np.floor(effect / w).astype(np.int64) + (rng.random(n) < (effect / w) % 1.0)
    carrier_owner = np.repeat(np.arange(n), k)
    da_crime = np.flatnonzero(alive & is_da & ~nc)
    da_all = np.flatnonzero(alive & is_da)
    target = _nth_alive(rng, carrier_owner, da_crime, io, n)
    fallback = _nth_alive(rng, carrier_owner, da_all, io, n)
    target = np.where(target >= 0, target, fallback)
    added = np.bincount(carrier_owner[target >= 0], minlength=n) * w
    pl_inc = np.concatenate(add_inc + [target])
    pl_code = np.concatenate(add_code + [np.full(target.size, CI[catalogue.EFFECT_CARRIER_CODE])])
    pl_kind = np.concatenate(
        [np.full(sum(a.size for a in add_inc), 3, np.int8), np.full(target.size, 4, np.int8)]
    )
    ok = pl_inc >= 0
    return dict(
        o_inc=pl_inc[ok],
        o_code=pl_code[ok],
        o_kind=pl_kind[ok],
        indicators=indicators,
        effect=effect,
        added=added,
        has_nda=has_nda,
        terms=terms,
    )


_FAMILY = (
    np.array([REL["parent"], REL["sibling"], REL["other family"], REL["child"]]),
    np.array([0.50, 0.20, 0.15, 0.15]),
)


def _victim_slots(rng, off: dict, first_offender: int, counters: Counters) -> dict:
    """DA victims of each offender: partners, ex-partners (serial perpetrators), family; a few are
    themselves offenders in the extract (most of all the Female Victim/Offenders of cluster 16)."""
    n = off["prof"].size
    nv = off["n_vict"]
    owner, pos = seg_index(nv)
    k = owner.size
    cl = P_CLUSTER[off["prof"][owner]]
    first_p = np.array([0.38, 0.30, 0.08, 0.09, 0.04, 0.01, 0.05, 0.05])
    later_p = np.array([0.45, 0.40, 0.05, 0.03, 0.01, 0.01, 0.02, 0.03])
    rel_first = rng.choice(8, size=k, p=first_p)
    rel_later = rng.choice(8, size=k, p=later_p)
    rel = np.where(pos == 0, rel_first, rel_later)
    # clusters 2 and 16: the first victim is often a parent (mother)
    parent_first = (pos == 0) & np.isin(cl, (2, 16)) & (rng.random(k) < 0.45)
    rel = np.where(parent_first, REL["parent"], rel)
    # profiles whose victims are mostly family members (catalogue.FAMILY_VICTIMS)
    family_share = np.array([catalogue.FAMILY_VICTIMS.get(int(c), 0.0) for c in P_CLUSTER])[
        off["prof"][owner]
    ]
    family = rng.random(k) < family_share
    rel = np.where(family, rng.choice(_FAMILY[0], size=k, p=_FAMILY[1]), rel)
    female_off = off["female"][owner]
    intimate = np.isin(rel, INTIMATE)
    vsex = np.where(
        intimate,
        np.where(rng.random(k) < 0.95, ~female_off, female_off),
        np.where(rel == REL["parent"], rng.random(k) < 0.7, rng.random(k) < 0.55),
    ).astype(np.int64)
    # age offset victim - offender (years)
    mu = np.select(
        [intimate, rel == REL["parent"], np.isin(rel, (REL["child"], REL["step-child"]))],
        [np.where(female_off, 2.0, -2.0), 25.0, -24.0],
        0.0,
    )
    sd = np.select(
        [intimate, rel == REL["parent"]], [engine.PARTNER_AGE_GAP_SD, 4.0], engine.OTHER_AGE_GAP_SD
    )
    shift = np.select([cl == 2, cl == 9, cl == 27], [4.0, 5.0, 9.0], 0.0)
    offset = mu + shift + sd * rng.standard_normal(k)
    # some victims are offenders in this chunk: first victims of high-volume male offenders are often the
    # Female Victim/Offenders (cluster 16) or the women of cluster 19; otherwise a small share at random
    prof_all = off["prof"]
    pool_w = np.where(off["female"], 1.0, 0.0) * np.select(
        [P_CLUSTER[prof_all] == 16, P_CLUSTER[prof_all] == 19], [60.0, 8.0], 1.0
    )
    high_vol = np.isin(np.array(engine.P_GROUP)[off["prof"][owner]], ("A", "B"))
    p_off = np.where((pos == 0) & high_vol & ~female_off & intimate, 0.35, engine.VICTIM_IS_OFFENDER_SHARE)
    p_off = np.where(off["separated"][owner], 0.0, p_off)  # separated profiles: nobody is also a victim
    is_off = (rng.random(k) < p_off) & (pool_w.sum() > 0)
    vic_off = np.full(k, -1)
    if is_off.any():
        vic_off[is_off] = rng.choice(n, size=int(is_off.sum()), p=pool_w / pool_w.sum())
        vic_off[vic_off == owner] = -1
    is_off = vic_off >= 0
    new = ~is_off
    num = np.empty(k, np.int64)
    num[is_off] = first_offender + vic_off[is_off] + 1
    num[new] = NEW_PERSON_BASE + counters.person + np.arange(int(new.sum()))
    counters.person += int(new.sum())
    birth_off = off["birth"]
    birth = np.where(
        is_off, birth_off[np.maximum(vic_off, 0)], birth_off[owner] - (offset * 365.25 * DAY).astype(np.int64)
    )
    sex = np.where(is_off, off["female"][np.maximum(vic_off, 0)].astype(np.int64), vsex)
    eth = np.where(is_off, off["eth"][np.maximum(vic_off, 0)], off["eth"][owner])
    start = np.cumsum(nv) - nv
    return dict(start=start, num=num, birth=birth, sex=sex, eth=eth, rel=rel)


def _victimisation_signatures(
    rng, off, first_offender, io, is_da, o_kind, o_code, child, vic_num, vic_birth, vic_sex, vic_eth
) -> None:
    """Members of some profiles made the victim of one offence of another offender of the chunk
    (catalogue.NDA_VICTIMISATION, DA_VICTIMISATION): the main offence of an incident with a person as victim
    and at least the profile's ONS weight, each used once. Changes the victim arrays in place."""
    if off["separated"].any():  # separated profiles: nobody is also a victim
        return
    n = off["prof"].size
    cluster = P_CLUSTER[off["prof"]]
    weight = CODE_WEIGHT[o_code]
    taken = np.zeros(io.size, bool)
    for da_side, table in ((False, catalogue.NDA_VICTIMISATION), (True, catalogue.DA_VICTIMISATION)):
        for c, (share, min_weight) in table.items():
            members = np.flatnonzero((cluster == c) & (rng.random(n) < share))
            candidates = np.flatnonzero(
                (vic_num >= 0) & (is_da == da_side) & (o_kind == 0) & ~child & (weight >= min_weight) & ~taken
            )
            k = min(members.size, candidates.size)
            if k == 0:
                continue
            rows = rng.choice(candidates, size=k, replace=False)
            members = members[:k]
            own = io[rows] == members
            rows, members = rows[~own], members[~own]
            taken[rows] = True
            vic_num[rows] = first_offender + members + 1
            vic_birth[rows] = off["birth"][members]
            vic_sex[rows] = off["female"][members]
            vic_eth[rows] = off["eth"][members]


def _tables(
    rng, chunk_index, first_offender, off, inc, det, grade, o_inc, o_code, o_kind, lsoa_codes, counters, opts
) -> tuple[dict, int]:
    import pyarrow as pa

    io_all, is_da_all = inc["inc_off"], inc["is_da"]
    t_rep_all = inc["t_rep"].copy()
    n = off["prof"].size
    # birth dates: from the age at the first DA incident
    first_da = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_da, io_all[is_da_all], t_rep_all[is_da_all])
    off["birth"] = first_da - (off["age_first"] * 365.25 * DAY).astype(np.int64)
    slots = _victim_slots(rng, off, first_offender, counters)

    # order offences: incident report time, offender, incident, kind
    order = np.lexsort((o_kind, o_inc, t_rep_all[o_inc], io_all[o_inc]))
    o_inc, o_code, o_kind = o_inc[order], o_code[order], o_kind[order]
    r = o_inc.size
    io = io_all[o_inc]
    is_da = is_da_all[o_inc]
    nc_code = CODE_NONCRIME[o_code]
    t_from = det["t_from"][o_inc].copy()
    t_to = np.where(o_kind == 0, det["t_to"][o_inc], -1)

    # edge case: offences either side of midnight reported together (the platform makes two incidents)
    first_of_inc = np.concatenate([[True], o_inc[1:] != o_inc[:-1]])
    multi = first_of_inc & np.concatenate([o_inc[1:] == o_inc[:-1], [False]]) & is_da & ~nc_code
    cand = np.flatnonzero(multi & (t_to < 0))
    n_mid = int(round(opts.edge_share * cand.size * 2)) if cand.size else 0
    mid_rows = np.sort(rng.choice(cand, size=min(n_mid, cand.size), replace=False)) if n_mid else cand[:0]
    if mid_rows.size:
        day0 = (t_from[mid_rows] - engine.WINDOW_START) // DAY
        before = engine.WINDOW_START + day0 * DAY + 23 * 3600 + rng.integers(1800, 3540, mid_rows.size)
        after = engine.WINDOW_START + (day0 + 1) * DAY + rng.integers(60, 1800, mid_rows.size)
        t_from[mid_rows] = before
        t_to[mid_rows] = -1
        nxt = mid_rows + 1
        t_from[nxt] = after
        t_to[nxt] = -1
        incs = o_inc[mid_rows]
        new_rep = np.maximum(t_rep_all[incs], after + rng.integers(600, 7200, incs.size))
        t_rep_all[incs] = np.minimum(new_rep, engine.WINDOW_END)
        # other offences of the same incident stay with the second offence's date
        after_of = np.full(io_all.size, -1, np.int64)
        after_of[incs] = after
        later = (after_of[o_inc] >= 0) & ~first_of_inc
        t_from[later] = after_of[o_inc[later]]
    t_rep = t_rep_all[o_inc]
    t_from = np.minimum(t_from, t_rep)
    # unknown time of day: the force records the date with the clock time 00:00:00 (whole incidents; not
    # the midnight edge cases, whose offences straddle midnight)
    unknown_share = (
        0.0 if opts.separated_profiles else opts.unknown_time_share
    )  # the fixture: every time known
    unknown = rng.random(io_all.size) < unknown_share
    unknown[o_inc[mid_rows]] = False
    unknown_rows = unknown[o_inc]
    t_from = np.where(
        unknown_rows, engine.WINDOW_START + ((t_from - engine.WINDOW_START) // DAY) * DAY, t_from
    )
    n_unknown_time = int(np.unique(o_inc[unknown_rows]).size)
    t_to = np.where((t_to >= 0) & (t_to < t_from), t_from, t_to)

    # DA label: a small share of DA incidents carry only a partner-on-partner marker, no DA flag
    slot_idx = np.where(is_da, slots["start"][io] + np.maximum(det["slot"][o_inc], 0), -1)
    rel_da = np.where(is_da, slots["rel"][np.maximum(slot_idx, 0)], -1)
    inc_marker_only = rng.random(io_all.size) < 0.025
    marker_only = is_da & inc_marker_only[o_inc] & np.isin(rel_da, INTIMATE) & (o_kind != 4)
    da_flag = is_da & ~marker_only

    # crime numbers
    crime_nums = counters.crime + np.arange(r) + 1
    counters.crime += r
    crime_number = np.array(_ids("CR", crime_nums, 10), dtype=object)

    # victims of each offence
    vic_num = np.full(r, -1, np.int64)
    vic_birth = np.zeros(r, np.int64)
    vic_sex = np.zeros(r, np.int64)
    vic_eth = np.full(r, -1, np.int64)
    rel = np.full(r, -1, np.int64)
    da_adult = is_da & (o_kind != 2)
    s = slot_idx[da_adult]
    vic_num[da_adult] = slots["num"][s]
    vic_birth[da_adult] = slots["birth"][s]
    vic_sex[da_adult] = slots["sex"][s]
    vic_eth[da_adult] = slots["eth"][s]
    rel[da_adult] = slots["rel"][s]
    # children (DA child victims, non-DA child abuse): a new child each time
    child = (is_da & (o_kind == 2)) | (~is_da & CHILD_CODES[o_code])
    nd_vic = ~is_da & ~VICTIMLESS[o_code] & ~child
    new_people = child | nd_vic
    k_new = int(new_people.sum())
    vic_num[new_people] = NEW_PERSON_BASE + counters.person + np.arange(k_new)
    counters.person += k_new
    c_idx = np.flatnonzero(child)
    age_child = rng.uniform(1, 15.9, c_idx.size)
    vic_birth[c_idx] = t_from[c_idx] - (age_child * 365.25 * DAY).astype(np.int64)
    vic_sex[c_idx] = rng.random(c_idx.size) < 0.5
    vic_eth[c_idx] = off["eth"][io[c_idx]]
    rel[c_idx] = np.where(
        rng.random(c_idx.size) < 0.75,
        REL["child"],
        np.where(rng.random(c_idx.size) < 0.5, REL["step-child"], REL["other family"]),
    )
    nd_idx = np.flatnonzero(nd_vic)
    vic_birth[nd_idx] = t_from[nd_idx] - (rng.uniform(16, 75, nd_idx.size) * 365.25 * DAY).astype(np.int64)
    vic_sex[nd_idx] = rng.random(nd_idx.size) < 0.45
    vic_eth[nd_idx] = rng.choice(5, size=nd_idx.size, p=[0.66, 0.23, 0.06, 0.03, 0.02])
    rel[nd_idx] = rng.choice(
        [REL["stranger"], REL["acquaintance"], REL["friend"], REL["unknown"]],
        size=nd_idx.size,
        p=[0.45, 0.35, 0.1, 0.1],
    )
    # non-DA victimisation of other offenders in the extract ("victimisation of offenders")
    # (the victim-offender overlap is among the offenders active in non-DA crime: a victim is drawn with
    # weight equal to their own number of non-DA incidents)
    share_other = 0.0 if off["separated"].any() else 0.10  # separated profiles: no overlap
    other = nd_idx[rng.random(nd_idx.size) < share_other]
    active = off["n_nda"].astype(float)
    if other.size and active.sum() > 0:
        who = rng.choice(n, size=other.size, p=active / active.sum())
        okw = who != io[other]
        other, who = other[okw], who[okw]
        vic_num[other] = first_offender + who + 1
        vic_birth[other] = off["birth"][who]
        vic_sex[other] = off["female"][who]
        vic_eth[other] = off["eth"][who]

    _victimisation_signatures(
        rng, off, first_offender, io, is_da, o_kind, o_code, child, vic_num, vic_birth, vic_sex, vic_eth
    )

    # areas
    area = det["area"][o_inc]
    away = det["away"][o_inc]
    n_lsoa = lsoa_codes.size
    area = np.where(away, rng.integers(0, n_lsoa, r), area)
    lsoa_null = rng.random(r) < 0.02

    # risk grade on DA records, outcome codes on crimes
    risk = np.where(is_da, grade[o_inc], -1)
    outcome_vals = np.array([16, 15, 1, 8, 4, 14, 10, 21, 20, 9, 17, 18, -1])
    outcome_p = np.array([0.40, 0.15, 0.12, 0.04, 0.03, 0.04, 0.03, 0.02, 0.02, 0.02, 0.01, 0.02, 0.10])
    nda_vals = np.array([1, 8, 4, 6, 16, 15, 18, 14, 10, 20, -1])
    nda_p = np.array([0.30, 0.10, 0.08, 0.05, 0.10, 0.07, 0.10, 0.05, 0.03, 0.02, 0.10])
    outcome = np.where(
        is_da,
        outcome_vals[rng.choice(outcome_vals.size, r, p=outcome_p / outcome_p.sum())],
        nda_vals[rng.choice(nda_vals.size, r, p=nda_p / nda_p.sum())],
    )
    outcome = np.where((o_code == CI["92E"]) & (rng.random(r) < 0.3), 7, outcome)
    outcome = np.where(nc_code, -1, outcome)
    outcome = np.where((t_rep < OUTCOMES_2014) & (outcome >= 10), -1, outcome)

    # ---- crimes
    ts = lambda a: pa.array(a, pa.int64()).cast(pa.timestamp("s"))  # noqa: E731
    to_null = t_to < 0
    crimes = {
        "crime_number": pa.array(crime_number, pa.string()),
        "record_type": pa.array(np.where(nc_code, "non-crime", "crime").astype(object), pa.string()),
        "offence_code": pa.array(np.array(catalogue.OFFENCE_CODES, object)[o_code], pa.string()),
        "da_flag": pa.array(da_flag, pa.bool_()),
        "reported_at": ts(t_rep),
        "committed_from": ts(t_from),
        "committed_to": pa.array(np.where(to_null, 0, t_to), pa.int64(), mask=to_null).cast(
            pa.timestamp("s")
        ),
        "lsoa_code": pa.array(lsoa_codes[area].astype(object), pa.string(), mask=lsoa_null),
        "risk_level": pa.array(np.array(RISK + [None], object)[risk], pa.string()),
        "outcome_code": pa.array(np.where(outcome < 0, 0, outcome), pa.int64(), mask=outcome < 0),
    }

    # ---- offenders (one suspect per crime number)
    person_num = first_offender + io + 1
    off_age = np.floor((t_from - off["birth"][io]) / (365.25 * DAY)).astype(np.int64)
    off_age_null = off["missing"][io] == 1
    eth_names = np.array(ETHNICITIES + [None], object)
    offenders = {
        "crime_number": pa.array(crime_number, pa.string()),
        "person_id": pa.array(_ids("P", person_num, 9), pa.string()),
        "age": pa.array(np.clip(off_age, 10, 99), pa.int64(), mask=off_age_null),
        "sex": pa.array(np.where(off["female"][io], "female", "male").astype(object), pa.string()),
        "ethnicity": pa.array(eth_names[off["eth"][io]], pa.string()),
    }

    # ---- victims and relationships
    v = np.flatnonzero(vic_num >= 0)
    v_age = np.floor((t_from[v] - vic_birth[v]) / (365.25 * DAY)).astype(np.int64)
    v_age_null = (off["missing"][io[v]] == 2) & is_da[v]
    victims = {
        "crime_number": pa.array(crime_number[v], pa.string()),
        "person_id": pa.array(_ids("P", vic_num[v], 9), pa.string()),
        "age": pa.array(np.clip(v_age, 0, 105), pa.int64(), mask=v_age_null),
        "sex": pa.array(np.array(SEXES, object)[vic_sex[v]], pa.string()),
        "ethnicity": pa.array(eth_names[vic_eth[v]], pa.string()),
    }
    victim_ids = victims["person_id"]
    relationships = {
        "crime_number": victims["crime_number"],
        "victim_person_id": victim_ids,
        "offender_person_id": pa.array(_ids("P", person_num[v], 9), pa.string()),
        "witness_person_id": pa.nulls(v.size, pa.string()),
        "relationship": pa.array(np.array(RELATIONSHIPS, object)[rel[v]], pa.string()),
    }

    # ---- witnesses (DA crime records from 2016, as in the WMP data)
    main_da_crime = is_da & (o_kind == 0) & ~nc_code & (vic_num >= 0)
    w = np.flatnonzero(main_da_crime & (t_rep >= WITNESS_START) & (rng.random(r) < 0.12))
    w_num = NEW_PERSON_BASE + counters.person + np.arange(w.size)
    counters.person += w.size
    w_age = rng.integers(8, 70, w.size)
    w_rel = rng.choice(
        [REL["friend"], REL["other family"], REL["child"], REL["acquaintance"]],
        size=w.size,
        p=[0.3, 0.3, 0.2, 0.2],
    )
    w_age = np.where(w_rel == REL["child"], rng.integers(8, 16, w.size), w_age)
    witnesses = {
        "crime_number": pa.array(crime_number[w], pa.string()),
        "person_id": pa.array(_ids("P", w_num, 9), pa.string()),
        "age": pa.array(w_age, pa.int64()),
        "sex": pa.array(np.where(rng.random(w.size) < 0.55, "female", "male").astype(object), pa.string()),
        "ethnicity": pa.array(eth_names[off["eth"][io[w]]], pa.string()),
    }
    w_rel_rows = {
        "crime_number": witnesses["crime_number"],
        "victim_person_id": pa.array(_ids("P", vic_num[w], 9), pa.string()),
        "offender_person_id": pa.nulls(w.size, pa.string()),
        "witness_person_id": witnesses["person_id"],
        "relationship": pa.array(np.array(RELATIONSHIPS, object)[w_rel], pa.string()),
    }
    relationships = {k: pa.concat_arrays([relationships[k], w_rel_rows[k]]) for k in relationships}

    # ---- custody (DA crimes from 2016)
    c = np.flatnonzero(is_da & (o_kind == 0) & ~nc_code & (t_rep >= WITNESS_START) & (rng.random(r) < 0.40))
    clear = np.array(["charged", "released under investigation", "bailed", "no further action"], object)
    custody = {
        "crime_number": pa.array(crime_number[c], pa.string()),
        "person_id": pa.array(_ids("P", person_num[c], 9), pa.string()),
        "arrested_at": ts(
            np.minimum(t_rep[c] + rng.exponential(6 * 3600, c.size).astype(np.int64), engine.WINDOW_END)
        ),
        "arrest_reason": pa.array(
            np.where(
                np.isin(o_code[c], [CI["L-BRO"], CI["L-BNMO"]]), "breach of order", "domestic abuse offence"
            ).astype(object),
            pa.string(),
        ),
        "clearup": pa.array(clear[rng.choice(4, c.size, p=[0.25, 0.30, 0.20, 0.25])], pa.string()),
    }

    # ---- child flags on DA records (main offence of the incident)
    f = np.flatnonzero(is_da & (o_kind == 0))
    present = rng.random(f.size) < 0.25
    count = np.where(present, rng.integers(1, 4, f.size), 0)
    unknown = rng.random(f.size) < 0.05
    child_flags = {
        "crime_number": pa.array(crime_number[f], pa.string()),
        "children_present": pa.array(present, pa.bool_()),
        "children_count": pa.array(count, pa.int64(), mask=unknown),
    }

    # ---- special interest markers
    mk_rows, mk_vals = [], []
    main_rows = np.flatnonzero(o_kind == 0)
    mo = np.flatnonzero(marker_only)  # every record of the incident carries the marker
    mk_rows.append(mo)
    mk_vals.append(np.full(mo.size, "partner-on-partner", object))
    pop = main_rows[
        is_da[main_rows]
        & ~marker_only[main_rows]
        & np.isin(rel_da[main_rows], INTIMATE)
        & (rng.random(main_rows.size) < 0.30)
    ]
    mk_rows.append(pop)
    mk_vals.append(np.full(pop.size, "partner-on-partner", object))
    dvpo = np.flatnonzero(o_code == CI["NC-DVPO"])
    mk_rows.append(dvpo)
    mk_vals.append(np.full(dvpo.size, "domestic violence protection order", object))
    u = rng.random(main_rows.size)
    for lo, hi, name in (
        (0.0, 0.003, "honour-based abuse"),
        (0.003, 0.0035, "forced marriage"),
        (0.0035, 0.0036, "female genital mutilation"),
    ):
        sel = main_rows[is_da[main_rows] & (u >= lo) & (u < hi)]
        mk_rows.append(sel)
        mk_vals.append(np.full(sel.size, name, object))
    # substance markers on the main offence, at the offender's (DA) or profile's (non-DA) rate
    p_sub = np.where(is_da, off["p_sub"][io], engine.P_SUB_NDA[off["prof"][io]])
    p_sub = np.where(CODE_SUBSTANCE[o_code], p_sub * 0.3, p_sub)
    sub = main_rows[rng.random(main_rows.size) < p_sub[main_rows]]
    kind = rng.choice(3, size=sub.size, p=[0.70, 0.28, 0.02])
    mk_rows.append(sub)
    mk_vals.append(np.array(catalogue.SUBSTANCE_MARKERS, object)[kind])
    oth = main_rows[rng.random(main_rows.size) < 0.05]
    mk_rows.append(oth)
    mk_vals.append(np.array(catalogue.OTHER_MARKERS, object)[rng.integers(0, 4, oth.size)])
    mrows = np.concatenate(mk_rows)
    mvals = np.concatenate(mk_vals)
    morder = np.argsort(mrows, kind="stable")
    markers = {
        "crime_number": pa.array(crime_number[mrows[morder]], pa.string()),
        "marker": pa.array(mvals[morder], pa.string()),
    }
    tables = dict(
        crimes=crimes,
        offenders=offenders,
        victims=victims,
        witnesses=witnesses,
        relationships=relationships,
        custody=custody,
        child_flags=child_flags,
        special_interest_markers=markers,
    )
    return {k: pa.table(v) for k, v in tables.items()}, (int(mid_rows.size), n_unknown_time)


def _participants(first_offender: int, parts: list[dict]):
    import pyarrow as pa

    cols = {
        k: []
        for k in (
            "person_id",
            "programme",
            "cohort",
            "arm",
            "referred_on",
            "selected_on",
            "disruption_started_on",
            "full_engagement_on",
            "completed_on",
            "exited_on",
            "exit_reason",
        )
    }

    def dates(a):
        a = np.asarray(a, np.int64)
        return pa.array(np.where(a < 0, 0, a), pa.int32(), mask=a < 0).cast(pa.date32())

    tables = []
    for p in parts:
        k = p["person"].size
        tables.append(
            pa.table(
                {
                    "person_id": pa.array(_ids("P", first_offender + p["person"] + 1, 9), pa.string()),
                    "programme": pa.array([p["programme"]] * k, pa.string()),
                    "cohort": pa.array(list(p["cohort"]), pa.string()),
                    "arm": pa.array(list(p["arm"]), pa.string()),
                    "referred_on": dates(p["referred"]),
                    "selected_on": dates(p["selected"]),
                    "disruption_started_on": dates(p["disruption"]),
                    "full_engagement_on": dates(p["full"]),
                    "completed_on": dates(p["completed"]),
                    "exited_on": dates(p["exited"]),
                    "exit_reason": pa.array(list(p["reason"]), pa.string()),
                }
            )
        )
    del cols
    return pa.concat_tables(tables)
