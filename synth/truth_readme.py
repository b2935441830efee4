"""The text of <extract>/_truth/README.txt."""

README = """\
Ground truth of a synthetic extract (written by `dap synth`; the pipeline never reads this folder)
=================================================================================================

summary.json
  Scale, seed, format, every generator option, row counts per table. Its presence marks a finished
  extract (`dap synth --if-missing` checks it).

offender_profiles.parquet  (one row per offender, person_id as in offenders.person_id)
  profile                 latent profile 1..29 = the seed-000 cluster it was generated from
  profile_label           the report's label ('' where the report gives none)
  offender_group          A..E (seed 000 groups of clusters)
  latent_harm             the offender's latent harm (drives serious escalation and DA risk grades)
  missing_age             NULL, 'own' (offender age NULL on every row) or 'victims' (DA victims' ages NULL):
                          about 5.3% of offenders, as the 7,731 of 145,392 dropped before clustering
  n_da_incidents_generated / n_non_da_incidents_generated
                          incidents as generated, after programme thinning. The platform's grouping rule
                          can count one more DA incident for each planted midnight pair (edge_cases.json),
                          and DA-marker-only incidents count as DA there too (they are DA here as well)
  has_non_da_history      >= 1 non-DA incident (after thinning; thinning touches DA incidents only)
  planted_true_effect     sum of the true effects of the terms this offender carries (ONS points)
  planted_added_da_severity  the ONS severity actually added to their DA incidents (8F offences)
  term:<kind>:<term>      one boolean column per planted term (see regression_effects.csv)

regression_effects.csv
  term_kind               'offence_type' (the offence_type of reference/offence_types.csv) or 'offence_code'
  term                    the offence type or code exactly as the platform sees it
  true_effect             expected additive change in an offender's total DA severity (ONS CSS points)
                          for carrying the term (having >= 1 non-DA offence of that type / code)
  planted                 true = non-zero effect; false = a planted null (assigned the same way, no effect)
  prevalence_among_non_da the assignment probability among offenders with >= 1 non-DA incident
  n_offenders             how many offenders carry the term in this extract
  assignment              how indicators were assigned

  Design. Each term is given to offenders with non-DA history independently of everything else
  (Bernoulli(prevalence), independent of the latent profile, of the counts and of the other terms): one
  offence of that type/code is added to one of their existing non-DA incidents, so the number of non-DA
  incidents does not change. The planted offence types and codes never occur in the natural non-DA
  offending, so "has the term" = "has >= 1 non-DA offence of that type/code". The effect is realised by
  adding floor(E/333) GBH-without-intent offences (8F, 333 points) plus one more with probability frac(E/333) to
  the offender's existing DA incidents (crime incidents preferred), so the number of DA incidents does not
  change and the expected added DA severity is exactly E = the sum of the offender's true effects.
  Unbiased estimation: regress total DA severity on the term indicators plus an indicator of having any
  non-DA history (has_non_da_history). The terms are independent of the latent profile only given that
  indicator, so leaving it out biases every term upwards or downwards with the profile mix. Further
  controls (counts, other offence types) are harmless but not needed. Severity is heavy-tailed: use
  robust (HC) standard errors. Offence types that are not listed (e.g. burglary, drug offences) are
  neither planted nor null: they arise naturally and are confounded with the profile, as in real data;
  'burglary' also contains the planted code 28F.

programme_effects.json
  Per programme: the true effect (multiplicative change in the DA incident rate after the anchor; each
  later DA incident of an affected person is kept with probability 1 + effect, so harm falls with it),
  the anchor stage, how people were selected, cohort sizes, the affected person_ids and how many DA
  incidents were removed. DRIVE is selected on observable history only (RFG at staggered as-of dates
  with panel randomness), so a comparison group of eligible unselected people matched on that history at
  the same as-of date gives an unbiased estimate; the raw before/after fall is mostly regression to the
  mean (people are selected in a hot spell of a bursty process). Focused deterrence is randomised 50/50
  (arm column); the effect applies to the treatment arm after the randomisation date. Selection for
  DRIVE is made within each chunk of up to 20,000 offenders (a local panel), so at wmp and national
  scale the ranking is per chunk, not force-wide.

edge_cases.json
  Counts of the planted grouping edge cases: incidents split by midnight (one reported_at, offences
  either side of midnight: the platform makes two incidents), pairs of separate reports on the same
  committed date (two incidents), and incidents whose time of day is unknown (every committed_from at
  00:00:00, as some forces record an unknown time; the platform's dbt var unknown_times_of_day).
"""
