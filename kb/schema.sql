-- BrainMets KB schema.
-- The rules live here (keys, CHECKs, vocabularies) as well as in kb/validate.py, which turns a failure into a
-- sentence. Tables are created in dependency order; kb/build.py loads data/<table>.csv into each in this order.
-- Every curated table carries `verification` and `verified_in` (the PMID or DOI read) and, for numbers, a source.

-- Soft keys: on a table that other tables reference (sources, studies, arms, guidelines), DuckDB 2.0 rejects any
-- UPDATE of an indexed column ("still referenced by a foreign key"). The few foreign-key columns of those tables
-- that editors must be able to change are declared as plain columns here and checked as foreign keys by
-- kb/validate.py (kb.schema.SOFT_FOREIGN_KEYS), on every build, check and edit.

-- ---------------------------------------------------------------- vocabularies
CREATE TABLE pub_types (
    pub_type VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL
);

CREATE TABLE histologies (
    histology_id VARCHAR PRIMARY KEY,
    primary_site VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    molecular_subtype VARCHAR,
    parent_id VARCHAR                       -- a histology_id; checked in kb/validate.py (DuckDB cannot bulk-load self-references)
);

CREATE TABLE settings (
    setting_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    description VARCHAR
);

CREATE TABLE interventions (
    intervention_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('radiation', 'surgery', 'drug', 'device', 'none'))
);

CREATE TABLE designs (
    design_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    randomized_default BOOLEAN NOT NULL
);

CREATE TABLE evidence_levels (
    evidence_level INTEGER PRIMARY KEY CHECK (evidence_level BETWEEN 1 AND 5),
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL
);

CREATE TABLE endpoints (
    endpoint_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    description VARCHAR
);

-- Who a figure describes, as a short label charts and filters can read (the population_note gives the detail).
-- A table rather than a CHECK list: editors add a study's named subgroups without a schema change, and the
-- label shown beside a figure lives in one place.
CREATE TABLE subgroups (
    subgroup_id VARCHAR PRIMARY KEY,        -- whole_cohort = every patient of the arm (or of the study when no arm)
    name VARCHAR NOT NULL,                  -- short label shown beside the figure
    description VARCHAR
);

CREATE TABLE toxicities (
    toxicity VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL
);

CREATE TABLE drugs (
    drug_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    abbreviations VARCHAR,          -- ';'-separated synonyms and brand names
    drug_class VARCHAR NOT NULL
);

CREATE TABLE rec_topics (
    topic_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL
);

CREATE TABLE imaging_modalities (
    modality_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL
);

-- Search synonyms editors can extend: each row is one group of interchangeable terms.
CREATE TABLE synonyms (
    group_id VARCHAR NOT NULL,
    term VARCHAR NOT NULL,
    PRIMARY KEY (group_id, term)
);

-- ---------------------------------------------------------------- bibliography
CREATE TABLE sources (
    source_id VARCHAR PRIMARY KEY,          -- ref001..ref263 = the SRS review's reference number; seed_* = the seeds
    ref_number INTEGER UNIQUE CHECK (ref_number BETWEEN 1 AND 263),
    cited_in VARCHAR NOT NULL CHECK (cited_in IN ('srs_review_2025', 'seed_review', 'editor')),
    authors VARCHAR,                        -- as listed; NULL when the record names none
    first_author VARCHAR,
    title VARCHAR NOT NULL,
    journal VARCHAR,
    year INTEGER CHECK (year BETWEEN 1900 AND 2100),
    volume VARCHAR,
    issue VARCHAR,
    pages VARCHAR,
    doi VARCHAR CHECK (doi IS NULL OR doi LIKE '10.%'),
    pmid VARCHAR CHECK (pmid IS NULL OR regexp_full_match(pmid, '[0-9]{1,9}')),
    pub_type VARCHAR NOT NULL,              -- soft key -> pub_types (see SOFT_FOREIGN_KEYS)
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL)
);

