//! `labctl test --jobs N`: labs side by side. Each lab runs as its own
//! `labctl test LAB` process: its state (the interrupt phase, the spawn hook)
//! stays its own, and everything it and its tools (vagrant, ssh) print
//! reaches the terminal through one pipe, which this process cuts into lines
//! prefixed `[LAB] `. Each writes its JSON report to a temporary folder; read
//! back, they make the one summary table, JSON and JUnit of the whole run.
//! Which labs may run together is [`super::schedule`]'s.

use super::schedule::{self, Footprint};
use super::TestOptions;
use crate::error::Exit;
use crate::lifecycle::LabArgs;
use crate::report::LabRun;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;

/// Each running lab gets its own band of this many SSH ports
/// ([`crate::provider::docker::SSH_PORT_FROM_ENV`]): two labs starting at
/// once would otherwise pick the same free port before either binds it.
const PORT_BAND: u16 = 100;

/// Run `labs` at most `jobs` at a time; one outcome per lab, in `labs` order.
pub fn run(labs: &[LabArgs], o: &TestOptions, jobs: usize) -> Vec<(LabRun, Exit)> {
    let tmp = match tempfile::Builder::new().prefix("labctl-jobs-").tempdir() {
        Ok(t) => t,
        Err(e) => {
            let why = format!("could not make a folder for the labs' reports: {e}");
            return labs
                .iter()
                .map(|a| not_run(a, &why, Exit::Environment))
                .collect();
        }
    };
    // Host setup once, before labs run side by side: two labs' installs at
    // once would fight over dpkg's lock and restart each other's daemons.
    // Each lab then only checks (--no-setup), naming anything still missing.
    if !o.up.no_setup {
        let (kind, why) = crate::provider::choose(o.up.provider, &crate::exec::System);
        eprintln!("setup: the {kind} provider ({why}), once for every lab");
        if let Err(e) = crate::setup::ensure(kind, &crate::exec::System, true) {
            eprint!("{}", e.render());
            let why = format!("host setup for the {kind} provider failed: {e}");
            return labs.iter().map(|a| not_run(a, &why, e.exit())).collect();
        }
    }
    let prints: Vec<Footprint> = labs.iter().map(footprint).collect();
    let mut outcomes: Vec<Option<(LabRun, Exit)>> = labs.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..labs.len()).collect();
    // (lab index, port band slot) of the labs running now.
    let mut running: Vec<(usize, usize)> = Vec::new();
    let (done_tx, done_rx) = mpsc::channel::<(usize, Option<i32>)>();
    eprintln!(
        "testing {} labs, up to {jobs} at a time (labs sharing a subnet or forwarded port wait; a lab with bench ratios runs alone)",
        labs.len()
    );
    while !pending.is_empty() || !running.is_empty() {
        while !crate::interrupt::interrupted() {
            let p: Vec<&Footprint> = pending.iter().map(|i| &prints[*i]).collect();
            let r: Vec<&Footprint> = running.iter().map(|(i, _)| &prints[*i]).collect();
            let Some(k) = schedule::next(&p, &r, jobs) else {
                break;
            };
            let i = pending.remove(k);
            let slot = (0..)
                .find(|s| running.iter().all(|(_, t)| t != s))
                .unwrap_or(0);
            let report = tmp.path().join(format!("{i}.json"));
            let side: Vec<&str> = r.iter().map(|f| f.lab.as_str()).collect();
            eprintln!(
                "[{}] started{}",
                prints[i].lab,
                if side.is_empty() {
                    String::new()
                } else {
                    format!(" beside {}", side.join(", "))
                }
            );
            match start(
                &labs[i],
                o,
                &prints[i].lab,
                &report,
                slot,
                i,
                done_tx.clone(),
            ) {
                Ok(()) => running.push((i, slot)),
                Err(why) => outcomes[i] = Some(not_run(&labs[i], &why, Exit::Environment)),
            }
        }
        if crate::interrupt::interrupted() {
            for i in pending.drain(..) {
                outcomes[i] = Some(not_run(
                    &labs[i],
                    "not started: interrupted",
                    Exit::Interrupted,
                ));
            }
        }
        if running.is_empty() {
            continue;
        }
        let Ok((i, code)) = done_rx.recv() else {
            break;
        };
        running.retain(|(j, _)| *j != i);
        let report = tmp.path().join(format!("{i}.json"));
        outcomes[i] = Some(finished(&labs[i], &prints[i].lab, &report, code));
    }
    outcomes
        .into_iter()
        .zip(labs)
        .map(|(o, a)| o.unwrap_or_else(|| not_run(a, "not run", Exit::Environment)))
        .collect()
}

/// What the scheduler needs of a lab, read the way its own run will open it
/// (`--subnet` copies remembered in the state dir included).
fn footprint(a: &LabArgs) -> Footprint {
    match crate::lifecycle::open(a) {
        Ok(op) => Footprint::of(op.lab()),
        Err(_) => Footprint::unread(&label(a)),
    }
}

