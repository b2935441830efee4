{#- Every raw child_flags row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('child_flags') }}
    from {{ source('raw', 'child_flags') }} as raw_rows
),

staged_crimes as (
    select crime_number from {{ ref('stg_wmp__crimes') }}
),

checked as (
    select
        typed.*,
        staged_crimes.crime_number is not null as _crime_is_staged
    from typed
    left join staged_crimes on typed.crime_number__value = staged_crimes.crime_number
)

{{ validated_rows('child_flags') }}
