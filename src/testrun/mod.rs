//! `labctl test`: bring a lab up if needed, check the network is the lab's,
//! run its checks with a live table, write JSON/JUnit reports, and exit with an
//! honest code (0 all passed, 1 a check failed, 2 bad lab / no checks, 3 labctl
//! could not do its job). With `--jobs N` labs run side by side, each as its
//! own `labctl test` ([`jobs`]), where [`schedule`] allows. With `--partition`
//! a CI runner tests only its share of the labs ([`partition`]).

mod jobs;
pub mod partition;
pub mod schedule;

use crate::checks::{self, CheckEvent, StdHttp};
use crate::error::{Error, Exit, Result};
use crate::lifecycle::{self, LabArgs, Opened, UpOptions};
use crate::remote::SshShell;
use crate::report::{LabRun, ReportSpec};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Destroy {
    Always,
    Passing,
    Never,
}

pub struct TestOptions {
    pub up: UpOptions,
    pub reports: Vec<ReportSpec>,
    pub destroy: Destroy,
    pub parallel: bool,
    /// Checks whose names match are not run; the reports list them as skipped.
    pub skip: Vec<regex::Regex>,
    pub bench_rounds: Option<u32>,
    pub bench_duration: Option<u32>,
    /// Mark what changed since this earlier recorded run.
    pub since: Option<crate::history::SinceArg>,
    /// Keep run records in DIR/LAB/ instead of the state dir's history/.
    pub history_dir: Option<std::path::PathBuf>,
    /// Print each lab's phase timings at the end of its run (`--timings`).
    pub timings: bool,
    /// Labs run at once (`--jobs`); 1 runs them one after another in this process.
    pub jobs: usize,
    /// The split these labs are a share of (`--partition`): the partition
    /// as given and the whole suite, written into every report.
    pub shard: Option<(String, Vec<String>)>,
}

/// Where a run is recorded: the lab's history, its file and text; known once
/// the lab opened.
struct Recording {
    store: crate::history::Store,
    lab_file: String,
    lab_text: String,
}

/// Test one or more labs: in turn, or `o.jobs` at a time.
pub fn test(labs: &[LabArgs], o: &TestOptions) -> Result<Exit> {
    let outcomes = if o.jobs > 1 && labs.len() > 1 {
        jobs::run(labs, o, o.jobs)
    } else {
        labs.iter().map(|a| test_one(a, o)).collect()
    };
    let mut runs = Vec::new();
    let mut worst = Exit::Ok;
    for ((mut run, exit), a) in outcomes.into_iter().zip(labs) {
        worst = worse(worst, exit);
        run.shard = o.shard.as_ref().map(|(p, suite)| crate::report::Shard {
            partition: p.clone(),
            entry: a.lab.clone(),
            suite: suite.clone(),
        });
        runs.push(run);
    }
    for r in &o.reports {
        match r {
            ReportSpec::Json(p) => {
                crate::report::json::write_runs(p, &runs)?;
                eprintln!("report: {}", p.display());
            }
            ReportSpec::Junit(p) => {
                crate::report::junit::write(p, &runs)?;
                eprintln!("report: {}", p.display());
            }
        }
    }
    if runs.len() > 1 {
        let mut rows = vec![vec![
            "LAB".to_string(),
            "PASSED".into(),
            "FAILED".into(),
            "SKIPPED".into(),
            "TIME".into(),
            "RESULT".into(),
        ]];
        for r in &runs {
            let res = match &r.error {
                Some(e) => format!("ERROR: {}", e.lines().next().unwrap_or("")),
                None if r.ok() => "ok".into(),
                None => "FAILED".into(),
            };
            rows.push(vec![
                r.lab.clone(),
                r.passed().to_string(),
                r.failed().to_string(),
                r.skipped().to_string(),
                format!("{:.0}s", r.seconds),
                res,
            ]);
        }
        eprint!("\n{}", crate::text::table(&rows));
    }
    Ok(worst)
}

fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Ok => 0,
        Exit::ChecksFailed => 1,
        Exit::Usage => 2,
        Exit::Environment => 3,
        Exit::Interrupted => 4,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn test_one(a: &LabArgs, o: &TestOptions) -> (LabRun, Exit) {
    let started = Instant::now();
    let mut run = LabRun::new(a.name.clone().unwrap_or_else(|| a.lab.clone()));
    let mut rec = None;
    let mut timings = crate::history::Timings::default();
    let result = test_inner(a, o, &mut run, &mut rec, &mut timings);
    run.seconds = started.elapsed().as_secs_f64();
    let mut exit = match result {
        Ok(()) if run.ok() => Exit::Ok,
        Ok(()) => Exit::ChecksFailed,
        Err(e) => {
            eprint!("{}", e.render());
            run.error = Some(e.to_string());
            e.exit()
        }
    };
    // Every run of a lab that opened is recorded, errored ones too (a lab
    // without checks, exit 2, never ran).
    if let Some(rec) = rec.filter(|_| exit != Exit::Usage) {
        let provider = run.provider.clone();
        let tools = crate::history::tool_versions(&crate::exec::System, provider.as_deref());
        let mut record =
            crate::history::Record::new("test", &run, &rec.lab_file, &rec.lab_text, tools);
        record.phases = timings.phases.clone();
        match rec.store.append(record) {
            Ok(n) => eprintln!("history: run {n} recorded in {}", rec.store.dir.display()),
            Err(e) => eprint!("{}", e.render()),
        }
    }
    if o.timings {
        print!("{}", crate::history::phase_table(&timings.phases));
    }
    let destroy = match o.destroy {
        Destroy::Always => true,
        Destroy::Passing => exit == Exit::Ok,
        Destroy::Never => false,
    };
    if destroy && !matches!(exit, Exit::Usage) {
        if let Err(e) = lifecycle::down(a, false, o.timings) {
            eprint!("{}", e.render());
            // Asked to go and still here: a nightly run must not read this
            // as a clean pass (exit 0 with a lab left on the host).
            if matches!(exit, Exit::Ok | Exit::ChecksFailed) {
                exit = match e.exit() {
                    Exit::Interrupted => Exit::Interrupted,
                    _ => Exit::Environment,
                };
            }
            if run.error.is_none() {
                run.error = Some(format!("the lab was not brought down after its test: {e}"));
            }
        }
    }
    (run, exit)
}

