{#- The non-DA offences each DA perpetrator was recorded for before their first DA incident: the predictors
    of seed 000 Section C's time-ordered model. An offence counts when its incident is not DA and was
    reported strictly before the first DA incident (one reported at the same moment does not precede it);
    offences reported later, and people with no DA incident, are not here. -#}
with offences as (
    select * from {{ ref('fct_offences') }}
),

onset as (
    select offender_id, first_da_reported_at from {{ ref('dim_da_onset') }}
)

select
    offences.crime_number,
    offences.offender_id,
    offences.incident_id,
    offences.offence_code,
    offences.offence_description,
    offences.offence_group,
    offences.offence_type,
    offences.is_non_crime,
    offences.severity,
    offences.reported_at,
    onset.first_da_reported_at,
    date_diff('second', offences.reported_at, onset.first_da_reported_at) / 86400.0 as days_before_first_da
from offences
inner join onset on offences.offender_id = onset.offender_id
where not offences.is_da  -- noqa: LT02
    and offences.reported_at < onset.first_da_reported_at
