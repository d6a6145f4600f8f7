//! The check engine: one check attempted and retried under the lab's retry
//! rule, the checks of a lab scheduled (observing checks in parallel, at most
//! [`MAX_PARALLEL`] at once, then the disruptive ones one at a time), a
//! panicking check turned into a failed result, a check's `undo` run on every
//! way out, and the dispatch to each kind's attempt.
//!
//! The rule (docs/lab-file.md, "When checks run and retry"):
//! - A check that changes a node (`disruptive = true`: runs a pull, pushes a
//!   commit, installs a cron probe) never runs alongside another check: every
//!   observing check has finished before the first disruptive one starts, so a
//!   change cannot repair what an observer should have seen broken.
//! - A measured failure is retried only while the lab is settling ([`Settle`]:
//!   shortly after `up`, `provision` or `restart` changed it). Once settled, a
//!   measured failure is the verdict: retrying until healthy would turn "broken
//!   now" into "healed later, pass" (cron's own pull repairs nodes too). An
//!   attempt that could not measure (the node did not answer SSH) is retried
//!   until the check's timeout either way.

use super::http_client::HostHttp;
use super::{command, cron, disk, file, http, port, reach, service};
use crate::lab::{Check, CheckKind, Lab};
use crate::remote::{ExecResult, NodeShell};
use crate::shell::sh_args;
use crate::text::{last_line, one_line};
use regex::Regex;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one check did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckResult {
    pub name: String,
    pub kind: &'static str,
    pub passed: bool,
    /// One line: what was expected versus what was seen (of the last attempt).
    pub message: String,
    /// Details of the last attempt: command output, response excerpts.
    pub output: String,
    pub attempts: u32,
    pub seconds: f64,
}

/// At most this many checks run at once in [`run_all`].
pub const MAX_PARALLEL: usize = 4;
/// How long after `up`, `provision` or `restart` last changed a lab it counts
/// as settling (services starting, haproxy's health checks catching up), so
/// that checks retry measured failures until their timeout.
pub const SETTLE: Duration = Duration::from_secs(90);

/// Until when measured failures are retried (see the module's rule).
#[derive(Debug, Clone, Copy)]
pub struct Settle {
    pub until: Instant,
}

impl Settle {
    /// The lab settles until [`SETTLE`] after `changed` (when a lifecycle
    /// command last changed it).
    pub fn after(changed: std::time::SystemTime) -> Self {
        let ago = changed.elapsed().unwrap_or_default();
        Settle {
            until: Instant::now() + SETTLE.saturating_sub(ago),
        }
    }
    /// Settled already: a measured failure is final.
    pub fn settled() -> Self {
        Settle {
            until: Instant::now(),
        }
    }
    /// Still settling for as long as any check may run (tests, `test` right
    /// after bringing the lab up).
    pub fn settling() -> Self {
        Settle {
            until: Instant::now() + Duration::from_secs(24 * 3600),
        }
    }
    fn retries_measured(&self) -> bool {
        Instant::now() < self.until
    }
}
/// Each attempt gets at least this long (or the check's timeout if shorter), even
/// when the check's deadline is closer: a last attempt is never starved.
pub(super) const MIN_ATTEMPT: Duration = Duration::from_secs(5);
/// Per HTTP request ceiling; spread checks divide the attempt's budget further.
pub(super) const MAX_REQUEST: Duration = Duration::from_secs(10);
/// Bodies and outputs are cut to this many characters in results.
pub(super) const MAX_OUTPUT: usize = 4000;
/// A check's `undo` gets this long.
pub(super) const UNDO_TIMEOUT: Duration = Duration::from_secs(60);
/// Added to an attempt's budget for the SSH command timeout.
pub(super) const SSH_SLACK: Duration = Duration::from_secs(2);

/// The outcome of one attempt.
#[derive(Debug)]
pub(super) struct Attempt {
    pub(super) passed: bool,
    pub(super) message: String,
    pub(super) output: String,
    /// Retrying cannot help (bad configuration, refused target).
    pub(super) fatal: bool,
    /// Nothing was measured: the node could not be reached. Retried until the
    /// timeout even when the lab has settled.
    pub(super) unreached: bool,
}

