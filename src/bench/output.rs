//! What a bench prints and writes: the terminal table (the write-up's, with
//! min-max, CPU and verdicts added), CSV, the JSON run record, and the comparison
//! of two run records.

use super::stats::{self, RatioCheck, Round, ScenarioInfo, ScenarioSummary, StatsConfig, Verdict};
use crate::lab::model::Ratio;
use crate::text::Align;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped when a field changes meaning, so `--compare` can refuse old records.
pub const RECORD_SCHEMA: u32 = 1;

/// Everything needed to understand, reproduce and compare a bench run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    pub lab: String,
    /// sha256 of the lab file's bytes: two records of different files are not
    /// comparable without saying so.
    pub lab_sha256: String,
    /// When the run started (RFC 3339), as the caller formats it.
    pub started_at: Option<String>,
    /// Tool name -> version string (`iperf3` -> `iperf 3.12`, `labctl`, `docker`).
    pub tools: BTreeMap<String, String>,
    /// The host's CPU model: same-host paths are CPU-bound, so it explains them.
    pub host_cpu: Option<String>,
    pub rounds: usize,
    pub config: StatsConfig,
    pub scenarios: Vec<ScenarioInfo>,
    /// Every run's figures, round by round, in run order.
    pub raw: Vec<Round>,
    pub summaries: Vec<ScenarioSummary>,
    pub checks: Vec<RatioCheck>,
}

/// The descriptive part of a [`RunRecord`], supplied by the caller.
#[derive(Debug, Clone, Default)]
pub struct RecordMeta {
    pub lab: String,
    pub lab_sha256: String,
    pub started_at: Option<String>,
    pub tools: BTreeMap<String, String>,
    /// Usually [`host_cpu_model`]`()`; a parameter so tests stay host-independent.
    pub host_cpu: Option<String>,
}

impl RunRecord {
    /// Computes the summaries and ratio checks from the raw rounds, so a record
    /// can never disagree with its own numbers.
    pub fn new(
        meta: RecordMeta,
        scenarios: Vec<ScenarioInfo>,
        raw: Vec<Round>,
        ratios: &[Ratio],
        config: StatsConfig,
    ) -> Self {
        let summaries = stats::summarize(&scenarios, &raw, &config);
        let checks = stats::check_ratios(ratios, &summaries);
        RunRecord {
            schema: RECORD_SCHEMA,
            lab: meta.lab,
            lab_sha256: meta.lab_sha256,
            started_at: meta.started_at,
            tools: meta.tools,
            host_cpu: meta.host_cpu,
            rounds: raw.len(),
            config,
            scenarios,
            raw,
            summaries,
            checks,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a run record always serializes")
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn table(&self) -> String {
        table(&self.summaries, &self.checks)
    }

    pub fn csv(&self) -> String {
        csv(&self.summaries, &self.checks)
    }

    /// The SVG bar chart, titled with the lab name and round count.
    pub fn chart_svg(&self) -> Result<String, super::chart::ChartError> {
        let title = format!(
            "labctl bench {}: median of {} round{}",
            self.lab,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" }
        );
        super::chart::svg(&title, &self.summaries)
    }

    /// The worst verdict of the run: anything not measured first (a failed
    /// run, a scenario never run, a check that could not be judged: exit 3),
    /// then [`Verdict::Fail`] (exit 1), else pass. A failed run counts even when
    /// no `[[ratio]]` names its scenario: "could not measure" is never a pass.
    pub fn overall(&self) -> Verdict {
        if !self.unmeasured().is_empty() {
            return Verdict::Unmeasured;
        }
        overall(&self.checks)
    }

    /// Why this run did not measure everything it was asked to, one line per
    /// scenario; empty when every scenario has a figure from every round.
    pub fn unmeasured(&self) -> Vec<String> {
        if self.scenarios.is_empty() {
            return vec!["the lab has no scenarios to measure".to_string()];
        }
        let mut why = Vec::new();
        for info in &self.scenarios {
            let summary = self.summaries.iter().find(|s| s.scenario == info.name);
            match summary {
                Some(s) if !s.failures.is_empty() => why.push(format!(
                    "scenario {}: {}",
                    s.scenario,
                    s.failures.join("; ")
                )),
                Some(s) if s.runs == 0 || s.measured < s.runs || s.runs < self.rounds => {
                    why.push(format!(
                        "scenario {}: {} of {} round{} measured",
                        s.scenario,
                        s.measured,
                        self.rounds,
                        if self.rounds == 1 { "" } else { "s" }
                    ))
                }
                Some(_) => {}
                None => why.push(format!("scenario {}: was not run", info.name)),
            }
        }
        why
    }
}

/// Worst verdict of `checks`; [`Verdict::Pass`] when there are none.
pub fn overall(checks: &[RatioCheck]) -> Verdict {
    if checks.iter().any(|c| c.verdict == Verdict::Unmeasured) {
        Verdict::Unmeasured
    } else if checks.iter().any(|c| c.verdict == Verdict::Fail) {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
}

/// Hex sha256 of the lab file's bytes, for [`RecordMeta::lab_sha256`].
pub fn lab_file_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The host CPU model from `/proc/cpuinfo`, `None` where there is none.
pub fn host_cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| cpu_model_from_cpuinfo(&t))
}

/// The first `model name` in a `/proc/cpuinfo` text, with the CPU count when
/// there are several ("AMD EPYC 7B13 (x2)").
pub fn cpu_model_from_cpuinfo(text: &str) -> Option<String> {
    let models: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim() == "model name")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let first = *models.first()?;
    Some(if models.len() > 1 {
        format!("{first} (x{})", models.len())
    } else {
        first.to_string()
    })
}

