"""The generative story, one chunk of offenders at a time (vectorised with numpy).

Order of events inside a chunk (each chunk has its own random stream, spawned from the run's seed):
 1. offenders: latent profile, sex, ethnicity, latent harm, home area, propensities (non-crime,
    substances), counts of DA and non-DA incidents, number of DA victims;
 2. time: a career window and bursty "spells" of activity; every incident gets a reported time;
 3. incidents: DA / non-DA offence codes, multi-offence incidents, victims and relationships, areas,
    substance and DA markers, durations (retrospective reports for clusters 21, 23, 27);
 4. DA risk grades from latent harm and incident severity;
 5. programmes (synth/programmes.py): selection on observed history, thinning of later DA incidents;
 6. planted regression effects (synth/plant.py);
 7. expansion into offence rows and the contract's tables (synth/tables.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synth import catalogue

DAY = 86_400
EPOCH = np.datetime64("1970-01-01T00:00:00", "s")
WINDOW_START = int((np.datetime64("2011-01-01T00:00:00", "s") - EPOCH).astype(np.int64))
WINDOW_END = int((np.datetime64("2020-12-31T23:59:59", "s") - EPOCH).astype(np.int64))
WINDOW_DAYS = (WINDOW_END - WINDOW_START) / DAY
CCB_START = int((np.datetime64("2015-12-29T00:00:00", "s") - EPOCH).astype(np.int64))
OUTCOMES_2014 = int((np.datetime64("2014-04-01T00:00:00", "s") - EPOCH).astype(np.int64))
WITNESS_START = int((np.datetime64("2016-01-01T00:00:00", "s") - EPOCH).astype(np.int64))

RELATIONSHIPS = [
    "partner",
    "ex-partner",
    "spouse",
    "parent",
    "child",
    "step-child",
    "sibling",
    "other family",
    "friend",
    "acquaintance",
    "stranger",
    "unknown",
]
REL = {name: i for i, name in enumerate(RELATIONSHIPS)}
INTIMATE = np.array([REL["partner"], REL["ex-partner"], REL["spouse"]])
ETHNICITIES = ["White", "Asian", "Black", "Mixed", "Other"]
SEXES = ["male", "female", "unknown"]
RISK = ["standard", "medium", "high"]

# Offender code -> arrays used in vectorised lookups
_ROWS = catalogue.offence_rows()
CODE_WEIGHT = np.array([r["ons_css_weight"] for r in _ROWS])
CODE_NONCRIME = np.array([r["offence_group"] == "non-crime" for r in _ROWS])
CODE_SUBSTANCE = np.array([r["substance_related"] for r in _ROWS])
CODE_TYPE = [r["offence_type"] for r in _ROWS]
CI = catalogue.CODE_INDEX
VICTIMLESS = np.zeros(len(_ROWS), bool)
VICTIMLESS[[CI[c] for c in catalogue.NDA_VICTIMLESS]] = True
CHILD_CODES = np.zeros(len(_ROWS), bool)
CHILD_CODES[[CI[c] for c in ("11A", "NC-CHA", "19E", "20B", "21", "22B", "19H", "17B", "19D", "19G")]] = True

PROFILES = catalogue.profile_rows()
N_PROFILES = len(PROFILES)


def _mix(mapping: dict) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([CI[c] for c in mapping])
    p = np.array(list(mapping.values()), float)
    return codes, p / p.sum()


DA_NC = _mix(catalogue.DA_NON_CRIME_MIX)
DA_CRIME = {k: _mix(v) for k, v in catalogue.DA_CRIME_MIX.items()}
DA_SECOND = _mix(catalogue.DA_SECONDARY_MIX)
DA_SERIOUS = _mix(catalogue.DA_SERIOUS_MIX)
DA_CHILD = _mix(catalogue.DA_CHILD_MIX)
DA_GRAVEST = _mix({"19C": 0.6, "5D": 0.3, "2": 0.05, "1": 0.05})
NDA = {k: _mix(v) for k, v in catalogue.NDA_MIX.items()}
DA_MIX_NAMES = list(DA_CRIME)
NDA_MIX_NAMES = list(NDA)


def _param(name: str) -> np.ndarray:
    return np.array([p[name] for p in PROFILES], dtype=float)


P_MED_DA, P_S_DA, P_P_NDA = _param("med_da"), _param("s_da"), _param("p_nda")
P_MED_NDA, P_S_NDA, P_MED_VICT = _param("med_nda"), _param("s_nda"), _param("med_vict")
P_NC, P_SUB_DA, P_SUB_NDA = _param("nc_share"), _param("subst_da"), _param("subst_nda")
P_AGE, P_FEMALE, P_IMD = _param("age_first_da"), _param("female"), _param("imd_mean")
P_SPAN, P_HARM = _param("span_years"), _param("harm")
P_SIZE = np.array([p["n"] for p in PROFILES], float)
P_CLUSTER = np.array([p["cluster"] for p in PROFILES])
P_DA_MIX = np.array([DA_MIX_NAMES.index(p["da_mix"]) for p in PROFILES])
P_NDA_MIX = np.array([NDA_MIX_NAMES.index(p["nda_mix"]) for p in PROFILES])
P_GROUP = [p["group"] for p in PROFILES]


def sample_codes(rng, mix, n: int) -> np.ndarray:
    codes, p = mix
    return codes[rng.choice(len(codes), size=n, p=p)]


def sample_mixed(rng, mixes: list, which: np.ndarray) -> np.ndarray:
    """Draw one code per element from the mixture named by ``which`` (an index into ``mixes``)."""
    out = np.empty(len(which), np.int64)
    for k, mix in enumerate(mixes):
        sel = np.flatnonzero(which == k)
        if sel.size:
            out[sel] = sample_codes(rng, mix, sel.size)
    return out


def lognormal_count(rng, median: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return np.maximum(1, np.round(median * np.exp(sigma * rng.standard_normal(len(median))))).astype(np.int64)


def da_counts(rng, prof: np.ndarray, spread: float) -> np.ndarray:
    """DA incidents over the ten years. Low-volume profiles (median 1 or 2) almost never reach 3; the
    high-volume profiles (median >= 3) start at 3 and have a long lognormal tail (seed 000: 84% of
    offenders have fewer than 3 DA incidents, three fifths exactly one, 2.67 per offender on average)."""
    n = prof.size
    med = P_MED_DA[prof]
    u = rng.random(n)
    low1 = np.where(u < 0.88, 1, np.where(u < 0.995, 2, 3))
    low2 = np.where(u < 0.20, 1, np.where(u < 0.96, 2, 3))
    if spread < 1.0:  # separated profiles: the median, nearly always
        low1 = np.where(u < 0.97, 1, 2)
        low2 = np.where(u < 0.97, 2, 1)
    high = np.minimum(
        DA_CAP,
        np.maximum(
            3, np.round(med * np.exp(P_S_DA[prof] * HIGH_VOLUME_SPREAD * spread * rng.standard_normal(n)))
        ),
    )
    return np.where(med >= 3, high, np.where(med >= 2, low2, low1)).astype(np.int64)


def seg_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of the given lengths: the owning segment of each element and its position within."""
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(owner.size) - starts[owner]
    return owner, pos


