"""The generator's offence catalogue and the 29 latent offender profiles.

Everything the generator knows about offences lives here; ``reference/ref_offences.csv`` and
``reference/offence_types.csv`` are written from this table by ``python -m synth.reference`` and a test
checks the shipped files are in step with it.

Weight sources (reference/README.md explains them):
  P  published ONS Crime Severity Score weight (2016 release), research/anchors_domain.md §2.1
  A  documented approximation: the ONS method (mean sentence in prison-day equivalents) applied by hand,
     placed against the published anchors and the seed-000 equivalences (500 points ~ one indecent assault
     on a female; 684-742 ~ 3-4 domestic ABH; 106-132 ~ 2 stalking offences)
  Z  zero by definition: a non-crime record is not an offence and has no ONS weight
"""

from __future__ import annotations

# code | description | offence_group | ons weight | source | cchi days ('' = none) | substance | offence_type
_OFFENCES = """
1|Murder|violence against the person|7979|P|5475|0|homicide
4.1|Manslaughter|violence against the person|7979|P|5475|0|homicide
2|Attempted murder|violence against the person|4663|P|5475|0|violence with injury
3A|Conspiracy to murder|violence against the person|2500|A||0|violence without injury
3B|Threats to kill|violence against the person|230|A|10|0|violence without injury
4.7|Causing or allowing death of child or vulnerable person|violence against the person|2000|A|5475|0|homicide
5A|Wounding with intent to do grievous bodily harm|violence against the person|1965|P|365|0|violence with injury
5D|Assault with intent to cause serious harm|violence against the person|1965|P|365|0|violence with injury
5E|Endangering life|violence against the person|1919|P|365|0|violence with injury
8A|Other wounding|violence against the person|184|P|365|0|violence with injury
8F|Inflicting grievous bodily harm without intent|violence against the person|333|P|365|0|violence with injury
8G|Actual bodily harm and other injury|violence against the person|127|P|365|0|violence with injury
8K|Poisoning or female genital mutilation|violence against the person|50|P|365|0|violence with injury
8N|Assault with injury|violence against the person|184|P|365|0|violence with injury
8P|Racially or religiously aggravated assault with injury|violence against the person|250|A|365|0|violence with injury
8S|Assault with injury on a constable|violence against the person|184|A|365|0|violence with injury
105A|Assault without injury|violence against the person|20|A|10|0|violence without injury
105B|Racially or religiously aggravated assault without injury|violence against the person|40|A|10|0|violence without injury
104|Assault without injury on a constable|violence against the person|20|A|10|0|violence without injury
11A|Cruelty to children/young persons|violence against the person|180|A|10|0|violence without injury
13|Child abduction|violence against the person|400|A|10|0|violence without injury
36|Kidnapping|violence against the person|700|A|10|0|violence without injury
106|Modern slavery|violence against the person|900|A|10|0|violence without injury
8L|Harassment|violence against the person|30|A|10|0|stalking and harassment
8M|Racially or religiously aggravated harassment|violence against the person|45|A|10|0|stalking and harassment
8Q|Stalking|violence against the person|60|A|10|0|stalking and harassment
8R|Malicious communications|violence against the person|12|A|10|0|stalking and harassment
8U|Controlling or coercive behaviour in an intimate or family relationship|violence against the person|150|A|10|0|stalking and harassment
19C|Rape of a female aged 16 and over|sexual offences|1700|A|2555|0|sexual offences
19D|Rape of a female child under 16|sexual offences|1800|A|2555|0|sexual offences
19E|Rape of a female child under 13|sexual offences|2200|A|2555|0|sexual offences
19F|Rape of a male aged 16 and over|sexual offences|1700|A|2555|0|sexual offences
19G|Rape of a male child under 16|sexual offences|1800|A|2555|0|sexual offences
19H|Rape of a male child under 13|sexual offences|2200|A|2555|0|sexual offences
20A|Sexual assault on a female aged 13 and over|sexual offences|500|A||0|sexual offences
20B|Sexual assault on a female child under 13|sexual offences|700|A||0|sexual offences
17A|Sexual assault on a male aged 13 and over|sexual offences|500|A||0|sexual offences
17B|Sexual assault on a male child under 13|sexual offences|700|A||0|sexual offences
21|Sexual activity involving a child under 13|sexual offences|900|A||0|sexual offences
22A|Causing sexual activity without consent|sexual offences|600|A||0|sexual offences
22B|Sexual activity involving child under 16|sexual offences|300|A||0|sexual offences
23|Incest or familial sexual offences|sexual offences|900|A||0|sexual offences
71|Abuse of children through sexual exploitation|sexual offences|700|A||0|sexual offences
88A|Sexual grooming|sexual offences|400|A||0|sexual offences
88C|Other miscellaneous sexual offences|sexual offences|60|A||0|sexual offences
88E|Exposure and voyeurism|sexual offences|40|A||0|sexual offences
34A|Robbery of business property|robbery|700|A|365|0|robbery
34B|Robbery of personal property|robbery|800|A|365|0|robbery
28E|Burglary residential|burglary|400|A|273.5|0|burglary
28F|Attempted burglary residential|burglary|250|A|273.5|0|burglary
28G|Distraction burglary residential|burglary|400|A|273.5|0|burglary
29A|Aggravated burglary residential|burglary|2500|A|273.5|0|burglary
30C|Burglary business and community|burglary|150|A||0|burglary
30D|Attempted burglary business and community|burglary|80|A||0|burglary
31A|Aggravated burglary business and community|burglary|1500|A||0|burglary
48|Theft or unauthorised taking of motor vehicle|vehicle offences|90|A||0|theft of a motor vehicle
37.2|Aggravated vehicle taking|vehicle offences|150|A||0|theft of a motor vehicle
45|Theft from vehicle|vehicle offences|25|A||0|theft from a vehicle
126|Interfering with a motor vehicle|vehicle offences|15|A||0|theft from a vehicle
46|Shoplifting|theft|10|A|1|0|shoplifting
39|Theft from the person|theft|60|A||0|other theft
40|Theft in a dwelling other than from an automatic machine or meter|theft|20|A||0|other theft
41|Theft by an employee|theft|40|A||0|other theft
42|Theft of mail|theft|15|A||0|other theft
43|Dishonest use of electricity|theft|7|P||0|other theft
44|Theft or unauthorised taking of a pedal cycle|theft|10|A||0|other theft
47|Theft from automatic machine or meter|theft|15|A||0|other theft
49|Other theft|theft|15|A||0|other theft
49A|Making off without payment|theft|8|A||0|other theft
35|Blackmail|theft|500|A||0|other crimes
54|Handling stolen goods|miscellaneous crimes against society|60|A||0|other crimes
56A|Arson endangering life|criminal damage and arson|700|A|185|0|arson
56B|Arson not endangering life|criminal damage and arson|150|A|185|0|arson
58A|Criminal damage to a dwelling|criminal damage and arson|40|A|2|0|criminal damage
58B|Criminal damage to a building other than a dwelling|criminal damage and arson|25|A|2|0|criminal damage
58C|Criminal damage to a vehicle|criminal damage and arson|30|A|2|0|criminal damage
58D|Other criminal damage|criminal damage and arson|25|A|2|0|criminal damage
58J|Racially or religiously aggravated criminal damage|criminal damage and arson|50|A|2|0|criminal damage
59|Threat or possession with intent to commit criminal damage|miscellaneous crimes against society|20|A||0|other crimes
92A|Trafficking in controlled drugs|drug offences|600|A||1|drug offences
92C|Other drug offences|drug offences|30|A||1|drug offences
92D|Possession of controlled drugs (excl. cannabis)|drug offences|8|A|3|1|drug offences
92E|Possession of controlled drugs (cannabis)|drug offences|3|P|3|1|drug offences
10A|Possession of firearms with intent|possession of weapons|2500|A|273.75|0|possession of weapons
10B|Possession of firearms offences|possession of weapons|700|A|273.75|0|possession of weapons
10C|Possession of other weapons|possession of weapons|100|A|273.75|0|possession of weapons
10D|Possession of article with blade or point|possession of weapons|150|A|273.75|0|possession of weapons
81|Other firearms offences|possession of weapons|200|A|273.75|0|possession of weapons
90|Other knives offences|possession of weapons|100|A|273.75|0|possession of weapons
9A|Public fear, alarm or distress|public order|15|A|7.5|0|public order
9B|Racially or religiously aggravated public fear, alarm or distress|public order|30|A|7.5|0|public order
62A|Violent disorder|public order|400|A|7.5|0|public order
66|Other offences against the State or public order|public order|50|A|7.5|0|public order
33|Going equipped for stealing, etc|miscellaneous crimes against society|20|A||0|other crimes
33A|Making, supplying or possessing articles for use in fraud|miscellaneous crimes against society|60|A||0|other crimes
38|Profiting from or concealing knowledge of the proceeds of crime|miscellaneous crimes against society|200|A||0|other crimes
61A|Possession of false documents|miscellaneous crimes against society|150|A||0|other crimes
67|Perjury|miscellaneous crimes against society|400|A||0|other crimes
69|Offender Management Act offences|miscellaneous crimes against society|50|A||0|other crimes
76|Aiding suicide|miscellaneous crimes against society|3000|A||0|other crimes
79|Perverting the course of justice|miscellaneous crimes against society|500|A||0|other crimes
80|Absconding from lawful custody|miscellaneous crimes against society|100|A||0|other crimes
83|Bail offences|miscellaneous crimes against society|15|A||0|other crimes
86|Obscene publications etc|miscellaneous crimes against society|250|A||0|other crimes
95|Disclosure, obstruction, false or misleading statements etc|miscellaneous crimes against society|30|A||0|other crimes
99|Other notifiable offences|miscellaneous crimes against society|30|A||0|other crimes
802|Dangerous driving|miscellaneous crimes against society|150|A||0|other crimes
L-BRO|Breach of restraining order (local code)|miscellaneous crimes against society|80|A||0|other crimes
L-BNMO|Breach of non-molestation order (local code)|miscellaneous crimes against society|80|A||0|other crimes
L-BSPO|Breach of stalking protection order (local code)|miscellaneous crimes against society|90|A||0|other crimes
L-SOFC|Sex offender - fail to comply with notification requirement (local code)|miscellaneous crimes against society|150|A||0|other crimes
L-IWJ|Intimidate witness/juror (local code)|miscellaneous crimes against society|300|A||0|other crimes
L-DDA|Drunk and disorderly / drunk in charge (local code)|public order|5|A|7.5|1|other crimes
L-DDRV|Driving with excess alcohol or drugs (local code)|miscellaneous crimes against society|40|A||1|other crimes
NC-DA|Domestic abuse incident - non crime|non-crime|0|Z||0|non-crime
NC-CHA|Child abuse - non crime|non-crime|0|Z||0|non-crime
NC-VAA|Vulnerable adult abuse - non crime|non-crime|0|Z||0|non-crime
NC-SLR|Standard licence recall - non crime|non-crime|0|Z||0|non-crime
NC-ELR|Emergency licence recall - non crime|non-crime|0|Z||0|non-crime
NC-DVPO|Breach of domestic violence protection order - non crime|non-crime|0|Z||0|non-crime
NC-BAIL|Breach of bail conditions - non crime|non-crime|0|Z||0|non-crime
NC-CFS|Concern for safety - non crime|non-crime|0|Z||0|non-crime
"""

