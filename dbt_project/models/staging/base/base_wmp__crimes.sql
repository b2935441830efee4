{%- set checks = required_and_parse_checks('crimes') + [
    {
        'rule': 'committed_to_before_committed_from',
        'when': 'committed_to__value < committed_from__value',
        'reason': "'committed_to ' || committed_to__value || ' is before committed_from ' || committed_from__value",
    },
    {
        'rule': 'committed_after_reported',
        'when': 'reported_at__value < committed_from__value',
        'reason': "'committed after reported: reported_at ' || reported_at__value || ' is before committed_from ' || committed_from__value",
    },
] + date_range_checks('crimes') + [
    accepted_values_check('record_type', ['crime', 'non-crime'], 'record_type_not_accepted'),
    accepted_values_check('risk_level', ['standard', 'medium', 'high'], 'risk_level_not_accepted'),
    {
        'rule': 'outcome_code_out_of_range',
        'when': 'outcome_code__value not between 1 and 22',
        'reason': "'outcome_code ' || outcome_code__value || ' out of range 1–22 (Home Office outcome codes)'",
    },
    {
        'rule': 'unknown_offence_code',
        'when': 'not _offence_code_is_known',
        'reason': "'offence_code ' || " ~ quoted('offence_code') ~ " || ' is not in ref_offences'",
    },
] -%}

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
),

ruled as (
    select
        * exclude (_offence_code_is_known),
        {{ rule_and_reason(checks) }}
    from checked
)

{{ select_with_duplicate_rule('ruled', ['crime_number__value'], 'duplicate_crime_number') }}
