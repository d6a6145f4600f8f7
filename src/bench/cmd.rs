//! `labctl bench LAB`: run the scenarios on a running lab and print the
//! write-up's table; JSON, CSV and an SVG chart on request.

use super::output::RunRecord;
use super::run::{self, BenchOptions, HostBenchLock};
use super::stats::{Outcome, Verdict};
use crate::checks::CheckResult;
use crate::error::{Error, Exit, Result};
use crate::lifecycle::{self, LabArgs, Opened};
use crate::remote::NodeShell;
use std::path::PathBuf;
use std::time::Duration;

pub struct Outputs {
    pub json: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub chart: Option<PathBuf>,
}

/// Measure a lab that is up; returns the run record.
pub fn measure(op: &Opened, rounds: Option<u32>, duration: Option<u32>) -> Result<RunRecord> {
    let lab = op.lab();
    if lab.scenarios.is_empty() {
        return Err(Error::usage(format!(
            "lab {} has no [[scenario]] to bench",
            lab.name.value
        )));
    }
    let r = crate::exec::System;
    let state = op.dir.load()?.unwrap_or_default();
    let hosts = state.provider == Some(crate::state::Kind::Hosts);
    lifecycle::check_route(op, &state, &r)?;
    let _lock = HostBenchLock::acquire()?;
    let shell = crate::remote::SshShell::new(lifecycle::targets(op, &state));
    // Container endpoints need the iperf3 image on their node, moved offline.
    let needs: std::collections::BTreeSet<String> = lab
        .scenarios
        .iter()
        .flat_map(|s| [&s.client, &s.server])
        .filter(|e| e.container != crate::lab::ContainerMode::None)
        .map(|e| e.node.value.clone())
        .collect();
    let mut tag = String::new();
    if hosts && !needs.is_empty() {
        // Existing machines have no node image: each makes the image itself.
        tag = run::HOSTS_IPERF_TAG.to_string();
        for node in &needs {
            run::import_on_node(&shell, node, &tag)?;
        }
    } else if !needs.is_empty() {
        let node_image = state
            .image
            .clone()
            .ok_or_else(|| Error::env("the state file names no node image", None))?;
        tag = run::ensure_iperf_image(&r, &node_image)?;
        for node in &needs {
            let load = |node: &str, bytes: &[u8]| -> Result<()> {
                let conn = lifecycle::connect(op, &state, node)?;
                eprintln!(
                    "bench: loading {tag} on {node} ({} KiB, offline)",
                    bytes.len() / 1024
                );
                let res = conn.exec(
                    "sudo docker load",
                    Some(&mut |w: &mut dyn std::io::Write| w.write_all(bytes)),
                    Duration::from_secs(300),
                    &mut |_, _| {},
                )?;
                if res.code != 0 {
                    return Err(Error::env(
                        format!("node {node}: docker load failed: {}", res.stderr.trim()),
                        Some("is the docker-host role on this node?".into()),
                    ));
                }
                Ok(())
            };
            run::load_on_node(&shell, node, &tag, &load)?;
        }
    }
    let rounds = rounds.unwrap_or(lab.bench.rounds);
    let o = BenchOptions {
        rounds,
        duration,
        raw_dir: op.dir.root.join("bench").join("raw"),
    };
    let lab_bytes = op.loaded.source.text.as_bytes();
    eprintln!(
        "bench: {} scenarios, {rounds} interleaved rounds (raw iperf3 JSON in {})",
        lab.scenarios.len(),
        o.raw_dir.display()
    );
    run::run(
        lab,
        lab_bytes,
        &shell as &dyn NodeShell,
        &tag,
        &o,
        &mut |round, name, oc| match oc {
            Outcome::Measured(s) => eprintln!(
                "  round {round}  {name:<22} {:>7.2} Gbit/s",
                s.bits_per_second / 1e9
            ),
            Outcome::CouldNotRun { message } | Outcome::Unusable { message } => {
                eprintln!("  round {round}  {name:<22} ERROR {message}")
            }
        },
    )
}

