{#- Every raw child_flags row cast once and checked against its crime (macros/validation.sql). -#}
{{ crime_child_rows('child_flags') }}