impl Attempt {
    pub(super) fn pass(message: impl Into<String>, output: impl Into<String>) -> Self {
        Attempt {
            passed: true,
            message: message.into(),
            output: output.into(),
            fatal: false,
            unreached: false,
        }
    }
    pub(super) fn fail(message: impl Into<String>, output: impl Into<String>) -> Self {
        Attempt {
            passed: false,
            message: message.into(),
            output: output.into(),
            fatal: false,
            unreached: false,
        }
    }
    pub(super) fn unreached(message: impl Into<String>) -> Self {
        Attempt {
            passed: false,
            message: message.into(),
            output: String::new(),
            fatal: false,
            unreached: true,
        }
    }
    pub(super) fn fatal(message: impl Into<String>) -> Self {
        Attempt {
            passed: false,
            message: message.into(),
            output: String::new(),
            fatal: true,
            unreached: false,
        }
    }
}

/// Run one check: attempts until it passes, fails for good, or its timeout
/// elapses, sleeping `interval` between attempts. A measured failure is retried
/// only while `settle` says the lab is settling; an unreached node until the
/// timeout. A check with `undo` has it run before the first attempt (what an
/// interrupted run left) and after the last, on every way out. `on_attempt`
/// sees the message of every failed attempt that will be retried. The result
/// carries the last attempt's message and output.
pub fn run_check(
    check: &Check,
    lab: &Lab,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    settle: Settle,
    on_attempt: &mut dyn FnMut(&str),
) -> CheckResult {
    let start = Instant::now();
    let deadline = start + check.timeout;
    let mut attempts = 0u32;
    let result = |a: Attempt, attempts: u32| CheckResult {
        name: check.name.clone(),
        kind: check.kind.kind_name(),
        passed: a.passed,
        message: one_line(&a.message, 500),
        output: a.output,
        attempts,
        seconds: start.elapsed().as_secs_f64(),
    };
    if let Some(a) = undo(check, shell, "before the check (what an earlier run left)") {
        return result(a, 1);
    }
    let mut last = loop {
        attempts += 1;
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .max(check.timeout.min(MIN_ATTEMPT));
        let a = attempt(check, lab, shell, http, budget);
        let now = Instant::now();
        if crate::interrupt::interrupted() {
            break Attempt::fail(
                format!("interrupted during {}", crate::interrupt::phase()),
                a.output,
            );
        }
        let retry =
            !a.passed && !a.fatal && now < deadline && (a.unreached || settle.retries_measured());
        if !retry {
            break a;
        }
        on_attempt(&a.message);
        std::thread::sleep(check.interval.min(deadline - now));
    };
    if let Some(u) = undo(check, shell, "after the check") {
        last = Attempt::fail(format!("{}; {}", last.message, u.message), last.output);
    }
    result(last, attempts)
}

/// Run the check's `undo` on its node, even after Ctrl-C (labctl waits for it:
/// an undo left out is a change left on the node). `Some` when it failed.
fn undo(check: &Check, shell: &dyn NodeShell, when: &str) -> Option<Attempt> {
    let CheckKind::Command {
        node,
        undo: Some(cmd),
        ..
    } = &check.kind
    else {
        return None;
    };
    let r = crate::interrupt::shielded(|| shell.run(&node.value, cmd, UNDO_TIMEOUT));
    match r {
        Ok(r) if r.code == 0 => None,
        Ok(r) => Some(Attempt::fail(
            format!(
                "undo on {} {when} exited {}: {}",
                node.value,
                r.code,
                last_line(&r.stderr)
                    .or_else(|| last_line(&r.stdout))
                    .unwrap_or_default()
            ),
            "",
        )),
        Err(e) => Some(Attempt::fail(
            format!(
                "undo on {} {when} could not run: {}",
                node.value,
                one_line(&e.to_string(), 300)
            ),
            "",
        )),
    }
}

