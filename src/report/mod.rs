//! The results of `labctl test` as JSON ([`json`]) and JUnit
//! XML ([`junit`]); [`merge`]: one report from the reports of several CI
//! runners (`labctl report merge`).

pub mod json;
pub mod junit;
pub mod merge;

use crate::checks::CheckResult;
use crate::text::{one_line, table};
use std::path::PathBuf;

/// A report asked for on the command line: `json:PATH` or `junit:PATH`
/// (`labctl test` writes both kinds, `labctl bench` its JSON run record).
#[derive(Debug, Clone)]
pub enum ReportSpec {
    Json(PathBuf),
    Junit(PathBuf),
}

impl std::str::FromStr for ReportSpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            Some(("json", p)) if !p.is_empty() => Ok(ReportSpec::Json(p.into())),
            Some(("junit", p)) if !p.is_empty() => Ok(ReportSpec::Junit(p.into())),
            _ => Err(format!("expected json:PATH or junit:PATH, got {s:?}")),
        }
    }
}

/// One lab's `labctl test` run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabRun {
    pub lab: String,
    /// The provider read from the lab's state; `None` until it was read (a run
    /// that failed before, e.g. on a bad lab file), never a guess.
    pub provider: Option<String>,
    /// In file order.
    pub results: Vec<CheckResult>,
    /// Checks left out of this run (`--skip`), in file order: reported as
    /// skipped, never dropped and never counted as passed.
    pub skipped: Vec<Skipped>,
    pub seconds: f64,
    /// labctl could not do its job (bad lab file, provider error, network safety):
    /// the results, if any, are incomplete.
    pub error: Option<String>,
    /// What changed since an earlier recorded run (`--since`); `None` when not asked.
    pub since: Option<Since>,
    /// The split this run was one share of (`--partition`); `None` when the
    /// runner tested the whole suite.
    pub shard: Option<Shard>,
}

/// A share of a suite split over CI runners, as a report records it: which
/// share, this lab as the split named it, and every lab of the whole suite.
/// `report merge` needs the last: a lost shard report leaves no trace of its
/// own, so the shards that did arrive must say what the merged report should
/// hold. Labs are named as the split named them (a shipped lab's name or a
/// lab file's path), which is not always the name a report gives the lab.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shard {
    /// As given on the command line, e.g. `count:2/3`.
    pub partition: String,
    /// This run's lab, as the suite names it.
    pub entry: String,
    /// Every lab of the suite before it was split, sorted.
    pub suite: Vec<String>,
}

impl LabRun {
    /// A run of `lab` that has measured nothing yet.
    pub fn new(lab: impl Into<String>) -> LabRun {
        LabRun {
            lab: lab.into(),
            provider: None,
            results: vec![],
            skipped: vec![],
            seconds: 0.0,
            error: None,
            since: None,
            shard: None,
        }
    }
}

/// What changed since an earlier recorded run of the lab (`labctl test
/// --since`), per check; filled in by `crate::history`, written by the table,
/// the JSON and the JUnit report.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Since {
    /// The run compared against (its number in the lab's history); `None`
    /// when no earlier run was recorded (nothing is marked then).
    pub run: Option<u64>,
    /// Check name -> its marks: `newly failing`, `newly passing`, `new`,
    /// `slower 1.0s -> 4.0s (+300%)`. Checks without a change are absent.
    pub marks: std::collections::BTreeMap<String, Vec<String>>,
    /// Checks of the earlier run that this run did not have.
    pub gone: Vec<String>,
}

impl Since {
    /// The marks of one check, comma-separated ("" when unchanged).
    pub fn marks_of(&self, check: &str) -> String {
        self.marks
            .get(check)
            .map(|m| m.join(", "))
            .unwrap_or_default()
    }
}

/// A check that was not run, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Skipped {
    pub name: String,
    pub kind: &'static str,
    /// "matches --skip REGEX".
    pub reason: String,
}

impl LabRun {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
    pub fn skipped(&self) -> usize {
        self.skipped.len()
    }
    /// The summary line: `3 passed, 1 failed, 2 skipped`.
    pub fn summary_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }
    /// No error, at least one check, and every check passed.
    pub fn ok(&self) -> bool {
        self.error.is_none() && !self.results.is_empty() && self.failed() == 0
    }
}

