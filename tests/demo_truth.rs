//! The synthetic lake's ground truth is recovered exactly, for many seeds and sizes, by
//! `validate` alone (the realistic lake needs its reference files and earlier versions: the CLI's
//! demo tests run it).

use lakewatch_core::reference::{CORPORATE_ACTIONS_KEY, CorporateActions};
use lakewatch_core::{Context, Contracts, Object, Universe, validate};
use lakewatch_synth::{LakeSpec, build, score, to_parquet};

/// The lake's universe and listed corporate actions, as `validate` takes them.
pub fn references(lake: &lakewatch_synth::Lake) -> (Universe, Option<CorporateActions>) {
    let universe = Universe::of(lake.universe.iter().cloned());
    let actions = lake
        .reference
        .iter()
        .find(|(key, _)| key == CORPORATE_ACTIONS_KEY)
        .map(|(key, bytes)| CorporateActions::parse(bytes, key).unwrap());
    (universe, actions)
}

pub fn validate_lake(spec: LakeSpec) -> (lakewatch_synth::Lake, Vec<lakewatch_core::Report>) {
    let mut lake = build(spec);
    let contracts = Contracts::embedded();
    let (universe, actions) = references(&lake);
    let mut reports = Vec::new();
    for o in &mut lake.objects {
        let bytes = to_parquet(&mut o.frame).unwrap();
        let (contract, partition) = contracts.route(&o.key).unwrap();
        reports.push(
            validate(
                contract,
                &partition,
                Object::new(&o.key, &bytes),
                &Context { universe: Some(&universe), actions: actions.as_ref(), ..Context::default() },
                lake.as_of,
            )
            .unwrap(),
        );
    }
    (lake, reports)
}

#[test]
fn every_defect_is_found_and_nothing_else_for_many_seeds() {
    for seed in 100..112 {
        let spec = LakeSpec {
            symbols: 20 + (seed as usize % 5) * 10,
            sessions: 3 + seed as usize % 4,
            seed,
            defects: true,
            realistic: false,
        };
        let (lake, reports) = validate_lake(spec);
        let card = score(&lake.truth, &reports);
        let bad: Vec<_> = card.classes.iter().filter(|(_, c)| c.recall < 1.0 || c.precision < 1.0).collect();
        assert!(bad.is_empty(), "seed {seed}: {bad:#?}");
        assert!(card.classes.len() >= 19, "seed {seed}: only {} classes", card.classes.len());
    }
}

#[test]
fn a_clean_lake_has_no_findings() {
    for seed in 1..4 {
        let (_, reports) = validate_lake(LakeSpec { symbols: 40, sessions: 5, seed, defects: false, realistic: false });
        let findings: Vec<_> =
            reports.iter().flat_map(|r| r.findings.iter().map(move |f| (&r.key, &f.message))).collect();
        assert!(findings.is_empty(), "seed {seed}: {findings:#?}");
        assert!(reports.iter().all(|r| r.stats.completeness_ratio.is_none_or(|c| c == 1.0)));
    }
}

#[test]
fn the_same_seed_writes_the_same_lake() {
    let bytes = |seed| {
        let mut lake = build(LakeSpec { symbols: 15, sessions: 3, seed, defects: true, realistic: false });
        lake.objects.iter_mut().map(|o| to_parquet(&mut o.frame).unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(bytes(5), bytes(5));
    assert_ne!(bytes(5), bytes(6));
}
