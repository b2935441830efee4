{{ staged_rows('relationships') }}
