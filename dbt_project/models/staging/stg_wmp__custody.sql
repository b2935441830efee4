{{ staged_rows('custody') }}
