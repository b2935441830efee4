{#- Development fixture: creates the `raw` schema with a handful of hand-written rows per table, in the
    shape the Python ingest produces (every column text, plus _row_number; and raw._load_log). It exercises
    the grouping rule, the DA and substance labels, victimisation and every quarantine rule.
      dbt run-operation load_dev_fixture --profiles-dir .
    Never run it against a real warehouse: it replaces the raw tables. -#}
{% macro load_dev_fixture() %}
    {%- set rows = {
        'ref_offences': [
            ['105A', 'Assault with injury', 'violence against the person', '200', '365', 'false', 'fixture'],
            ['104', 'Assault without injury', 'violence against the person', '50', '10', 'false', 'fixture'],
            ['58C', 'Criminal damage to a dwelling', 'criminal damage and arson', '30', none, 'false', 'fixture'],
            ['92A', 'Possession of controlled drugs', 'drug offences', '20', '2', 'true', 'fixture'],
            ['8L', 'Harassment', 'violence against the person', '60', '30', 'false', 'fixture'],
            ['NC01', 'Domestic incident (non-crime)', 'non-crime', '0', none, 'false', 'fixture'],
            ['28E', 'Burglary in a dwelling', 'burglary', '300', '100', 'false', 'fixture'],
            ['28E', 'Burglary in a dwelling (second copy)', 'burglary', '301', '100', 'false', 'fixture'],
            ['XW', 'Bad weight', 'theft', 'heavy', none, 'false', 'fixture'],
        ],
        'ref_lsoa': [
            ['E01000001', '40.5', '2'],
            ['E01000002', '10.25', '8'],
            ['E01000003', '12', '11'],
        ],
        'offence_types': [
            ['105A', 'violence with injury'],
            ['58C', 'criminal damage'],
            ['28E', 'burglary'],
        ],
        'crimes': [
            ['C1', 'crime', '105A', 'true', '2018-03-01 22:00:00', '2018-03-01 21:00:00', '2018-03-01 21:30:00', 'E01000001', 'Standard', '1'],
            ['C2', 'crime', '58c', 'FALSE', '2018-03-01 22:00:00', '2018-03-01 21:15:00', none, 'E01000001', none, '18'],
            ['C3', 'crime', '92A', '0', '2018-06-10 12:00:00', '2018-06-10 02:00:00', '', 'E01000002', '', '8'],
            ['C4', 'Non-Crime', 'NC01', 'no', '2019-01-05 09:00:00', '2019-01-04 23:00:00', none, 'E01000001', 'HIGH', none],
            ['C5', 'crime', '104', 'yes', '2019-01-05 09:00:00', '2019-01-05 00:30:00', none, 'E01000001', 'medium', '1'],
            ['C6', 'crime', '8L', 't', '2020-02-01 10:00:00', '2020-02-01 08:00:00', none, 'E01000002', 'medium', '1'],
            ['C7', 'crime', '105A', 'f', '2020-02-01 10:00:00', '2020-02-01 09:00:00', '2020-02-03 09:00:00', 'E01000002', none, '15'],
            ['C8', 'crime', '104', 'true', '2020-05-01 10:00:00', '2020-05-01 08:00:00', none, 'E01000002', 'standard', '1'],
            ['C9', 'crime', '104', 'true', '2020-05-01 11:00:00', '2020-05-01 08:00:00', none, 'E01000002', 'high', '1'],
            ['C10', 'crime', '28E', 'true', '2020-07-01 10:00:00', '2020-07-01 09:00:00', none, none, none, '1'],
            ['C1', 'crime', '104', 'true', '2018-03-01 22:00:00', '2018-03-01 21:00:00', none, 'E01000001', 'standard', '1'],
            ['C12', 'crime', '104', 'true', '2018-03-01 22:00:00', '2018-03-01 21:00:00', '2018-02-01 21:00:00', none, none, none],
            ['C13', 'crime', '104', 'true', '2018-03-01 20:00:00', '2018-03-01 21:00:00', none, none, none, none],
            ['C14', 'crime', '104', 'true', 'yesterday', '2018-03-01 21:00:00', none, none, none, none],
            ['C15', 'crime', 'ZZZ', 'true', '2018-03-01 22:00:00', '2018-03-01 21:00:00', none, none, none, none],
            ['C16', 'crime', '104', 'true', '2018-03-01 22:00:00', '2018-03-01 21:00:00', none, none, 'extreme', none],
            ['C17', 'incident', '104', 'true', '2018-03-01 22:00:00', '2018-03-01 21:00:00', none, none, none, none],
            ['C18', 'crime', '104', 'true', '2099-03-01 22:00:00', '2099-03-01 21:00:00', none, none, none, none],
            ['  ', 'crime', '104', 'true', '2018-03-01 22:00:00', '2018-03-01 21:00:00', none, none, none, none],
            ['C20', 'crime', '104', 'maybe', '2018-03-01 22:00:00', '2018-03-01 21:00:00', none, none, none, '99'],
            ['C21', 'crime', '104', 'true', '2018-03-01 22:00:00', '1850-03-01 21:00:00', none, none, none, none],
        ],
        'offenders': [
            ['C1', 'P1', '30', 'M', 'W1'],
            ['C2', 'P1', '30', 'male', 'W1'],
            ['C3', 'P1', '30.0', 'Male', 'W1'],
            ['C4', 'P1', '31', 'M', 'W1'],
            ['C5', 'P1', '31', 'M', 'A1'],
            ['C6', 'P2', '25', 'F', 'B1'],
            ['C7', 'P2', '25', 'F', 'B1'],
            ['C8', 'P2', '25', 'F', 'B1'],
            ['C9', 'P2', '25', 'f', 'B1'],
            ['C10', 'P3', none, 'x', none],
            ['C12', 'P1', '30', 'M', 'W1'],
            ['C6', 'P4', '430', 'M', 'W1'],
            ['C6', 'P2', '25', 'F', 'B1'],
            ['C7', 'P5', '12.5', 'M', 'W1'],
        ],
        'victims': [
            ['C1', 'V1', '28', 'F', 'W1'],
            ['C2', 'V1', '28', 'F', 'W1'],
            ['C3', 'P2', '24', 'F', 'B1'],
            ['C4', 'V1', '29', 'female', 'W1'],
            ['C5', 'V1', '29', 'F', 'W1'],
            ['C6', 'V2', '40', 'M', 'W1'],
            ['C7', 'P1', '32', 'M', 'W1'],
            ['C8', 'V3', '27', 'M', 'W1'],
            ['C9', 'V3', '27', 'M', 'W1'],
            ['C10', 'V4', none, 'F', 'W1'],
            ['C999', 'V5', '20', 'F', 'W1'],
        ],
        'witnesses': [
            ['C6', 'W9', '50', 'F', 'W1'],
            ['C6', 'W9', '50', 'F', 'W1'],
        ],
        'relationships': [
            ['C1', 'V1', 'P1', none, 'partner'],
            ['C4', 'V1', 'P1', none, 'Partner '],
            ['C5', 'V1', 'P1', none, 'partner'],
            ['C3', 'P2', 'P1', none, 'acquaintance'],
            ['C6', 'V2', 'P2', none, 'ex-partner'],
            ['C7', 'P1', 'P2', none, 'ex-partner'],
            ['C8', 'V3', 'P2', none, 'ex-partner'],
            ['C10', 'V4', 'P3', none, 'parent'],
            ['C10', 'V4', none, 'W8', none],
        ],
        'custody': [
            ['C1', 'P1', '2018-03-02 01:00:00', 'assault', 'charged'],
            ['C6', 'P2', '2020-02-31 01:00:00', 'assault', 'charged'],
        ],
        'child_flags': [
            ['C1', 'true', '2'],
            ['C6', 'false', '-1'],
        ],
        'special_interest_markers': [
            ['C4', 'Partner-on-Partner'],
            ['C7', 'alcohol  involved'],
            ['C1', 'DRUGS involved '],
            ['C10', 'repeat victim'],
            ['C15', 'partner-on-partner'],
        ],
        'programme_participants': [
            ['P1', 'DRIVE', '2019', 'treatment', '2019-02-01', '2019-02-10', '2019-03-01', '2019-04-01', '2019-12-01', '2019-12-01', 'completed'],
            ['P2', 'DRIVE', '2020', none, '2020-03-01', '2020-02-01', none, none, none, none, none],
            ['P404', 'DRIVE', '2020', none, none, '2020-02-01', none, none, none, none, none],
            ['P1', 'DRIVE', '2019', 'treatment', '2019-02-01', '2019-02-10', none, none, none, none, none],
            ['P3', 'focused deterrence', 'phase 1', 'control', none, '2020-08-01', none, none, none, '2021-08-01', 'moved away'],
        ],
    } -%}
    {%- do run_query('create schema if not exists raw') -%}
    {%- for table in wmp_tables() -%}
        {%- set columns = wmp_contract()[table] | map('first') | list -%}
        {%- set create -%}
            create or replace table raw.{{ table }} (
                {%- for column in columns %}{{ adapter.quote(column) }} varchar, {% endfor -%}
                _row_number bigint)
        {%- endset -%}
        {%- do run_query(create) -%}
        {%- for row in rows.get(table, []) -%}
            {%- set insert -%}
                insert into raw.{{ table }} values (
                {%- for value in row -%}
                    {{ "null" if value is none else "'" ~ value ~ "'" }},
                {%- endfor -%}
                {{ loop.index }})
            {%- endset -%}
            {%- do run_query(insert) -%}
        {%- endfor -%}
        {{ log('raw.' ~ table ~ ': ' ~ rows.get(table, []) | length ~ ' rows', info=true) }}
    {%- endfor -%}
    {#- The load log the Python loader writes. The fixture breaks rules on purpose in most tables, so its
        bad-row threshold is 1 (no table is refused; macros/quarantine_threshold.sql). -#}
    {%- set load_log -%}
        create or replace table raw._load_log as
        select table_name, 'fixture' as source, cast(null as varchar) as file, cast(null as varchar) as format,
            cast(null as varchar) as sha256, cast(null as bigint) as rows_read, '' as extra_columns,
            1.0::double as max_quarantined_share
        from (values {% for table in wmp_tables() %}('{{ table }}'){{ ", " if not loop.last }}{% endfor %}) as t(table_name)
    {%- endset -%}
    {%- do run_query(load_log) -%}
{% endmacro %}