WEIGHT_SOURCES = {
    "P": "published: ONS Crime Severity Score 2016 release (research/anchors_domain.md 2.1)",
    "A": "approximation: ONS method applied by hand, anchored to the published weights (reference/README.md)",
    "Z": "zero by definition: non-crime record",
}


def offence_rows() -> list[dict]:
    rows = []
    for line in _OFFENCES.strip().splitlines():
        code, desc, group, weight, src, cchi, subst, otype = line.split("|")
        rows.append(
            {
                "offence_code": code,
                "offence_description": desc,
                "offence_group": group,
                "ons_css_weight": float(weight),
                "cchi_days": float(cchi) if cchi else None,
                "substance_related": subst == "1",
                "weight_source": WEIGHT_SOURCES[src],
                "offence_type": otype,
            }
        )
    return rows


OFFENCE_CODES: list[str] = [r["offence_code"] for r in offence_rows()]
CODE_INDEX: dict[str, int] = {c: i for i, c in enumerate(OFFENCE_CODES)}

# ---------------------------------------------------------------------------------------------------
# Offence mixtures (code -> relative weight). Planted offence types and planted codes never appear in the
# natural non-DA mixtures: they reach non-DA histories only through the planted regression design
# (synth/plant.py), independently of the latent profile.

DA_NON_CRIME_MIX = {"NC-DA": 0.90, "NC-DVPO": 0.04, "NC-BAIL": 0.03, "NC-CFS": 0.03}

