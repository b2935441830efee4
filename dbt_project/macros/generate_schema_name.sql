{#- Use a model's custom schema verbatim (`staging`, `marts`, ...), without the target-schema prefix:
    the warehouse schemas are a published interface (docs/data-model.md). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
