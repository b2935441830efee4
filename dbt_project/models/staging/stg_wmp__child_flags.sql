{{ staged_rows('child_flags') }}
