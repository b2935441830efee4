{#- Annex 1 of seed 000: offences of the same offender with an identical reported_at and the same calendar
    date of committed_from are one incident. Incidents are numbered per offender in chronological order
    (started_at, then reported_at, then the smallest crime number), and separately within DA and non-DA.
    hour_of_day is NULL when no offence of the incident has a known clock time (var unknown_times_of_day:
    e.g. a force that records an unknown time as 00:00:00). -#}
with offences as (
    select * from {{ ref('int_offences_enriched') }}
),

victims as (
    select crime_number, person_id, age from {{ ref('stg_wmp__victims') }}
),

incident_victims as (
    select
        offences.offender_id,
        offences.reported_at,
        offences.committed_on,
        count(distinct victims.person_id) as n_victims,
        avg(victims.age) as mean_victim_age
    from offences
    inner join victims on offences.crime_number = victims.crime_number
    group by offences.offender_id, offences.reported_at, offences.committed_on
),

incidents as (
    select
        offender_id,
        reported_at,
        committed_on as started_on,
        min(committed_from) as started_at,
        -- The earliest offence time whose clock time is known (var unknown_times_of_day): the hour of day.
        min(committed_from) filter (where {{ time_of_day_is_known('committed_from') }}) as first_timed_at,
        max(coalesce(committed_to, committed_from)) as ended_at,
        sum(severity) as severity,
        sum(cchi_days) as cchi_days,
        count(*) as n_offences,
        bool_or(is_da_offence) as is_da,
        bool_and(is_non_crime) as is_non_crime,
        bool_or(substance_flag) as substance_flag,
        {{ risk_from_rank('max(' ~ risk_rank('risk_level') ~ ')') }} as risk_level,
        avg(offender_age) as offender_age,
        min(crime_number) as first_crime_number,
        -- Location of the first offence that has one (first by committed_from, then crime number).
        arg_min_null(
            {'lsoa_code': lsoa_code, 'imd_score': imd_score},  -- noqa: LT01
            {'committed_from': committed_from, 'crime_number': crime_number}  -- noqa: LT01
        ) filter (where lsoa_code is not null) as first_location,
        -- The main offence: the most severe (ties: the smallest code, then crime number).
        arg_min_null(
            {'offence_code': offence_code, 'offence_type': offence_type, 'outcome_code': outcome_code},  -- noqa: LT01
            {'negative_severity': -severity, 'offence_code': offence_code, 'crime_number': crime_number}  -- noqa: LT01
        ) as main_offence
    from offences
    group by offender_id, reported_at, committed_on
),

-- All window functions share one ordering (chronological per offender), so DuckDB sorts once.
with_previous as (
    select
        incidents.*,
        row_number() over chronological as incident_seq,
        sum(case when is_da then 1 else 0 end) over chronological as da_count_so_far,
        lag(started_at) over chronological as previous_started_at,
        lag(is_da) over chronological as previous_is_da,
        -- started_at never decreases along the order, so the latest earlier one is the maximum.
        max(case when is_da then started_at end) over (
            chronological rows between unbounded preceding and 1 preceding
        ) as previous_da_started_at,
        max(case when not is_da then started_at end) over (
            chronological rows between unbounded preceding and 1 preceding
        ) as previous_non_da_started_at
    from incidents
    window chronological as (partition by offender_id order by started_at, reported_at, first_crime_number)
)

select
    with_previous.offender_id || ':' || with_previous.incident_seq as incident_id,
    with_previous.offender_id,
    with_previous.incident_seq,
    with_previous.is_da,
    case when with_previous.is_da then with_previous.da_count_so_far end as da_seq,
    case when not with_previous.is_da then with_previous.incident_seq - with_previous.da_count_so_far end as non_da_seq,
    with_previous.reported_at,
    with_previous.started_at,
    with_previous.ended_at,
    with_previous.started_on,
    {{ days_between('with_previous.started_at', 'with_previous.ended_at') }} as duration_days,
    with_previous.severity,
    with_previous.cchi_days,
    {{ severity_band('with_previous.severity') }} as severity_band,
    with_previous.n_offences,
    coalesce(incident_victims.n_victims, 0) as n_victims,
    with_previous.is_non_crime,
    with_previous.substance_flag,
    with_previous.risk_level,
    {{ days_between('with_previous.previous_started_at', 'with_previous.started_at') }} as days_since_prev_incident,
    {{ days_between('with_previous.previous_da_started_at', 'with_previous.started_at') }} as days_since_prev_da,
    {{ days_between('with_previous.previous_non_da_started_at', 'with_previous.started_at') }}
        as days_since_prev_non_da,
    with_previous.previous_is_da as previous_incident_is_da,
    with_previous.offender_age,
    incident_victims.mean_victim_age,
    with_previous.first_location.lsoa_code as lsoa_code,
    with_previous.first_location.imd_score as imd_score,
    with_previous.main_offence.offence_code as main_offence_code,
    with_previous.main_offence.offence_type as main_offence_type,
    with_previous.main_offence.outcome_code as outcome_code,
    hour(with_previous.first_timed_at) as hour_of_day,
    isodow(with_previous.started_at) - 1 as day_of_week,
    with_previous.first_crime_number
from with_previous
left join incident_victims
    on with_previous.offender_id = incident_victims.offender_id
    and with_previous.reported_at = incident_victims.reported_at
    and with_previous.started_on = incident_victims.committed_on
