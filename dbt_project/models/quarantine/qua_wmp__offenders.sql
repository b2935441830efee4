{{ quarantined_rows('offenders') }}
