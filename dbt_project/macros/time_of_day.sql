{#- Whether the time of day of a timestamp is known. Some forces record an unknown time as a fixed clock
    time (most often 00:00:00): those values, listed in the var `unknown_times_of_day` ('HH:MM:SS'
    strings; an empty list means every recorded time is real), make the time of day unknown. The date
    is kept either way. -#}
{% macro time_of_day_is_known(column) -%}
    {%- set unknown = var('unknown_times_of_day', []) -%}
    {%- if unknown | length == 0 -%}
        ({{ column }} is not null)
    {%- else -%}
        ({{ column }} is not null and cast({{ column }} as time) not in (
            {%- for value in unknown -%}
                time '{{ value }}'{{ ', ' if not loop.last }}
            {%- endfor -%}
        ))
    {%- endif -%}
{%- endmacro %}