-- Which page topic a source belongs to (judged from its title and type, checked by hand), so that each page can
-- say which sources on its topic have no curated figures (kb/gaps.py). drug_id narrows a drug_toxicity tag.
-- A CHECK list, not a vocabulary table: each topic is a page, and what counts as curated for it is code.
CREATE TABLE source_topics (
    source_id VARCHAR NOT NULL REFERENCES sources (source_id),
    topic VARCHAR NOT NULL CHECK (topic IN ('clinical_studies', 'drug_toxicity', 'dosing', 'imaging', 'guidelines')),
    drug_id VARCHAR REFERENCES drugs (drug_id),  -- empty = several drugs or none
    PRIMARY KEY (source_id, topic)
);

-- ---------------------------------------------------------------- studies
CREATE TABLE studies (
    study_id VARCHAR PRIMARY KEY,
    short_name VARCHAR NOT NULL,
    aliases VARCHAR,                        -- ';'-separated acronyms and other names users search for
    nct_id VARCHAR CHECK (nct_id IS NULL OR regexp_full_match(nct_id, 'NCT[0-9]{8}')),
    design_id VARCHAR NOT NULL,             -- soft key -> designs
    phase VARCHAR CHECK (phase IS NULL OR phase IN ('1', '1/2', '2', '2/3', '3', '3b', '4')),
    randomized BOOLEAN NOT NULL,
    status VARCHAR CHECK (status IS NULL OR status IN ('completed', 'ongoing', 'terminated_early', 'published_abstract')),
    enrol_start_year INTEGER CHECK (enrol_start_year BETWEEN 1900 AND 2100),
    enrol_end_year INTEGER CHECK (enrol_end_year BETWEEN 1900 AND 2100),
    n_enrolled INTEGER CHECK (n_enrolled >= 0),
    n_analysed INTEGER CHECK (n_analysed >= 0),
    mets_min INTEGER CHECK (mets_min >= 0),
    mets_max INTEGER CHECK (mets_max >= 0),
    max_diameter_cm DOUBLE CHECK (max_diameter_cm > 0),
    max_volume_cc DOUBLE CHECK (max_volume_cc > 0),
    size_note VARCHAR,
    primary_endpoint VARCHAR,
    key_result VARCHAR,
    evidence_level INTEGER CHECK (evidence_level BETWEEN 1 AND 5),  -- soft key -> evidence_levels
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL),
    -- "randomized implies design rct" is checked in kb/validate.py, not here: a CHECK that reads an indexed
    -- (foreign-key) column of a referenced table turns every UPDATE into delete+insert, which DuckDB's
    -- foreign-key check then rejects ("still referenced by a foreign key"). Same rule for every referenced table.
    CHECK (enrol_start_year IS NULL OR enrol_end_year IS NULL OR enrol_start_year <= enrol_end_year),
    CHECK (mets_min IS NULL OR mets_max IS NULL OR mets_min <= mets_max),
    CHECK (n_enrolled IS NULL OR n_analysed IS NULL OR n_analysed <= n_enrolled)
);

CREATE TABLE study_sources (
    study_id VARCHAR NOT NULL REFERENCES studies (study_id),
    source_id VARCHAR NOT NULL REFERENCES sources (source_id),
    role VARCHAR NOT NULL CHECK (role IN ('primary', 'update', 'secondary_analysis', 'protocol', 'abstract')),
    PRIMARY KEY (study_id, source_id)
);

CREATE TABLE study_histologies (
    study_id VARCHAR NOT NULL REFERENCES studies (study_id),
    histology_id VARCHAR NOT NULL REFERENCES histologies (histology_id),
    PRIMARY KEY (study_id, histology_id)
);

CREATE TABLE study_settings (
    study_id VARCHAR NOT NULL REFERENCES studies (study_id),
    setting_id VARCHAR NOT NULL REFERENCES settings (setting_id),
    PRIMARY KEY (study_id, setting_id)
);