fn label(a: &LabArgs) -> String {
    a.name.clone().unwrap_or_else(|| a.lab.clone())
}

/// The arguments of one lab's own `labctl test`: the options of this run,
/// with its JSON report written to `report`, and no host setup ([`run`]
/// made the host ready once).
pub fn child_args(a: &LabArgs, o: &TestOptions, report: &std::path::Path) -> Vec<String> {
    use clap::ValueEnum;
    let name = |v: Option<clap::builder::PossibleValue>| {
        v.map(|p| p.get_name().to_string()).unwrap_or_default()
    };
    let mut args = vec![
        "test".to_string(),
        a.lab.clone(),
        "--report".into(),
        format!("json:{}", report.display()),
        "--destroy".into(),
        name(o.destroy.to_possible_value()),
        "--provider".into(),
        name(o.up.provider.to_possible_value()),
    ];
    if let Some(n) = &a.name {
        args.extend(["--name".into(), n.clone()]);
    }
    if let Some(s) = a.subnet {
        args.extend(["--subnet".into(), s.to_string()]);
    }
    args.push("--no-setup".into());
    if !o.parallel {
        args.push("--serial".into());
    }
    for r in &o.skip {
        args.extend(["--skip".into(), r.as_str().to_string()]);
    }
    if let Some(n) = o.bench_rounds {
        args.extend(["--bench-rounds".into(), n.to_string()]);
    }
    if let Some(n) = o.bench_duration {
        args.extend(["--bench-duration".into(), n.to_string()]);
    }
    if let Some(s) = &o.since {
        args.extend(["--since".into(), s.to_string()]);
    }
    if let Some(d) = &o.history_dir {
        args.extend(["--history-dir".into(), d.display().to_string()]);
    }
    if o.timings {
        args.push("--timings".into());
    }
    args
}

/// Start lab `i`'s own run; its output is prefixed on the way through, and
/// `done` hears its exit code (`None`: killed by a signal) when it ends.
fn start(
    a: &LabArgs,
    o: &TestOptions,
    lab: &str,
    report: &std::path::Path,
    slot: usize,
    i: usize,
    done: mpsc::Sender<(usize, Option<i32>)>,
) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find labctl's own binary: {e}"))?;
    // `--jobs` is at most 8 (clap), so the bands 2200, 2300, ... 2900 stay
    // inside the port range and never wrap onto a running lab's.
    let from = 2200 + slot as u16 * PORT_BAND;
    let mut cmd = Command::new(&exe);
    cmd.args(child_args(a, o, report))
        .env(crate::provider::docker::SSH_PORT_FROM_ENV, from.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, as every child of labctl: a terminal's Ctrl-C
        // reaches this process, which forwards it (crate::interrupt) and
        // each lab unwinds through its own error path.
        .process_group(0);
    // And when this process dies without forwarding anything (SIGKILL, an
    // OOM kill, a CI runner's hard timeout), each lab hears SIGHUP from the
    // kernel and unwinds as on SIGTERM, its output (a pipe nobody reads
    // now) sent to /dev/null (crate::interrupt), instead of running on
    // unwatched. The kernel sends it when the spawning *thread* ends: `run`
    // spawns from the thread that waits for every lab.
    let parent = std::process::id() as i32;
    // SAFETY: between fork and exec only async-signal-safe calls: prctl,
    // getppid and kill.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGHUP)?;
            // The parent may have died before the line above: then no signal
            // will come, so the lab is not started at all. (Raising one here
            // would run this process's inherited handler before exec, and
            // the new labctl would never hear it.)
            if nix::unistd::getppid().as_raw() != parent {
                return Err(std::io::Error::other(
                    "labctl test --jobs ended before this lab started",
                ));
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", exe.display()))?;
    let pid = child.id() as i32;
    crate::interrupt::track(pid);
    // A Ctrl-C that came between the spawn and `track` was forwarded to the
    // groups tracked then, not this one: pass it on now.
    if crate::interrupt::interrupted() {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let out = child.stdout.take().map(|s| pump(s, lab, false));
    let err = child.stderr.take().map(|s| pump(s, lab, true));
    std::thread::spawn(move || {
        let status = child.wait();
        crate::interrupt::untrack(pid);
        // Every line is out before the lab counts as finished.
        for t in [out, err].into_iter().flatten() {
            let _ = t.join();
        }
        let _ = done.send((i, status.ok().and_then(|s| s.code())));
    });
    Ok(())
}

/// Copy `from` line by line to this process's stderr (or stdout), each line
/// prefixed `[LAB] ` and written whole, so labs' lines never mix mid-line.
fn pump(
    from: impl std::io::Read + Send + 'static,
    lab: &str,
    to_stderr: bool,
) -> std::thread::JoinHandle<()> {
    let prefix = format!("[{lab}] ");
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(from);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = prefixed(&prefix, &buf);
            let _ = if to_stderr {
                std::io::stderr().lock().write_all(line.as_bytes())
            } else {
                std::io::stdout().lock().write_all(line.as_bytes())
            };
        }
    })
}

