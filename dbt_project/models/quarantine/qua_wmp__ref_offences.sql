{{ quarantined_rows('ref_offences') }}