/// Progress of [`run_all`], delivered on the calling thread.
#[derive(Debug)]
pub enum CheckEvent<'a> {
    Started {
        index: usize,
        check: &'a Check,
    },
    /// Attempt `attempt` failed and the check will try again.
    Retrying {
        index: usize,
        check: &'a Check,
        attempt: u32,
        message: &'a str,
    },
    Finished {
        index: usize,
        check: &'a Check,
        result: &'a CheckResult,
    },
}

pub(super) enum Msg {
    Started(usize),
    Retrying(usize, u32, String),
    Finished(usize, CheckResult),
}

/// Run every check of the lab; results come back in file order. Observing
/// checks run first, with `parallel` up to [`MAX_PARALLEL`] at once on worker
/// threads; then each disruptive check alone, in file order (the module's
/// rule). After Ctrl-C no further check starts; those not started report
/// `not run`. `on_event` is always called on the calling thread.
pub fn run_all(
    lab: &Lab,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    parallel: bool,
    settle: Settle,
    on_event: &mut dyn FnMut(CheckEvent<'_>),
) -> Vec<CheckResult> {
    let checks = &lab.checks;
    let (observing, changing): (Vec<usize>, Vec<usize>) =
        (0..checks.len()).partition(|&i| !checks[i].disruptive);
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    crate::interrupt::set_phase("checks");
    let workers = if parallel { MAX_PARALLEL } else { 1 };
    run_group(
        lab,
        &observing,
        workers,
        shell,
        http,
        settle,
        on_event,
        &mut results,
    );
    for i in changing {
        crate::interrupt::set_phase(&format!("check `{}`", checks[i].name));
        run_group(lab, &[i], 1, shell, http, settle, on_event, &mut results);
    }
    results
        .into_iter()
        .zip(checks)
        .map(|(r, c)| {
            r.unwrap_or_else(|| CheckResult {
                name: c.name.clone(),
                kind: c.kind.kind_name(),
                passed: false,
                message: format!("not run: interrupted during {}", crate::interrupt::phase()),
                output: String::new(),
                attempts: 0,
                seconds: 0.0,
            })
        })
        .collect()
}

/// The checks at `indices` on up to `workers` threads (inline for one).
#[allow(clippy::too_many_arguments)]
fn run_group(
    lab: &Lab,
    indices: &[usize],
    workers: usize,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    settle: Settle,
    on_event: &mut dyn FnMut(CheckEvent<'_>),
    results: &mut [Option<CheckResult>],
) {
    let checks = &lab.checks;
    let workers = workers.min(indices.len());
    if workers <= 1 {
        for &i in indices {
            if crate::interrupt::interrupted() {
                return;
            }
            let check = &checks[i];
            on_event(CheckEvent::Started { index: i, check });
            let mut n = 0;
            let r = guarded_run(check, lab, shell, http, settle, &mut |m: &str| {
                n += 1;
                on_event(CheckEvent::Retrying {
                    index: i,
                    check,
                    attempt: n,
                    message: m,
                });
            });
            on_event(CheckEvent::Finished {
                index: i,
                check,
                result: &r,
            });
            results[i] = Some(r);
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<Msg>();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= indices.len() || crate::interrupt::interrupted() {
                    break;
                }
                let i = indices[k];
                let _ = tx.send(Msg::Started(i));
                let mut n = 0;
                let r = guarded_run(&checks[i], lab, shell, http, settle, &mut |m: &str| {
                    n += 1;
                    let _ = tx.send(Msg::Retrying(i, n, m.to_string()));
                });
                let _ = tx.send(Msg::Finished(i, r));
            });
        }
        drop(tx);
        for m in rx {
            match m {
                Msg::Started(i) => on_event(CheckEvent::Started {
                    index: i,
                    check: &checks[i],
                }),
                Msg::Retrying(i, n, message) => on_event(CheckEvent::Retrying {
                    index: i,
                    check: &checks[i],
                    attempt: n,
                    message: &message,
                }),
                Msg::Finished(i, r) => {
                    on_event(CheckEvent::Finished {
                        index: i,
                        check: &checks[i],
                        result: &r,
                    });
                    results[i] = Some(r);
                }
            }
        }
    });
}