/// Columns separated by two spaces, each aligned its own way, under a header.
fn aligned(header: &[&str], aligns: &[Align], rows: &[Vec<String>]) -> String {
    let all: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().cloned())
        .collect();
    crate::text::table_aligned(&all, aligns)
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

/// The verdict cell of a scenario: "ok" when all its checks pass, otherwise each
/// failing or unmeasured check; "-" without checks.
fn verdict_cell(scenario: &str, checks: &[RatioCheck]) -> String {
    let mine: Vec<&RatioCheck> = checks.iter().filter(|c| c.scenario == scenario).collect();
    if mine.is_empty() {
        return "-".to_string();
    }
    let bad: Vec<String> = mine
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| {
            let what = if c.verdict == Verdict::Fail {
                "FAIL"
            } else {
                "NOT MEASURED"
            };
            let of = if c.of == "baseline" {
                String::new()
            } else {
                format!(" (of {})", c.of)
            };
            let msg = c
                .message
                .strip_prefix("could not measure: ")
                .unwrap_or(&c.message);
            format!("{what}{of}: {msg}")
        })
        .collect();
    if bad.is_empty() {
        "ok".to_string()
    } else {
        bad.join("; ")
    }
}

/// The terminal table: scenario, rounds measured, median Gbit/s, min-max, % of
/// the baseline ("raw"), mean CPU of client/server, verdict of its ratio checks.
pub fn table(summaries: &[ScenarioSummary], checks: &[RatioCheck]) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let cpu = match (s.cpu_host_mean, s.cpu_remote_mean) {
                (None, None) => "-".to_string(),
                (h, r) => format!(
                    "{}/{}",
                    opt(h, |v| format!("{v:.0}%")),
                    opt(r, |v| format!("{v:.0}%"))
                ),
            };
            let cpu = if s.cpu_bound {
                format!("{cpu} CPU-bound")
            } else {
                cpu
            };
            let range = match (s.min_gbps, s.max_gbps) {
                (Some(lo), Some(hi)) => format!("{lo:.2}-{hi:.2}"),
                _ => "-".to_string(),
            };
            vec![
                s.scenario.clone(),
                format!("{}/{}", s.measured, s.runs),
                opt(s.median_gbps, |v| format!("{v:.2}")),
                range,
                opt(s.ratio_to_baseline, |v| format!("{:.0}%", v * 100.0)),
                cpu,
                verdict_cell(&s.scenario, checks),
            ]
        })
        .collect();
    aligned(
        &[
            "scenario",
            "runs",
            "Gbit/s",
            "min-max",
            "% of raw",
            "CPU client/server",
            "verdict",
        ],
        &[Left, Right, Right, Right, Right, Left, Left],
        &rows,
    )
}

