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

{% macro parse_value(column, kind) -%}
    {%- if kind == 'text' -%} {{ clean_text(column) }}
    {%- elif kind == 'code' -%} upper({{ clean_text(column) }})
    {%- elif kind == 'category' -%} lower(regexp_replace({{ clean_text(column) }}, '\s+', ' ', 'g'))
    {%- elif kind == 'sex' -%} {{ parse_sex(column) }}
    {%- elif kind == 'int' -%} {{ parse_int(column) }}
    {%- elif kind == 'double' -%} try_cast({{ clean_text(column) }} as double)
    {%- elif kind == 'bool' -%} {{ parse_bool(column) }}
    {%- elif kind == 'date' -%} try_cast({{ clean_text(column) }} as date)
    {%- elif kind == 'timestamp' -%} try_cast({{ clean_text(column) }} as timestamp)
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
