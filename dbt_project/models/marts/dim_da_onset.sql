{#- One row per DA perpetrator: when the force first recorded DA against them, how long the extract observed
    them before and from that moment, and how much non-DA offending it had recorded on either side.
    The inputs of seed 000 Section C's time-ordered model (predictors before the first DA incident, DA harm
    from it on, time observed as the exposure). Time is the report time (`reported_at`): what the force
    knew, in the order it knew it. The observation window is the extract's: first to last incident reported. -#}
with incidents as (
    select offender_id, incident_id, incident_seq, is_da, reported_at
    from {{ ref('fct_incidents') }}
),

observation_window as (
    select
        min(reported_at) as observation_start,
        max(reported_at) as observation_end
    from incidents
),

da_incidents as (
    select
        offender_id,
        incident_id,
        reported_at,
        row_number() over (partition by offender_id order by reported_at, incident_seq) as da_report_order,
        count(*) over (partition by offender_id) as n_da_incidents
    from incidents
    where is_da
),

first_da as (
    {#- The first DA incident reported; of several reported at the same moment, the one that started first. -#}
    select
        offender_id,
        incident_id as first_da_incident_id,
        reported_at as first_da_reported_at,
        n_da_incidents
    from da_incidents
    where da_report_order = 1
),

non_da as (
    select
        incidents.offender_id,
        count(*) filter (where incidents.reported_at < first_da.first_da_reported_at)
            as n_non_da_incidents_before_first_da,
        count(*) filter (where incidents.reported_at >= first_da.first_da_reported_at)
            as n_non_da_incidents_from_first_da
    from incidents
    inner join first_da on incidents.offender_id = first_da.offender_id
    where not incidents.is_da
    group by incidents.offender_id
)

select
    first_da.offender_id,
    first_da.first_da_incident_id,
    first_da.first_da_reported_at,
    observation_window.observation_start,
    observation_window.observation_end,
    date_diff('second', observation_window.observation_start, first_da.first_da_reported_at)
        / (86400.0 * 365.25) as years_observed_before_first_da,  -- noqa: LT02
    date_diff('second', first_da.first_da_reported_at, observation_window.observation_end)
        / (86400.0 * 365.25) as years_observed_from_first_da,  -- noqa: LT02
    first_da.n_da_incidents,
    coalesce(non_da.n_non_da_incidents_before_first_da, 0) as n_non_da_incidents_before_first_da,
    coalesce(non_da.n_non_da_incidents_from_first_da, 0) as n_non_da_incidents_from_first_da
from first_da
cross join observation_window
left join non_da on first_da.offender_id = non_da.offender_id
