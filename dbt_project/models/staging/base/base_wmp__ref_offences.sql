{#- Every raw ref_offences row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('ref_offences') }}
    from {{ source('raw', 'ref_offences') }} as raw_rows
),

checked as (
    select
        typed.*
    from typed
)

{{ validated_rows('ref_offences') }}