/// Column DETAIL is cut to this many characters.
const DETAIL_MAX: usize = 120;

/// CHECK, KIND, RESULT (PASS/FAIL/SKIP), TIME, DETAIL; one row per result,
/// then one per skipped check with its reason.
pub fn summary_table(results: &[CheckResult], skipped: &[Skipped]) -> String {
    summary_table_since(results, skipped, None)
}

/// [`summary_table`] with a SINCE column (after TIME) naming each check's
/// change since the earlier run, when one was asked for.
pub fn summary_table_since(
    results: &[CheckResult],
    skipped: &[Skipped],
    since: Option<&Since>,
) -> String {
    let mut rows = vec![["CHECK", "KIND", "RESULT", "TIME", "DETAIL"]
        .map(String::from)
        .to_vec()];
    let col = |name: &str| since.map(|s| s.marks_of(name));
    if let Some(s) = since {
        rows[0].insert(
            4,
            match s.run {
                Some(n) => format!("SINCE RUN {n}"),
                None => "SINCE".into(),
            },
        );
    }
    for r in results {
        let mut detail = r.message.clone();
        if !r.passed && r.attempts > 1 {
            detail.push_str(&format!(" (after {} attempts)", r.attempts));
        }
        let mut row = vec![
            r.name.clone(),
            r.kind.to_string(),
            if r.passed { "PASS" } else { "FAIL" }.to_string(),
            format!("{:.1}s", r.seconds),
            one_line(&detail, DETAIL_MAX),
        ];
        if let Some(m) = col(&r.name) {
            row.insert(4, m);
        }
        rows.push(row);
    }
    for s in skipped {
        let mut row = vec![
            s.name.clone(),
            s.kind.to_string(),
            "SKIP".to_string(),
            "-".to_string(),
            one_line(&s.reason, DETAIL_MAX),
        ];
        if let Some(m) = col(&s.name) {
            row.insert(4, m);
        }
        rows.push(row);
    }
    table(&rows)
}

