{{ staged_rows('ref_lsoa') }}
