{{ config(meta={'dagster': {'ref': {'name': 'fct_incidents'}}}) }}
-- incident_seq, da_seq and non_da_seq each run 1..n without gaps per offender, in chronological order.
with sequences as (
    select
        offender_id,
        count(*) as n_incidents,
        max(incident_seq) as max_incident_seq,
        count(*) filter (where is_da) as n_da,
        coalesce(max(da_seq), 0) as max_da_seq,
        count(distinct da_seq) as n_distinct_da_seq,
        count(*) filter (where not is_da) as n_non_da,
        coalesce(max(non_da_seq), 0) as max_non_da_seq,
        count(distinct non_da_seq) as n_distinct_non_da_seq
    from {{ ref('fct_incidents') }}
    group by offender_id
),

out_of_order as (
    select offender_id
    from (
        select
            offender_id,
            started_at,
            lag(started_at) over (partition by offender_id order by incident_seq) as previous_started_at
        from {{ ref('fct_incidents') }}
    )
    where started_at < previous_started_at
)

select offender_id from sequences
where n_incidents != max_incident_seq
    or n_da != max_da_seq or n_da != n_distinct_da_seq
    or n_non_da != max_non_da_seq or n_non_da != n_distinct_non_da_seq
union all
select offender_id from out_of_order