DA_CRIME_MIX = {
    "standard": {
        "8N": 0.30,
        "105A": 0.25,
        "8L": 0.09,
        "58A": 0.08,
        "58C": 0.02,
        "8R": 0.05,
        "8Q": 0.03,
        "3B": 0.03,
        "8U": 0.03,
        "L-BRO": 0.03,
        "L-BNMO": 0.03,
        "8F": 0.012,
        "5D": 0.003,
        "20A": 0.008,
        "19C": 0.005,
        "11A": 0.01,
        "40": 0.01,
        "36": 0.002,
    },
    "violent": {
        "8N": 0.34,
        "105A": 0.17,
        "8F": 0.05,
        "5D": 0.015,
        "19C": 0.015,
        "36": 0.01,
        "58A": 0.08,
        "8L": 0.07,
        "3B": 0.05,
        "28E": 0.02,
        "L-BRO": 0.04,
        "L-BNMO": 0.03,
        "8Q": 0.04,
        "8R": 0.02,
        "20A": 0.01,
        "11A": 0.01,
    },
    "coercive": {"8U": 0.70, "8L": 0.10, "8Q": 0.10, "8N": 0.06, "105A": 0.04},
    "catastrophic": {
        "19C": 0.42,
        "5D": 0.15,
        "8F": 0.05,
        "36": 0.05,
        "2": 0.02,
        "1": 0.022,
        "20A": 0.06,
        "8N": 0.10,
        "3B": 0.04,
        "56A": 0.02,
        "19D": 0.02,
        "4.1": 0.003,
        "22A": 0.02,
    },
}
# Offences added to a DA crime incident beside the main one (multi-offence incidents).
DA_SECONDARY_MIX = {
    "58A": 0.30,
    "105A": 0.25,
    "8L": 0.12,
    "L-BRO": 0.08,
    "3B": 0.08,
    "8R": 0.07,
    "58C": 0.05,
    "8N": 0.05,
}
# Serious escalation replaces the main offence of a DA crime, more often for high latent harm.
DA_SERIOUS_MIX = {"8F": 0.35, "5D": 0.20, "20A": 0.15, "19C": 0.15, "3B": 0.10, "36": 0.05}
# Child victims beside the adult one.
DA_CHILD_MIX = {"11A": 0.6, "105A": 0.3, "NC-CHA": 0.1}

