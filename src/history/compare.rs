//! What changed between an earlier recorded run and this one: checks that
//! newly fail or newly pass, checks that are new or gone, and timings that
//! got slower by more than [`SLOWER_RATIO`] and more than [`SLOWER_SECONDS`]
//! (this machine's runs vary a lot: both, not either).

use super::{Outcome, Record};
use crate::report::{LabRun, Since};
use std::collections::BTreeMap;

/// Slower means more than 20% slower ...
pub const SLOWER_RATIO: f64 = 1.2;
/// ... and more than 2 s slower.
pub const SLOWER_SECONDS: f64 = 2.0;

fn slower(before: f64, now: f64) -> Option<String> {
    (now > before * SLOWER_RATIO && now - before > SLOWER_SECONDS).then(|| {
        let pct = if before > 0.0 {
            format!(" (+{:.0}%)", (now / before - 1.0) * 100.0)
        } else {
            String::new()
        };
        format!("slower {before:.1}s -> {now:.1}s{pct}")
    })
}

/// The marks of `(name, result, seconds)` against the earlier record.
fn marks<'a>(
    base: &Record,
    now: impl Iterator<Item = (&'a str, Outcome, f64)>,
) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut marks = BTreeMap::new();
    let mut seen = Vec::new();
    for (name, result, secs) in now {
        seen.push(name.to_string());
        let mut m = Vec::new();
        match base.results.iter().find(|b| b.name == name) {
            None => m.push("new".to_string()),
            Some(b) => {
                use Outcome::*;
                match (b.result, result) {
                    (Pass, Fail) => m.push("newly failing".into()),
                    (Fail, Pass) => m.push("newly passing".into()),
                    (Skipped, Fail) => m.push("failing, skipped before".into()),
                    // Not measured now is not "unchanged": say so, or a
                    // check that stopped running would look as good as before.
                    (Pass | Fail, Skipped) => m.push("not measured now".into()),
                    _ => {}
                }
                // Timings compare only runs that measured the check.
                if b.result != Skipped && result != Skipped {
                    m.extend(slower(b.seconds, secs));
                }
            }
        }
        if !m.is_empty() {
            marks.insert(name.to_string(), m);
        }
    }
    let gone = base
        .results
        .iter()
        .filter(|b| !seen.contains(&b.name))
        .map(|b| b.name.clone())
        .collect();
    (marks, gone)
}

/// This run against `base` (`None`: no earlier run, nothing marked).
pub fn compare(base: Option<&Record>, run: &LabRun) -> Since {
    let Some(base) = base else {
        return Since::default();
    };
    let now = run
        .results
        .iter()
        .map(|r| (r.name.as_str(), Outcome::of(r.passed), r.seconds))
        .chain(
            run.skipped
                .iter()
                .map(|s| (s.name.as_str(), Outcome::Skipped, 0.0)),
        );
    let (marks, gone) = marks(base, now);
    Since {
        run: Some(base.run),
        marks,
        gone,
    }
}

