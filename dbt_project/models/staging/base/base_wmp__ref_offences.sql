with typed as (
    select
        raw_rows.*,
        {{- typed_columns('ref_offences') }}
    from {{ source('raw', 'ref_offences') }} as raw_rows
),

ruled as (
    select
        typed.*,
        {{ rule_and_reason(required_and_parse_checks('ref_offences')) }}
    from typed
)

{{ select_with_duplicate_rule('ruled', ['offence_code__value'], 'duplicate_offence_code') }}