NDA_MIX = {
    "general": {
        "46": 0.16,
        "8N": 0.12,
        "105A": 0.10,
        "92E": 0.10,
        "92D": 0.04,
        "NC-CHA": 0.07,
        "28E": 0.04,
        "30C": 0.03,
        "45": 0.05,
        "54": 0.04,
        "8L": 0.05,
        "8R": 0.03,
        "34B": 0.02,
        "11A": 0.02,
        "104": 0.03,
        "802": 0.02,
        "99": 0.03,
        "92A": 0.02,
        "126": 0.02,
        "8F": 0.01,
        "3B": 0.01,
        "80": 0.01,
        "L-DDA": 0.02,
        "L-DDRV": 0.02,
        "NC-VAA": 0.01,
    },
    "acquisitive": {
        "46": 0.55,
        "45": 0.07,
        "28E": 0.05,
        "30C": 0.06,
        "54": 0.05,
        "126": 0.03,
        "8N": 0.04,
        "105A": 0.04,
        "92D": 0.04,
        "92E": 0.03,
        "34B": 0.02,
        "92A": 0.01,
        "99": 0.01,
    },
    "drugs": {
        "92E": 0.38,
        "92D": 0.20,
        "92A": 0.10,
        "46": 0.10,
        "8N": 0.06,
        "105A": 0.06,
        "L-DDRV": 0.05,
        "L-DDA": 0.05,
    },
    "child": {
        "11A": 0.33,
        "NC-CHA": 0.22,
        "19E": 0.09,
        "20B": 0.07,
        "21": 0.04,
        "22B": 0.04,
        "8N": 0.08,
        "105A": 0.10,
        "NC-VAA": 0.03,
    },
    "violent": {
        "5D": 0.19,
        "19C": 0.07,
        "34B": 0.06,
        "8N": 0.20,
        "105A": 0.12,
        "8F": 0.06,
        "36": 0.03,
        "3B": 0.05,
        "46": 0.08,
        "92E": 0.05,
        "104": 0.05,
        "20A": 0.04,
    },
    # medium severity per incident (seed 000 cluster 1: non-DA "Medium (Medium)"; ABH, child abuse)
    "assault": {
        "8N": 0.30,
        "8F": 0.05,
        "105A": 0.12,
        "NC-CHA": 0.10,
        "3B": 0.06,
        "34B": 0.05,
        "20A": 0.04,
        "28E": 0.06,
        "46": 0.10,
        "11A": 0.05,
        "8L": 0.04,
        "88A": 0.03,
    },
    "mixed": {
        "46": 0.12,
        "8N": 0.09,
        "92E": 0.07,
        "8Q": 0.04,
        "8L": 0.05,
        "105A": 0.09,
        "92D": 0.05,
        "28E": 0.05,
        "45": 0.05,
        "54": 0.05,
        "NC-CHA": 0.05,
        "104": 0.04,
        "34B": 0.03,
        "99": 0.03,
        "8F": 0.02,
        "92A": 0.03,
        "126": 0.02,
        "802": 0.03,
        "L-DDA": 0.02,
    },
}

