{#- Every raw victims row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('victims') }}
    from {{ source('raw', 'victims') }} as raw_rows
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

{{ validated_rows('victims') }}