/// `run_check`, with a panic turned into a failed result so one bad check cannot
/// take the others down.
pub(super) fn guarded_run(
    check: &Check,
    lab: &Lab,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    settle: Settle,
    on_attempt: &mut dyn FnMut(&str),
) -> CheckResult {
    let start = Instant::now();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_check(check, lab, shell, http, settle, on_attempt)
    }))
    .unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        CheckResult {
            name: check.name.clone(),
            kind: check.kind.kind_name(),
            passed: false,
            message: one_line(
                &format!("internal error while running the check: {what}"),
                500,
            ),
            output: String::new(),
            attempts: 1,
            seconds: start.elapsed().as_secs_f64(),
        }
    })
}

// Each kind's `attempt` takes the same inputs and starts the same way
// (the node must be the lab's, then one command on it): alike on purpose
// (duplicates), so that a kind reads on its own in its file.
fn attempt(
    check: &Check,
    lab: &Lab,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    budget: Duration,
) -> Attempt {
    match &check.kind {
        CheckKind::Http {
            from,
            url,
            status,
            body,
            spread,
            requests,
        } => {
            let re = match opt_regex(body.as_deref(), "body") {
                Ok(r) => r,
                Err(a) => return a,
            };
            let spread: Vec<&str> = spread.iter().map(|s| s.value.as_str()).collect();
            http::attempt(
                lab,
                from,
                url,
                *status,
                re.as_ref(),
                &spread,
                *requests,
                budget,
                shell,
                http,
            )
        }
        CheckKind::Port { node, port, from } => port::attempt(
            lab,
            &node.value,
            *port,
            from.as_ref().map(|f| f.value.as_str()),
            budget,
            shell,
        ),
        CheckKind::Command {
            node,
            run,
            exit,
            stdout,
            ..
        } => {
            let re = match opt_regex(stdout.as_deref(), "stdout") {
                Ok(r) => r,
                Err(a) => return a,
            };
            command::attempt(lab, &node.value, run, *exit, re.as_ref(), budget, shell)
        }
        CheckKind::File {
            node,
            path,
            contains,
        } => {
            let re = match opt_regex(contains.as_deref(), "contains") {
                Ok(r) => r,
                Err(a) => return a,
            };
            file::attempt(lab, &node.value, path, re.as_ref(), budget, shell)
        }
        CheckKind::Cron {
            node,
            user,
            contains,
        } => {
            let re = match opt_regex(contains.as_deref(), "contains") {
                Ok(r) => r,
                Err(a) => return a,
            };
            cron::attempt(lab, &node.value, user, re.as_ref(), budget, shell)
        }
        CheckKind::Service { node, service } => {
            service::attempt(lab, &node.value, service, budget, shell)
        }
        CheckKind::Reach { from, to } => reach::attempt(lab, &from.value, &to.value, budget, shell),
        CheckKind::Disk {
            node,
            size_bytes,
            device,
        } => disk::attempt(
            lab,
            &node.value,
            *size_bytes,
            device.as_deref(),
            budget,
            shell,
        ),
    }
}

pub(super) fn opt_regex(pat: Option<&str>, what: &str) -> Result<Option<Regex>, Attempt> {
    match pat {
        None => Ok(None),
        Some(p) => Regex::new(p).map(Some).map_err(|e| {
            Attempt::fatal(format!(
                "invalid {what} regex /{p}/: {}",
                one_line(&e.to_string(), 200)
            ))
        }),
    }
}

/// Exit code the node-side scripts use for "the thing is not there".
pub(super) const MISSING: i32 = 66;

/// A command that exits 0 when a TCP connection to `ip:port` opens within `secs`.
pub(super) fn tcp_probe(ip: Ipv4Addr, port: u16, secs: u64) -> String {
    sh_args(
        include_str!("scripts/tcp-probe.sh"),
        "labctl-tcp",
        &[&ip.to_string(), &port.to_string(), &secs.to_string()],
    )
}

pub(super) fn node_ip(lab: &Lab, node: &str) -> Result<Ipv4Addr, Attempt> {
    lab.node(node)
        .map(|n| n.ip)
        .ok_or_else(|| Attempt::fatal(format!("unknown node `{node}`")))
}

