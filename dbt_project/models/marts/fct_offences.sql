{#- One row per crime number × offender, with the incident it belongs to and that incident's DA label. -#}
with offences as (
    select * from {{ ref('int_offences_enriched') }}
),

incidents as (
    select incident_id, offender_id, reported_at, started_on, is_da
    from {{ ref('int_incidents_grouped') }}
)

select
    offences.crime_number,
    offences.offender_id,
    incidents.incident_id,
    offences.offence_code,
    offences.offence_description,
    offences.offence_group,
    offences.offence_type,
    offences.record_type,
    offences.is_non_crime,
    offences.da_flag,
    offences.has_da_marker,
    offences.is_da_offence,
    incidents.is_da,
    offences.has_substance_marker,
    offences.substance_related,
    offences.substance_flag,
    offences.severity,
    offences.cchi_days,
    offences.reported_at,
    offences.committed_from,
    offences.committed_to,
    offences.lsoa_code,
    offences.imd_score,
    offences.imd_decile,
    offences.risk_level,
    offences.outcome_code,
    offences.offender_age,
    offences.offender_sex,
    offences.n_victims
from offences
inner join incidents
    on offences.offender_id = incidents.offender_id
    and offences.reported_at = incidents.reported_at
    and offences.committed_on = incidents.started_on
