with typed as (
    select
        raw_rows.*,
        {{- typed_columns('ref_lsoa') }}
    from {{ source('raw', 'ref_lsoa') }} as raw_rows
),

ruled as (
    select
        typed.*,
        {{ rule_and_reason(required_and_parse_checks('ref_lsoa') + [{
            'rule': 'imd_decile_out_of_range',
            'when': 'imd_decile__value not between 1 and 10',
            'reason': "'imd_decile ' || imd_decile__value || ' out of range 1–10'",
        }]) }}
    from typed
)

{{ select_with_duplicate_rule('ruled', ['lsoa_code__value'], 'duplicate_lsoa_code') }}
