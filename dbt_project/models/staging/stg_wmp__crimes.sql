{{ staged_rows('crimes') }}