/// Run on a node; an SSH failure is a failed (retryable) attempt. Generated
/// scripts bound their own network waits within `budget`; the SSH timeout adds
/// [`SSH_SLACK`] so that those fire first and report what they saw.
pub(super) fn run_on(
    shell: &dyn NodeShell,
    node: &str,
    cmd: &str,
    budget: Duration,
) -> Result<ExecResult, Attempt> {
    shell.run(node, cmd, budget + SSH_SLACK).map_err(|e| {
        Attempt::unreached(format!(
            "cannot run on {node}: {}",
            one_line(&e.to_string(), 300)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::super::cron::cron_script;
    use super::super::disk::{disk_script, parse_disk};
    use super::super::reach::reach_script;
    use super::*;
    use crate::checks::testing::*;
    use crate::shell::{sh, sh_root};

    /// Sleeps a little per command and records the highest concurrency seen.
    struct Slow {
        now: AtomicUsize,
        max: AtomicUsize,
    }
    impl NodeShell for Slow {
        fn run(&self, _node: &str, cmd: &str, _: Duration) -> crate::Result<ExecResult> {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(ms(15));
            self.now.fetch_sub(1, Ordering::SeqCst);
            let code = if cmd.contains("fail") { 1 } else { 0 };
            Ok(ExecResult {
                code,
                stdout: String::new(),
                stderr: String::new(),
            })
        }
    }

    fn lab_with_checks(n: usize) -> Lab {
        let mut lab = lab();
        lab.checks = (0..n)
            .map(|i| Check {
                name: format!("c{i}"),
                timeout: ms(20),
                interval: ms(5),
                ..check(command(if i % 3 == 0 { "fail" } else { "true" }, 0, None))
            })
            .collect();
        lab
    }

    #[test]
    fn run_all_parallel_is_bounded_and_keeps_file_order() {
        let lab = lab_with_checks(10);
        let shell = Slow {
            now: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        };
        let mut finished = Vec::new();
        let mut started = 0;
        let mut retries = 0;
        let results = run_all(
            &lab,
            &shell,
            &NoHttp,
            true,
            Settle::settling(),
            &mut |e| match e {
                CheckEvent::Started { .. } => started += 1,
                CheckEvent::Retrying { check, attempt, .. } => {
                    assert!(
                        check.name == "c0"
                            || check.name == "c3"
                            || check.name == "c6"
                            || check.name == "c9"
                    );
                    assert!(attempt >= 1);
                    retries += 1;
                }
                CheckEvent::Finished {
                    index,
                    check,
                    result,
                } => {
                    assert_eq!(check.name, result.name);
                    finished.push(index);
                }
            },
        );
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, (0..10).map(|i| format!("c{i}")).collect::<Vec<_>>());
        assert_eq!(results.iter().filter(|r| !r.passed).count(), 4);
        assert_eq!((started, finished.len()), (10, 10));
        assert_eq!(
            retries,
            results.iter().map(|r| r.attempts - 1).sum::<u32>(),
            "every retry is reported"
        );
        let max = shell.max.load(Ordering::SeqCst);
        assert!(max > 1 && max <= MAX_PARALLEL, "concurrency {max}");
    }

    #[test]
    // Alike on purpose (duplicates): the parallel and the sequential run are checked the same way.
    fn run_all_sequential() {
        let lab = lab_with_checks(4);
        let shell = Slow {
            now: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        };
        let mut order = Vec::new();
        let results = run_all(&lab, &shell, &NoHttp, false, Settle::settling(), &mut |e| {
            if let CheckEvent::Finished { index, .. } = e {
                order.push(index)
            }
        });
        assert_eq!(order, vec![0, 1, 2, 3]);
        assert_eq!(results.len(), 4);
        assert_eq!(shell.max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn run_all_survives_a_panicking_shell() {
        let mut lab = lab();
        lab.checks = vec![check(command("a", 0, None)), check(command("b", 0, None))];
        let shell = Fake::new().on("mgmt", "a", vec![ok(0, "")]); // "b" panics: no rule
        let results = run_all(&lab, &shell, &NoHttp, true, Settle::settling(), &mut |_| {});
        assert!(results[0].passed);
        assert!(
            !results[1].passed && results[1].message.starts_with("internal error"),
            "{:?}",
            results[1]
        );
    }

    /// Records when each command ran: (command, start, end).
    #[derive(Default)]
    struct Clock {
        spans: Mutex<Vec<(String, Instant, Instant)>>,
    }
    impl NodeShell for Clock {
        fn run(&self, _node: &str, cmd: &str, _: Duration) -> crate::Result<ExecResult> {
            let start = Instant::now();
            std::thread::sleep(ms(20));
            self.spans
                .lock()
                .unwrap()
                .push((cmd.to_string(), start, Instant::now()));
            Ok(ExecResult {
                code: 0,
                stdout: String::new(),
                stderr: String::new(),
            })
        }
    }

    #[test]
    fn disruptive_checks_run_after_every_observing_check_and_alone() {
        let mut lab = lab();
        lab.checks = (0..8)
            .map(|i| {
                let changes = i == 1 || i == 5;
                Check {
                    name: format!("c{i}"),
                    disruptive: changes,
                    ..check(command(
                        &format!("{}-{i}", if changes { "change" } else { "observe" }),
                        0,
                        None,
                    ))
                }
            })
            .collect();
        let shell = Clock::default();
        let results = run_all(&lab, &shell, &NoHttp, true, Settle::settled(), &mut |_| {});
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
        let spans = shell.spans.lock().unwrap().clone();
        let observed_until = spans
            .iter()
            .filter(|s| s.0.starts_with("observe"))
            .map(|s| s.2)
            .max()
            .unwrap();
        let mut changes: Vec<_> = spans.iter().filter(|s| s.0.starts_with("change")).collect();
        changes.sort_by_key(|s| s.1);
        assert_eq!(
            changes.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
            ["change-1", "change-5"],
            "in file order"
        );
        assert!(
            changes[0].1 >= observed_until,
            "a change started while an observing check ran: {spans:?}"
        );
        assert!(changes[1].1 >= changes[0].2, "changes ran together");
        let observers_at_once = spans
            .iter()
            .filter(|a| a.0.starts_with("observe"))
            .map(|a| {
                spans
                    .iter()
                    .filter(|b| b.0.starts_with("observe") && b.1 < a.2 && a.1 < b.2)
                    .count()
            })
            .max()
            .unwrap();
        assert!(
            observers_at_once > 1,
            "observing checks still run in parallel"
        );
    }

    #[test]
    fn a_measured_failure_is_final_once_the_lab_has_settled() {
        let c = Check {
            timeout: Duration::from_secs(5),
            interval: ms(1),
            ..check(command("probe", 0, None))
        };
        let broken_then_healed = || Fake::new().on("mgmt", "probe", vec![ok(1, ""), ok(0, "")]);
        let r = run_check(
            &c,
            &lab(),
            &broken_then_healed(),
            &NoHttp,
            Settle::settled(),
            &mut |_| {},
        );
        assert_eq!(
            (r.passed, r.attempts),
            (false, 1),
            "broken now is not healed later, pass: {r:?}"
        );
        let r = run_check(
            &c,
            &lab(),
            &broken_then_healed(),
            &NoHttp,
            Settle::settling(),
            &mut |_| {},
        );
        assert_eq!((r.passed, r.attempts), (true, 2), "settling: retried");
        // A node that did not answer measured nothing: retried even when settled.
        let shell = Fake::new().on(
            "mgmt",
            "probe",
            vec![Err("connection refused".into()), ok(0, "")],
        );
        let r = run_check(&c, &lab(), &shell, &NoHttp, Settle::settled(), &mut |_| {});
        assert_eq!((r.passed, r.attempts), (true, 2), "{r:?}");
        // The window is measured from the lab's last change.
        let long_ago = std::time::SystemTime::now() - SETTLE - Duration::from_secs(1);
        let r = run_check(
            &c,
            &lab(),
            &broken_then_healed(),
            &NoHttp,
            Settle::after(long_ago),
            &mut |_| {},
        );
        assert!(!r.passed);
        let r = run_check(
            &c,
            &lab(),
            &broken_then_healed(),
            &NoHttp,
            Settle::after(std::time::SystemTime::now()),
            &mut |_| {},
        );
        assert!(r.passed);
    }

    #[test]
    fn undo_runs_before_and_after_the_check_on_every_way_out() {
        let with_undo = |run: &str| Check {
            disruptive: true,
            kind: CheckKind::Command {
                node: sp("web1"),
                run: run.into(),
                exit: 0,
                stdout: None,
                undo: Some("undo-probe".into()),
            },
            ..check(command("x", 0, None))
        };
        for (reply, passed) in [
            (ok(0, ""), true),
            (ok(1, ""), false),
            (Err("timed out".to_string()), false),
        ] {
            let shell = Fake::new().on("web1", "undo-probe", vec![ok(0, "")]).on(
                "web1",
                "install-probe",
                vec![reply],
            );
            let r = run_check(
                &with_undo("install-probe"),
                &lab(),
                &shell,
                &NoHttp,
                Settle::settled(),
                &mut |_| {},
            );
            assert_eq!(r.passed, passed, "{r:?}");
            let calls: Vec<String> = shell.calls().into_iter().map(|c| c.1).collect();
            assert_eq!(
                calls.first().map(String::as_str),
                Some("undo-probe"),
                "leftovers removed first"
            );
            assert_eq!(
                calls.last().map(String::as_str),
                Some("undo-probe"),
                "undone after: {calls:?}"
            );
        }
        // An undo that fails fails the check, naming the node.
        let shell = Fake::new()
            .on(
                "web1",
                "undo-probe",
                vec![ok(0, ""), with_err(1, "", "rm: cannot remove")],
            )
            .on("web1", "install-probe", vec![ok(0, "")]);
        let r = run_check(
            &with_undo("install-probe"),
            &lab(),
            &shell,
            &NoHttp,
            Settle::settled(),
            &mut |_| {},
        );
        assert!(!r.passed);
        assert!(
            r.message
                .contains("undo on web1 after the check exited 1: rm: cannot remove"),
            "{}",
            r.message
        );
    }

    #[test]
    fn cron_and_disk_scripts_run_in_sh() {
        if !is_root() {
            return;
        }
        let r = LocalShell {
            path: None,
            cwd: None,
        }
        .run("x", &sh_root(&cron_script("root")), ms(5000))
        .unwrap();
        assert!(
            r.stdout.starts_with("::labctl:: crontab\n") && r.stdout.contains("::labctl:: rc "),
            "{r:?}"
        );
        // A disk of this host: the size the script reads from the device
        // node is the one the kernel gives in sectors.
        let host_disk = std::fs::read_dir("/sys/block")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let sectors: u64 = std::fs::read_to_string(e.path().join("size"))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                let dev = format!("/dev/{name}");
                (sectors > 0 && std::path::Path::new(&dev).exists()).then_some((
                    dev,
                    name,
                    sectors * 512,
                ))
            })
            .next();
        if let Some((dev, name, bytes)) = host_disk {
            let r = LocalShell {
                path: None,
                cwd: None,
            }
            .run("x", &disk_script(&dev), ms(5000))
            .unwrap();
            // A sandbox may refuse to open host devices even to root.
            if !r.stderr.contains("Operation not permitted") {
                assert_eq!(parse_disk(&r.stdout), Some((name, bytes)), "{r:?}");
            }
        }
        let r = LocalShell {
            path: None,
            cwd: None,
        }
        .run("x", &disk_script("/dev/null"), ms(5000))
        .unwrap();
        assert_eq!(r.code, MISSING, "a character device is not a disk: {r:?}");
        for s in [
            reach_script(Ipv4Addr::new(192, 168, 57, 11)),
            tcp_probe(Ipv4Addr::new(192, 168, 57, 11), 8080, 3),
        ] {
            // Parse only: these would send packets.
            let st = std::process::Command::new("sh")
                .arg("-n")
                .arg("-c")
                .arg(sh(&s))
                .status()
                .unwrap();
            assert!(st.success(), "{s}");
        }
    }
}