CREATE TABLE arms (
    arm_id VARCHAR PRIMARY KEY,             -- <study_id>__<short label>
    study_id VARCHAR NOT NULL REFERENCES studies (study_id),
    label VARCHAR NOT NULL,
    n_patients INTEGER CHECK (n_patients >= 0),
    total_dose_gy DOUBLE CHECK (total_dose_gy > 0),
    fractions INTEGER CHECK (fractions >= 1),
    drug_id VARCHAR,                        -- soft key -> drugs
    description VARCHAR,
    CHECK (total_dose_gy IS NULL OR fractions IS NOT NULL)
);

CREATE TABLE arm_interventions (
    arm_id VARCHAR NOT NULL REFERENCES arms (arm_id),
    intervention_id VARCHAR NOT NULL REFERENCES interventions (intervention_id),
    PRIMARY KEY (arm_id, intervention_id)
);

CREATE TABLE outcomes (
    outcome_id VARCHAR PRIMARY KEY,
    study_id VARCHAR NOT NULL REFERENCES studies (study_id),
    arm_id VARCHAR REFERENCES arms (arm_id),            -- NULL = whole cohort
    comparator_arm_id VARCHAR REFERENCES arms (arm_id), -- set for between-arm effects (HR/OR/RR)
    endpoint_id VARCHAR NOT NULL REFERENCES endpoints (endpoint_id),
    endpoint_detail VARCHAR CHECK (endpoint_detail IS NULL OR length(endpoint_detail) <= 80),
    -- what exactly was counted within the endpoint when it alone does not say (test, toxicity type, category)
    statistic VARCHAR NOT NULL CHECK (statistic IN
        ('proportion', 'median', 'mean', 'hazard_ratio', 'odds_ratio', 'risk_ratio', 'count', 'difference',
         'range_of_medians_low', 'range_of_medians_high', 'posterior_probability')),
    -- range_of_medians_low/high: the ends of a range of medians reported across groups (e.g. prognostic groups);
    -- posterior_probability: a Bayesian (mean) posterior probability in %, not an observed proportion
    value DOUBLE NOT NULL,
    unit VARCHAR NOT NULL CHECK (unit IN
        ('%', 'pct_change', 'months', 'ratio', 'patients', 'lesions', 'points', 'weeks', 'days')),
    -- 'pct_change' = mean percent change from baseline (may be negative); '%' = a proportion, 0-100.
    timepoint_months DOUBLE CHECK (timepoint_months > 0),
    ci_low DOUBLE,
    ci_high DOUBLE,
    p_value VARCHAR CHECK (p_value IS NULL OR regexp_full_match(p_value, '(<|>|=)?(0|1|0?\.[0-9]+|1\.0+)')),
    n_evaluated INTEGER CHECK (n_evaluated >= 0),
    -- the population: subgroup + unit of analysis + the paper whose cohort it is (several papers per study)
    subgroup_id VARCHAR NOT NULL REFERENCES subgroups (subgroup_id),
    unit_of_analysis VARCHAR CHECK (unit_of_analysis IN ('patients', 'lesions', 'treatments')),  -- NULL = not stated
    cohort_source_id VARCHAR REFERENCES sources (source_id),
    population_note VARCHAR,
    source_id VARCHAR NOT NULL REFERENCES sources (source_id),
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL),
    CHECK (unit <> '%' OR value BETWEEN 0 AND 100),
    CHECK (unit <> '%' OR ci_low IS NULL OR ci_low >= 0),
    CHECK (unit <> '%' OR ci_high IS NULL OR ci_high <= 100),
    CHECK (statistic NOT IN ('hazard_ratio', 'odds_ratio', 'risk_ratio') OR (value > 0 AND unit = 'ratio')),
    CHECK (ci_low IS NULL OR ci_low <= value),
    CHECK (ci_high IS NULL OR ci_high >= value),
    CHECK (statistic NOT IN ('count') OR value >= 0),
    CHECK (unit <> 'pct_change' OR statistic IN ('mean', 'median', 'difference'))
);

