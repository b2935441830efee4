{{ quarantined_rows('relationships') }}
