{#- Every raw witnesses row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('witnesses') }}
    from {{ source('raw', 'witnesses') }} as raw_rows
),

crimes as (
    {{ parent_keys('crimes', 'crime_number') }}
),

checked as (
    select
        typed.*,
        crimes.parent_key is not null as _crime_exists,
        coalesce(crimes.parent_is_staged, false) as _crime_is_staged,
        crimes.parent_rule as _crime_rule
    from typed
    left join crimes on typed.crime_number__value = crimes.parent_key
)

{{ validated_rows('witnesses', context=['_crime_rule']) }}