@dataclass
class Options:
    separated_profiles: bool = False
    drive_effect: float = -0.30
    drive_anchor: str = "selected"
    drive_share: float = 0.05
    drive_dates: tuple = ("2016-04-01", "2016-10-01", "2017-04-01", "2017-10-01", "2018-04-01", "2018-10-01")
    # Programme-prompted historic disclosures: with a value p > 0, a share (UNREPORTED_DA_SHARE) of DA
    # incidents is never reported, except that each such incident of a DRIVE participant committed in the
    # three years before selection is disclosed with probability p within six months of selection.
    drive_prompted_disclosures: float = 0.0
    fd_effect: float = -0.16
    fd_dates: tuple = ("2018-03-01", "2019-03-01")
    fd_share: float = 0.01
    plant_scale: float = 1.0
    edge_share: float = 0.01
    unknown_time_share: float = 0.06


@dataclass
class Chunk:
    """All arrays of one chunk. Offender-level arrays have length n; incident-level arrays length m."""

    index: int
    first_offender: int
    n: int
    arrays: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.__dict__["arrays"][name]
        except KeyError as error:
            raise AttributeError(name) from error


# ---------------------------------------------------------------------------------------------------


def simulate_offenders(rng, n: int, opts: Options, lsoa_sorted_scores: np.ndarray) -> dict:
    if opts.separated_profiles:
        allowed = np.array([list(P_CLUSTER).index(c) for c in catalogue.SEPARATED_PROFILES])
        prof = allowed[rng.integers(0, len(allowed), n)]
        spread = 0.25
    else:
        prof = rng.choice(N_PROFILES, size=n, p=P_SIZE / P_SIZE.sum())
        spread = 1.0
    female = rng.random(n) < P_FEMALE[prof]
    harm = P_HARM[prof] + HARM_SD * spread * rng.standard_normal(n)
    age_first = np.clip(P_AGE[prof] + AGE_SD * spread * rng.standard_normal(n), 15, 85)

    n_da = da_counts(rng, prof, spread)
    has_nda = rng.random(n) < P_P_NDA[prof]
    if opts.separated_profiles:  # every member of a profile has non-DA history, or none has
        has_nda = P_P_NDA[prof] >= 0.5
    n_nda = np.where(has_nda, lognormal_count(rng, P_MED_NDA[prof], P_S_NDA[prof] * spread), 0)
    n_vict = np.minimum(lognormal_count(rng, P_MED_VICT[prof], np.full(n, 0.35 * spread)), n_da)

    # Heterogeneous propensities around the profile's shares (beta with concentration 4).
    conc = 4.0 if not opts.separated_profiles else 40.0
    p_nc = rng.beta(np.maximum(P_NC[prof] * conc, 0.05), np.maximum((1 - P_NC[prof]) * conc, 0.05))
    if opts.separated_profiles:  # Catastrophic Offenders: crimes only
        p_nc = np.where(P_CLUSTER[prof] == 24, 0.0, p_nc)
    p_sub = rng.beta(np.maximum(P_SUB_DA[prof] * 3, 0.05), np.maximum((1 - P_SUB_DA[prof]) * 3, 0.05))

    # Ethnicity is descriptive only (never a clustering variable): 23% Asian overall, 45% in cluster 23.
    eth_p = np.array([0.66, 0.23, 0.06, 0.03, 0.02])
    eth = rng.choice(5, size=n, p=eth_p)
    c23 = P_CLUSTER[prof] == 23
    eth[c23] = rng.choice(5, size=int(c23.sum()), p=[0.45, 0.45, 0.05, 0.03, 0.02])
    eth = np.where(rng.random(n) < 0.04, -1, eth)

    # Home area: the LSOA whose deprivation is nearest a draw around the profile's mean IMD score.
    target = P_IMD[prof] * np.exp((IMD_SIGMA * spread) * rng.standard_normal(n))
    home = _lsoa_near(rng, lsoa_sorted_scores, target)

    # 5.3% (7,731 of 145,392) are dropped for a missing own age or missing victims' ages: kept, age NULL.
    # 3.0% have no recorded own age; 3.4% no recorded age of their DA victims, of whom about a third can
    # still be compared with a non-DA victim's age (so about 2.3% are dropped for it).
    u = rng.random(n)
    missing = np.where(u < 0.030, 1, np.where(u < 0.064, 2, 0))  # 1 own age, 2 victims' ages

    # Person-level habits that vary within a profile: how often one offends away from home, and how far
    # from the profile's offence mix one's DA crimes stray (incident-level draws in simulate_incidents).
    p_away = _beta_around(rng, np.full(n, DA_AWAY_SHARE), AWAY_CONCENTRATION)
    p_other_mix = _beta_around(rng, np.full(n, OTHER_MIX_SHARE), OTHER_MIX_CONCENTRATION)
    if opts.separated_profiles:
        p_away, p_other_mix = np.full(n, DA_AWAY_SHARE), np.zeros(n)
    return dict(
        separated=np.full(n, opts.separated_profiles),
        prof=prof,
        female=female,
        harm=harm,
        age_first=age_first,
        n_da=n_da,
        n_nda=n_nda,
        n_vict=n_vict,
        p_nc=p_nc,
        p_sub=p_sub,
        eth=eth,
        home=home,
        missing=missing,
        p_away=p_away,
        p_other_mix=p_other_mix,
        lsoa_sorted_scores=lsoa_sorted_scores,
    )


