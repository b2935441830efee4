{%- set checks = required_and_parse_checks('offenders') + [age_check('age'), staged_crime_check()] -%}

with typed as (
    select
        raw_rows.*,
        {{- typed_columns('offenders') }}
    from {{ source('raw', 'offenders') }} as raw_rows
),

staged_crimes as (
    select crime_number from {{ ref('stg_wmp__crimes') }}
),

checked as (
    select
        typed.*,
        staged_crimes.crime_number is not null as _crime_is_staged
    from typed
    left join staged_crimes on typed.crime_number__value = staged_crimes.crime_number
),

ruled as (
    select
        * exclude (_crime_is_staged),
        {{ rule_and_reason(checks) }}
    from checked
)

{{ select_with_duplicate_rule('ruled', ['crime_number__value', 'person_id__value'], 'duplicate_person_on_crime') }}
