{#- Stage order: referred <= selected <= disruption started <= full engagement <= completed / exited.
    Each pair of stages present on a row is compared; the first pair out of order is named. -#}
{%- set chain = ['referred_on', 'selected_on', 'disruption_started_on', 'full_engagement_on'] -%}
{%- set order_checks = [] -%}
{%- for later in chain[1:] + ['completed_on', 'exited_on'] -%}
    {%- for earlier in chain if earlier != later and (later not in chain or chain.index(earlier) < chain.index(later)) -%}
        {%- do order_checks.append({
            'rule': 'stage_dates_out_of_order',
            'when': later ~ '__value < ' ~ earlier ~ '__value',
            'reason': "'stage dates out of order: " ~ later ~ " ' || " ~ later ~ "__value || ' is before "
                ~ earlier ~ " ' || " ~ earlier ~ "__value",
        }) -%}
    {%- endfor -%}
{%- endfor -%}
{%- set checks = required_and_parse_checks('programme_participants') + date_range_checks('programme_participants')
    + order_checks + [{
        'rule': 'unknown_person',
        'when': 'not _person_is_staged_offender',
        'reason': "'person_id ' || " ~ quoted('person_id__value') ~ " || ' is not among the staged offenders'",
    }] -%}

with typed as (
    select
        raw_rows.*,
        {{- typed_columns('programme_participants') }}
    from {{ source('raw', 'programme_participants') }} as raw_rows
),

staged_offenders as (
    select distinct person_id from {{ ref('stg_wmp__offenders') }}
),

checked as (
    select
        typed.*,
        staged_offenders.person_id is not null as _person_is_staged_offender
    from typed
    left join staged_offenders on typed.person_id__value = staged_offenders.person_id
),

ruled as (
    select
        * exclude (_person_is_staged_offender),
        {{ rule_and_reason(checks) }}
    from checked
)

{{ select_with_duplicate_rule('ruled', ['person_id__value', 'programme__value'], 'duplicate_participant') }}
