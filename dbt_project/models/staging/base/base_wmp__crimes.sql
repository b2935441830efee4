{#- Every raw crimes row cast once, with the first row-level rule it breaks (macros/rules.sql). -#}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns('crimes') }}
    from {{ source('raw', 'crimes') }} as raw_rows
),

offence_codes as (
    {{ parent_keys('ref_offences', 'offence_code') }}
),

{#- Crime numbers named by an offenders row (raw: an offenders row is itself checked against crimes). -#}
offender_crimes as (
    select distinct {{ clean_text('crime_number') }} as crime_number
    from {{ source('raw', 'offenders') }}
),

checked as (
    select
        typed.*,
        offence_codes.parent_key is not null as _offence_code_exists,
        coalesce(offence_codes.parent_is_staged, false) as _offence_code_is_staged,
        offence_codes.parent_rule as _offence_code_rule,
        offender_crimes.crime_number is not null as _has_offender_row
    from typed
    left join offence_codes on typed.offence_code__value = offence_codes.parent_key
    left join offender_crimes on typed.crime_number__value = offender_crimes.crime_number
)

{{ validated_rows('crimes', context=['_offence_code_rule']) }}
