{{ quarantined_rows('programme_participants') }}
