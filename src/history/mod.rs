//! Run history: every `labctl test` and `labctl bench` run of a lab appends a
//! [`Record`] (results, timings, tool versions, the lab file's digest) to the
//! lab's history folder, `history/` in its state dir (kept by `down`), or
//! `--history-dir DIR/LAB/` (a CI cache). `up`, `provision` and `down` append
//! theirs to the state dir's: no results, their phases ([`timings`]). [`compare`] says what changed since
//! an earlier run; `labctl history LAB` lists the runs ([`list`]).

mod compare;
pub mod timings;
mod tools;

pub use compare::{compare, SLOWER_RATIO, SLOWER_SECONDS};
pub use timings::{table as phase_table, PhaseTime, Timings};
pub use tools::tool_versions;

use crate::error::{Error, Result};
use crate::report::LabRun;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Identifies the record format; bumped only on an incompatible change.
pub const SCHEMA: &str = "labctl.history/1";

/// What a recorded run found for one check (`pass`, `fail`, `skipped` in
/// the record file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not measured in that run (a `--skip`, or a check that could not run).
    Skipped,
}

impl Outcome {
    pub fn of(passed: bool) -> Outcome {
        if passed {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }
}

/// One check's outcome in a recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResult {
    pub name: String,
    pub kind: String,
    pub result: Outcome,
    pub seconds: f64,
    pub message: String,
}

/// One run of `test` or `bench` on one lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema: String,
    /// 1, 2, ... in the order the runs finished.
    pub run: u64,
    /// `test` or `bench`.
    pub command: String,
    pub lab: String,
    /// UTC, RFC 3339.
    pub finished: String,
    pub seconds: f64,
    pub ok: bool,
    pub error: Option<String>,
    pub lab_file: String,
    /// sha256 of the lab file's text.
    pub lab_digest: String,
    /// labctl, provider, vagrant, docker: their versions (`None`: could not be read).
    pub tools: BTreeMap<String, Option<String>>,
    pub results: Vec<RecordedResult>,
    /// The run this one was compared against (`--since`).
    #[serde(default)]
    pub since: Option<u64>,
    /// Where the run spent its time, phase by phase (per node where a phase
    /// runs per node); empty in records written before phases were kept.
    #[serde(default)]
    pub phases: Vec<PhaseTime>,
}

impl Record {
    pub fn new(
        command: &str,
        run: &LabRun,
        lab_file: &str,
        lab_text: &str,
        tools: BTreeMap<String, Option<String>>,
    ) -> Record {
        Record {
            ok: run.ok(),
            tools,
            since: run.since.as_ref().and_then(|s| s.run),
            results: run
                .results
                .iter()
                .map(|r| RecordedResult {
                    name: r.name.clone(),
                    kind: r.kind.into(),
                    result: Outcome::of(r.passed),
                    seconds: crate::report::millis(r.seconds),
                    message: r.message.clone(),
                })
                .chain(run.skipped.iter().map(|s| RecordedResult {
                    name: s.name.clone(),
                    kind: s.kind.into(),
                    result: Outcome::Skipped,
                    seconds: 0.0,
                    message: s.reason.clone(),
                }))
                .collect(),
            ..Record::timed(
                command,
                &run.lab,
                run.seconds,
                run.error.clone(),
                lab_file,
                lab_text,
                Vec::new(),
            )
        }
    }

    /// The record of a run that has phases but no checks (`up`, `provision`,
    /// `down`): ok when it ended without an error.
    pub fn timed(
        command: &str,
        lab: &str,
        seconds: f64,
        error: Option<String>,
        lab_file: &str,
        lab_text: &str,
        phases: Vec<PhaseTime>,
    ) -> Record {
        use sha2::Digest;
        let finished = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Record {
            schema: SCHEMA.into(),
            run: 0,
            command: command.into(),
            lab: lab.into(),
            finished,
            seconds: crate::report::millis(seconds),
            ok: error.is_none(),
            error,
            lab_file: lab_file.into(),
            lab_digest: hex::encode(sha2::Sha256::digest(lab_text.as_bytes())),
            tools: BTreeMap::new(),
            results: Vec::new(),
            since: None,
            phases,
        }
    }

    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.result == Outcome::Pass)
            .count()
    }
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.result == Outcome::Fail)
            .count()
    }
}

/// Which earlier run `--since` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinceArg {
    /// The latest recorded run of the same command.
    Last,
    Run(u64),
}

impl std::str::FromStr for SinceArg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "last" => Ok(SinceArg::Last),
            _ => s
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(SinceArg::Run)
                .ok_or_else(|| {
                    format!("expected `last` or a run number (see `labctl history LAB`), got {s:?}")
                }),
        }
    }
}

/// As typed on the command line (what [`SinceArg::from_str`] reads back):
/// `labctl test --jobs` passes it on to each lab's own run.
impl std::fmt::Display for SinceArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinceArg::Last => f.write_str("last"),
            SinceArg::Run(n) => write!(f, "{n}"),
        }
    }
}

