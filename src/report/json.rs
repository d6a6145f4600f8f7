//! `--report json:PATH`: one lab's run as JSON.
//!
//! Field names are stable (scripts read them); new fields may be added, none are
//! renamed. Shape:
//!
//! ```json
//! { "schema": "labctl.test/2", "lab": "workflow", "provider": "docker",
//!   "ok": false, "seconds": 14.0, "error": null,
//!   "counts": { "checks": 5, "passed": 2, "failed": 2, "skipped": 1 },
//!   "results": [ { "name": "...", "kind": "http", "result": "pass", "passed": true,
//!                  "message": "...", "output": "...", "attempts": 1, "seconds": 0.25 },
//!                { "name": "...", "kind": "command", "result": "skipped",
//!                  "message": "matches --skip cron", "output": "", "attempts": 0, "seconds": 0.0 } ] }
//! ```
//!
//! With `--since` (fields added, same schema): a top-level `"since": {"run": N,
//! "gone": [...]}` (`run` null when no earlier run was recorded) and on every
//! result `"since": [...]`, its marks (`newly failing`, `newly passing`, `new`,
//! `slower 1.0s -> 4.0s (+300%)`), empty when unchanged.
//!
//! With `--partition` (fields added, same schema): a top-level `"shard":
//! {"partition": "count:2/3", "entry": "...", "suite": [...]}`: the share, the
//! lab as the split named it, and every lab of the whole suite, so `labctl
//! report merge` can name the labs of a lost shard.
//!
//! Version 2 (from 1): `provider` is `null` when the run failed before the
//! lab's state named it (1 wrote `docker` whatever the provider); every result
//! has `result` (`pass`, `fail` or `skipped`); `--skip`ped checks are listed
//! (1 dropped them) and counted in `counts.skipped` and `counts.checks`; a
//! skipped result has no `passed`.

use super::{millis, LabRun};
use serde::Serialize;
use std::path::Path;

/// Identifies the format; bumped only on an incompatible change.
pub const SCHEMA: &str = "labctl.test/2";

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    lab: &'a str,
    provider: Option<&'a str>,
    ok: bool,
    seconds: f64,
    error: Option<&'a str>,
    counts: Counts,
    results: Vec<Result<'a>>,
    /// `--since`: the run compared against and the checks it had that this
    /// run did not; absent when not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<SinceTop<'a>>,
    /// `--partition`: the share and the whole suite's labs; absent when the
    /// runner tested the whole suite.
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a super::Shard>,
}

#[derive(Serialize)]
struct SinceTop<'a> {
    run: Option<u64>,
    gone: &'a [String],
}

#[derive(Serialize)]
struct Counts {
    checks: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
}

#[derive(Serialize)]
struct Result<'a> {
    name: &'a str,
    kind: &'a str,
    /// `pass`, `fail` or `skipped`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    passed: Option<bool>,
    message: &'a str,
    output: &'a str,
    attempts: u32,
    seconds: f64,
    /// `--since`: this check's marks (empty when unchanged); absent when not asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<Vec<String>>,
}

fn marks(run: &LabRun, check: &str) -> Option<Vec<String>> {
    run.since
        .as_ref()
        .map(|s| s.marks.get(check).cloned().unwrap_or_default())
}

fn report(run: &LabRun) -> Report<'_> {
    Report {
        schema: SCHEMA,
        lab: &run.lab,
        provider: run.provider.as_deref(),
        ok: run.ok(),
        seconds: millis(run.seconds),
        error: run.error.as_deref(),
        counts: Counts {
            checks: run.results.len() + run.skipped(),
            passed: run.passed(),
            failed: run.failed(),
            skipped: run.skipped(),
        },
        results: run
            .results
            .iter()
            .map(|r| Result {
                name: &r.name,
                kind: r.kind,
                result: if r.passed { "pass" } else { "fail" },
                passed: Some(r.passed),
                message: &r.message,
                output: &r.output,
                attempts: r.attempts,
                seconds: millis(r.seconds),
                since: marks(run, &r.name),
            })
            .chain(run.skipped.iter().map(|s| Result {
                name: &s.name,
                kind: s.kind,
                result: "skipped",
                passed: None,
                message: &s.reason,
                output: "",
                attempts: 0,
                seconds: 0.0,
                since: marks(run, &s.name),
            }))
            .collect(),
        since: run.since.as_ref().map(|s| SinceTop {
            run: s.run,
            gone: &s.gone,
        }),
        shard: run.shard.as_ref(),
    }
}

/// The report as pretty-printed JSON, ending with a newline.
pub fn to_string(run: &LabRun) -> String {
    let mut s = serde_json::to_string_pretty(&report(run)).expect("a report always serializes");
    s.push('\n');
    s
}

/// Write the report to `path` (its folder is created).
pub fn write(path: &Path, run: &LabRun) -> crate::Result<()> {
    super::write_file(path, &to_string(run))
}

/// The report of several labs: one lab's report as it is, several as an array
/// of them, in the order given (`labctl test` and `labctl report merge`).
pub fn to_string_runs(runs: &[LabRun]) -> String {
    if let [one] = runs {
        return to_string(one);
    }
    let all: Vec<Report> = runs.iter().map(report).collect();
    let mut s = serde_json::to_string_pretty(&all).expect("a report always serializes");
    s.push('\n');
    s
}

/// Write [`to_string_runs`] to `path` (its folder is created).
pub fn write_runs(path: &Path, runs: &[LabRun]) -> crate::Result<()> {
    super::write_file(path, &to_string_runs(runs))
}