def _beta_around(rng, mean: np.ndarray, concentration: float | None) -> np.ndarray:
    """Beta draws with the given means and concentration; the means themselves without a concentration
    (``None``) or with a mean of 0."""
    if concentration is None:
        return mean.astype(float)
    a = np.maximum(mean * concentration, 1e-9)
    b = np.maximum((1 - mean) * concentration, 1e-9)
    return np.where(mean > 0, rng.beta(a, b), 0.0)


def _lsoa_near(rng, sorted_scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Index (into the score-sorted LSOA list) of an area near the target score, with jitter."""
    pos = np.searchsorted(sorted_scores, target)
    pos = pos + rng.integers(-LSOA_JITTER, LSOA_JITTER + 1, size=len(target))
    return np.clip(pos, 0, len(sorted_scores) - 1)


# Within-profile spread of latent harm, of the age at the first DA incident (years) and of the deprivation of
# the home area (lognormal sigma around the profile's mean IMD score).
HARM_SD = 0.8
AGE_SD = 4.5
IMD_SIGMA = 0.12
LSOA_JITTER = 10
# Spread (years) of the victim's age about the offender's for an intimate partner and for a victim who is
# neither a partner nor a parent (a parent is 25 +- 4 years older).
# Share of DA victims (other than the first victims of high-volume men) who are themselves offenders in the
# extract (counter-allegations, mutual abuse), drawn from the women of the chunk.
VICTIM_IS_OFFENDER_SHARE = 0.03
PARTNER_AGE_GAP_SD = 5.0
OTHER_AGE_GAP_SD = 8.0

# Within-person variation at incident level. Each incident happens in an area of its own: away from home
# with the offender's propensity (a beta draw around DA_AWAY_SHARE; the non-DA share is NDA_AWAY_SHARE
# for everyone), otherwise in an area whose deprivation is a lognormal draw (sigma INCIDENT_IMD_SIGMA)
# around the home area's (an estate, a neighbour's, a relative's). A share of each offender's DA crimes
# (a beta draw around OTHER_MIX_SHARE) comes from another profile's offence mix: the offences of one
# person vary more than the profile's means say.
DA_AWAY_SHARE = 0.20
NDA_AWAY_SHARE = 0.55
AWAY_CONCENTRATION: float | None = None
INCIDENT_IMD_SIGMA = 0.0
OTHER_MIX_SHARE = 0.0
OTHER_MIX_CONCENTRATION: float | None = None
# A share of incidents recorded as a window of days rather than a moment (the start unknown within it):
# lognormal length with this median (days) and sigma, at most three years.
RANGE_SHARE = 0.0
RANGE_MEDIAN_DAYS = 7.0
RANGE_SIGMA = 1.5

# Activity spells: 1 + Binomial(n - 1, SPELL_P) per offender; incidents spread uniformly over +-half-width
# (days, gamma distributed) around each spell's centre.
SPELL_P = 0.05
SPELL_SHAPE = 2.0
SPELL_SCALE = 150.0
# prolific offenders (>= SPELL_MANY_N incidents) spread their offending over more, separate spells
SPELL_MANY_N = 8
SPELL_P_MANY = 0.05
# serious escalation of a DA crime: logistic in latent harm
SERIOUS_A = 4.5
SERIOUS_B = 1.4
HIGH_VOLUME_SPREAD = 1.0
DA_CAP = 60
# noise in the latent DA risk score (larger = grades less tied to harm)
RISK_NOISE = 1.2
# DA reporting delays: shares reported within hours, days to weeks, months, and historic disclosures
# (uniform between HISTORIC_DISCLOSURE_YEARS after the abuse)
REPORT_DELAY_DA = (0.80, 0.13, 0.05, 0.02)
HISTORIC_DISCLOSURE_YEARS = (0.5, 3.0)


def simulate_times(rng, off: dict, opts: Options) -> dict:
    """Careers with bursty spells. Returns the incident table skeleton (offender, DA?, reported time)."""
    n = len(off["prof"])
    n_da, n_nda = off["n_da"], off["n_nda"]
    n_tot = n_da + n_nda
    prof = off["prof"]
    span_years = np.minimum(P_SPAN[prof] * np.exp(0.5 * rng.standard_normal(n)), 9.8)
    span = np.where(n_tot > 1, span_years * 365.25, 0.0)
    start = rng.random(n) * (WINDOW_DAYS - span)
    # spells: 1 + Binomial(n-1, 0.3) hot spells per offender, each a centre in the career
    n_spell = 1 + rng.binomial(
        np.maximum(n_tot - 1, 0), np.where(n_tot >= SPELL_MANY_N, SPELL_P_MANY, SPELL_P)
    )
    sp_owner, _ = seg_index(n_spell)
    sp_centre = start[sp_owner] + rng.random(sp_owner.size) * span[sp_owner]
    sp_half = rng.gamma(SPELL_SHAPE, SPELL_SCALE, sp_owner.size)
    sp_first = np.cumsum(n_spell) - n_spell

    inc_off, inc_pos = seg_index(n_tot)
    m = inc_off.size
    is_da = inc_pos < n_da[inc_off]
    spell = sp_first[inc_off] + (rng.random(m) * n_spell[inc_off]).astype(np.int64)
    jitter = (2.0 * rng.random(m) - 1.0) * sp_half[spell]
    day = np.clip(sp_centre[spell] + jitter, 0.0, WINDOW_DAYS - 1.0)
    day = np.floor(day)
    # time of day: DA peaks in the evening and at night; non-DA in the afternoon
    da_hours = np.array(
        [5, 4, 3, 2, 1.5, 1, 1, 1.2, 1.5, 2, 2.5, 3, 3.5, 3.5, 3.5, 4, 4.5, 5.5, 6.5, 7, 7.5, 7.5, 7, 6],
        float,
    )
    nda_hours = np.array(
        [
            2,
            1.5,
            1,
            0.8,
            0.6,
            0.5,
            0.7,
            1.2,
            2,
            3,
            4,
            5,
            5.5,
            5.5,
            5.5,
            5.5,
            5.5,
            5,
            4.5,
            4,
            3.5,
            3,
            2.5,
            2.2,
        ],
        float,
    )
    hour = np.where(
        is_da,
        rng.choice(24, m, p=da_hours / da_hours.sum()),
        rng.choice(24, m, p=nda_hours / nda_hours.sum()),
    )
    cl_inc = P_CLUSTER[prof[inc_off]]
    for c, (first_hour, width, share) in catalogue.HOUR_WINDOWS.items():
        sel = (cl_inc == c) & is_da & (rng.random(m) < share)
        hour = np.where(sel, (first_hour + rng.integers(0, width, m)) % 24, hour)
    if off["separated"].any():  # separated profiles: each profile offends around its own hour of the day
        peak = {c: h for c, h in zip(catalogue.SEPARATED_PROFILES, (10, 16, 22, 4), strict=False)}
        peaks = np.array([peak.get(int(c), 12) for c in P_CLUSTER])[prof[inc_off]]
        hour = np.where(is_da, (peaks + rng.integers(-1, 2, m)) % 24, hour)
    day = _timing_signatures(rng, prof, n_da, n_nda, inc_off, inc_pos, is_da, day)
    t_from = WINDOW_START + (day * DAY).astype(np.int64) + hour * 3600 + rng.integers(0, 3600, m)
    # Reporting delay. Non-DA: mostly within hours, sometimes days, rarely much later. DA is reported
    # later more often (REPORT_DELAY_DA): hours for most, days or weeks for some, months for a few, and a
    # share of historic disclosures reported months to years after the abuse. For a historic disclosure
    # the spell time is when it is reported and the offence is dated back from it, so report times keep
    # their spells and the extract (selected on record date) keeps its size.
    u = rng.random(m)
    delay = np.where(
        u < 0.85,
        rng.exponential(1.5 * 3600, m),
        np.where(u < 0.98, rng.exponential(5 * DAY, m), rng.exponential(120 * DAY, m)),
    )
    share_hours, share_days, share_months, _ = REPORT_DELAY_DA
    da_delay = np.where(
        u < share_hours,
        rng.exponential(1.5 * 3600, m),
        np.where(
            u < share_hours + share_days,
            rng.exponential(4 * DAY, m),
            np.where(
                u < share_hours + share_days + share_months,
                rng.exponential(60 * DAY, m),
                rng.uniform(*HISTORIC_DISCLOSURE_YEARS, m) * 365.25 * DAY,
            ),
        ),
    )
    historic = is_da & (u >= share_hours + share_days + share_months)
    delay = np.where(is_da, da_delay, delay)
    t_rep = np.where(historic, t_from, t_from + delay.astype(np.int64) + 60)
    t_from = np.where(historic, t_from - delay.astype(np.int64), t_from)
    # keep reported times inside the extract window (the extract is selected on record date)
    late = t_rep > WINDOW_END
    t_rep = np.where(late, WINDOW_END - rng.integers(0, 3 * DAY, m), t_rep)
    t_from = np.minimum(t_from, t_rep - 60)
    # order incidents chronologically within offender (by reported time)
    order = np.lexsort((t_rep, inc_off))
    inc_off, is_da, t_rep, t_from = inc_off[order], is_da[order], t_rep[order], t_from[order]
    return dict(inc_off=inc_off, is_da=is_da, t_rep=t_rep, t_from=t_from)


def _timing_signatures(rng, prof, n_da, n_nda, inc_off, inc_pos, is_da, day) -> np.ndarray:
    """The profiles' timing signatures (catalogue.DA_APART_YEARS, NDA_BEFORE_DA_YEARS, WEEKEND_SHARE)."""
    n, m = prof.size, inc_off.size
    cluster = P_CLUSTER[prof]
    last_day = WINDOW_DAYS - 1.0
    for c, years in catalogue.DA_APART_YEARS.items():
        # DA incidents spaced about `years` apart (the k-th at first + k * gap)
        gap = years * 365.25 * np.exp(0.25 * rng.standard_normal(n))
        room = np.maximum(last_day - gap * np.maximum(n_da - 1, 0), 0.0)
        first = rng.random(n) * room
        sel = (cluster == c)[inc_off] & is_da
        spaced = np.clip(np.floor(first[inc_off] + inc_pos * gap[inc_off]), 0.0, last_day)
        day = np.where(sel, spaced, day)
    for c, years in catalogue.NDA_BEFORE_DA_YEARS.items():
        # non-DA incidents within a few months of each other, about `years` before the first DA incident
        # (after the last one when the window has no room before)
        who = (cluster == c) & (n_nda > 0) & (n_da > 0)
        if not who.any():
            continue
        first_da = np.full(n, np.inf)
        last_da = np.full(n, -np.inf)
        np.minimum.at(first_da, inc_off[is_da], day[is_da])
        np.maximum.at(last_da, inc_off[is_da], day[is_da])
        gap = years * 365.25 * np.exp(0.2 * rng.standard_normal(n))
        before, after = first_da - gap, last_da + gap
        anchor = np.where(
            before >= 0,
            before,
            np.where(after <= last_day, after, np.where(first_da > last_day - last_da, 0.0, last_day)),
        )
        sel = who[inc_off] & ~is_da
        moved = np.clip(np.floor(anchor[inc_off] + rng.uniform(-90, 90, m)), 0.0, last_day)
        day = np.where(sel, moved, day)
    for c, share in catalogue.WEEKEND_SHARE.items():
        # moved forward to the Saturday ("incidents tended to fall at weekends")
        sel = (cluster == c)[inc_off] & is_da & (rng.random(m) < share)
        dow = (np.floor(day).astype(np.int64) + 5) % 7  # 2011-01-01 was a Saturday (dow 5, Monday = 0)
        shift = np.where(dow < 5, 5 - dow, 0)
        day = np.where(sel & (day + shift < last_day), day + shift, day)
    return day


def plant_same_day(rng, prof: np.ndarray, inc: dict, share: float) -> int:
    """Edge case: two separate reports about incidents on the same calendar day (two incidents)."""
    off = inc["inc_off"]
    special = np.isin(P_CLUSTER[prof], (21, 23, 24, 27))[off]
    same_next = np.flatnonzero((off[:-1] == off[1:]) & inc["is_da"][:-1] & inc["is_da"][1:] & ~special[:-1])
    if same_next.size == 0:
        return 0
    k = max(1, int(round(share * same_next.size))) if share > 0 else 0
    picks = rng.choice(same_next, size=min(k, same_next.size), replace=False)
    # avoid chains (j, j+1) and (j+1, j+2)
    picks = np.sort(picks)
    picks = picks[np.concatenate([[True], np.diff(picks) > 1])]
    t_from, t_rep = inc["t_from"], inc["t_rep"]
    base_day = (t_from[picks] - WINDOW_START) // DAY
    morning = WINDOW_START + base_day * DAY + 8 * 3600 + rng.integers(0, 3 * 3600, picks.size)
    evening = WINDOW_START + base_day * DAY + 16 * 3600 + rng.integers(0, 4 * 3600, picks.size)
    t_from[picks] = morning
    t_rep[picks] = morning + rng.integers(600, 3 * 3600, picks.size)
    t_from[picks + 1] = evening
    t_rep[picks + 1] = evening + rng.integers(600, 3 * 3600, picks.size)
    # the moved pair stays ordered, but later incidents of the same person may now be earlier:
    bad = t_rep[picks + 1] > WINDOW_END
    t_rep[picks[bad] + 1] = WINDOW_END - 1
    return int(picks.size)


def simulate_incidents(rng, off: dict, inc: dict, opts: Options) -> dict:
    """Offence codes, victims, areas, markers and risk grades for every incident."""
    prof = off["prof"]
    io = inc["inc_off"]
    m = io.size
    is_da = inc["is_da"]
    t_rep = inc["t_rep"]
    da_idx = np.flatnonzero(is_da)
    nda_idx = np.flatnonzero(~is_da)

    # ---- DA incidents
    nc = np.zeros(m, bool)
    nc[da_idx] = rng.random(da_idx.size) < off["p_nc"][io[da_idx]]
    main = np.zeros(m, np.int64)
    ncd = da_idx[nc[da_idx]]
    crd = da_idx[~nc[da_idx]]
    main[ncd] = sample_codes(rng, DA_NC, ncd.size)
    mix = P_DA_MIX[prof[io[crd]]]
    if OTHER_MIX_SHARE > 0:  # a share of the offender's DA crimes from another profile's mix
        other = rng.random(crd.size) < off["p_other_mix"][io[crd]]
        mix = np.where(other, rng.integers(0, len(DA_MIX_NAMES), crd.size), mix)
    main[crd] = sample_mixed(rng, [DA_CRIME[k] for k in DA_MIX_NAMES], mix)
    # serious escalation grows with latent harm
    h = off["harm"][io]
    p_serious = 1.0 / (1.0 + np.exp(SERIOUS_A - SERIOUS_B * h[crd]))
    esc = crd[rng.random(crd.size) < p_serious]
    main[esc] = sample_codes(rng, DA_SERIOUS, esc.size)
    if opts.separated_profiles:  # Catastrophic Offenders: only the gravest offences (rape, GBH, homicide)
        cat = crd[P_CLUSTER[prof[io[crd]]] == 24]
        main[cat] = sample_codes(rng, DA_GRAVEST, cat.size)
    # controlling or coercive behaviour is an offence only from 29 Dec 2015: earlier it is harassment
    early_ccb = (main == CI["8U"]) & (t_rep < CCB_START)
    main[early_ccb] = CI["8L"]

    # ---- non-DA incidents
    main[nda_idx] = sample_mixed(rng, [NDA[k] for k in NDA_MIX_NAMES], P_NDA_MIX[prof[io[nda_idx]]])
    nc |= CODE_NONCRIME[main]

    # ---- durations and retrospective reports
    t_from = inc["t_from"].copy()
    t_to = np.full(m, -1, np.int64)
    has_to = rng.random(m) < 0.35
    t_to[has_to] = t_from[has_to] + rng.integers(5 * 60, 4 * 3600, int(has_to.sum()))
    if RANGE_SHARE > 0:  # recorded as a window of days ("between ... and ..."), ending when committed
        ranged = rng.random(m) < RANGE_SHARE
        days = np.exp(np.log(RANGE_MEDIAN_DAYS) + RANGE_SIGMA * rng.standard_normal(m))
        t_to = np.where(ranged, t_from, t_to)
        t_from = np.where(
            ranged, t_from - np.round(np.minimum(days, 3 * 365.25) * DAY).astype(np.int64), t_from
        )
    cl = P_CLUSTER[prof[io]]
    # cluster 23: one CCB-type crime covering 8-9 years, reported at the end of it
    long_cc = is_da & (cl == 23) & ~nc
    years = rng.uniform(7.5, 9.5, m)
    t_from = np.where(long_cc, t_rep - (years * 365.25 * DAY).astype(np.int64), t_from)
    t_to = np.where(long_cc, t_rep - rng.integers(1, 20, m) * DAY, t_to)
    # clusters 21 and 27: long-running historic child abuse (non-DA), reported years later
    for cluster, dur in ((21, 6.0), (27, 15.0)):
        sel = ~is_da & (cl == cluster) & CHILD_CODES[main]
        d = rng.uniform(0.6, 1.4, m) * dur * 365.25 * DAY
        lag = rng.uniform(1.0, 7.0, m) * 365.25 * DAY
        t_from = np.where(sel, t_rep - (d + lag).astype(np.int64), t_from)
        t_to = np.where(sel, t_rep - lag.astype(np.int64), t_to)
    # cluster 24: incidents often last several days, ending at the time the incident was committed (not
    # when it was reported: a DA report can come weeks or, for a historic disclosure, years later)
    multi_day = is_da & (cl == 24) & (rng.random(m) < 0.45)
    days_before = rng.integers(1, 5, m) * DAY
    ended = np.minimum(t_from + rng.integers(600, 7200, m), t_rep)
    t_to = np.where(multi_day, ended, t_to)
    t_from = np.where(multi_day, t_from - days_before, t_from)
    t_to = np.where((t_to >= 0) & (t_to < t_from), t_from, t_to)

    # ---- secondary offences (multi-offence incidents) on crime incidents
    u = rng.random(m)
    n_second = np.where(nc, 0, np.where(u < 0.90, 0, np.where(u < 0.98, 1, 2)))
    n_second = np.where(is_da, n_second, np.where(rng.random(m) < 0.10, 1, 0) * (~nc))
    child_extra = is_da & ~nc & (rng.random(m) < 0.02)

    # ---- victims of DA incidents: victim slots per offender, serial perpetrators move on to new victims
    n_da = off["n_da"]
    da_rank = np.zeros(m, np.int64)
    first_inc = np.searchsorted(io, np.arange(len(prof)))
    da_cum = np.cumsum(is_da) - is_da  # DA incidents before this one (global)
    da_rank = da_cum - da_cum[first_inc][io]
    nv = off["n_vict"][io]
    slot = np.minimum((da_rank * nv) // np.maximum(n_da[io], 1), nv - 1)
    back = rng.random(m) < 0.10
    slot = np.where(back, rng.integers(0, np.maximum(nv, 1)), slot)
    slot = np.where(is_da, slot, -1)

    # areas: DA mostly at home, non-DA more spread
    home = off["home"][io]
    away = rng.random(m) < np.where(is_da, off["p_away"][io], NDA_AWAY_SHARE)
    if INCIDENT_IMD_SIGMA > 0:  # near home: an area of its own, around the home area's deprivation
        scores = off["lsoa_sorted_scores"]
        target = scores[home] * np.exp(INCIDENT_IMD_SIGMA * rng.standard_normal(m))
        home = _lsoa_near(rng, scores, target)
    return dict(
        main=main,
        nc=nc,
        t_from=t_from,
        t_to=t_to,
        n_second=n_second,
        child_extra=child_extra,
        slot=slot,
        area=home,
        away=away,
    )


def risk_grades(rng, off: dict, inc: dict, det: dict) -> np.ndarray:
    """DA risk grade of each DA incident: latent harm + incident severity + noise, cut at the shares of
    seed 000 (non-crime 79/16/5; crime records such that all DA records are 60/28/12 at a 47% non-crime
    share: 43.2/38.6/18.2)."""
    io = inc["inc_off"]
    m = io.size
    sev = CODE_WEIGHT[det["main"]]
    z = np.log1p(sev)
    score = 1.1 * off["harm"][io] + 0.55 * (z - 3.0) + RISK_NOISE * rng.standard_normal(m)
    grade = np.full(m, -1, np.int64)
    for is_nc, shares in ((True, (0.79, 0.16)), (False, (0.432, 0.386))):
        sel = np.flatnonzero(inc["is_da"] & (det["nc"] == is_nc))
        if sel.size == 0:
            continue
        q1, q2 = np.quantile(score[sel], [shares[0], shares[0] + shares[1]])
        grade[sel] = np.where(score[sel] <= q1, 0, np.where(score[sel] <= q2, 1, 2))
    return grade