/// Seconds rounded to milliseconds, as reports write them.
pub(crate) fn millis(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 {
        (s * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// Write a report file, creating its folder; atomically, like every file
/// labctl writes.
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> crate::Result<()> {
    crate::state::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::{LabRun, Skipped};
    use crate::checks::CheckResult;

    fn r(
        name: &str,
        kind: &'static str,
        passed: bool,
        message: &str,
        output: &str,
        attempts: u32,
        seconds: f64,
    ) -> CheckResult {
        CheckResult {
            name: name.into(),
            kind,
            passed,
            message: message.into(),
            output: output.into(),
            attempts,
            seconds,
        }
    }

    /// A mixed result set with fixed times, including text that needs escaping.
    pub fn mixed() -> Vec<LabRun> {
        vec![
            LabRun {
                lab: "workflow".into(),
                provider: Some("docker".into()),
                results: vec![
                    r("web1 serves its page", "http", true, "status 200, body matches /web1/", "GET http://192.168.57.21/ x1 from mgmt: 200: 1\n", 1, 0.25),
                    r(
                        "lb spreads over web1 and web2",
                        "http",
                        false,
                        "backend web2 never answered: web1: 20, web2: 0 over 20 requests (expected every listed backend)",
                        "GET http://192.168.57.11:8080/ x20 from host: 200: 20\nlast response: status 200, body:\n<h1>web1 & \"rev\" <b>1</b></h1>\u{1b}[0m\u{0}\n",
                        3,
                        12.5,
                    ),
                    r("web1 pulls from cron", "cron", true, "cron entry for root in /etc/cron.d/ansible-pull matches /ansible-pull .*centraladmin_web/", "", 1, 0.125),
                    r("quote's <test> & \"more\"", "command", false, "exit 1 (expected 0): it's < & >", "exit 1\nstdout:\n\nstderr:\nit's < & >\n", 2, 1.0),
                ],
                skipped: vec![Skipped { name: "cron fires the pull line".into(), kind: "command", reason: "matches --skip cron".into() }],
                seconds: 14.0,
                error: None,
                since: None,
                shard: None,
            },
            // Failed before the lab's state was read: the provider is unknown.
            LabRun { lab: "bench".into(), provider: None, results: vec![], skipped: vec![], seconds: 2.5, error: Some("provider error: `docker network create` failed with exit code 1".into()), since: None, shard: None },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--since`: the SINCE column, the JSON's since fields and the JUnit
    /// properties carry the same marks.
    #[test]
    fn since_marks_in_table_json_and_junit() {
        let mut run = fixtures::mixed().remove(0);
        let mut marks = std::collections::BTreeMap::new();
        marks.insert(
            "lb spreads over web1 and web2".to_string(),
            vec![
                "newly failing".to_string(),
                "slower 1.0s -> 12.5s (+1150%)".to_string(),
            ],
        );
        marks.insert(
            "web1 pulls from cron".to_string(),
            vec!["newly passing".to_string()],
        );
        run.since = Some(Since {
            run: Some(4),
            marks,
            gone: vec!["an old check".into()],
        });
        let t = summary_table_since(&run.results, &run.skipped, run.since.as_ref());
        let line = |name: &str| t.lines().find(|l| l.starts_with(name)).unwrap().to_string();
        assert!(t.lines().next().unwrap().contains("SINCE RUN 4"));
        assert!(line("lb spreads").contains("newly failing, slower 1.0s -> 12.5s (+1150%)"));
        assert!(line("web1 pulls").contains("newly passing"));
        assert!(!line("web1 serves").contains("newly"));
        insta::assert_snapshot!("since_table", t);

        let j: serde_json::Value = serde_json::from_str(&json::to_string(&run)).unwrap();
        assert_eq!(
            j["since"],
            serde_json::json!({"run": 4, "gone": ["an old check"]})
        );
        assert_eq!(j["results"][1]["since"][0], "newly failing");
        assert_eq!(j["results"][0]["since"], serde_json::json!([]));

        let x = junit::to_string(&[run]);
        let doc = roxmltree::Document::parse(&x).unwrap();
        let prop = |n: roxmltree::Node, k: &str| {
            n.children()
                .filter(|c| c.has_tag_name("properties"))
                .flat_map(|p| p.children())
                .find(|p| p.attribute("name") == Some(k))
                .and_then(|p| p.attribute("value"))
                .map(String::from)
        };
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(prop(suite, "since_run").as_deref(), Some("4"));
        assert_eq!(prop(suite, "since_gone").as_deref(), Some("an old check"));
        let case = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
                .unwrap()
        };
        assert_eq!(
            prop(case("lb spreads over web1 and web2"), "since").as_deref(),
            Some("newly failing, slower 1.0s -> 12.5s (+1150%)")
        );
        assert_eq!(prop(case("web1 serves its page"), "since"), None);
    }

    /// Without `--since` nothing changes: no column, no field, no property.
    #[test]
    fn no_since_no_marks() {
        let run = fixtures::mixed().remove(0);
        assert!(!summary_table(&run.results, &run.skipped).contains("SINCE"));
        assert!(!json::to_string(&run).contains("\"since\""));
        assert!(!junit::to_string(&[run]).contains("since"));
    }

    #[test]
    fn summary_table_lists_every_check() {
        let runs = fixtures::mixed();
        let t = summary_table(&runs[0].results, &runs[0].skipped);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 6);
        assert!(lines[5].contains("SKIP") && lines[5].contains("matches --skip cron"));
        assert!(
            lines[0].starts_with("CHECK")
                && lines[0].contains("KIND")
                && lines[0].contains("RESULT")
                && lines[0].contains("TIME")
                && lines[0].ends_with("DETAIL")
        );
        assert!(lines[1].contains("PASS") && lines[1].contains("0.2s"));
        assert!(
            lines[2].contains("FAIL")
                && lines[2].contains("12.5s")
                && lines[2].contains("backend web2 never answered")
                && lines[2].contains("(after 3 attempts)")
        );
        insta::assert_snapshot!(t);
    }

    #[test]
    fn lab_run_counts() {
        let runs = fixtures::mixed();
        assert_eq!(
            (runs[0].passed(), runs[0].failed(), runs[0].ok()),
            (2, 2, false)
        );
        assert_eq!(runs[0].summary_line(), "2 passed, 2 failed, 1 skipped");
        assert!(!runs[1].ok(), "an errored run is never ok");
        let empty = LabRun::new("x");
        assert!(!empty.ok(), "a run without checks is never ok");
    }
}