# Codes whose non-DA offences have a person as victim (the rest are against businesses, the public or
# the state and have no victim row).
NDA_VICTIMLESS = {
    "46",
    "92A",
    "92C",
    "92D",
    "92E",
    "54",
    "99",
    "802",
    "80",
    "L-DDA",
    "L-DDRV",
    "33",
    "83",
    "9A",
    "9B",
    "62A",
    "66",
    "10A",
    "10B",
    "10C",
    "10D",
    "81",
    "90",
    "30C",
    "30D",
    "31A",
    "NC-SLR",
    "NC-ELR",
    "L-SOFC",
    "43",
    "47",
    "126",
    "104",
    "8S",
    "69",
    "38",
    "61A",
    "67",
    "95",
    "59",
    "33A",
    "86",
}

# ---------------------------------------------------------------------------------------------------
# Planted regression design (synth/plant.py). Effects are the seed-000 Figure 12 / Figure 13 estimates.

PLANTED_TYPES = {
    # offence_type: (true effect on total DA severity, prevalence among offenders with non-DA history, codes)
    "homicide": (742.16, 0.020, {"1": 0.8, "4.1": 0.2}),
    "arson": (684.40, 0.020, {"56A": 0.4, "56B": 0.6}),
    "theft of a motor vehicle": (132.17, 0.100, {"48": 0.85, "37.2": 0.15}),
    "criminal damage": (105.99, 0.150, {"58A": 0.35, "58C": 0.30, "58D": 0.20, "58B": 0.10, "58J": 0.05}),
    # planted nulls
    "other theft": (0.0, 0.200, {"49": 0.4, "40": 0.15, "39": 0.15, "44": 0.1, "49A": 0.15, "47": 0.05}),
    "public order": (0.0, 0.200, {"9A": 0.8, "9B": 0.1, "62A": 0.05, "66": 0.05}),
    "possession of weapons": (0.0, 0.120, {"10D": 0.5, "10C": 0.2, "90": 0.2, "10B": 0.05, "81": 0.05}),
}
PLANTED_CODES = {
    # offence_code: (true effect, prevalence among offenders with non-DA history)
    "NC-ELR": (998.52, 0.01),
    "L-SOFC": (656.23, 0.01),
    "L-BRO": (609.80, 0.01),
    "NC-SLR": (584.34, 0.015),
    "L-IWJ": (547.67, 0.01),
    "28F": (524.68, 0.01),
    # planted nulls
    "33": (0.0, 0.05),
    "83": (0.0, 0.08),
}
# The DA offence that carries a planted effect: whole GBH without intent offences (8F, 333 points), plus
# one more with the fractional probability, so that the expected added ONS severity equals the effect.
EFFECT_CARRIER_CODE = "8F"