fn test_inner(
    a: &LabArgs,
    o: &TestOptions,
    run: &mut LabRun,
    rec: &mut Option<Recording>,
    t: &mut crate::history::Timings,
) -> Result<()> {
    let op = lifecycle::open(a)?;
    run.lab = op.lab().name.value.clone();
    let store = crate::history::Store::for_lab(&op.dir.root, &run.lab, o.history_dir.as_deref());
    // A run number that is not in the history is refused before anything runs.
    if let Some(since @ crate::history::SinceArg::Run(_)) = &o.since {
        store.find(since, "test")?;
    }
    *rec = Some(Recording {
        store: store.clone(),
        lab_file: op.loaded.source.path.display().to_string(),
        lab_text: op.loaded.source.text.clone(),
    });
    if op.lab().checks.is_empty() && op.lab().ratios.is_empty() {
        return Err(Error::usage(format!(
            "lab {} has no checks: nothing to test",
            op.lab().name.value
        )));
    }
    if !is_running(&op)? {
        // `up` keeps its own phases in its own record; here it is one phase.
        t.time("up", || lifecycle::up(a, &o.up))?;
    }
    let op = lifecycle::open(a)?;
    let state = op.dir.load()?.unwrap_or_default();
    run.provider = state.provider.map(|k| k.to_string());
    // Nothing is sent toward lab addresses until the lab's subnet is known to
    // be routed to the lab's own network on this host.
    t.time("route check", || {
        lifecycle::check_route(&op, &state, &crate::exec::System)
    })?;
    let shell = SshShell::new(lifecycle::targets(&op, &state));
    let http = StdHttp;
    eprintln!(
        "testing lab {} ({} checks, {} ratio bounds)",
        op.lab().name.value,
        op.lab().checks.len(),
        op.lab().ratios.len()
    );
    let mut on_event = |ev: CheckEvent<'_>| match ev {
        CheckEvent::Started { .. } => {}
        CheckEvent::Retrying {
            check,
            attempt,
            message,
            ..
        } => {
            if attempt == 1 || attempt % 10 == 0 {
                eprintln!(
                    "  ..    {} (attempt {attempt}: {})",
                    check.name,
                    crate::text::one_line(message, 100)
                );
            }
        }
        CheckEvent::Finished { check, result, .. } => {
            let verdict = if result.passed { "PASS" } else { "FAIL" };
            eprintln!(
                "  {verdict}  {} [{}] {:.1}s{}",
                check.name,
                result.kind,
                result.seconds,
                if result.passed {
                    String::new()
                } else {
                    format!(": {}", result.message)
                }
            );
        }
    };
    let mut lab = op.lab().clone();
    // Disk checks look at the device node this provider gives each node.
    if let Some(kind) = state.provider {
        checks::disk::bind_devices(&mut lab, kind);
    }
    // Emulated VMs run the checks' node-side work several times slower.
    let runtime = crate::state::runtime::Runtime::read(&op.dir.runtime_file());
    let pace = checks::pace::factor(state.provider, runtime.as_ref());
    if pace > 1 {
        eprintln!("check timeouts x{pace}: the nodes are VMs under QEMU's emulation (TCG)");
        checks::pace::scale_timeouts(&mut lab, pace);
    }
    // Skipped checks stay in the reports as skipped, with the pattern that
    // left them out: a check that vanished would read as one that never existed.
    run.skipped = lab
        .checks
        .iter()
        .filter_map(|c| {
            let r = o.skip.iter().find(|r| r.is_match(&c.name))?;
            Some(crate::report::Skipped {
                name: c.name.clone(),
                kind: c.kind.kind_name(),
                reason: format!("matches --skip {}", r.as_str()),
            })
        })
        .collect();
    lab.checks
        .retain(|c| !o.skip.iter().any(|r| r.is_match(&c.name)));
    if !run.skipped.is_empty() {
        eprintln!("skipping {} check(s) matching --skip", run.skipped.len());
    }
    // Measured failures are retried only while the lab settles after the
    // lifecycle command that last changed it (each ends by writing the state
    // file); disruptive checks run after the observing ones (checks::engine).
    let settle = std::fs::metadata(op.dir.state_file())
        .and_then(|m| m.modified())
        .map(checks::Settle::after)
        .unwrap_or_else(|_| checks::Settle::settled());
    run.results = t.time("checks", || {
        checks::run_all(&lab, &shell, &http, o.parallel, settle, &mut on_event)
    });
    // Ctrl-C: every started check has undone its change; report what ran.
    crate::interrupt::check()?;
    // Bench ratios are checks too: one result (one JUnit testcase) per bound.
    if !op.lab().ratios.is_empty() {
        let started = Instant::now();
        let rec = crate::bench::cmd::measure(&op, o.bench_rounds, o.bench_duration)?;
        crate::bench::cmd::write_outputs(
            &op,
            &rec,
            &crate::bench::cmd::Outputs {
                json: None,
                csv: None,
                chart: None,
            },
        )?;
        eprint!("{}", rec.table());
        let secs = started.elapsed().as_secs_f64();
        t.add_seconds("bench", None, secs);
        if rec.overall() == crate::bench::Verdict::Unmeasured {
            for why in rec.unmeasured() {
                eprintln!("bench: could not measure: {why}");
            }
            run.results.extend(crate::bench::cmd::as_checks(&rec, secs));
            return Err(Error::env(
                format!(
                    "lab {}: iperf3 could not measure every scenario (see above)",
                    op.lab().name.value
                ),
                None,
            ));
        }
        run.results.extend(crate::bench::cmd::as_checks(&rec, secs));
    }
    if let Some(since) = &o.since {
        let base = store.find(since, "test")?;
        if base.is_none() {
            eprintln!(
                "since last: no earlier test run of lab {} in {}; nothing to compare",
                run.lab,
                store.dir.display()
            );
        }
        run.since = Some(crate::history::compare(base.as_ref(), run));
    }
    eprint!(
        "{}",
        crate::report::summary_table_since(&run.results, &run.skipped, run.since.as_ref())
    );
    if let Some(s) = run.since.as_ref().filter(|s| !s.gone.is_empty()) {
        eprintln!(
            "not run this time (run {} had them): {}",
            s.run.unwrap_or(0),
            s.gone.join("; ")
        );
    }
    eprintln!("{}", run.summary_line());
    Ok(())
}

fn is_running(op: &Opened) -> Result<bool> {
    let Some(state) = op.dir.load()? else {
        return Ok(false);
    };
    if state.phase != crate::state::Phase::Up {
        return Ok(false);
    }
    let st = lifecycle::node_status(op, &crate::exec::System)?;
    Ok(st.iter().all(|n| n.state == "running"))
}