-- One figure per population: the same study, arm, comparison, endpoint (and detail), statistic and timepoint may
-- appear twice only for different populations (subgroup, unit of analysis, cohort paper). NULLs are folded to ''
-- so that two whole-cohort rows without a timepoint collide too. kb/validate.py says the same in words.
CREATE UNIQUE INDEX outcomes_one_figure_per_population ON outcomes (
    study_id, coalesce(arm_id, ''), coalesce(comparator_arm_id, ''), endpoint_id, coalesce(endpoint_detail, ''),
    statistic, coalesce(timepoint_months, 0), subgroup_id, coalesce(unit_of_analysis, ''),
    coalesce(cohort_source_id, ''));

-- ---------------------------------------------------------------- practice knowledge
CREATE TABLE guidelines (
    guideline_id VARCHAR PRIMARY KEY,
    short_name VARCHAR NOT NULL,
    body VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    year INTEGER NOT NULL CHECK (year BETWEEN 1900 AND 2100),
    kind VARCHAR NOT NULL CHECK (kind IN ('guideline', 'consensus', 'appropriate_use', 'workshop', 'quality_indicators')),
    scope VARCHAR,
    grading_system VARCHAR,
    source_id VARCHAR NOT NULL,             -- soft key -> sources
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL)
);

CREATE TABLE recommendations (
    recommendation_id VARCHAR PRIMARY KEY,
    guideline_id VARCHAR NOT NULL REFERENCES guidelines (guideline_id),
    topic_id VARCHAR NOT NULL REFERENCES rec_topics (topic_id),
    population VARCHAR,
    recommendation VARCHAR NOT NULL,       -- our own words
    strength VARCHAR,                      -- in the guideline's own grading system
    evidence_quality VARCHAR,
    source_id VARCHAR NOT NULL REFERENCES sources (source_id),
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL)
);

CREATE TABLE dose_schedules (
    schedule_id VARCHAR PRIMARY KEY,
    category VARCHAR NOT NULL CHECK (category IN ('single_fraction', 'fractionated_intact', 'postoperative',
        'preoperative', 'wbrt', 'ha_wbrt', 'salvage', 'normal_tissue')),
    setting_id VARCHAR REFERENCES settings (setting_id),
    description VARCHAR NOT NULL,
    total_dose_gy DOUBLE CHECK (total_dose_gy > 0),
    fractions INTEGER CHECK (fractions >= 1),
    alpha_beta_gy DOUBLE CHECK (alpha_beta_gy > 0),
    min_diameter_cm DOUBLE CHECK (min_diameter_cm >= 0),
    max_diameter_cm DOUBLE CHECK (max_diameter_cm > 0),
    min_volume_cc DOUBLE CHECK (min_volume_cc >= 0),
    max_volume_cc DOUBLE CHECK (max_volume_cc > 0),
    dose_volume_metric VARCHAR,             -- e.g. V12Gy (normal-brain tolerance rows)
    volume_limit_cc DOUBLE CHECK (volume_limit_cc >= 0),
    reported_risk_pct DOUBLE CHECK (reported_risk_pct BETWEEN 0 AND 100),
    risk_endpoint VARCHAR,
    study_id VARCHAR REFERENCES studies (study_id),
    source_id VARCHAR NOT NULL REFERENCES sources (source_id),
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL),
    CHECK ((total_dose_gy IS NULL) = (fractions IS NULL)),
    CHECK (total_dose_gy IS NULL OR alpha_beta_gy IS NOT NULL),
    CHECK (min_diameter_cm IS NULL OR max_diameter_cm IS NULL OR min_diameter_cm <= max_diameter_cm),
    CHECK (min_volume_cc IS NULL OR max_volume_cc IS NULL OR min_volume_cc <= max_volume_cc)
);

