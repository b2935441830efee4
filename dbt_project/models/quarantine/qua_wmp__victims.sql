{{ quarantined_rows('victims') }}