/// `bytes` (one line, with or without its newline) behind `prefix`, ending
/// in a newline; progress redraws (`\r`) keep only what was drawn last.
fn prefixed(prefix: &str, bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches(['\n', '\r']);
    let last = text.rsplit('\r').next().unwrap_or("");
    format!("{prefix}{last}\n")
}

/// The outcome of a lab whose run ended with `code`: its report, or an error
/// saying there was none (the exit code is never taken for a verdict alone).
fn finished(a: &LabArgs, lab: &str, report: &std::path::Path, code: Option<i32>) -> (LabRun, Exit) {
    let exit = exit_of(code);
    let run = std::fs::read_to_string(report)
        .map_err(|e| e.to_string())
        .and_then(|t| crate::report::json::parse(&t));
    eprintln!(
        "[{lab}] finished: exit {}",
        code.map(|c| c.to_string())
            .unwrap_or_else(|| "by a signal".into())
    );
    match run {
        // A report that says all passed from a run that exited otherwise is
        // not a pass.
        Ok(run) if exit == Exit::Ok && !run.ok() => (run, Exit::Environment),
        Ok(run) => (run, exit),
        Err(e) => {
            let why = format!(
                "labctl test {} exited {} without a readable report ({e})",
                a.lab,
                code.map(|c| c.to_string())
                    .unwrap_or_else(|| "by a signal".into())
            );
            not_run(a, &why, worse_than_ok(exit))
        }
    }
}

/// A run's exit code as labctl's [`Exit`]; a code labctl does not give (or
/// death by a signal) is an environment failure.
pub fn exit_of(code: Option<i32>) -> Exit {
    match code {
        Some(0) => Exit::Ok,
        Some(1) => Exit::ChecksFailed,
        Some(2) => Exit::Usage,
        Some(130) => Exit::Interrupted,
        _ => Exit::Environment,
    }
}

fn worse_than_ok(e: Exit) -> Exit {
    if e == Exit::Ok {
        Exit::Environment
    } else {
        e
    }
}

/// A lab with no run to report: it errored with `why`.
fn not_run(a: &LabArgs, why: &str, exit: Exit) -> (LabRun, Exit) {
    (
        LabRun {
            error: Some(why.to_string()),
            ..LabRun::new(label(a))
        },
        exit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrun::Destroy;
    use rstest::rstest;

    #[rstest]
    #[case::line(b"hello\n".as_slice(), "[w] hello\n")]
    #[case::no_newline(b"tail".as_slice(), "[w] tail\n")]
    #[case::crlf(b"x\r\n".as_slice(), "[w] x\n")]
    #[case::redraws(b"10%\r50%\r100%\n".as_slice(), "[w] 100%\n")]
    #[case::not_utf8(b"a\xffb\n".as_slice(), "[w] a\u{fffd}b\n")]
    fn lines_are_prefixed_whole(#[case] bytes: &[u8], #[case] want: &str) {
        assert_eq!(prefixed("[w] ", bytes), want);
    }

    #[rstest]
    #[case(Some(0), Exit::Ok)]
    #[case(Some(1), Exit::ChecksFailed)]
    #[case(Some(2), Exit::Usage)]
    #[case(Some(3), Exit::Environment)]
    #[case(Some(130), Exit::Interrupted)]
    #[case(Some(101), Exit::Environment)]
    #[case(None, Exit::Environment)]
    fn exit_codes_map_back(#[case] code: Option<i32>, #[case] want: Exit) {
        assert_eq!(exit_of(code), want);
    }

    #[test]
    fn a_report_that_passed_from_a_run_that_failed_is_no_pass() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        let a = LabArgs::named("w");
        // No report at all: an error naming the exit code, never a pass.
        let (run, exit) = finished(&a, "w", &p, Some(0));
        assert_eq!(exit, Exit::Environment);
        assert!(run
            .error
            .unwrap()
            .contains("exited 0 without a readable report"));
        let (run, exit) = finished(&a, "w", &p, Some(1));
        assert_eq!(exit, Exit::ChecksFailed);
        assert!(!run.ok());
    }

    /// Every option of the run reaches each lab's own run; host setup is
    /// never repeated there (the parent did it once).
    #[test]
    fn options_pass_on_to_each_lab() {
        let o = TestOptions {
            up: crate::lifecycle::UpOptions::new(crate::provider::Choice::Docker, false),
            reports: vec![],
            destroy: Destroy::Passing,
            parallel: false,
            skip: vec![regex::Regex::new("cron").unwrap()],
            bench_rounds: Some(2),
            bench_duration: None,
            since: Some(crate::history::SinceArg::Last),
            history_dir: Some("/cache".into()),
            timings: true,
            jobs: 2,
            shard: None,
        };
        let args = child_args(
            &LabArgs::named("workflow"),
            &o,
            std::path::Path::new("/t/0.json"),
        );
        assert_eq!(
            args.join(" "),
            "test workflow --report json:/t/0.json --destroy passing --provider docker \
             --no-setup --serial --skip cron --bench-rounds 2 --since last --history-dir /cache --timings"
        );
    }
}