pub fn bench(
    a: &LabArgs,
    up: &lifecycle::UpOptions,
    rounds: Option<u32>,
    duration: Option<u32>,
    out: &Outputs,
    history_dir: Option<&std::path::Path>,
) -> Result<Exit> {
    let started = std::time::Instant::now();
    let op = lifecycle::open(a)?;
    let running = op
        .dir
        .load()?
        .is_some_and(|s| s.phase == crate::state::Phase::Up);
    if !running {
        lifecycle::up(a, up)?;
    }
    let op = lifecycle::open(a)?;
    let rec = measure(&op, rounds, duration)?;
    write_outputs(&op, &rec, out)?;
    print!("{}", rec.table());
    print!("{}", super::output::checks_text(&rec.checks));
    // Say what was not measured even when no ratio names it: exit 3 needs a why.
    for why in rec.unmeasured() {
        eprintln!("bench: could not measure: {why}");
    }
    record(&op, &rec, started.elapsed().as_secs_f64(), history_dir);
    Ok(match rec.overall() {
        Verdict::Pass => Exit::Ok,
        Verdict::Fail => Exit::ChecksFailed,
        Verdict::Unmeasured => Exit::Environment,
    })
}

/// Append this bench run to the lab's history: one result per ratio bound,
/// as `labctl test` reports them.
fn record(op: &Opened, rec: &RunRecord, seconds: f64, history_dir: Option<&std::path::Path>) {
    let state = op.dir.load().ok().flatten().unwrap_or_default();
    let provider = state.provider.map(|k| k.to_string());
    let run = crate::report::LabRun {
        provider: provider.clone(),
        results: as_checks(rec, seconds),
        skipped: vec![],
        seconds,
        error: (rec.overall() == Verdict::Unmeasured)
            .then(|| "iperf3 could not measure every scenario".to_string()),
        ..crate::report::LabRun::new(op.lab().name.value.clone())
    };
    let store = crate::history::Store::for_lab(&op.dir.root, &run.lab, history_dir);
    let tools = crate::history::tool_versions(&crate::exec::System, provider.as_deref());
    let r = crate::history::Record::new(
        "bench",
        &run,
        &op.loaded.source.path.display().to_string(),
        &op.loaded.source.text,
        tools,
    );
    match store.append(r) {
        Ok(n) => eprintln!("history: run {n} recorded in {}", store.dir.display()),
        Err(e) => eprint!("{}", e.render()),
    }
}

pub fn write_outputs(op: &Opened, rec: &RunRecord, out: &Outputs) -> Result<()> {
    // Always keep the latest run in the state dir; copies where asked.
    let dir = op.dir.root.join("bench");
    let chart = rec
        .chart_svg()
        .map_err(|e| Error::env(format!("chart: {e}"), None))?;
    let files = [
        ("last.json", rec.to_json(), &out.json),
        ("last.csv", rec.csv(), &out.csv),
        ("last.svg", chart, &out.chart),
    ];
    for (name, text, extra) in files {
        crate::state::write_atomic(&dir.join(name), text.as_bytes())?;
        if let Some(p) = extra {
            crate::state::write_atomic(p, text.as_bytes())?;
            eprintln!("bench: wrote {}", p.display());
        }
    }
    Ok(())
}

/// `labctl bench --compare A.json B.json`.
pub fn compare(a: &PathBuf, b: &PathBuf) -> Result<Exit> {
    let ta = std::fs::read_to_string(a).map_err(|e| Error::io("read", a, e))?;
    let tb = std::fs::read_to_string(b).map_err(|e| Error::io("read", b, e))?;
    let c = super::output::compare(&ta, &tb).map_err(|e| {
        Error::usage(format!(
            "cannot compare {} and {}: {e}",
            a.display(),
            b.display()
        ))
    })?;
    print!("{}", c.table());
    Ok(Exit::Ok)
}

/// Ratio verdicts as check results, for `labctl test` (one JUnit testcase each).
pub fn as_checks(rec: &RunRecord, seconds: f64) -> Vec<CheckResult> {
    rec.checks
        .iter()
        .map(|c| CheckResult {
            name: c.name.clone(),
            kind: "ratio",
            passed: c.verdict == Verdict::Pass,
            message: c.message.clone(),
            output: format!("scenario {} vs {}", c.scenario, c.of),
            attempts: 1,
            seconds,
        })
        .collect()
}
