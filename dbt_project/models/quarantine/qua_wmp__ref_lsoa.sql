{{ quarantined_rows('ref_lsoa') }}
