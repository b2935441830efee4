{#- Every raw programme_participants row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('programme_participants') }}
    from {{ source('raw', 'programme_participants') }} as raw_rows
),

offenders as (
    {{ parent_keys('offenders', 'person_id') }}
),

checked as (
    select
        typed.*,
        offenders.parent_key is not null as _person_exists,
        coalesce(offenders.parent_is_staged, false) as _person_is_staged,
        offenders.parent_rule as _person_rule
    from typed
    left join offenders on typed.person_id__value = offenders.parent_key
)

{{ validated_rows('programme_participants', context=['_person_rule']) }}