# ---------------------------------------------------------------------------------------------------
# The 29 latent profiles (seed 000 Tables 1-5; research/seed000_numbers.md section 1). Where the report is
# silent, the profiles it does not tell apart are told apart by age and deprivation (clusters 3 and 14 are
# both "highly deprived"; 7 and 8 both substance-flagged): an assumption of the generator, not of the data.
# The DA-only profiles (Group E) have non-DA history for 5% of their members, so that the DA-only offenders
# (61% of all, n = 89,397) about match Group E (89,929). Non-DA counts of the low-volume profiles are tight
# around their medians (many exact ties, as counts of one, two or three incidents are).
# The serial abusers of cluster 1 sit at the edge of Group A (median DA 3, the group's threshold; median non-DA
# 2, one below Group B's): their DA and non-DA counts are tighter (sigma 0.45 and 0.20) than the other
# high-volume profiles', or their upper tails (4-9 DA incidents, 3+ non-DA) join clusters 11 and 9 and the
# profile has no cluster of its own (Group A 2.7% at demo seed 1 with 0.75 and 0.30).
# Fields: cluster, group, label, n, median DA incidents, DA spread (lognormal sigma), share with any non-DA,
# median non-DA incidents among those with any, non-DA spread, median DA victims, DA crime mix, non-DA mix,
# DA non-crime share, DA substance share, non-DA substance share, mean age at first DA, female share,
# mean IMD score of incident areas, typical career span in years, latent harm shift.
_PROFILES = """
1|A|Serial Abusers (3)|5359|3|0.45|1.0|2|0.20|2|standard|assault|0.49|0.25|0.15|31|0.16|38|6|0.3
2|B|Prolific Young Offenders|2844|4|0.85|1.0|17|0.60|2|standard|acquisitive|0.47|0.25|0.20|22|0.20|37|6|0.3
3|E||14183|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.04|0.10|31|0.26|42|2|0.0
4|E||9092|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.04|0.10|27|0.26|22|2|0.0
5|E||11658|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.04|0.10|51|0.26|16|2|-0.2
6|E||11210|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.04|0.10|46|0.26|47|2|0.0
7|E||5431|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.93|0.30|29|0.26|38|2|0.0
8|E||7257|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.96|0.30|39|0.26|29|2|0.0
9|D||13866|2|0.55|1.0|3|0.25|1|standard|general|0.45|0.15|0.20|30|0.20|40|3|0.1
10|E||8794|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.04|0.10|23|0.26|24|2|0.0
11|B|Non-specialised Law Breakers|4792|10|0.85|1.0|5|0.60|4|violent|mixed|0.47|0.20|0.20|28|0.06|36|6|0.6
12|B|Prolific Violent Offenders|1281|20|0.85|1.0|12|0.60|6|violent|violent|0.43|0.27|0.21|27|0.12|37|7.5|1.0
13|A|Domestic Abuse Specialists|4088|7|0.75|0.31|1|0.60|1|standard|general|0.53|0.125|0.12|36|0.09|35|4|0.4
14|E||9243|1|0.35|0.05|1|0.30|1|standard|general|0.50|0.04|0.10|40|0.26|41|2|0.0
15|C||5226|2|0.55|1.0|1|0.30|1|standard|general|0.50|0.12|0.12|32|0.22|40|3|0.0
16|A|Female Victim/Offenders|1723|3|0.75|1.0|2|0.30|2|standard|child|0.51|0.20|0.20|29|0.93|35|4|0.2
17|E||9204|2|0.45|0.05|1|0.30|2|standard|general|0.52|0.04|0.10|33|0.26|34|3|0.0
18|A|Serial Abusers (4)|1285|3|0.75|1.0|2|0.30|2|standard|general|0.49|0.25|0.15|27|0.20|36|4|0.3
19|C||2048|2|0.55|0.5|1|0.30|1|standard|general|0.47|0.12|0.12|32|0.58|33|3|0.0
20|C||3007|2|0.55|1.0|1|0.30|1|standard|drugs|0.48|0.51|0.92|30|0.22|33|3|0.1
21|C|Serial Abusers (1)|211|2|0.55|1.0|1|0.30|1|standard|child|0.45|0.12|0.12|35|0.15|45|3|0.2
22|C||1616|2|0.55|1.0|2|0.30|1|standard|violent|0.44|0.15|0.15|30|0.15|45|3|0.3
23|E|Coercive Controllers|1035|1|0.30|0.05|1|0.30|1|coercive|general|0.19|0.10|0.10|37|0.15|42|2|0.6
24|E|Catastrophic Offenders|2822|1|0.35|0.30|1|0.30|1|catastrophic|violent|0.17|0.15|0.15|34|0.11|35|2|1.6
25|B|Lower Harm Economic Compulsive Offenders|100|3|0.85|1.0|43|0.60|2|standard|acquisitive|0.50|0.30|0.08|30|0.15|40|8|0.2
26|B|High Harm Offenders|12|31|0.85|1.0|29|0.60|15|violent|violent|0.47|0.38|0.30|27|0.0|38|10|1.2
27|C|Serial Abusers (2)|34|2|0.55|1.0|1|0.30|1|standard|child|0.43|0.12|0.12|41|0.15|48|3|0.2
28|B|Higher Harm Economic Compulsive Offenders|73|12|0.85|1.0|62|0.60|4|violent|acquisitive|0.44|0.23|0.20|28|0.10|37|8|0.8
29|B||167|3|0.85|1.0|3|0.60|2|standard|general|0.47|0.20|0.20|24|0.20|36|5|0.3
"""

