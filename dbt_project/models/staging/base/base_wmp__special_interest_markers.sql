{#- Every raw special_interest_markers row cast once and checked against its crime (macros/validation.sql). -#}
{{ crime_child_rows('special_interest_markers') }}
