//! `--report json:PATH`: one lab's run as JSON.
//!
//! Field names are stable (scripts read them); new fields may be added, none are
//! renamed. Shape:
//!
//! ```json
//! { "schema": "labctl.test/1", "lab": "workflow", "provider": "docker",
//!   "ok": false, "seconds": 14.0, "error": null,
//!   "counts": { "checks": 4, "passed": 2, "failed": 2 },
//!   "results": [ { "name": "...", "kind": "http", "passed": true, "message": "...",
//!                  "output": "...", "attempts": 1, "seconds": 0.25 } ] }
//! ```

use super::{millis, LabRun};
use serde::Serialize;
use std::path::Path;

/// Identifies the format; bumped only on an incompatible change.
pub const SCHEMA: &str = "labctl.test/1";

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    lab: &'a str,
    provider: &'a str,
    ok: bool,
    seconds: f64,
    error: Option<&'a str>,
    counts: Counts,
    results: Vec<Result<'a>>,
}

#[derive(Serialize)]
struct Counts {
    checks: usize,
    passed: usize,
    failed: usize,
}

#[derive(Serialize)]
struct Result<'a> {
    name: &'a str,
    kind: &'a str,
    passed: bool,
    message: &'a str,
    output: &'a str,
    attempts: u32,
    seconds: f64,
}

fn report(run: &LabRun) -> Report<'_> {
    Report {
        schema: SCHEMA,
        lab: &run.lab,
        provider: &run.provider,
        ok: run.ok(),
        seconds: millis(run.seconds),
        error: run.error.as_deref(),
        counts: Counts {
            checks: run.results.len(),
            passed: run.passed(),
            failed: run.failed(),
        },
        results: run
            .results
            .iter()
            .map(|r| Result {
                name: &r.name,
                kind: r.kind,
                passed: r.passed,
                message: &r.message,
                output: &r.output,
                attempts: r.attempts,
                seconds: millis(r.seconds),
            })
            .collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn json_report_is_stable() {
        let runs = fixtures::mixed();
        let text = to_string(&runs[0]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["counts"]["checks"], 4);
        assert_eq!(v["counts"]["failed"], 2);
        assert_eq!(v["ok"], false);
        assert_eq!(v["results"][1]["kind"], "http");
        assert_eq!(v["results"][1]["attempts"], 3);
        insta::assert_snapshot!("workflow", text);
        insta::assert_snapshot!("errored", to_string(&runs[1]));
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
