{#- Every raw crimes row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('crimes') }}
    from {{ source('raw', 'crimes') }} as raw_rows
),

known_offence_codes as (
    select offence_code from {{ ref('stg_wmp__ref_offences') }}
),

checked as (
    select
        typed.*,
        known_offence_codes.offence_code is not null as _offence_code_is_known
    from typed
    left join known_offence_codes on typed.offence_code__value = known_offence_codes.offence_code
)

{{ validated_rows('crimes') }}
