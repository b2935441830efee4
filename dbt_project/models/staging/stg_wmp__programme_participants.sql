{{ staged_rows('programme_participants') }}