PROFILE_FIELDS = [
    "cluster",
    "group",
    "label",
    "n",
    "med_da",
    "s_da",
    "p_nda",
    "med_nda",
    "s_nda",
    "med_vict",
    "da_mix",
    "nda_mix",
    "nc_share",
    "subst_da",
    "subst_nda",
    "age_first_da",
    "female",
    "imd_mean",
    "span_years",
    "harm",
]


def profile_rows() -> list[dict]:
    rows = []
    for line in _PROFILES.strip().splitlines():
        parts = line.split("|")
        row = dict(zip(PROFILE_FIELDS, parts, strict=True))
        for key in ("cluster", "n", "med_vict"):
            row[key] = int(row[key])
        for key in (
            "med_da",
            "s_da",
            "p_nda",
            "med_nda",
            "s_nda",
            "nc_share",
            "subst_da",
            "subst_nda",
            "age_first_da",
            "female",
            "imd_mean",
            "span_years",
            "harm",
        ):
            row[key] = float(row[key])
        rows.append(row)
    return rows


# Victimisation by other offenders in the extract (seed 000 Tables 1-5, research/seed000_numbers.md 1.6).
# profile -> (share of its members made the victim of another offender's offence, lowest ONS weight of that
# offence). Non-DA: 18 "typically the victim of one fairly severe non-DA offence", 29 "formed around one
# high severity non-DA victimisation", 28 "typically victims of a fairly serious non-DA offence", 26
# "typically victims of 1-2 non-DA offences", 2 "one less severe non-DA offence". DA: 19 "victims of 1-2
# very high severity DA incidents", 1, 2, 11, 12, 28, 29 "some were victims of one serious/severe DA
# incident". (16's many DA victimisations come from the victim slots of other offenders, synth/chunk.py.)
NDA_VICTIMISATION = {18: (0.75, 100), 29: (0.90, 300), 28: (0.75, 100), 26: (0.80, 100), 2: (0.35, 10)}
DA_VICTIMISATION = {
    19: (0.75, 300),
    1: (0.10, 100),
    2: (0.15, 100),
    11: (0.15, 100),
    12: (0.35, 300),
    28: (0.35, 300),
    29: (0.35, 300),
}

