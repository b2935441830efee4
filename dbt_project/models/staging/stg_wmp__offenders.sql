{{ staged_rows('offenders') }}
