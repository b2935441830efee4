{#- Every raw offence_types row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('offence_types') }}
    from {{ source('raw', 'offence_types') }} as raw_rows
),

checked as (
    select
        typed.*
    from typed
)

{{ validated_rows('offence_types') }}
