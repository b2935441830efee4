{{ staged_rows('ref_offences') }}
