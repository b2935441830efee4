{{ quarantined_rows('child_flags') }}
