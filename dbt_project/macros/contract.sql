{#- Generated from dap/contract.yml by `make contract` (python -m dap.contract_gen): do not edit.
    The raw extract contract (spec: raw-extract-contract.md), as the staging layer reads it.
    Each column: [name, kind, required]. Kinds say how a text value is cast and normalised:
      text      trimmed; empty = NULL
      code      trimmed, upper-cased (offence codes, LSOA codes)
      category  trimmed, lower-cased, inner whitespace collapsed
      sex       normalised to male / female / unknown (NULL and unrecognised values = unknown)
      int, double, bool, date, timestamp   parsed; a value that does not parse breaks rule `unparseable` -#}
{% macro wmp_contract() -%}
    {{ return({
        'crimes': [
            ['crime_number', 'text', true],
            ['record_type', 'category', true],
            ['offence_code', 'code', true],
            ['da_flag', 'bool', true],
            ['reported_at', 'timestamp', true],
            ['committed_from', 'timestamp', true],
            ['committed_to', 'timestamp', false],
            ['lsoa_code', 'code', false],
            ['risk_level', 'category', false],
            ['outcome_code', 'int', false],
        ],
        'offenders': [
            ['crime_number', 'text', true],
            ['person_id', 'text', true],
            ['age', 'int', false],
            ['sex', 'sex', false],
            ['ethnicity', 'text', false],
        ],
        'victims': [
            ['crime_number', 'text', true],
            ['person_id', 'text', true],
            ['age', 'int', false],
            ['sex', 'sex', false],
            ['ethnicity', 'text', false],
        ],
        'witnesses': [
            ['crime_number', 'text', true],
            ['person_id', 'text', true],
            ['age', 'int', false],
            ['sex', 'sex', false],
            ['ethnicity', 'text', false],
        ],
        'relationships': [
            ['crime_number', 'text', true],
            ['victim_person_id', 'text', true],
            ['offender_person_id', 'text', false],
            ['witness_person_id', 'text', false],
            ['relationship', 'category', true],
        ],
        'custody': [
            ['crime_number', 'text', true],
            ['person_id', 'text', true],
            ['arrested_at', 'timestamp', false],
            ['arrest_reason', 'text', false],
            ['clearup', 'text', false],
        ],
        'child_flags': [
            ['crime_number', 'text', true],
            ['children_present', 'bool', false],
            ['children_count', 'int', false],
        ],
        'special_interest_markers': [
            ['crime_number', 'text', true],
            ['marker', 'category', true],
        ],
        'programme_participants': [
            ['person_id', 'text', true],
            ['programme', 'text', true],
            ['cohort', 'text', false],
            ['arm', 'category', false],
            ['referred_on', 'date', false],
            ['selected_on', 'date', true],
            ['disruption_started_on', 'date', false],
            ['full_engagement_on', 'date', false],
            ['completed_on', 'date', false],
            ['exited_on', 'date', false],
            ['exit_reason', 'text', false],
        ],
        'ref_offences': [
            ['offence_code', 'code', true],
            ['offence_description', 'text', false],
            ['offence_group', 'category', true],
            ['ons_css_weight', 'double', true],
            ['cchi_days', 'double', false],
            ['substance_related', 'bool', false],
            ['weight_source', 'text', false],
        ],
        'ref_lsoa': [
            ['lsoa_code', 'code', true],
            ['imd_score', 'double', false],
            ['imd_decile', 'int', false],
        ],
        'offence_types': [
            ['offence_code', 'code', true],
            ['offence_type', 'category', true],
        ],
    }) }}
{%- endmacro %}

{#- The tables in the order the audit lists them. -#}
{% macro wmp_tables() -%}
    {{ return(['crimes', 'offenders', 'victims', 'witnesses', 'relationships', 'custody', 'child_flags', 'special_interest_markers', 'programme_participants', 'ref_offences', 'ref_lsoa', 'offence_types']) }}
{%- endmacro %}

{#- The key whose duplicates are quarantined (last rule), or none. -#}
{% macro wmp_duplicate_rule(table) -%}
    {%- set rules = {
        'crimes': {'keys': ['crime_number'], 'rule': 'duplicate_crime_number'},
        'offenders': {'keys': ['crime_number', 'person_id'], 'rule': 'duplicate_person_on_crime'},
        'victims': {'keys': ['crime_number', 'person_id'], 'rule': 'duplicate_person_on_crime'},
        'witnesses': {'keys': ['crime_number', 'person_id'], 'rule': 'duplicate_person_on_crime'},
        'programme_participants': {'keys': ['person_id', 'programme'], 'rule': 'duplicate_participant'},
        'ref_offences': {'keys': ['offence_code'], 'rule': 'duplicate_offence_code'},
        'ref_lsoa': {'keys': ['lsoa_code'], 'rule': 'duplicate_lsoa_code'},
        'offence_types': {'keys': ['offence_code'], 'rule': 'duplicate_offence_code'},
    } -%}
    {{ return(rules.get(table)) }}
{%- endmacro %}

{#- The values a column accepts after normalising (rule `<column>_not_accepted`), by table and column. -#}
{% macro wmp_accepted_values(table, column) -%}
    {%- set values = {
        'crimes.record_type': ['crime', 'non-crime'],
        'crimes.risk_level': ['standard', 'medium', 'high'],
    } -%}
    {{ return(values[table ~ '.' ~ column]) }}
{%- endmacro %}