/// One line for `labctl history`: what changed from `prev` to `r`.
pub fn changed(prev: &Record, r: &Record) -> String {
    let (marks, gone) = marks(
        prev,
        r.results
            .iter()
            .map(|x| (x.name.as_str(), x.result, x.seconds)),
    );
    let mut parts = Vec::new();
    for label in ["newly failing", "newly passing", "new"] {
        let names: Vec<&str> = marks
            .iter()
            .filter(|(_, m)| m.iter().any(|x| x == label))
            .map(|(n, _)| n.as_str())
            .collect();
        if !names.is_empty() {
            parts.push(format!("{label}: {}", names.join("; ")));
        }
    }
    let slow = marks
        .values()
        .flatten()
        .filter(|m| m.starts_with("slower"))
        .count();
    if slow > 0 {
        parts.push(format!("{slow} slower"));
    }
    if !gone.is_empty() {
        parts.push(format!("gone: {}", gone.join("; ")));
    }
    if prev.lab_digest != r.lab_digest {
        parts.push("lab file changed".into());
    }
    for (tool, v) in &r.tools {
        let before = prev.tools.get(tool).cloned().flatten();
        if before != *v {
            let show = |x: &Option<String>| x.clone().unwrap_or_else(|| "?".into());
            parts.push(format!("{tool} {} -> {}", show(&before), show(v)));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckResult;
    use crate::history::RecordedResult;
    use rstest::rstest;
    use Outcome::*;

    fn record(results: &[(&str, Outcome, f64)]) -> Record {
        Record {
            schema: crate::history::SCHEMA.into(),
            run: 7,
            command: "test".into(),
            lab: "x".into(),
            finished: "2026-12-01T00:00:00Z".into(),
            seconds: 1.0,
            ok: true,
            error: None,
            lab_file: "lab.toml".into(),
            lab_digest: "d".into(),
            tools: BTreeMap::new(),
            results: results
                .iter()
                .map(|(n, r, s)| RecordedResult {
                    name: n.to_string(),
                    kind: "command".into(),
                    result: *r,
                    seconds: *s,
                    message: String::new(),
                })
                .collect(),
            since: None,
            phases: Vec::new(),
        }
    }

    fn run(results: &[(&str, bool, f64)]) -> LabRun {
        LabRun {
            lab: "x".into(),
            provider: None,
            results: results
                .iter()
                .map(|(n, p, s)| CheckResult {
                    name: n.to_string(),
                    kind: "command",
                    passed: *p,
                    message: String::new(),
                    output: String::new(),
                    attempts: 1,
                    seconds: *s,
                })
                .collect(),
            skipped: vec![],
            seconds: 1.0,
            error: None,
            since: None,
            shard: None,
        }
    }

    #[rstest]
    #[case::newly_failing(Pass, 1.0, false, 1.0, "newly failing")]
    #[case::newly_passing(Fail, 1.0, true, 1.0, "newly passing")]
    #[case::still_failing(Fail, 1.0, false, 1.0, "")]
    #[case::unchanged(Pass, 1.0, true, 1.0, "")]
    // Slower by more than 20% and more than 2 s: both, not either.
    #[case::slower(Pass, 5.0, true, 7.5, "slower 5.0s -> 7.5s (+50%)")]
    #[case::slower_by_20pc_but_not_2s(Pass, 1.0, true, 2.9, "")]
    #[case::slower_by_2s_but_not_20pc(Pass, 20.0, true, 23.0, "")]
    #[case::failing_and_slower(Pass, 1.0, false, 9.0, "newly failing, slower 1.0s -> 9.0s (+800%)")]
    fn marks_of_one_check(
        #[case] before: Outcome,
        #[case] before_s: f64,
        #[case] passed: bool,
        #[case] now_s: f64,
        #[case] want: &str,
    ) {
        let s = compare(
            Some(&record(&[("c", before, before_s)])),
            &run(&[("c", passed, now_s)]),
        );
        assert_eq!(s.run, Some(7));
        assert_eq!(s.marks_of("c"), want);
    }

    #[test]
    fn a_check_skipped_now_is_marked_not_measured() {
        let mut now = run(&[]);
        now.skipped.push(crate::report::Skipped {
            name: "c".into(),
            kind: "command",
            reason: "matches --skip c".into(),
        });
        for before in [Pass, Fail] {
            let s = compare(Some(&record(&[("c", before, 1.0)])), &now);
            assert_eq!(s.marks_of("c"), "not measured now", "before: {before:?}");
        }
        let s = compare(Some(&record(&[("c", Skipped, 0.0)])), &now);
        assert_eq!(s.marks_of("c"), "");
    }

    #[test]
    fn new_and_gone_checks() {
        let s = compare(
            Some(&record(&[("old", Pass, 1.0)])),
            &run(&[("fresh", true, 1.0)]),
        );
        assert_eq!(s.marks_of("fresh"), "new");
        assert_eq!(s.gone, vec!["old".to_string()]);
    }

    #[test]
    fn no_earlier_run_marks_nothing() {
        let s = compare(None, &run(&[("c", false, 1.0)]));
        assert_eq!(s, Since::default());
    }

    #[test]
    fn history_line_names_changes_lab_file_and_tools() {
        let a = record(&[("a", Pass, 1.0), ("b", Fail, 1.0)]);
        let mut b = record(&[("a", Fail, 1.0), ("b", Pass, 1.0)]);
        b.lab_digest = "e".into();
        b.tools.insert("vagrant".into(), Some("2.3.4".into()));
        assert_eq!(
            changed(&a, &b),
            "newly failing: a, newly passing: b, lab file changed, vagrant ? -> 2.3.4"
        );
        assert_eq!(changed(&a, &a), "-");
    }
}