/// One line per check, for the end of the terminal output and for `labctl test`.
pub fn checks_text(checks: &[RatioCheck]) -> String {
    checks
        .iter()
        .map(|c| {
            let tag = match c.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Unmeasured => "NOT MEASURED",
            };
            format!(
                "{tag}  {} ({} / {}): {}\n",
                c.name, c.scenario, c.of, c.message
            )
        })
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV: a header and one row per scenario. Empty cells are values that could not
/// be measured (never 0). `verdict` is the worst of the scenario's checks.
pub fn csv(summaries: &[ScenarioSummary], checks: &[RatioCheck]) -> String {
    let num = |v: Option<f64>, d: usize| v.map_or_else(String::new, |v| format!("{v:.d$}"));
    let mut out = String::from(
        "scenario,baseline,runs,measured,median_gbps,min_gbps,max_gbps,ratio_to_baseline,ratio_to_rate,\
         cpu_client_mean,cpu_server_mean,cpu_bound,verdict,detail\n",
    );
    for s in summaries {
        let mine: Vec<RatioCheck> = checks
            .iter()
            .filter(|c| c.scenario == s.scenario)
            .cloned()
            .collect();
        let verdict = if mine.is_empty() {
            ""
        } else {
            match overall(&mine) {
                Verdict::Pass => "pass",
                Verdict::Fail => "fail",
                Verdict::Unmeasured => "unmeasured",
            }
        };
        let detail = mine
            .iter()
            .map(|c| format!("{}: {}", c.name, c.message))
            .collect::<Vec<_>>()
            .join("; ");
        let cells = [
            csv_field(&s.scenario),
            s.baseline.to_string(),
            s.runs.to_string(),
            s.measured.to_string(),
            num(s.median_gbps, 3),
            num(s.min_gbps, 3),
            num(s.max_gbps, 3),
            num(s.ratio_to_baseline, 4),
            num(s.ratio_to_rate, 4),
            num(s.cpu_host_mean, 1),
            num(s.cpu_remote_mean, 1),
            s.cpu_bound.to_string(),
            verdict.to_string(),
            csv_field(&detail),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// One scenario in two runs, A (before) and B (after).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub scenario: String,
    pub a_gbps: Option<f64>,
    pub b_gbps: Option<f64>,
    pub a_ratio: Option<f64>,
    pub b_ratio: Option<f64>,
}

impl CompareRow {
    pub fn gbps_change(&self) -> Option<f64> {
        Some(self.b_gbps? - self.a_gbps?)
    }
    pub fn gbps_change_pct(&self) -> Option<f64> {
        pct(self.a_gbps?, self.b_gbps?)
    }
    pub fn ratio_change(&self) -> Option<f64> {
        Some(self.b_ratio? - self.a_ratio?)
    }
    pub fn ratio_change_pct(&self) -> Option<f64> {
        pct(self.a_ratio?, self.b_ratio?)
    }
}

fn pct(a: f64, b: f64) -> Option<f64> {
    (a != 0.0).then(|| (b - a) / a * 100.0)
}

/// The change per scenario between two run records.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Scenarios of A in order, then those only in B.
    pub rows: Vec<CompareRow>,
    /// Why the two may not be comparable (other lab file, host CPU, tools).
    pub notes: Vec<String>,
}

/// Why `--compare` could not read a record.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("run record {which} is not valid: {source}")]
    Invalid {
        which: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("run record {which} has schema {found}, this labctl reads {RECORD_SCHEMA}")]
    Schema { which: &'static str, found: u32 },
}

/// Compares two run records given as JSON text (A is the older one).
pub fn compare(a_json: &str, b_json: &str) -> Result<Comparison, CompareError> {
    let read = |which, text| -> Result<RunRecord, CompareError> {
        let r =
            RunRecord::from_json(text).map_err(|source| CompareError::Invalid { which, source })?;
        if r.schema != RECORD_SCHEMA {
            return Err(CompareError::Schema {
                which,
                found: r.schema,
            });
        }
        Ok(r)
    };
    Ok(compare_records(&read("A", a_json)?, &read("B", b_json)?))
}

pub fn compare_records(a: &RunRecord, b: &RunRecord) -> Comparison {
    let mut rows: Vec<CompareRow> = a
        .summaries
        .iter()
        .map(|sa| {
            let sb = b.summaries.iter().find(|s| s.scenario == sa.scenario);
            CompareRow {
                scenario: sa.scenario.clone(),
                a_gbps: sa.median_gbps,
                b_gbps: sb.and_then(|s| s.median_gbps),
                a_ratio: sa.ratio_to_baseline,
                b_ratio: sb.and_then(|s| s.ratio_to_baseline),
            }
        })
        .collect();
    for sb in b
        .summaries
        .iter()
        .filter(|sb| !a.summaries.iter().any(|sa| sa.scenario == sb.scenario))
    {
        rows.push(CompareRow {
            scenario: sb.scenario.clone(),
            a_gbps: None,
            b_gbps: sb.median_gbps,
            a_ratio: None,
            b_ratio: sb.ratio_to_baseline,
        });
    }
    let mut notes = Vec::new();
    if a.lab != b.lab {
        notes.push(format!("different labs: {} and {}", a.lab, b.lab));
    }
    if a.lab_sha256 != b.lab_sha256 {
        notes.push("the lab file changed between the runs".to_string());
    }
    if a.host_cpu != b.host_cpu {
        notes.push(format!(
            "different host CPUs: {} and {}",
            a.host_cpu.as_deref().unwrap_or("unknown"),
            b.host_cpu.as_deref().unwrap_or("unknown")
        ));
    }
    for (tool, va) in &a.tools {
        match b.tools.get(tool) {
            Some(vb) if vb != va => notes.push(format!("{tool}: {va} -> {vb}")),
            _ => {}
        }
    }
    for s in b
        .summaries
        .iter()
        .filter(|sb| !a.summaries.iter().any(|sa| sa.scenario == sb.scenario))
    {
        notes.push(format!("scenario `{}` is only in B", s.scenario));
    }
    for s in a
        .summaries
        .iter()
        .filter(|sa| !b.summaries.iter().any(|sb| sb.scenario == sa.scenario))
    {
        notes.push(format!("scenario `{}` is only in A", s.scenario));
    }
    Comparison { rows, notes }
}

impl Comparison {
    /// scenario, Gbit/s A -> B with the change, ratio A -> B with the change;
    /// then the notes.
    pub fn table(&self) -> String {
        use Align::*;
        let signed = |v: Option<f64>, d: usize, suffix: &str| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:+.d$}{suffix}"))
        };
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.scenario.clone(),
                    opt(r.a_gbps, |v| format!("{v:.2}")),
                    opt(r.b_gbps, |v| format!("{v:.2}")),
                    signed(r.gbps_change(), 2, ""),
                    signed(r.gbps_change_pct(), 1, "%"),
                    opt(r.a_ratio, |v| format!("{v:.3}")),
                    opt(r.b_ratio, |v| format!("{v:.3}")),
                    signed(r.ratio_change(), 3, ""),
                    signed(r.ratio_change_pct(), 1, "%"),
                ]
            })
            .collect();
        let mut out = aligned(
            &[
                "scenario",
                "Gbit/s A",
                "Gbit/s B",
                "Gbit/s change",
                "%",
                "ratio A",
                "ratio B",
                "ratio change",
                "%",
            ],
            &[Left, Right, Right, Right, Right, Right, Right, Right, Right],
            &rows,
        );
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::{Outcome, Run, Sample};
    use crate::diag::Span;
    use crate::lab::model::{RatioOf, Sp};

    fn run(s: &str, gbps: f64, cpu: (f64, f64)) -> Run {
        Run {
            scenario: s.into(),
            outcome: Outcome::Measured(Sample {
                bits_per_second: gbps * 1e9,
                cpu_host: Some(cpu.0),
                cpu_remote: Some(cpu.1),
            }),
        }
    }

    fn ratio(name: &str, scenario: &str, of: RatioOf, min: Option<f64>, max: Option<f64>) -> Ratio {
        Ratio {
            name: name.into(),
            scenario: Sp::new(scenario.into(), Span::default()),
            of,
            min,
            max,
            span: Span::default(),
        }
    }

    /// The write-up's six scenarios with figures shaped like its table, over
    /// three rounds, one failed run, and ratio bounds that pass, fail and cannot
    /// be judged.
    fn record(scale: f64) -> RunRecord {
        let names = [
            "raw",
            "cross-host-mode",
            "cross-bridge",
            "same-host-bridge",
            "c2c-external",
            "c2c-internal",
        ];
        let figures = [9.40, 9.40, 9.38, 23.8, 8.0, 21.0];
        let cpu = [
            (20.0, 35.0),
            (21.0, 36.0),
            (22.0, 40.0),
            (97.0, 60.0),
            (70.0, 65.0),
            (95.0, 93.0),
        ];
        let scenarios: Vec<ScenarioInfo> = names
            .iter()
            .enumerate()
            .map(|(i, n)| ScenarioInfo {
                name: n.to_string(),
                baseline: i == 0,
                link_rate_bps: Some(10_000_000_000),
            })
            .collect();
        let wobble = [1.0, 0.98, 1.02];
        let raw: Vec<Round> = wobble
            .iter()
            .enumerate()
            .map(|(r, w)| {
                let mut runs = Vec::new();
                for i in 1..names.len() {
                    runs.push(run(names[0], figures[0] * w * scale, cpu[0]));
                    if r == 1 && i == 4 {
                        runs.push(Run {
                            scenario: names[i].into(),
                            outcome: Outcome::CouldNotRun { message: "iperf3 could not run: the server is busy running a test. try again later".into() },
                        });
                    } else {
                        runs.push(run(names[i], figures[i] * w * scale * (1.0 + 0.01 * r as f64), cpu[i]));
                    }
                }
                Round { runs }
            })
            .collect();
        let ratios = [
            ratio(
                "baseline-of-rate",
                "raw",
                RatioOf::Rate,
                Some(0.90),
                Some(1.0),
            ),
            ratio(
                "cross-host-mode",
                "cross-host-mode",
                RatioOf::Baseline,
                Some(0.90),
                Some(1.05),
            ),
            ratio(
                "cross-bridge",
                "cross-bridge",
                RatioOf::Baseline,
                Some(0.90),
                Some(1.05),
            ),
            ratio(
                "same-host-bridge",
                "same-host-bridge",
                RatioOf::Baseline,
                Some(1.0),
                None,
            ),
            ratio(
                "c2c-external",
                "c2c-external",
                RatioOf::Baseline,
                Some(1.0),
                None,
            ),
            ratio(
                "c2c-internal",
                "c2c-internal",
                RatioOf::Baseline,
                Some(3.0),
                None,
            ),
        ];
        let meta = RecordMeta {
            lab: "bench".into(),
            lab_sha256: lab_file_sha256(b"[lab]\nname = \"bench\"\n"),
            started_at: Some("2026-01-01T00:00:00Z".into()),
            tools: [
                ("iperf3".to_string(), "iperf 3.12".to_string()),
                ("labctl".to_string(), "0.1.0".to_string()),
            ]
            .into(),
            host_cpu: Some("Test CPU @ 3.00GHz (x2)".into()),
        };
        RunRecord::new(meta, scenarios, raw, &ratios, StatsConfig::default())
    }

    /// Issue 10.11: a lab with scenarios but no `[[ratio]]` bounds, where every
    /// iperf3 run failed, measured nothing; that is exit 3, never a pass.
    #[test]
    fn failed_runs_without_ratios_are_unmeasured() {
        let scenarios = vec![
            ScenarioInfo {
                name: "raw".into(),
                baseline: true,
                link_rate_bps: None,
            },
            ScenarioInfo {
                name: "bridge".into(),
                baseline: false,
                link_rate_bps: None,
            },
        ];
        let failed = |s: &str| Run {
            scenario: s.into(),
            outcome: Outcome::CouldNotRun {
                message: "iperf3 could not run: connection refused".into(),
            },
        };
        let all_failed = vec![Round {
            runs: vec![failed("raw"), failed("bridge")],
        }];
        let r = RunRecord::new(
            RecordMeta::default(),
            scenarios.clone(),
            all_failed,
            &[],
            StatsConfig::default(),
        );
        assert_eq!(r.overall(), Verdict::Unmeasured);
        // One failed run among measured ones, in a scenario no ratio names.
        let one_failed = vec![Round {
            runs: vec![run("raw", 9.0, (1.0, 1.0)), failed("bridge")],
        }];
        let r = RunRecord::new(
            RecordMeta::default(),
            scenarios.clone(),
            one_failed,
            &[],
            StatsConfig::default(),
        );
        assert_eq!(r.overall(), Verdict::Unmeasured);
        // A scenario that was never run at all.
        let missing = vec![Round {
            runs: vec![run("raw", 9.0, (1.0, 1.0))],
        }];
        let r = RunRecord::new(
            RecordMeta::default(),
            scenarios.clone(),
            missing,
            &[],
            StatsConfig::default(),
        );
        assert_eq!(r.overall(), Verdict::Unmeasured);
        // Everything measured, no bounds: a pass.
        let ok = vec![Round {
            runs: vec![run("raw", 9.0, (1.0, 1.0)), run("bridge", 8.0, (1.0, 1.0))],
        }];
        let r = RunRecord::new(
            RecordMeta::default(),
            scenarios,
            ok,
            &[],
            StatsConfig::default(),
        );
        assert_eq!(r.overall(), Verdict::Pass);
    }

    #[test]
    fn terminal_table() {
        insta::assert_snapshot!("table", record(1.0).table());
    }

    #[test]
    fn checks_listing() {
        insta::assert_snapshot!("checks", checks_text(&record(1.0).checks));
    }

    #[test]
    fn csv_output() {
        let r = record(1.0);
        let text = r.csv();
        insta::assert_snapshot!("csv", text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + r.summaries.len());
        assert!(lines.iter().all(|l| !l.is_empty()));
    }

    #[test]
    fn csv_quotes_fields() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn record_round_trips_and_carries_what_it_must() {
        let r = record(1.0);
        let json = r.to_json();
        let back = RunRecord::from_json(&json).unwrap();
        // serde_json reads floats to within an ULP, so compare numbers loosely.
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_json_close(&serde_json::to_value(&back).unwrap(), &v, "$");
        for key in [
            "lab",
            "lab_sha256",
            "tools",
            "host_cpu",
            "rounds",
            "raw",
            "summaries",
            "checks",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["rounds"], 3);
        assert_eq!(v["raw"][1]["runs"][7]["outcome"]["status"], "could_not_run");
        assert_eq!(v["raw"][0]["runs"][0]["outcome"]["status"], "measured");
        assert_eq!(v["lab_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(r.overall(), Verdict::Unmeasured);
        let svg = r.chart_svg().unwrap();
        assert!(roxmltree::Document::parse(&svg).is_ok());
        assert!(svg.contains("labctl bench bench: median of 3 rounds"));
    }

    fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
        use serde_json::Value::*;
        match (a, b) {
            (Number(x), Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!(
                    (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                    "{at}: {x} != {y}"
                );
            }
            (Array(x), Array(y)) => {
                assert_eq!(x.len(), y.len(), "{at}");
                for (i, (x, y)) in x.iter().zip(y).enumerate() {
                    assert_json_close(x, y, &format!("{at}[{i}]"));
                }
            }
            (Object(x), Object(y)) => {
                assert_eq!(
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>(),
                    "{at}"
                );
                for (k, x) in x {
                    assert_json_close(x, &y[k], &format!("{at}.{k}"));
                }
            }
            _ => assert_eq!(a, b, "{at}"),
        }
    }

    #[test]
    fn overall_ranks_unmeasured_over_fail() {
        let mut checks = record(1.0).checks;
        checks.retain(|c| c.verdict != Verdict::Unmeasured);
        assert_eq!(overall(&checks), Verdict::Fail);
        checks.retain(|c| c.verdict == Verdict::Pass);
        assert_eq!(overall(&checks), Verdict::Pass);
        assert_eq!(overall(&[]), Verdict::Pass);
    }

    #[test]
    fn compare_two_records() {
        let a = record(1.0);
        let mut b = record(1.1);
        b.tools.insert("iperf3".into(), "iperf 3.16".into());
        b.summaries.retain(|s| s.scenario != "c2c-internal");
        let cmp = compare(&a.to_json(), &b.to_json()).unwrap();
        let raw = &cmp.rows[0];
        assert!((raw.gbps_change_pct().unwrap() - 10.0).abs() < 1e-6);
        assert!(raw.ratio_change().unwrap().abs() < 1e-12);
        insta::assert_snapshot!("compare", cmp.table());
    }

    #[test]
    fn compare_rejects_bad_input() {
        assert!(matches!(
            compare("{", "{}"),
            Err(CompareError::Invalid { which: "A", .. })
        ));
        let mut old = record(1.0);
        old.schema = 0;
        let e = compare(&record(1.0).to_json(), &old.to_json()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "run record B has schema 0, this labctl reads 1"
        );
    }

    #[test]
    fn cpu_model() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(
            cpu_model_from_cpuinfo(text).as_deref(),
            Some("AMD EPYC 7B13 (x2)")
        );
        assert_eq!(
            cpu_model_from_cpuinfo("processor : 0\nmodel name : X\n").as_deref(),
            Some("X")
        );
        assert_eq!(cpu_model_from_cpuinfo("Hardware : BCM2835\n"), None);
    }

    #[test]
    fn sha256_of_bytes() {
        assert_eq!(
            lab_file_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
