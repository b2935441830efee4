{{ staged_rows('offence_types') }}