# Timing signatures: cluster 15's non-DA incidents come about six years before its DA incidents (seed 000:
# "typical gap between non-DA and DA incidents is about 6 years"); cluster 17's two DA incidents are about
# three years apart; the serial abusers of clusters 1 and 18 (2 DA victims; 18's medoid "3 DA incidents against
# 3 different victims") offend against one victim after another, about ten months apart; cluster 4's DA
# incidents fall at weekends (share moved to a Saturday or Sunday).
NDA_BEFORE_DA_YEARS = {15: 6.0}
# Profiles whose DA victims are mostly family members (parents, siblings, adult children) rather than
# partners: an assumption for cluster 14, which the report describes only as "highly deprived".
FAMILY_VICTIMS = {14: 0.85}
DA_APART_YEARS = {17: 3.0, 1: 0.8, 18: 0.8}
WEEKEND_SHARE = {4: 0.85, 7: 0.6, 8: 0.6}
# Time of day of the DA incidents of some profiles: profile -> (first hour, hours in the window, share of its
# DA incidents in the window; the rest follow the common DA curve). Substance-flagged DA at night (seed 000
# clusters 7 and 8: "DA incidents typically had a substance flag"); the others are assumptions of the
# generator that give the timing variables some of the structure real offending has.
HOUR_WINDOWS = {
    7: (22, 5, 0.8),
    8: (22, 5, 0.8),
    4: (18, 6, 0.7),
    10: (17, 6, 0.7),
    5: (9, 8, 0.7),
    6: (9, 8, 0.7),
}

# Profiles used by ``separated_profiles=True``: four clusters that differ on almost every feature.
SEPARATED_PROFILES = (5, 2, 24, 13)

DA_MARKERS = [
    "domestic violence protection order",
    "partner-on-partner",
    "honour-based abuse",
    "forced marriage",
    "female genital mutilation",
]
SUBSTANCE_MARKERS = ["alcohol involved", "drugs involved", "solvent abuse"]
OTHER_MARKERS = ["repeat victim", "vulnerable adult", "mental health", "hate crime"]
