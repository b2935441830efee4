{#- Every raw ref_lsoa row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('ref_lsoa') }}
    from {{ source('raw', 'ref_lsoa') }} as raw_rows
),

checked as (
    select
        typed.*
    from typed
)

{{ validated_rows('ref_lsoa') }}
