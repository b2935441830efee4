{{ quarantined_rows('custody') }}
