{{ quarantined_rows('offence_types') }}
