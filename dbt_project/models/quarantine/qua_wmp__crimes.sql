{{ quarantined_rows('crimes') }}
