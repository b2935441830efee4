{{ staged_rows('victims') }}
