{#- Every raw programme_participants row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('programme_participants') }}
    from {{ source('raw', 'programme_participants') }} as raw_rows
),

staged_offenders as (
    select distinct person_id from {{ ref('stg_wmp__offenders') }}
),

checked as (
    select
        typed.*,
        staged_offenders.person_id is not null as _person_is_staged_offender
    from typed
    left join staged_offenders on typed.person_id__value = staged_offenders.person_id
)

{{ validated_rows('programme_participants') }}
