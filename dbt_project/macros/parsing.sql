{#- Casting text from `raw` into typed values. Every helper returns NULL for a value it cannot read, so the
    validation models can tell "missing" (text is NULL) from "unparseable" (text present, value NULL). -#}

{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{% macro parse_bool(column) -%}
    case
        when lower({{ clean_text(column) }}) in ('true', 't', '1', 'yes', 'y') then true
        when lower({{ clean_text(column) }}) in ('false', 'f', '0', 'no', 'n') then false
    end
{%- endmacro %}

{#- Whole numbers only: '12' and '12.0' parse, '12.5' does not (a plain cast would round it). -#}
{% macro parse_int(column) -%}
    case
        when try_cast({{ clean_text(column) }} as double) = round(try_cast({{ clean_text(column) }} as double))
            then try_cast(try_cast({{ clean_text(column) }} as double) as bigint)
    end
{%- endmacro %}

{% macro parse_sex(column) -%}
    case
        when lower({{ clean_text(column) }}) in ('male', 'm') then 'male'
        when lower({{ clean_text(column) }}) in ('female', 'f') then 'female'
        else 'unknown'
    end
{%- endmacro %}

{#- The timestamps the platform reads: the contract's `YYYY-MM-DD HH:MM:SS` (local time, no zone) and the
    unambiguous ISO 8601 spellings of the same thing: `T` for the space, no seconds, fractions of a second,
    one-digit month, day or hour. Not read (the row is quarantined): a date without a time (it would invent
    midnight), day-first or month-first dates (ambiguous), a value with a time zone (rule
    timestamp_has_time_zone: the contract's times are local and the platform will not guess a conversion). -#}
{% macro local_timestamp_pattern() -%}
    \d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?
{%- endmacro %}

{#- A local timestamp followed by a zone: Z, an offset (+01:00, -0500), UTC/GMT (with an offset), BST, or a
    tz database name (Europe/London). -#}
{% macro zoned_timestamp_pattern() -%}
    (?i){{ local_timestamp_pattern() }}\s*(Z|(UTC|GMT)?[+-]\d{1,2}(:?\d{2})?|UTC|GMT|BST|[a-z]+/[a-z_]+)
{%- endmacro %}

{#- Dates: `YYYY-MM-DD`, or the same at midnight (`YYYY-MM-DD 00:00:00`, as a Parquet timestamp column or a
    spreadsheet writes a date). A date with another time of day is not read: which date was meant is a guess. -#}
{% macro local_date_pattern() -%}
    \d{4}-\d{1,2}-\d{1,2}([ T]00:00(:00(\.0+)?)?)?
{%- endmacro %}

{% macro parse_value(column, kind) -%}
    {%- if kind == 'text' -%} {{ clean_text(column) }}
    {%- elif kind == 'code' -%} upper({{ clean_text(column) }})
    {%- elif kind == 'category' -%} lower(regexp_replace({{ clean_text(column) }}, '\s+', ' ', 'g'))
    {%- elif kind == 'sex' -%} {{ parse_sex(column) }}
    {%- elif kind == 'int' -%} {{ parse_int(column) }}
    {%- elif kind == 'double' -%} try_cast({{ clean_text(column) }} as double)
    {%- elif kind == 'bool' -%} {{ parse_bool(column) }}
    {#- Fast path for the contract's own formats; the other accepted spellings through a (slower) cast. -#}
    {%- elif kind == 'date' -%}
        coalesce(
            cast(try_strptime({{ column }}, '%Y-%m-%d') as date),
            case when regexp_full_match({{ clean_text(column) }}, '{{ local_date_pattern() }}')
                then try_cast({{ clean_text(column) }} as date) end
        )
    {%- elif kind == 'timestamp' -%}
        coalesce(
            try_strptime({{ column }}, '%Y-%m-%d %H:%M:%S'),
            case when regexp_full_match({{ clean_text(column) }}, '{{ local_timestamp_pattern() }}')
                then try_cast({{ clean_text(column) }} as timestamp) end
        )
    {%- else -%} {{ exceptions.raise_compiler_error("unknown column kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#- The last date a row may carry: var `extract_end_date` if set, else the run date. -#}
{% macro extract_end_date() -%}
    {%- set end_date = var('extract_end_date', '') -%}
    {%- if end_date and end_date | string | trim -%} date '{{ end_date | string | trim }}'
    {%- else -%} current_date
    {%- endif -%}
{%- endmacro %}

{#- A value quoted for a human-readable reason ('NULL' when missing). -#}
{% macro quoted(expression) -%}
    coalesce('''' || cast({{ expression }} as varchar) || '''', 'NULL')
{%- endmacro %}

{#- A list of strings from a var as a SQL list: ('a', 'b'). -#}
{% macro sql_string_list(values) -%}
    ({%- for value in values -%}'{{ value | lower | trim | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}

{#- Difference in days (fractional) between two timestamps. -#}
{% macro days_between(start_at, end_at) -%}
    (date_diff('second', {{ start_at }}, {{ end_at }}) / 86400.0)
{%- endmacro %}

{#- Severity band of seed 000: low < var(severity_band_medium_from) <= medium <= var(severity_band_high_above) < high. -#}
{% macro severity_band(severity) -%}
    case
        when {{ severity }} is null then null
        when {{ severity }} < {{ var('severity_band_medium_from') }} then 'low'
        when {{ severity }} <= {{ var('severity_band_high_above') }} then 'medium'
        else 'high'
    end
{%- endmacro %}

{#- Volume band of seed 000: none (0), low (< var volume_band_high_from), high. -#}
{% macro volume_band(n_incidents) -%}
    case
        when coalesce({{ n_incidents }}, 0) = 0 then 'none'
        when {{ n_incidents }} < {{ var('volume_band_high_from') }} then 'low'
        else 'high'
    end
{%- endmacro %}

{#- Risk grades in order, for "highest of". -#}
{% macro risk_rank(risk_level) -%}
    case {{ risk_level }} when 'standard' then 1 when 'medium' then 2 when 'high' then 3 end
{%- endmacro %}

{% macro risk_from_rank(rank) -%}
    case {{ rank }} when 1 then 'standard' when 2 then 'medium' when 3 then 'high' end
{%- endmacro %}

{#- The most common value per key (ties: the alphabetically first value), as a relation to join.
    `relation` is a CTE name; `where` filters the rows counted. Hash aggregation only (no sorting). -#}
{% macro modal_value(relation, key, value, alias, where='true') -%}
    select {{ key }}, min({{ alias }}) filter (where n_rows = max_n_rows) as {{ alias }}
    from (
        select
            {{ key }},
            {{ value }} as {{ alias }},
            count(*) as n_rows,
            max(count(*)) over (partition by {{ key }}) as max_n_rows
        from {{ relation }}
        where {{ value }} is not null and ({{ where }})
        group by {{ key }}, {{ value }}
    )
    group by {{ key }}
{%- endmacro %}
