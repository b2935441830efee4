with typed as (
    select
        raw_rows.*,
        {{- typed_columns('offence_types') }}
    from {{ source('raw', 'offence_types') }} as raw_rows
),

ruled as (
    select
        typed.*,
        {{ rule_and_reason(required_and_parse_checks('offence_types')) }}
    from typed
)

{{ select_with_duplicate_rule('ruled', ['offence_code__value'], 'duplicate_offence_code') }}
