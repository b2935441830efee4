{#- One row per crime number × offender: the staged crime joined to its reference data (ONS severity,
    CCHI, offence type, IMD), its special interest markers and its victim count, with the offence-level DA
    label (force flag or DA marker) and substance flag (substance-related offence or substance marker). -#}
with crimes as (
    select * from {{ ref('stg_wmp__crimes') }}
),

offenders as (
    select * from {{ ref('stg_wmp__offenders') }}
),

ref_offences as (
    select * from {{ ref('stg_wmp__ref_offences') }}
),

offence_types as (
    select * from {{ ref('stg_wmp__offence_types') }}
),

ref_lsoa as (
    select * from {{ ref('stg_wmp__ref_lsoa') }}
),

markers_per_crime as (
    select
        crime_number,
        bool_or(marker in {{ sql_string_list(var('da_markers')) }}) as has_da_marker,
        bool_or(marker in {{ sql_string_list(var('substance_markers')) }}) as has_substance_marker
    from {{ ref('stg_wmp__special_interest_markers') }}
    group by crime_number
),

victims_per_crime as (
    select
        crime_number,
        count(distinct person_id) as n_victims
    from {{ ref('stg_wmp__victims') }}
    group by crime_number
)

select
    crimes.crime_number,
    offenders.person_id as offender_id,
    crimes.offence_code,
    ref_offences.offence_description,
    ref_offences.offence_group,
    coalesce(offence_types.offence_type, ref_offences.offence_group) as offence_type,
    crimes.record_type,
    crimes.record_type = 'non-crime' as is_non_crime,
    crimes.da_flag,
    coalesce(markers_per_crime.has_da_marker, false) as has_da_marker,
    crimes.da_flag or coalesce(markers_per_crime.has_da_marker, false) as is_da_offence,
    coalesce(markers_per_crime.has_substance_marker, false) as has_substance_marker,
    coalesce(ref_offences.substance_related, false) as substance_related,
    coalesce(ref_offences.substance_related, false)
    or coalesce(markers_per_crime.has_substance_marker, false) as substance_flag,
    ref_offences.ons_css_weight as severity,
    ref_offences.cchi_days,
    crimes.reported_at,
    crimes.committed_from,
    crimes.committed_to,
    cast(crimes.committed_from as date) as committed_on,
    crimes.lsoa_code,
    ref_lsoa.imd_score,
    ref_lsoa.imd_decile,
    crimes.risk_level,
    crimes.outcome_code,
    offenders.age as offender_age,
    offenders.sex as offender_sex,
    offenders.ethnicity as offender_ethnicity,
    coalesce(victims_per_crime.n_victims, 0) as n_victims
from offenders
inner join crimes on offenders.crime_number = crimes.crime_number
inner join ref_offences on crimes.offence_code = ref_offences.offence_code
left join offence_types on crimes.offence_code = offence_types.offence_code
left join ref_lsoa on crimes.lsoa_code = ref_lsoa.lsoa_code
left join markers_per_crime on crimes.crime_number = markers_per_crime.crime_number
left join victims_per_crime on crimes.crime_number = victims_per_crime.crime_number
