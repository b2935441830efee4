{#- Row-level validation: every raw row is cast once and given the FIRST rule it breaks (in the order the
    checks are listed), with a human-readable reason that names the column and the bad value.
    Staging keeps the rows with no rule, quarantine the others: each raw row lands in exactly one. -#}

{#- The typed value of every contract column, as `<column>__value`, next to the raw text columns. -#}
{% macro typed_columns(table) -%}
    {%- for column in wmp_contract()[table] %}
    {{ parse_value(adapter.quote(column[0]), column[1]) }} as {{ column[0] }}__value{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The staged (typed) columns under their contract names. -#}
{% macro staged_columns(table) -%}
    {%- for column in wmp_contract()[table] %}
    {{ column[0] }}__value as {{ column[0] }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Rules 1 and 2 of every table: a required column is empty; a value does not parse as its type (for a
    timestamp, a value that would parse but for its time zone is named as such: timestamp_has_time_zone). -#}
{% macro required_and_parse_checks(table) -%}
    {%- set checks = [] -%}
    {%- set formats = {'date': ' (YYYY-MM-DD)', 'timestamp': ' (YYYY-MM-DD HH:MM:SS, local time)'} -%}
    {%- for column in wmp_contract()[table] if column[2] -%}
        {%- do checks.append({
            'rule': 'required_missing',
            'when': (column[0] ~ '__value is null and ' if column[1] != 'sex' else '')
                ~ clean_text(adapter.quote(column[0])) ~ ' is null',
            'reason': "'required column " ~ column[0] ~ " is empty'",
        }) -%}
    {%- endfor -%}
    {%- for column in wmp_contract()[table] if column[1] in ('int', 'double', 'bool', 'date', 'timestamp') -%}
        {%- set unread = column[0] ~ '__value is null and ' ~ clean_text(adapter.quote(column[0])) ~ ' is not null' -%}
        {%- if column[1] == 'timestamp' -%}
            {%- do checks.append({
                'rule': 'timestamp_has_time_zone',
                'when': unread ~ " and regexp_full_match(" ~ clean_text(adapter.quote(column[0])) ~ ", '"
                    ~ zoned_timestamp_pattern() ~ "')",
                'reason': "'" ~ column[0] ~ " ' || " ~ quoted(adapter.quote(column[0]))
                    ~ " || ' has a time zone; the contract wants local time without a zone'",
            }) -%}
        {%- endif -%}
        {%- do checks.append({
            'rule': 'unparseable',
            'when': unread,
            'reason': "'" ~ column[0] ~ " ' || " ~ quoted(adapter.quote(column[0])) ~ " || ' is not a valid "
                ~ column[1] ~ formats.get(column[1], '') ~ "'",
        }) -%}
    {%- endfor -%}
    {{ return(checks) }}
{%- endmacro %}

{#- Dates in the future (after var extract_end_date, or the run date) or before var earliest_valid_date. -#}
{% macro date_range_checks(table) -%}
    {%- set checks = [] -%}
    {%- set earliest = "date '" ~ var('earliest_valid_date') ~ "'" -%}
    {%- for column in wmp_contract()[table] if column[1] in ('date', 'timestamp') -%}
        {%- set value = column[0] ~ '__value' -%}
        {%- do checks.append({
            'rule': 'date_in_future',
            'when': 'cast(' ~ value ~ ' as date) > ' ~ extract_end_date(),
            'reason': "'" ~ column[0] ~ " ' || cast(" ~ value ~ " as varchar) || ' is after the extract end date '"
                ~ " || cast(" ~ extract_end_date() ~ " as varchar)",
        }) -%}
        {%- do checks.append({
            'rule': 'date_before_earliest',
            'when': 'cast(' ~ value ~ ' as date) < ' ~ earliest,
            'reason': "'" ~ column[0] ~ " ' || cast(" ~ value ~ " as varchar) || ' is before "
                ~ var('earliest_valid_date') ~ "'",
        }) -%}
    {%- endfor -%}
    {{ return(checks) }}
{%- endmacro %}

{#- Age columns: a missing age is allowed, an impossible one is not. -#}
{% macro age_check(column='age') -%}
    {{ return({
        'rule': 'age_out_of_range',
        'when': column ~ '__value not between ' ~ var('age_min') ~ ' and ' ~ var('age_max'),
        'reason': "'" ~ column ~ " ' || " ~ column ~ "__value || ' out of range " ~ var('age_min') ~ "–"
            ~ var('age_max') ~ "'",
    }) }}
{%- endmacro %}

{#- A category column must hold one of `values` (after normalising case and whitespace); NULL is allowed. -#}
{% macro accepted_values_check(column, values, rule) -%}
    {{ return({
        'rule': rule,
        'when': column ~ "__value not in ('" ~ values | join("', '") ~ "')",
        'reason': "'" ~ column ~ " ' || " ~ quoted(adapter.quote(column)) ~ " || ' is not one of "
            ~ values | join(', ') ~ "'",
    }) }}
{%- endmacro %}

{#- One row per key of a parent table (its base model): the key, whether one of its rows is staged, and the
    rule of its first row (the reason a dependant gives when none is staged). A dependant's base model
    left-joins this on its key. -#}
{% macro parent_keys(parent_table, key) -%}
    select
        {{ key }}__value as parent_key,
        bool_or(failed_check is null) as parent_is_staged,
        arg_min(rule, _row_number) as parent_rule
    from {{ ref('base_wmp__' ~ parent_table) }}
    where {{ key }}__value is not null
    group by {{ key }}__value
{%- endmacro %}

{#- A dependant row follows its parent: `unknown_<what>` when the key is in no row of the parent table (the
    row's own fault), `<parent>_quarantined` when the parent's rows are all quarantined (the row is
    quarantined with it). Flag columns `_<flag>_exists`, `_<flag>_is_staged` and `_<flag>_rule` come from a
    left join on `parent_keys` (see the base models). -#}
{% macro parent_checks(flag, column, parent_table, unknown_rule, quarantined_rule) -%}
    {%- set value = quoted(column ~ '__value') -%}
    {{ return([
        {
            'rule': unknown_rule,
            'when': 'not _' ~ flag ~ '_exists',
            'reason': "'" ~ column ~ " ' || " ~ value ~ " || ' is not in " ~ parent_table ~ "'",
        },
        {
            'rule': quarantined_rule,
            'when': 'not _' ~ flag ~ '_is_staged',
            'reason': "'" ~ column ~ " ' || " ~ value ~ " || ' is quarantined in " ~ parent_table
                ~ " (' || coalesce(_" ~ flag ~ "_rule, '?') || ')'",
        },
    ]) }}
{%- endmacro %}

{#- The row's crime must be in crimes and staged there. -#}
{% macro crime_checks() -%}
    {{ return(parent_checks('crime', 'crime_number', 'crimes', 'unknown_crime_number', 'crime_quarantined')) }}
{%- endmacro %}

{#- Quarantine table: the raw row as it arrived (text), its _row_number, the rule and the reason (reasons
    are built here, for the few quarantined rows only). -#}
{% macro quarantined_rows(table) -%}
    {%- set checks = wmp_checks(table) -%}
    select
        {%- for column in wmp_contract()[table] %}
        raw_rows.{{ adapter.quote(column[0]) }},
        {%- endfor %}
        raw_rows._row_number,
        validated.rule,
        case validated.failed_check
            {%- for check in checks %}
            when {{ loop.index }} then {{ check.reason }}
            {%- endfor %}
        end as reason
    from {{ ref('base_wmp__' ~ table) }} as validated
    inner join {{ source('raw', table) }} as raw_rows on validated._row_number = raw_rows._row_number
    where validated.failed_check is not null
{%- endmacro %}

{#- Staging view: the typed row of every raw row that broke no rule. -#}
{% macro staged_rows(table) -%}
    select
        _row_number,
        {{- staged_columns(table) }}
    from {{ ref('base_wmp__' ~ table) }}
    where failed_check is null
{%- endmacro %}

{#- The base model of a table whose rows each name a crime (custody, offenders, victims, ...): every raw row
    cast once, left-joined to the crime it names, with the first row-level rule it breaks (macros/rules.sql). -#}
{% macro crime_child_rows(table) -%}
with typed as (
    select
        raw_rows.*,
        {{- typed_columns(table) }}
    from {{ source('raw', table) }} as raw_rows
),

crimes as (
    {{ parent_keys('crimes', 'crime_number') }}
),

checked as (
    select
        typed.*,
        crimes.parent_key is not null as _crime_exists,
        coalesce(crimes.parent_is_staged, false) as _crime_is_staged,
        crimes.parent_rule as _crime_rule
    from typed
    left join crimes on typed.crime_number__value = crimes.parent_key
)

{{ validated_rows(table, context=['_crime_rule']) }}
{%- endmacro %}
