{{ quarantined_rows('special_interest_markers') }}