/// A lab's history folder.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
    /// The state dir holding `dir` and its lab, claimed before the first
    /// write (a run that failed before `up` made the state dir must not
    /// leave a folder without the marker, which `up` would then refuse).
    owner: Option<(PathBuf, String)>,
}

impl Store {
    /// `--history-dir DIR` keeps each lab in `DIR/LAB/`; by default the
    /// lab's state dir holds `history/`.
    pub fn for_lab(state_dir: &Path, lab: &str, history_dir: Option<&Path>) -> Store {
        match history_dir {
            Some(d) => Store {
                dir: d.join(lab),
                owner: None,
            },
            None => Store {
                dir: state_dir.join("history"),
                owner: Some((state_dir.to_path_buf(), lab.to_string())),
            },
        }
    }

    fn path(&self, run: u64) -> PathBuf {
        self.dir.join(format!("run-{run:06}.json"))
    }

    /// Every record, oldest first. A file that is not a record is an error
    /// naming it (a history that cannot be read is not an empty one).
    pub fn records(&self) -> Result<Vec<Record>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", &self.dir, e)),
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("run-") && name.ends_with(".json")) {
                continue;
            }
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io("read", &p, e))?;
            let r: Record = serde_json::from_str(&text).map_err(|e| {
                Error::env(
                    format!("{} is not a labctl run record: {e}", p.display()),
                    Some("move it out of the history folder, or delete it".into()),
                )
            })?;
            out.push(r);
        }
        out.sort_by_key(|r| r.run);
        Ok(out)
    }

    /// The record `--since` names: for `last`, the latest run of `command`
    /// that did not stop with an error. `Ok(None)` for `last` without one; a run number that is not there is
    /// a usage error naming the runs that are.
    pub fn find(&self, since: &SinceArg, command: &str) -> Result<Option<Record>> {
        let all = self.records()?;
        match since {
            // A run that stopped with an error (e.g. the lab never came up)
            // measured few or none of its checks: comparing against it would
            // mark every check "new" and hide what really changed.
            SinceArg::Last => Ok(all
                .into_iter()
                .rev()
                .find(|r| r.command == command && r.error.is_none())),
            SinceArg::Run(n) => match all.iter().find(|r| r.run == *n) {
                // Runs of `up`, `provision` and `down` share the numbering;
                // a test compared against one would call every check new.
                Some(r) if r.command != command => Err(Error::usage(format!(
                    "--since {n}: run {n} is a `{}` run, not a `{command}` run (see labctl history)",
                    r.command
                ))),
                Some(r) => Ok(Some(r.clone())),
                None => Err(Error::usage(format!(
                    "--since {n}: no run {n} in {} (runs: {})",
                    self.dir.display(),
                    if all.is_empty() {
                        "none yet".to_string()
                    } else {
                        all.iter()
                            .map(|r| r.run.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))),
            },
        }
    }

    /// Append a record under the next free run number (a file created only
    /// if absent, so two runs finishing at once never share a number).
    pub fn append(&self, mut rec: Record) -> Result<u64> {
        if let Some((root, lab)) = &self.owner {
            crate::state::StateDir::new(root).claim(lab)?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("create", &self.dir, e))?;
        let mut next = self.records()?.last().map(|r| r.run).unwrap_or(0) + 1;
        loop {
            rec.run = next;
            let text = serde_json::to_string_pretty(&rec).expect("record serializes") + "\n";
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
                .map_err(|e| Error::io("create a temp file in", &self.dir, e))?;
            use std::io::Write;
            tmp.write_all(text.as_bytes())
                .and_then(|_| tmp.as_file().sync_all())
                .map_err(|e| Error::io("write", tmp.path().to_path_buf(), e))?;
            match tmp.persist_noclobber(self.path(next)) {
                Ok(_) => return Ok(next),
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
                Err(e) => return Err(Error::io("write", self.path(next), e.error)),
            }
        }
    }
}

/// `labctl history LAB`: one row per run, with what changed since the run of
/// the same command before it.
pub fn table(records: &[Record]) -> String {
    let mut rows = vec![[
        "RUN", "FINISHED", "COMMAND", "RESULT", "PASS", "FAIL", "TIME", "CHANGED",
    ]
    .map(String::from)
    .to_vec()];
    for (i, r) in records.iter().enumerate() {
        let prev = records[..i].iter().rev().find(|p| p.command == r.command);
        let result = match (&r.error, r.ok) {
            (Some(_), _) => "ERROR",
            (None, true) => "ok",
            (None, false) => "FAILED",
        };
        // `up`, `provision` and `down` run no checks: their counts are not
        // zero passes, they are not there.
        let counts = |n: usize| {
            if r.results.is_empty() && !matches!(r.command.as_str(), "test" | "bench") {
                "-".to_string()
            } else {
                n.to_string()
            }
        };
        rows.push(vec![
            r.run.to_string(),
            r.finished.clone(),
            r.command.clone(),
            result.into(),
            counts(r.passed()),
            counts(r.failed()),
            format!("{:.0}s", r.seconds),
            prev.map(|p| compare::changed(p, r))
                .unwrap_or_else(|| "first run".into()),
        ]);
    }
    crate::text::table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        record_with(None)
    }

    fn record_with(error: Option<&str>) -> Record {
        let run = LabRun {
            lab: "x".into(),
            provider: None,
            results: vec![],
            skipped: vec![],
            seconds: 1.0,
            error: error.map(String::from),
            since: None,
            shard: None,
        };
        Record::new("test", &run, "lab.toml", "name = \"x\"", BTreeMap::new())
    }

    #[test]
    fn first_record_claims_the_state_dir_and_numbers_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join(".labctl/x");
        let s = Store::for_lab(&state, "x", None);
        assert_eq!(s.append(record()).unwrap(), 1);
        assert_eq!(s.append(record()).unwrap(), 2);
        // The state dir got its marker: `up` later accepts it as lab x's.
        crate::state::StateDir::new(&state)
            .check_owned("x")
            .unwrap();
        let all = s.records().unwrap();
        assert_eq!(all.iter().map(|r| r.run).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(s.find(&SinceArg::Last, "test").unwrap().unwrap().run, 2);
        // A run that stopped with an error is no baseline for `last` (it
        // measured nothing); named by number, it still is.
        assert_eq!(s.append(record_with(Some("up failed"))).unwrap(), 3);
        assert_eq!(s.find(&SinceArg::Last, "test").unwrap().unwrap().run, 2);
        assert_eq!(s.find(&SinceArg::Run(3), "test").unwrap().unwrap().run, 3);
        assert!(s.find(&SinceArg::Last, "bench").unwrap().is_none());
        let e = s.find(&SinceArg::Run(5), "test").unwrap_err();
        assert!(e.to_string().contains("runs: 1, 2, 3"), "{e}");
    }

    #[test]
    fn up_records_its_phases_beside_test_runs_and_old_records_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::for_lab(Path::new("/nonexistent"), "x", Some(tmp.path()));
        let mut t = Timings::default();
        t.add_seconds("machines", None, 17.5);
        t.add_seconds("provisioning", Some("web1"), 4.0);
        let up = Record::timed(
            "up",
            "x",
            22.0,
            None,
            "lab.toml",
            "name = \"x\"",
            t.phases.clone(),
        );
        assert!(up.ok && up.results.is_empty());
        assert_eq!(s.append(up).unwrap(), 1);
        assert_eq!(s.append(record()).unwrap(), 2);
        // A record written before phases were kept has no `phases` key.
        let mut old: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&record()).unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("phases");
        old["run"] = 3.into();
        std::fs::write(s.dir.join("run-000003.json"), old.to_string()).unwrap();
        let all = s.records().unwrap();
        assert_eq!(all[0].command, "up");
        assert_eq!(all[0].phases, t.phases);
        assert!(all[2].phases.is_empty());
        // `--since last` of a test never compares against an up, nor
        // `--since 1` (an up's run number).
        assert_eq!(s.find(&SinceArg::Last, "test").unwrap().unwrap().run, 3);
        let e = s.find(&SinceArg::Run(1), "test").unwrap_err().to_string();
        assert!(e.contains("run 1 is a `up` run"), "{e}");
        assert_eq!(s.find(&SinceArg::Run(2), "test").unwrap().unwrap().run, 2);
        let failed = Record::timed("down", "x", 1.0, Some("boom".into()), "f", "t", vec![]);
        assert!(!failed.ok);
        // The table gives the up no pass/fail counts (it ran no check); the
        // test run with no check results still shows its zeros.
        let rows = table(&all);
        let cells = |run: &str| -> Vec<String> {
            rows.lines()
                .find(|l| l.split_whitespace().next() == Some(run))
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        let up_row = cells("1");
        assert_eq!(&up_row[2..6], ["up", "ok", "-", "-"], "{rows}");
        let test_row = cells("2");
        assert_eq!(&test_row[2..6], ["test", "FAILED", "0", "0"], "{rows}");
    }

    #[test]
    fn history_dir_keeps_each_lab_apart_and_never_claims() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::for_lab(Path::new("/nonexistent"), "x", Some(tmp.path()));
        assert_eq!(s.append(record()).unwrap(), 1);
        assert!(tmp.path().join("x/run-000001.json").is_file());
        assert!(!tmp.path().join(crate::state::MARKER).exists());
    }

    #[test]
    fn a_foreign_file_in_the_history_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::for_lab(Path::new("/nonexistent"), "x", Some(tmp.path()));
        std::fs::create_dir_all(&s.dir).unwrap();
        std::fs::write(s.dir.join("run-000001.json"), "{}").unwrap();
        let e = s.records().unwrap_err();
        assert!(
            e.to_string()
                .contains("run-000001.json is not a labctl run record"),
            "{e}"
        );
    }
}
