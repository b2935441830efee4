{#- The row-level rules of each raw table, in the order they are applied (the first that holds is the
    row's rule). Each check: rule (its name), when (SQL on the typed `<column>__value` columns, the raw text
    columns and the model's helper columns), reason (SQL for a human-readable reason naming the column and
    the value, evaluated only in quarantine). dbt_project/README.md lists them in prose. -#}
{% macro wmp_checks(table) -%}
    {%- set checks = required_and_parse_checks(table) -%}
    {%- if table == 'crimes' -%}
        {%- do checks.extend([
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
        ] + date_range_checks(table) + [
            accepted_values_check('record_type', wmp_accepted_values('crimes', 'record_type'), 'record_type_not_accepted'),
            accepted_values_check('risk_level', wmp_accepted_values('crimes', 'risk_level'), 'risk_level_not_accepted'),
            {
                'rule': 'outcome_code_out_of_range',
                'when': 'outcome_code__value not between 1 and 22',
                'reason': "'outcome_code ' || outcome_code__value || ' out of range 1–22 (Home Office outcome codes)'",
            },
        ] + parent_checks(
            'offence_code', 'offence_code', 'ref_offences', 'unknown_offence_code', 'offence_code_quarantined'
        ) + [
            {
                'rule': 'crime_without_offender',
                'when': 'not _has_offender_row',
                'reason': "'crime_number ' || " ~ quoted('crime_number__value') ~ " || ' has no row in offenders'",
            },
        ]) -%}
    {%- elif table in ('offenders', 'victims', 'witnesses') -%}
        {%- do checks.extend([age_check('age')] + crime_checks()) -%}
    {%- elif table in ('relationships', 'special_interest_markers') -%}
        {%- do checks.extend(crime_checks()) -%}
    {%- elif table == 'custody' -%}
        {%- do checks.extend(date_range_checks(table) + crime_checks()) -%}
    {%- elif table == 'child_flags' -%}
        {%- do checks.extend([
            {
                'rule': 'children_count_out_of_range',
                'when': 'children_count__value < 0',
                'reason': "'children_count ' || children_count__value || ' is negative'",
            },
        ] + crime_checks()) -%}
    {%- elif table == 'programme_participants' -%}
        {#- Stage order: referred <= selected <= disruption started <= full engagement <= completed / exited.
            Every pair of stages present on a row is compared; the first pair out of order is named. -#}
        {%- set chain = ['referred_on', 'selected_on', 'disruption_started_on', 'full_engagement_on'] -%}
        {%- do checks.extend(date_range_checks(table)) -%}
        {%- for later in chain[1:] + ['completed_on', 'exited_on'] -%}
            {%- for earlier in chain if earlier != later and (later not in chain or chain.index(earlier) < chain.index(later)) -%}
                {%- do checks.append({
                    'rule': 'stage_dates_out_of_order',
                    'when': later ~ '__value < ' ~ earlier ~ '__value',
                    'reason': "'stage dates out of order: " ~ later ~ " ' || " ~ later ~ "__value || ' is before "
                        ~ earlier ~ " ' || " ~ earlier ~ "__value",
                }) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- do checks.extend(
            parent_checks('person', 'person_id', 'offenders', 'unknown_person', 'offender_quarantined')
        ) -%}
    {%- elif table == 'ref_lsoa' -%}
        {%- do checks.append({
            'rule': 'imd_decile_out_of_range',
            'when': 'imd_decile__value not between 1 and 10',
            'reason': "'imd_decile ' || imd_decile__value || ' out of range 1–10'",
        }) -%}
    {%- endif -%}
    {%- set duplicate = wmp_duplicate_rule(table) -%}
    {%- if duplicate -%}
        {%- do checks.append({
            'rule': duplicate['rule'],
            'when': 'false',
            'reason': "'duplicate " ~ duplicate['keys'] | join(' + ') ~ " ' || "
                ~ quoted("concat_ws(' + ', " ~ duplicate['keys'] | join('__value, ') ~ "__value)")
                ~ " || ': row ' || _kept_row_number || ' was kept'",
        }) -%}
    {%- endif -%}
    {{ return(checks) }}
{%- endmacro %}

{#- The final select of a base model: `checked` is the caller's CTE with raw text, typed values and helper
    columns. Outputs _row_number, the typed values, failed_check (index of the first failing check),
    rule, and _kept_row_number (for duplicates), and the `context` helper columns a reason needs (e.g. the
    rule of a quarantined parent). Reasons are built in quarantine only (few rows). -#}
{% macro validated_rows(table, context=[]) -%}
    {%- set checks = wmp_checks(table) -%}
    {%- set duplicate = wmp_duplicate_rule(table) -%}
    {#- continues the caller's WITH list -#}
    , ruled as (
        select
            _row_number,
            {%- for column in wmp_contract()[table] %}
            {{ column[0] }}__value,
            {%- endfor %}
            {%- for column in context %}
            {{ column }},
            {%- endfor %}
            case
                {%- for check in checks if check.when != 'false' %}
                when {{ check.when }} then {{ loop.index }}
                {%- endfor %}
            end as failed_check
        from checked
    )
    {%- if duplicate %}
    , duplicate_keys as (
        select
            {%- for key in duplicate['keys'] %}
            {{ key }}__value,
            {%- endfor %}
            min(_row_number) as _kept_row_number
        from ruled
        where failed_check is null
        group by {% for key in duplicate['keys'] %}{{ key }}__value{{ ", " if not loop.last }}{% endfor %}
        having count(*) > 1
    )
    , with_duplicates as (
        select
            ruled.* exclude (failed_check),
            case
                when ruled.failed_check is null and ruled._row_number != duplicate_keys._kept_row_number
                    then {{ checks | length }}
                else ruled.failed_check
            end as failed_check,
            duplicate_keys._kept_row_number
        from ruled
        left join duplicate_keys
            on {% for key in duplicate['keys'] %}ruled.{{ key }}__value = duplicate_keys.{{ key }}__value{{ " and " if not loop.last }}{% endfor %}
    )
    {%- else %}
    , with_duplicates as (
        select ruled.*, cast(null as bigint) as _kept_row_number from ruled
    )
    {%- endif %}

    select
        with_duplicates.*,
        case failed_check
            {%- for check in checks %}
            when {{ loop.index }} then '{{ check.rule }}'
            {%- endfor %}
        end as rule
    from with_duplicates
{%- endmacro %}
