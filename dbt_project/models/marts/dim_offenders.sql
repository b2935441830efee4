{#- One row per offender: every offender-level variable of Annex 1 of seed 000 (§4.5), the features
    selected for PCA (§4.6), risk grades and volume bands. Everything is pre-aggregated per offender and
    joined one-to-one, so the model stays linear in the number of incidents.
    Missing is missing: a value that does not exist is NULL, never a number that means something else.
    Counts, totals and spans are 0 when there is nothing to count (no non-DA incident: 0 non-DA incidents,
    severity and span, as the report codes them); means that have nothing to average are NULL (the IMD
    score of offences with no known LSOA, the gap between incidents for a single incident, the hour of day
    when no DA incident has a known time). ml/features.py gives each such NULL a documented neutral value
    and an indicator column. People with no DA incident are kept as rows but are not DA perpetrators
    (is_da_perpetrator): they are neither clustered nor counted among those with a missing age. -#}
{%- set two_pi = '(2 * pi())' -%}

with incidents as (
    select
        offender_id,
        incident_id,
        incident_seq,
        is_da,
        da_seq,
        non_da_seq,
        is_non_crime,
        substance_flag,
        started_at,
        started_on,
        duration_days,
        severity,
        risk_level,
        offender_age,
        days_since_prev_incident,
        days_since_prev_da,
        days_since_prev_non_da,
        previous_incident_is_da,
        hour_of_day,
        day_of_week,
        -- The offender's extreme incident severities (to find the least and the most severe incident).
        max(severity) over (partition by offender_id) as offender_max_severity,
        min(severity) over (partition by offender_id) as offender_min_severity
    from {{ ref('int_incidents_grouped') }}
),

offences as (
    select
        offender_id,
        incident_id,
        crime_number,
        is_da,
        offence_code,
        severity,
        lsoa_code,
        imd_score,
        offender_age,
        offender_sex
    from {{ ref('fct_offences') }}
),

-- Ethnicity is descriptive only and not published in fct_offences.
offender_ethnicities as (
    select offender_id, offender_ethnicity from {{ ref('int_offences_enriched') }}
),

victims as (
    select crime_number, person_id as victim_id, age as victim_age, sex as victim_sex
    from {{ ref('stg_wmp__victims') }}
),

relationships as (
    select * from {{ ref('stg_wmp__relationships') }}
),

offender_ids as (
    select distinct offender_id from incidents
),

-- Offence × victim pairs (grain of the age difference and the victim counts).
offence_victims as (
    select
        offences.offender_id,
        offences.incident_id,
        offences.is_da,
        offences.offender_age,
        offences.offender_sex,
        victims.victim_id,
        victims.victim_age,
        victims.victim_sex
    from offences
    inner join victims on offences.crime_number = victims.crime_number
),

incident_features as (
    select
        offender_id,
        count(*) as n_incidents,
        count(*) filter (where is_da) as n_da_incidents,
        count(*) filter (where not is_da) as n_non_da_incidents,
        count(*) filter (where is_da and not is_non_crime) as n_da_crime_incidents,
        count(*) filter (where is_da and is_non_crime) as n_da_non_crime_incidents,
        avg(offender_age) as mean_age,
        -- Age at the first DA incident; when it is not recorded there, the age at the first DA incident
        -- with a recorded age, else at the first incident of any kind with one, moved by the years between
        -- that incident and the first DA incident (NULL only when no own age is recorded at all).
        case when count(*) filter (where is_da) > 0 then coalesce(
            arg_min(offender_age, da_seq) filter (where is_da and offender_age is not null)
            - {{ days_between(
                'min(started_at) filter (where is_da)',
                'arg_min(started_at, da_seq) filter (where is_da and offender_age is not null)'
            ) }} / 365.25,
            arg_min(offender_age, incident_seq) filter (where offender_age is not null)
            - {{ days_between(
                'min(started_at) filter (where is_da)',
                'arg_min(started_at, incident_seq) filter (where offender_age is not null)'
            ) }} / 365.25
        ) end as age_at_first_da_incident,
        min(started_on) as first_seen_on,
        min(started_on) filter (where is_da) as first_da_on,
        max(started_on) filter (where is_da) as last_da_on,
        {{ days_between('min(started_at) filter (where is_da)', 'max(started_at) filter (where is_da)') }}
            as da_timespan_days,
        {{ days_between('min(started_at) filter (where not is_da)', 'max(started_at) filter (where not is_da)') }}
            as non_da_timespan_days,
        avg(days_since_prev_da) filter (where is_da and da_seq > 1) as mean_days_between_da_incidents,
        avg(days_since_prev_non_da) filter (where not is_da and non_da_seq > 1)
            as mean_days_between_non_da_incidents,
        avg(days_since_prev_incident) filter (where previous_incident_is_da != is_da)
            as mean_days_between_da_and_non_da_incidents,
        -- Hour of day over the DA incidents whose time is known (hour_of_day NULL: unknown time).
        count(hour_of_day) filter (where is_da) as n_da_incidents_with_known_time,
        avg(sin({{ two_pi }} * hour_of_day / 24)) filter (where is_da) as da_hour_sin,
        avg(cos({{ two_pi }} * hour_of_day / 24)) filter (where is_da) as da_hour_cos,
        avg(sin({{ two_pi }} * day_of_week / 7)) filter (where is_da) as da_weekday_sin,
        avg(cos({{ two_pi }} * day_of_week / 7)) filter (where is_da) as da_weekday_cos,
        avg(sin({{ two_pi }} * (day(started_at) - 1) / day(last_day(started_at)))) filter (where is_da)
            as da_month_day_sin,
        avg(cos({{ two_pi }} * (day(started_at) - 1) / day(last_day(started_at)))) filter (where is_da)
            as da_month_day_cos,
        avg(severity) filter (where is_da) as mean_da_severity,
        avg(severity) filter (where not is_da) as mean_non_da_severity,
        sum(severity) filter (where is_da) as total_da_severity,
        sum(severity) filter (where not is_da) as total_non_da_severity,
        avg(duration_days) filter (where is_da) as mean_da_duration_days,
        avg(duration_days) filter (where not is_da) as mean_non_da_duration_days,
        count(*) filter (where is_da and substance_flag) as n_da_substance_incidents,
        count(*) filter (where not is_da and substance_flag) as n_non_da_substance_incidents,
        avg(severity) filter (where is_da and substance_flag) as mean_da_severity_substance,
        avg(severity) filter (where is_da and not substance_flag) as mean_da_severity_no_substance,
        avg(severity) filter (where not is_da and substance_flag) as mean_non_da_severity_substance,
        avg(severity) filter (where not is_da and not substance_flag) as mean_non_da_severity_no_substance,
        -- Least and most severe incident (ties: the earlier one; started_at follows incident_seq).
        {{ days_between(
            'min(started_at) filter (where severity = offender_min_severity)',
            'min(started_at) filter (where severity = offender_max_severity)'
        ) }} as days_least_to_most_severe,
        min(incident_seq) filter (where severity = offender_max_severity)
        - min(incident_seq) filter (where severity = offender_min_severity) as incidents_least_to_most_severe,
        arg_min_null(risk_level, da_seq) filter (where is_da) as first_da_risk_level,
        arg_min_null(severity, da_seq) filter (where is_da) as first_da_incident_severity,
        arg_min_null(risk_level, da_seq) filter (where is_da and is_non_crime) as first_non_crime_da_risk_level,
        count(risk_level) filter (where is_da) as n_risk_assessments,
        count(*) filter (where is_da and risk_level = 'high') as n_high_risk
    from incidents
    group by offender_id
),

victim_features as (
    select
        offender_id,
        count(distinct victim_id) filter (where is_da) as n_da_victims,
        count(distinct victim_id) filter (where not is_da) as n_non_da_victims,
        avg(victim_age - offender_age) as mean_victim_age_difference,
        count(*) filter (
            where is_da and offender_sex in ('male', 'female') and victim_sex in ('male', 'female')
        ) as n_da_pairs_with_known_sex,
        bool_and(offender_sex = victim_sex) filter (
            where is_da and offender_sex in ('male', 'female') and victim_sex in ('male', 'female')
        ) as da_victims_all_same_sex,
        bool_and(offender_sex != victim_sex) filter (
            where is_da and offender_sex in ('male', 'female') and victim_sex in ('male', 'female')
        ) as da_victims_all_opposite_sex
    from offence_victims
    group by offender_id
),

-- Offence codes per offender and DA label: the base of the modal codes and of the most severe offence.
offence_code_counts as (
    select
        offender_id,
        is_da,
        offence_code,
        count(*) as n_offences,
        max(severity) as severity
    from offences
    group by offender_id, is_da, offence_code
),

offence_features as (
    select
        offender_id,
        min(offence_code) filter (where severity = max_severity) as most_severe_offence_code,
        max(max_severity) as most_severe_offence_severity
    from (
        select offender_id, offence_code, severity, max(severity) over (partition by offender_id) as max_severity
        from offence_code_counts
    ) as with_max_severity
    group by offender_id
),

modal_offence_codes as (
    select
        offender_id,
        is_da,
        min(offence_code) filter (where n_offences = max_n_offences) as modal_offence_code
    from (
        select
            offender_id,
            is_da,
            offence_code,
            n_offences,
            max(n_offences) over (partition by offender_id, is_da) as max_n_offences
        from offence_code_counts
    ) as with_max_n_offences
    group by offender_id, is_da
),

-- Distinct LSOAs offended in, DA and non-DA, with their IMD score.
offender_lsoas as (
    select distinct offender_id, is_da, lsoa_code, imd_score
    from offences
    where lsoa_code is not null
),

lsoa_features as (
    select
        offender_id,
        count(*) filter (where is_da) as n_da_lsoas,
        count(*) filter (where not is_da) as n_non_da_lsoas,
        avg(imd_score) filter (where is_da) as mean_da_imd_score,
        avg(imd_score) filter (where not is_da) as mean_non_da_imd_score
    from offender_lsoas
    group by offender_id
),

-- Relationships recorded between the offender and the victims of their DA offences.
da_relationships as (
    select
        relationships.offender_person_id as offender_id,
        relationships.relationship
    from relationships
    inner join (select distinct offender_id, crime_number from offences where is_da) as da_offences  -- noqa: ST05
        on relationships.offender_person_id = da_offences.offender_id
        and relationships.crime_number = da_offences.crime_number
),

relationship_features as (
    select
        offender_id,
        count(distinct relationship) as n_relationship_types,
        array_to_string(list_sort(list_distinct(list(relationship))), ';') as relationship_types
    from da_relationships
    group by offender_id
),

-- Victimisation of offenders by other offenders in the data: distinct incidents of another offender in
-- which this offender is a victim (pre-aggregated to one row per victim and incident).
victimisation_pairs as (
    select distinct
        offence_victims.victim_id as offender_id,
        offence_victims.incident_id
    from offence_victims
    semi join offender_ids on offence_victims.victim_id = offender_ids.offender_id
    where offence_victims.victim_id != offence_victims.offender_id
),

victimisation_features as (
    select
        victimisation_pairs.offender_id,
        count(*) filter (where incidents.is_da) as n_times_da_victim,
        count(*) filter (where not incidents.is_da) as n_times_non_da_victim,
        avg(incidents.severity) filter (where incidents.is_da) as mean_da_victimisation_severity,
        avg(incidents.severity) filter (where not incidents.is_da) as mean_non_da_victimisation_severity,
        sum(incidents.severity) filter (where incidents.is_da) as total_da_victimisation_severity,
        sum(incidents.severity) filter (where not incidents.is_da) as total_non_da_victimisation_severity
    from victimisation_pairs
    inner join incidents on victimisation_pairs.incident_id = incidents.incident_id
    group by victimisation_pairs.offender_id
),

victimiser_relationships as (
    select
        relationships.victim_person_id as offender_id,
        relationships.relationship
    from relationships
    semi join offender_ids on relationships.victim_person_id = offender_ids.offender_id
    where relationships.offender_person_id is not null  -- noqa: LT02
        and relationships.offender_person_id != relationships.victim_person_id
),

modal_sex as ({{ modal_value('offences', 'offender_id', 'offender_sex', 'modal_sex', "offender_sex != 'unknown'") }}),
modal_ethnicity as ({{ modal_value('offender_ethnicities', 'offender_id', 'offender_ethnicity', 'modal_ethnicity') }}),
modal_da_victim_sex as (
    {{ modal_value(
        'offence_victims', 'offender_id', 'victim_sex', 'modal_da_victim_sex', "is_da and victim_sex != 'unknown'"
    ) }}
),
modal_da_offence_code as (
    select offender_id, modal_offence_code as modal_da_offence_code from modal_offence_codes where is_da
),
modal_non_da_offence_code as (
    select offender_id, modal_offence_code as modal_non_da_offence_code from modal_offence_codes where not is_da
),
modal_relationship as ({{ modal_value('da_relationships', 'offender_id', 'relationship', 'modal_relationship') }}),
modal_victimiser_relationship as (
    {{ modal_value('victimiser_relationships', 'offender_id', 'relationship', 'modal_victimiser_relationship') }}
),

joined as (
    select
        offender_ids.offender_id,
        coalesce(modal_sex.modal_sex, 'unknown') as modal_sex,
        modal_ethnicity.modal_ethnicity,
        incident_features.* exclude (offender_id),  -- noqa: RF02
        coalesce(victim_features.n_da_victims, 0) as n_da_victims,
        coalesce(victim_features.n_non_da_victims, 0) as n_non_da_victims,
        victim_features.mean_victim_age_difference,
        case
            when coalesce(victim_features.n_da_pairs_with_known_sex, 0) = 0 then 'unknown'
            when victim_features.da_victims_all_same_sex then 'same'
            when victim_features.da_victims_all_opposite_sex then 'opposite'
            else 'both'
        end as da_victim_sex_pattern,
        coalesce(lsoa_features.n_da_lsoas, 0) as n_da_lsoas,
        coalesce(lsoa_features.n_non_da_lsoas, 0) as n_non_da_lsoas,
        lsoa_features.mean_da_imd_score,
        lsoa_features.mean_non_da_imd_score,
        offence_features.most_severe_offence_code,
        offence_features.most_severe_offence_severity,
        coalesce(relationship_features.n_relationship_types, 0) as n_relationship_types,
        relationship_features.relationship_types,
        coalesce(victimisation_features.n_times_da_victim, 0) as n_times_da_victim,
        coalesce(victimisation_features.n_times_non_da_victim, 0) as n_times_non_da_victim,
        coalesce(victimisation_features.mean_da_victimisation_severity, 0) as mean_da_victimisation_severity,
        coalesce(victimisation_features.mean_non_da_victimisation_severity, 0) as mean_non_da_victimisation_severity,
        coalesce(victimisation_features.total_da_victimisation_severity, 0) as total_da_victimisation_severity,
        coalesce(victimisation_features.total_non_da_victimisation_severity, 0)
            as total_non_da_victimisation_severity,
        modal_da_victim_sex.modal_da_victim_sex,
        modal_da_offence_code.modal_da_offence_code,
        modal_non_da_offence_code.modal_non_da_offence_code,
        modal_relationship.modal_relationship,
        modal_victimiser_relationship.modal_victimiser_relationship
    from offender_ids
    left join incident_features on offender_ids.offender_id = incident_features.offender_id
    left join victim_features on offender_ids.offender_id = victim_features.offender_id
    left join lsoa_features on offender_ids.offender_id = lsoa_features.offender_id
    left join offence_features on offender_ids.offender_id = offence_features.offender_id
    left join relationship_features on offender_ids.offender_id = relationship_features.offender_id
    left join victimisation_features on offender_ids.offender_id = victimisation_features.offender_id
    left join modal_sex on offender_ids.offender_id = modal_sex.offender_id
    left join modal_ethnicity on offender_ids.offender_id = modal_ethnicity.offender_id
    left join modal_da_victim_sex on offender_ids.offender_id = modal_da_victim_sex.offender_id
    left join modal_da_offence_code on offender_ids.offender_id = modal_da_offence_code.offender_id
    left join modal_non_da_offence_code on offender_ids.offender_id = modal_non_da_offence_code.offender_id
    left join modal_relationship on offender_ids.offender_id = modal_relationship.offender_id
    left join modal_victimiser_relationship on offender_ids.offender_id = modal_victimiser_relationship.offender_id
)

select
    offender_id,
    -- Descriptive only: never model features.
    modal_sex,
    modal_ethnicity,
    -- Features selected for PCA (seed 000 Annex 1 §4.6), in the order of docs/data-model.md.
    mean_age,
    mean_victim_age_difference,
    n_da_victims,
    n_non_da_victims,
    age_at_first_da_incident,
    coalesce(da_timespan_days, case when n_da_incidents > 0 then 0 end) as da_timespan_days,
    coalesce(non_da_timespan_days, 0) as non_da_timespan_days,
    -- NULL when there is no gap to average (fewer than two incidents; the type never changes).
    mean_days_between_da_incidents,
    mean_days_between_non_da_incidents,
    mean_days_between_da_and_non_da_incidents,
    da_hour_sin,
    da_hour_cos,
    da_weekday_sin,
    da_weekday_cos,
    da_month_day_sin,
    da_month_day_cos,
    n_da_lsoas,
    n_non_da_lsoas,
    -- NULL when no offence of that kind has a known LSOA (0 would read as the least deprived area).
    mean_da_imd_score,
    mean_non_da_imd_score,
    mean_da_severity,
    coalesce(mean_non_da_severity, 0) as mean_non_da_severity,
    coalesce(total_da_severity, 0) as total_da_severity,
    coalesce(total_non_da_severity, 0) as total_non_da_severity,
    mean_da_duration_days,
    coalesce(mean_non_da_duration_days, 0) as mean_non_da_duration_days,
    n_da_incidents,
    n_non_da_incidents,
    case when n_da_incidents > 0 then n_da_incidents / greatest(n_da_victims, 1) end as da_incidents_per_victim,
    n_non_da_incidents / greatest(n_non_da_victims, 1) as non_da_incidents_per_victim,
    n_times_da_victim,
    n_times_non_da_victim,
    mean_da_victimisation_severity,
    mean_non_da_victimisation_severity,
    total_da_victimisation_severity,
    total_non_da_victimisation_severity,
    case when n_da_incidents > 0 then n_da_substance_incidents / n_da_incidents end as share_da_incidents_substance,
    coalesce(n_non_da_substance_incidents / nullif(n_non_da_incidents, 0), 0) as share_non_da_incidents_substance,
    -- Other Annex 1 variables (§4.5).
    n_incidents,
    n_da_crime_incidents,
    n_da_non_crime_incidents,
    case when n_da_incidents > 0 then n_da_non_crime_incidents / n_da_incidents end as share_da_incidents_non_crime,
    first_seen_on,
    first_da_on,
    last_da_on,
    date_diff('day', first_seen_on, first_da_on) as days_first_seen_to_first_da,
    n_relationship_types,
    modal_relationship,
    relationship_types,
    da_victim_sex_pattern,
    modal_da_victim_sex,
    modal_da_offence_code,
    modal_non_da_offence_code,
    most_severe_offence_code,
    most_severe_offence_severity,
    days_least_to_most_severe,
    incidents_least_to_most_severe,
    n_da_substance_incidents,
    n_non_da_substance_incidents,
    mean_da_severity_substance,
    mean_da_severity_no_substance,
    mean_non_da_severity_substance,
    mean_non_da_severity_no_substance,
    modal_victimiser_relationship,
    -- Risk and volume.
    first_da_risk_level,
    first_da_incident_severity,
    first_non_crime_da_risk_level,
    n_risk_assessments,
    n_high_risk,
    n_high_risk / nullif(n_risk_assessments, 0) as share_high_risk,
    n_high_risk > 0 as ever_high_risk,
    {{ volume_band('n_da_incidents') }} as da_volume_band,
    {{ volume_band('n_non_da_incidents') }} as non_da_volume_band,
    n_non_da_incidents = 0 as is_da_only,
    n_da_incidents_with_known_time,
    -- The typology's population and the report's drop rule (Annex 1: 7,731 of 145,392 dropped for a
    -- missing offender or victim age). Only DA perpetrators are judged; the rest are not clustered at all.
    n_da_incidents > 0 as is_da_perpetrator,
    n_da_incidents > 0 and mean_age is null as has_missing_offender_age,
    n_da_incidents > 0 and mean_victim_age_difference is null as has_missing_victim_age,
    n_da_incidents > 0 and (mean_age is null or mean_victim_age_difference is null) as has_missing_age
from joined