/// Read a report written by [`to_string`] back into the run it describes:
/// `labctl test --jobs` runs each lab as its own `labctl test` process and
/// gathers their reports into one table, JSON and JUnit. Fails on another
/// schema or a missing field, naming it.
pub fn parse(text: &str) -> std::result::Result<LabRun, String> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v["schema"] != SCHEMA {
        return Err(format!("schema {} is not {SCHEMA}", v["schema"]));
    }
    let str_of = |v: &Value, k: &str| -> std::result::Result<String, String> {
        v[k].as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("field {k:?} is missing or not a string"))
    };
    let f64_of = |v: &Value, k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("field {k:?} is missing or not a number"))
    };
    let marks_of = |r: &Value| -> Vec<String> {
        r["since"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut run = LabRun {
        lab: str_of(&v, "lab")?,
        provider: v["provider"].as_str().map(String::from),
        results: vec![],
        skipped: vec![],
        seconds: f64_of(&v, "seconds")?,
        error: v["error"].as_str().map(String::from),
        since: v
            .get("since")
            .filter(|s| !s.is_null())
            .map(|s| super::Since {
                run: s["run"].as_u64(),
                marks: Default::default(),
                gone: s["gone"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|g| g.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
        shard: match v.get("shard").filter(|s| !s.is_null()) {
            None => None,
            Some(s) => Some(super::Shard {
                partition: str_of(s, "partition").map_err(|e| format!("in \"shard\": {e}"))?,
                entry: str_of(s, "entry").map_err(|e| format!("in \"shard\": {e}"))?,
                suite: s["suite"]
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|l| l.as_str().map(String::from))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or("in \"shard\": field \"suite\" is missing or not a list of lab names")?,
            }),
        },
    };
    for r in v["results"]
        .as_array()
        .ok_or("field \"results\" is missing")?
    {
        let name = str_of(r, "name")?;
        let kind = kind_name(&str_of(r, "kind")?);
        let marks = marks_of(r);
        if let Some(s) = run.since.as_mut().filter(|_| !marks.is_empty()) {
            s.marks.insert(name.clone(), marks);
        }
        match r["result"].as_str() {
            Some("skipped") => run.skipped.push(super::Skipped {
                name,
                kind,
                reason: str_of(r, "message")?,
            }),
            Some(res @ ("pass" | "fail")) => run.results.push(crate::checks::CheckResult {
                name,
                kind,
                passed: res == "pass",
                message: str_of(r, "message")?,
                output: str_of(r, "output")?,
                attempts: r["attempts"].as_u64().unwrap_or(0) as u32,
                seconds: f64_of(r, "seconds")?,
            }),
            other => {
                return Err(format!(
                    "result {other:?} of check {name:?} is not pass, fail or skipped"
                ))
            }
        }
    }
    Ok(run)
}

/// The `&'static str` a check kind is held as: a report names few kinds,
/// each kept once for the life of the process.
fn kind_name(s: &str) -> &'static str {
    static KINDS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut kinds = KINDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = kinds.iter().find(|k| **k == s) {
        return k;
    }
    let k: &'static str = Box::leak(s.to_string().into_boxed_str());
    kinds.push(k);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn json_report_is_stable() {
        let runs = fixtures::mixed();
        let text = to_string(&runs[0]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], "labctl.test/2");
        assert_eq!(v["counts"]["checks"], 5);
        assert_eq!(v["counts"]["failed"], 2);
        assert_eq!(v["counts"]["skipped"], 1);
        assert_eq!(v["results"][0]["result"], "pass");
        assert_eq!(v["results"][1]["result"], "fail");
        assert_eq!(v["results"][4]["result"], "skipped");
        assert_eq!(v["results"][4]["message"], "matches --skip cron");
        assert!(
            v["results"][4].get("passed").is_none(),
            "a skipped check neither passed nor failed"
        );
        let errored: serde_json::Value = serde_json::from_str(&to_string(&runs[1])).unwrap();
        assert!(
            errored["provider"].is_null(),
            "no provider was read, none is claimed"
        );
        assert_eq!(v["ok"], false);
        assert_eq!(v["results"][1]["kind"], "http");
        assert_eq!(v["results"][1]["attempts"], 3);
        insta::assert_snapshot!("workflow", text);
        insta::assert_snapshot!("errored", to_string(&runs[1]));
    }

    #[test]
    fn a_report_reads_back_as_the_run_it_describes() {
        for run in fixtures::mixed() {
            let back = parse(&to_string(&run)).unwrap();
            assert_eq!(to_string(&back), to_string(&run));
            assert_eq!(back.ok(), run.ok());
            assert_eq!(back.skipped, run.skipped);
        }
        let mut since = fixtures::mixed().remove(0);
        since.since = Some(crate::report::Since {
            run: Some(3),
            marks: [("a".to_string(), vec!["newly failing".to_string()])].into(),
            gone: vec!["old".into()],
        });
        since.results[0].name = "a".into();
        assert_eq!(parse(&to_string(&since)).unwrap().since, since.since);
    }

    #[rstest::rstest]
    #[case::not_json("{", "not JSON")]
    #[case::other_schema(r#"{"schema": "labctl.test/1"}"#, "schema")]
    #[case::no_lab(
        r#"{"schema": "labctl.test/2", "seconds": 1.0, "results": []}"#,
        "\"lab\""
    )]
    #[case::bad_result(r#"{"schema": "labctl.test/2", "lab": "x", "seconds": 1.0, "results": [{"name": "c", "kind": "http", "result": "maybe"}]}"#, "maybe")]
    fn a_bad_report_is_refused_naming_why(#[case] text: &str, #[case] why: &str) {
        let e = parse(text).unwrap_err();
        assert!(e.contains(why), "{e}");
    }

    #[test]
    fn json_write_creates_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/report.json");
        write(&p, &fixtures::mixed()[0]).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["lab"], "workflow");
    }
}
