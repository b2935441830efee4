{#- Every raw relationships row cast once and checked against its crime (macros/validation.sql). -#}
{{ crime_child_rows('relationships') }}
