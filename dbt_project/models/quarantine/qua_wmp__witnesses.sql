{{ quarantined_rows('witnesses') }}
