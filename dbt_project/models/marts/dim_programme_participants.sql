{#- Programme participants that passed the row-level rules (stage dates in order, person among the staged
    offenders, one row per person and programme). -#}
select
    person_id,
    programme,
    person_id as offender_id,
    cohort,
    arm,
    referred_on,
    selected_on,
    disruption_started_on,
    full_engagement_on,
    completed_on,
    exited_on,
    exit_reason
from {{ ref('stg_wmp__programme_participants') }}