CREATE TABLE drug_toxicity (
    signal_id VARCHAR PRIMARY KEY,
    drug_id VARCHAR NOT NULL REFERENCES drugs (drug_id),
    histology_id VARCHAR REFERENCES histologies (histology_id),
    toxicity VARCHAR NOT NULL REFERENCES toxicities (toxicity),
    rate_with_drug_pct DOUBLE CHECK (rate_with_drug_pct BETWEEN 0 AND 100),
    rate_without_drug_pct DOUBLE CHECK (rate_without_drug_pct BETWEEN 0 AND 100),
    n_with_drug INTEGER CHECK (n_with_drug >= 0),
    n_without_drug INTEGER CHECK (n_without_drug >= 0),
    n_total INTEGER CHECK (n_total >= 0),
    unit_of_analysis VARCHAR CHECK (unit_of_analysis IS NULL OR unit_of_analysis IN ('patients', 'lesions', 'treatments')),
    effect_measure VARCHAR CHECK (effect_measure IS NULL OR effect_measure IN ('OR', 'HR', 'RR', 'SHR', 'IRR')),
    effect_value DOUBLE CHECK (effect_value > 0),
    effect_ci_low DOUBLE,
    effect_ci_high DOUBLE,
    p_value VARCHAR CHECK (p_value IS NULL OR regexp_full_match(p_value, '(<|>|=)?(0|1|0?\.[0-9]+|1\.0+)')),
    concurrency_window VARCHAR,            -- how the study defines "concurrent"
    finding VARCHAR NOT NULL,              -- our own words
    sequencing_guidance VARCHAR,           -- our own words
    evidence_level INTEGER REFERENCES evidence_levels (evidence_level),
    study_id VARCHAR REFERENCES studies (study_id),
    source_id VARCHAR NOT NULL REFERENCES sources (source_id),
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL),
    CHECK (effect_value IS NULL OR effect_measure IS NOT NULL),
    CHECK (effect_ci_low IS NULL OR effect_ci_low <= effect_value),
    CHECK (effect_ci_high IS NULL OR effect_ci_high >= effect_value),
    CHECK (n_total IS NULL OR n_with_drug IS NULL OR n_with_drug <= n_total),
    CHECK (n_total IS NULL OR n_without_drug IS NULL OR n_without_drug <= n_total)
);

CREATE TABLE imaging (
    imaging_id VARCHAR PRIMARY KEY,
    modality_id VARCHAR NOT NULL REFERENCES imaging_modalities (modality_id),
    purpose VARCHAR NOT NULL CHECK (purpose IN ('detection', 'rn_vs_progression', 'treatment_planning',
        'response_assessment', 'prediction', 'surveillance')),
    parameter VARCHAR,                      -- e.g. rCBV, Cho/Cr, TBRmax
    sensitivity_pct DOUBLE CHECK (sensitivity_pct BETWEEN 0 AND 100),
    specificity_pct DOUBLE CHECK (specificity_pct BETWEEN 0 AND 100),
    auc DOUBLE CHECK (auc BETWEEN 0 AND 1),
    n_patients INTEGER CHECK (n_patients >= 0),
    n_lesions INTEGER CHECK (n_lesions >= 0),
    design_id VARCHAR REFERENCES designs (design_id),
    summary VARCHAR NOT NULL,               -- our own words
    source_id VARCHAR NOT NULL REFERENCES sources (source_id),
    verification VARCHAR NOT NULL CHECK (verification IN ('verified', 'secondary', 'unverified')),
    verified_in VARCHAR,
    note VARCHAR,
    CHECK (verification <> 'verified' OR verified_in IS NOT NULL)
);

-- ---------------------------------------------------------------- editing (filled at run time, exported by `kb export`)
CREATE TABLE audit_log (
    audit_id INTEGER PRIMARY KEY,
    changed_at TIMESTAMP NOT NULL,
    editor VARCHAR NOT NULL,
    reviewer VARCHAR,
    action VARCHAR NOT NULL CHECK (action IN ('create', 'update', 'retire', 'revert', 'import')),
    table_name VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    before_json VARCHAR,
    after_json VARCHAR,
    proposal_id INTEGER
);
