{{ staged_rows('witnesses') }}
