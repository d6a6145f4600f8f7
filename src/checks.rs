//! Running a lab's `[[check]]`s (DESIGN.md "Checks"): every kind retries until it
//! passes or its timeout elapses (retry-until-healthy), then reports the last
//! failure. Commands run on nodes through a [`NodeShell`] (SSH in production, a
//! scripted fake in tests); host-side HTTP goes through a [`HostHttp`].
//!
//! Rules every kind follows:
//! - Values from the lab file reach a node's shell only through
//!   [`shell_quote`]; each generated script runs under `sh -c`, so the node
//!   user's login shell does not matter. `command` checks are the exception: `run`
//!   *is* a shell command and is sent as written, as the SSH user.
//! - Privileged reads (`file`, `cron`, `service`) run as root: directly when the
//!   SSH user is root, else with `sudo -n` (never prompting).
//! - Output is matched in Rust with the `regex` crate, never with grep, so a lab
//!   file's regex means the same thing everywhere.
//! - Network safety: HTTP targets are re-checked here against the lab (node names,
//!   addresses in the lab subnet, loopback only on a forwarded port from the
//!   host, or any loopback port from a node); anything else fails the check
//!   without sending a packet. Node names are resolved from the lab, never by DNS;
//!   proxies from the environment are ignored and redirects are not followed.
//!   `reach` and `port` only connect to lab addresses.

use crate::lab::{Check, CheckKind, Lab};
use crate::remote::{ExecResult, NodeShell};
use crate::shell::{sh, sh_root, shell_quote};
use crate::text::{first_line, head, human_bytes, last_line, one_line, tail};
use regex::Regex;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Host-side HTTP GET, only ever called after the caller's network-safety check.
/// Returns the status code and the body (lossily decoded), or a one-line error.
pub trait HostHttp: Sync {
    fn get(&self, url: &str, timeout: Duration) -> Result<(u16, String), String>;
}

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
/// Each attempt gets at least this long (or the check's timeout if shorter), even
/// when the check's deadline is closer: a last attempt is never starved.
const MIN_ATTEMPT: Duration = Duration::from_secs(5);
/// Per HTTP request ceiling; spread checks divide the attempt's budget further.
const MAX_REQUEST: Duration = Duration::from_secs(10);
/// Bodies and outputs are cut to this many characters in results.
const MAX_OUTPUT: usize = 4000;
/// Largest body the host client reads.
const MAX_BODY: usize = 8 << 20;
/// Added to an attempt's budget for the SSH command timeout.
const SSH_SLACK: Duration = Duration::from_secs(2);
/// Exit code the generated scripts use for "the thing is not there".
const MISSING: i32 = 66;

/// The outcome of one attempt.
#[derive(Debug)]
struct Attempt {
    passed: bool,
    message: String,
    output: String,
    /// Retrying cannot help (bad configuration, refused target).
    fatal: bool,
}

impl Attempt {
    fn pass(message: impl Into<String>, output: impl Into<String>) -> Self {
        Attempt {
            passed: true,
            message: message.into(),
            output: output.into(),
            fatal: false,
        }
    }
    fn fail(message: impl Into<String>, output: impl Into<String>) -> Self {
        Attempt {
            passed: false,
            message: message.into(),
            output: output.into(),
            fatal: false,
        }
    }
    fn fatal(message: impl Into<String>) -> Self {
        Attempt {
            passed: false,
            message: message.into(),
            output: String::new(),
            fatal: true,
        }
    }
}

/// Run one check until it passes or its timeout elapses, sleeping `interval`
/// between attempts. `on_attempt` sees the message of every failed attempt that
/// will be retried. The result carries the last attempt's message and output.
pub fn run_check(
    check: &Check,
    lab: &Lab,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    on_attempt: &mut dyn FnMut(&str),
) -> CheckResult {
    let start = Instant::now();
    let deadline = start + check.timeout;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .max(check.timeout.min(MIN_ATTEMPT));
        let a = attempt(check, lab, shell, http, budget);
        let now = Instant::now();
        if a.passed || a.fatal || now >= deadline {
            return CheckResult {
                name: check.name.clone(),
                kind: check.kind.kind_name(),
                passed: a.passed,
                message: one_line(&a.message, 500),
                output: a.output,
                attempts,
                seconds: start.elapsed().as_secs_f64(),
            };
        }
        on_attempt(&a.message);
        std::thread::sleep(check.interval.min(deadline - now));
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

enum Msg {
    Started(usize),
    Retrying(usize, u32, String),
    Finished(usize, CheckResult),
}

/// Run every check of the lab; results come back in file order. With `parallel`,
/// up to [`MAX_PARALLEL`] checks run at once on worker threads (checks are
/// independent); `on_event` is always called on the calling thread.
pub fn run_all(
    lab: &Lab,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    parallel: bool,
    on_event: &mut dyn FnMut(CheckEvent<'_>),
) -> Vec<CheckResult> {
    let checks = &lab.checks;
    let workers = if parallel {
        MAX_PARALLEL.min(checks.len())
    } else {
        1
    };
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    if workers <= 1 {
        for (i, check) in checks.iter().enumerate() {
            on_event(CheckEvent::Started { index: i, check });
            let mut n = 0;
            let r = guarded_run(check, lab, shell, http, &mut |m: &str| {
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
    } else {
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<Msg>();
        std::thread::scope(|s| {
            for _ in 0..workers {
                let tx = tx.clone();
                let next = &next;
                s.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= checks.len() {
                        break;
                    }
                    let _ = tx.send(Msg::Started(i));
                    let mut n = 0;
                    let r = guarded_run(&checks[i], lab, shell, http, &mut |m: &str| {
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
    results
        .into_iter()
        .map(|r| r.expect("every check reports a result"))
        .collect()
}

/// `run_check`, with a panic turned into a failed result so one bad check cannot
/// take the others down.
fn guarded_run(
    check: &Check,
    lab: &Lab,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
    on_attempt: &mut dyn FnMut(&str),
) -> CheckResult {
    let start = Instant::now();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_check(check, lab, shell, http, on_attempt)
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
            http_attempt(
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
        CheckKind::Port { node, port, from } => port_attempt(
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
        } => {
            let re = match opt_regex(stdout.as_deref(), "stdout") {
                Ok(r) => r,
                Err(a) => return a,
            };
            command_attempt(lab, &node.value, run, *exit, re.as_ref(), budget, shell)
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
            file_attempt(lab, &node.value, path, re.as_ref(), budget, shell)
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
            cron_attempt(lab, &node.value, user, re.as_ref(), budget, shell)
        }
        CheckKind::Service { node, service } => {
            service_attempt(lab, &node.value, service, budget, shell)
        }
        CheckKind::Reach { from, to } => reach_attempt(lab, &from.value, &to.value, budget, shell),
        CheckKind::Disk {
            node,
            size_bytes,
            device,
        } => disk_attempt(
            lab,
            &node.value,
            *size_bytes,
            device.as_deref(),
            budget,
            shell,
        ),
    }
}

fn opt_regex(pat: Option<&str>, what: &str) -> Result<Option<Regex>, Attempt> {
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

// ---------------------------------------------------------------------------
// Shell helpers

/// Script that exits 0 when a TCP connection to `ip:port` opens within `secs`.
fn tcp_probe(ip: Ipv4Addr, port: u16, secs: u64) -> String {
    format!(
        "timeout {secs} bash -c {}",
        shell_quote(&format!("exec 3<>/dev/tcp/{ip}/{port}"))
    )
}

fn node_ip(lab: &Lab, node: &str) -> Result<Ipv4Addr, Attempt> {
    lab.node(node)
        .map(|n| n.ip)
        .ok_or_else(|| Attempt::fatal(format!("unknown node `{node}`")))
}

/// Run on a node; an SSH failure is a failed (retryable) attempt. Generated
/// scripts bound their own network waits within `budget`; the SSH timeout adds
/// [`SSH_SLACK`] so that those fire first and report what they saw.
fn run_on(
    shell: &dyn NodeShell,
    node: &str,
    cmd: &str,
    budget: Duration,
) -> Result<ExecResult, Attempt> {
    shell.run(node, cmd, budget + SSH_SLACK).map_err(|e| {
        Attempt::fail(
            format!("cannot run on {node}: {}", one_line(&e.to_string(), 300)),
            "",
        )
    })
}

// ---------------------------------------------------------------------------
// http

/// Parts of an http(s) URL, as far as checks need them.
#[derive(Debug, Clone, PartialEq)]
struct Url {
    scheme: String,
    host: String,
    port: Option<u16>,
    /// Path, query and fragment, starting with `/` (`/` when absent).
    rest: String,
}

impl Url {
    fn parse(url: &str) -> Option<Url> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty()
            || authority.contains(['@', '[', ']'])
            || authority
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
            None => (authority, None),
        };
        let rest = match tail.chars().next() {
            None => "/".to_string(),
            Some('/') => tail.to_string(),
            Some(_) => format!("/{tail}"),
        };
        Some(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            rest,
        })
    }
    fn port_or_default(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }
    fn with_host(&self, host: &str) -> String {
        match self.port {
            Some(p) => format!("{}://{host}:{p}{}", self.scheme, self.rest),
            None => format!("{}://{host}{}", self.scheme, self.rest),
        }
    }
}

/// Where an HTTP check may send its requests.
#[derive(Debug, Clone, PartialEq)]
struct HttpTarget {
    /// The URL as written (curl resolves node names with `--resolve`).
    url: String,
    /// The URL with a node name replaced by its address (host client, python3).
    url_ip: String,
    /// `(name, port, ip)` when the URL names a node.
    resolve: Option<(String, u16, Ipv4Addr)>,
    /// The Host header the URL implies (sent explicitly when `url_ip` differs).
    host_header: String,
}

/// Re-check an HTTP target against the lab (the validator did it once; this is
/// the last line before a packet leaves) and resolve node names.
fn http_target(lab: &Lab, from: &crate::lab::From, url: &str) -> Result<HttpTarget, String> {
    let refuse = |why: &str| {
        Err(format!(
            "refusing to send traffic to {url}: {why} (checks only target the lab's own addresses)"
        ))
    };
    let Some(u) = Url::parse(url) else {
        return refuse("not an http(s) URL labctl understands");
    };
    let from_host = matches!(from, crate::lab::From::Host);
    let host_header = match u.port {
        Some(p) => format!("{}:{p}", u.host),
        None => u.host.clone(),
    };
    let mut t = HttpTarget {
        url: url.to_string(),
        url_ip: url.to_string(),
        resolve: None,
        host_header,
    };
    if let Ok(ip) = u.host.parse::<Ipv4Addr>() {
        if ip.is_loopback() {
            if from_host
                && !lab
                    .nodes
                    .iter()
                    .any(|n| n.forward.iter().any(|f| Some(f.host) == u.port))
            {
                return refuse("the host's loopback is only used on a port the lab forwards");
            }
        } else if !lab.network.subnet.value.contains(&ip) {
            return refuse(&format!(
                "{ip} is outside the lab subnet {}",
                lab.network.subnet.value
            ));
        }
    } else if u.host == "localhost" && !from_host {
        t.url_ip = u.with_host("127.0.0.1");
    } else if let Some(n) = lab.node(&u.host) {
        t.url_ip = u.with_host(&n.ip.to_string());
        t.resolve = Some((u.host.clone(), u.port_or_default(), n.ip));
    } else {
        return refuse(&format!("`{}` is not a node of this lab", u.host));
    }
    if from_host && u.scheme != "http" {
        return Err(format!("{url}: labctl's host-side client speaks plain http only; run this check from a node (from = \"NODE\")"));
    }
    Ok(t)
}

/// Python fallback of the curl loop: same output format, no proxies, no redirects.
const PY_HTTP: &str = r#"import sys,urllib.request,urllib.error
n,t,u,h=int(sys.argv[1]),float(sys.argv[2]),sys.argv[3],sys.argv[4]
class R(urllib.request.HTTPRedirectHandler):
    def redirect_request(self,*a,**k): return None
o=urllib.request.build_opener(urllib.request.ProxyHandler({}),R())
for _ in range(n):
    c,b='000',b''
    try:
        with o.open(urllib.request.Request(u,headers={'Host':h}),timeout=t) as f: c,b=str(f.status),f.read()
    except urllib.error.HTTPError as e:
        c,b=str(e.code),e.read()
    except Exception as e:
        sys.stderr.write('%s\n'%e)
    sys.stdout.buffer.write(b+b'\n@@labctl-http '+c.encode()+b'@@\n'); sys.stdout.flush()
"#;

const HTTP_MARK: &str = "\n@@labctl-http ";

/// The node-side script: `requests` GETs with curl (python3 when curl is missing),
/// each body followed by a status marker line.
fn node_http_script(t: &HttpTarget, requests: u32, per_request: Duration) -> String {
    let secs = per_request.as_secs().max(1);
    let resolve = match &t.resolve {
        Some((name, port, ip)) => {
            format!(" --resolve {}", shell_quote(&format!("{name}:{port}:{ip}")))
        }
        None => String::new(),
    };
    let curl = format!(
        "curl -sS --noproxy '*' --proto '=http,https' --max-time {secs}{resolve} -w {} {}",
        shell_quote(&format!(
            "{}%{{http_code}}@@\\n",
            HTTP_MARK.replace('\n', "\\n")
        )),
        shell_quote(&t.url)
    );
    let py = format!(
        "python3 -c {} {requests} {secs} {} {}",
        shell_quote(PY_HTTP),
        shell_quote(&t.url_ip),
        shell_quote(&t.host_header)
    );
    format!(
        "if command -v curl >/dev/null 2>&1; then i=0; while [ $i -lt {requests} ]; do {curl}; i=$((i+1)); done; \
         elif command -v python3 >/dev/null 2>&1; then {py}; \
         else echo 'labctl: neither curl nor python3 on this node' >&2; exit 127; fi"
    )
}

/// Split the node script's output into `(status, body)` per request (status 0:
/// no HTTP response).
fn parse_node_http(stdout: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    let mut rest = stdout;
    while let Some(i) = rest.find(HTTP_MARK) {
        let body = &rest[..i];
        let after = &rest[i + HTTP_MARK.len()..];
        let Some(j) = after.find("@@") else { break };
        let code = after[..j].trim().parse::<u16>().unwrap_or(0);
        out.push((code, body.to_string()));
        rest = after[j + 2..].strip_prefix('\n').unwrap_or(&after[j + 2..]);
    }
    out
}

/// Whether `name` appears in `body` as a whole word (so `web1` is not found in `web10`).
fn names_backend(body: &str, name: &str) -> bool {
    let re = Regex::new(&format!(
        r"(?:^|[^A-Za-z0-9_-]){}(?:$|[^A-Za-z0-9_-])",
        regex::escape(name)
    ))
    .expect("escaped name is a valid regex");
    re.is_match(body)
}

#[allow(clippy::too_many_arguments)]
fn http_attempt(
    lab: &Lab,
    from: &crate::lab::From,
    url: &str,
    status: u16,
    body_re: Option<&Regex>,
    spread: &[&str],
    requests: u32,
    budget: Duration,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
) -> Attempt {
    let target = match http_target(lab, from, url) {
        Ok(t) => t,
        Err(msg) => return Attempt::fatal(msg),
    };
    let requests = requests.max(1);
    let per_request = (budget / requests).clamp(Duration::from_secs(1).min(budget), MAX_REQUEST);
    let mut extra = String::new();
    // One entry per request: Ok((status, body)) or Err(why no response).
    let responses: Vec<Result<(u16, String), String>> = match from {
        crate::lab::From::Host => {
            let end = Instant::now() + budget;
            (0..requests)
                .map(|_| {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err("no time left in this attempt".to_string());
                    }
                    http.get(&target.url_ip, per_request.min(left))
                })
                .collect()
        }
        crate::lab::From::Node(node) => {
            let cmd = sh(&node_http_script(&target, requests, per_request));
            let r = match run_on(shell, node, &cmd, budget) {
                Ok(r) => r,
                Err(a) => return a,
            };
            if r.code == 127 {
                return Attempt::fail(format!("cannot send HTTP requests from {node}: neither curl nor python3 is installed"), r.stderr);
            }
            let stderr_first = r
                .stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no HTTP response")
                .to_string();
            let mut v: Vec<Result<(u16, String), String>> = parse_node_http(&r.stdout)
                .into_iter()
                .map(|(c, b)| {
                    if c == 0 {
                        Err(stderr_first.clone())
                    } else {
                        Ok((c, b))
                    }
                })
                .collect();
            while v.len() < requests as usize {
                v.push(Err(format!("no result (exit {}): {stderr_first}", r.code)));
            }
            v.truncate(requests as usize);
            if !r.stderr.trim().is_empty() {
                extra = format!("stderr from {node}:\n{}\n", tail(&r.stderr, 1500));
            }
            v
        }
    };

    let judge = |r: &Result<(u16, String), String>| -> Result<(), String> {
        match r {
            Err(e) => Err(format!("request failed: {}", one_line(e, 200))),
            Ok((c, _)) if *c != status => Err(format!("status {c} (expected {status})")),
            Ok((c, b)) => match body_re {
                Some(re) if !re.is_match(b) => Err(format!(
                    "status {c} but body does not match /{}/ (body: \"{}\")",
                    re.as_str(),
                    one_line(b, 80)
                )),
                _ => Ok(()),
            },
        }
    };
    let verdicts: Vec<Result<(), String>> = responses.iter().map(judge).collect();
    let bad: Vec<&String> = verdicts.iter().filter_map(|v| v.as_ref().err()).collect();
    let n = responses.len();

    let mut output = String::new();
    let mut hist: Vec<(String, usize)> = Vec::new();
    for r in &responses {
        let k = match r {
            Ok((c, _)) => c.to_string(),
            Err(_) => "error".to_string(),
        };
        match hist.iter_mut().find(|(x, _)| *x == k) {
            Some(e) => e.1 += 1,
            None => hist.push((k, 1)),
        }
    }
    output.push_str(&format!(
        "GET {} x{n} from {}: {}\n",
        target.url,
        from_name(from),
        hist.iter()
            .map(|(k, c)| format!("{k}: {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(r) = responses.last() {
        match r {
            Ok((c, b)) => output.push_str(&format!(
                "last response: status {c}, body:\n{}\n",
                head(b, 2000)
            )),
            Err(e) => output.push_str(&format!("last request failed: {e}\n")),
        }
    }
    output.push_str(&extra);

    let re_note = body_re
        .map(|re| format!(", body matches /{}/", re.as_str()))
        .unwrap_or_default();
    if spread.is_empty() {
        return if bad.is_empty() {
            if n == 1 {
                Attempt::pass(format!("status {status}{re_note}"), output)
            } else {
                Attempt::pass(
                    format!("{n} of {n} responses: status {status}{re_note}"),
                    output,
                )
            }
        } else if n == 1 {
            Attempt::fail(bad[0].clone(), output)
        } else {
            Attempt::fail(
                format!("{} of {n} requests failed; first: {}", bad.len(), bad[0]),
                output,
            )
        };
    }

    let counts: Vec<(&str, usize)> = spread
        .iter()
        .map(|name| {
            (
                *name,
                responses
                    .iter()
                    .filter(|r| matches!(r, Ok((_, b)) if names_backend(b, name)))
                    .count(),
            )
        })
        .collect();
    let count_text = counts
        .iter()
        .map(|(k, c)| format!("{k}: {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let missing: Vec<&str> = counts
        .iter()
        .filter(|(_, c)| *c == 0)
        .map(|(k, _)| *k)
        .collect();
    let bad_text = if bad.is_empty() {
        String::new()
    } else {
        format!("; {} of {n} requests failed, first: {}", bad.len(), bad[0])
    };
    if !missing.is_empty() {
        let which = if missing.len() == 1 {
            format!("backend {} never answered", missing[0])
        } else {
            format!("backends {} never answered", missing.join(", "))
        };
        return Attempt::fail(
            format!(
                "{which}: {count_text} over {n} requests (expected every listed backend){bad_text}"
            ),
            output,
        );
    }
    if !bad.is_empty() {
        return Attempt::fail(
            format!(
                "{} of {n} requests failed, first: {} ({count_text})",
                bad.len(),
                bad[0]
            ),
            output,
        );
    }
    Attempt::pass(
        format!("{count_text} over {n} requests, status {status}{re_note}"),
        output,
    )
}

fn from_name(from: &crate::lab::From) -> &str {
    match from {
        crate::lab::From::Host => "host",
        crate::lab::From::Node(n) => n,
    }
}

// ---------------------------------------------------------------------------
// port

/// Local addresses of listening TCP sockets in `ss -ltn` output.
fn ss_listening(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&"LISTEN") && f.len() >= 4).then(|| f[3].to_string())
        })
        .collect()
}

fn addr_port(local: &str) -> Option<u16> {
    local.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

fn port_attempt(
    lab: &Lab,
    node: &str,
    port: u16,
    from: Option<&str>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    let ip = match node_ip(lab, node) {
        Ok(ip) => ip,
        Err(a) => return a,
    };
    if let Some(f) = from {
        if let Err(a) = node_ip(lab, f) {
            return a;
        }
    }
    let r = match run_on(shell, node, &sh("ss -ltn"), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if r.code != 0 {
        return Attempt::fail(
            format!(
                "`ss -ltn` failed on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    let listening = ss_listening(&r.stdout);
    let mut ports: Vec<u16> = listening.iter().filter_map(|a| addr_port(a)).collect();
    ports.sort_unstable();
    ports.dedup();
    let mine: Vec<&String> = listening
        .iter()
        .filter(|a| addr_port(a) == Some(port))
        .collect();
    let mut output = format!("listening on {node}: {}\n", listening.join(" "));
    if mine.is_empty() {
        let seen = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return Attempt::fail(
            format!(
                "nothing listens on port {port} on {node} (listening: {})",
                if seen.is_empty() { "none" } else { &seen }
            ),
            output,
        );
    }
    let Some(f) = from else {
        return Attempt::pass(
            format!(
                "{node} listens on {port} ({})",
                mine.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            output,
        );
    };
    let secs = budget.as_secs().clamp(1, 10);
    let r = match run_on(shell, f, &sh(&tcp_probe(ip, port, secs)), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    output.push_str(&format!(
        "connect from {f} to {ip}:{port}: exit {}\n{}",
        r.code, r.stderr
    ));
    if r.code == 0 {
        Attempt::pass(
            format!("{node} listens on {port} and {f} connects to {ip}:{port}"),
            output,
        )
    } else {
        let why = if r.code == 124 {
            format!("timed out after {secs}s")
        } else {
            first_line(&r.stderr)
        };
        Attempt::fail(
            format!("{node} listens on {port} but {f} cannot connect to {ip}:{port}: {why}"),
            output,
        )
    }
}

// ---------------------------------------------------------------------------
// command

fn command_attempt(
    lab: &Lab,
    node: &str,
    run: &str,
    exit: i32,
    stdout_re: Option<&Regex>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let r = match run_on(shell, node, run, budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let output = format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        r.code,
        tail(&r.stdout, MAX_OUTPUT),
        tail(&r.stderr, MAX_OUTPUT / 2)
    );
    if r.code != exit {
        let detail = last_line(&r.stderr)
            .or_else(|| last_line(&r.stdout))
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        return Attempt::fail(format!("exit {} (expected {exit}){detail}", r.code), output);
    }
    match stdout_re {
        Some(re) if !re.is_match(&r.stdout) => Attempt::fail(
            format!(
                "exit {} but stdout does not match /{}/ (stdout: \"{}\")",
                r.code,
                re.as_str(),
                one_line(&r.stdout, 80)
            ),
            output,
        ),
        Some(re) => Attempt::pass(
            format!("exit {}, stdout matches /{}/", r.code, re.as_str()),
            output,
        ),
        None => Attempt::pass(format!("exit {}", r.code), output),
    }
}

// ---------------------------------------------------------------------------
// file

fn file_attempt(
    lab: &Lab,
    node: &str,
    path: &str,
    contains: Option<&Regex>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let p = shell_quote(path);
    let script = match contains {
        None => format!("test -f {p} || exit {MISSING}"),
        Some(_) => format!("test -f {p} || exit {MISSING}; cat -- {p}"),
    };
    let r = match run_on(shell, node, &sh_root(&script), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if r.code == MISSING {
        return Attempt::fail(format!("no file {path} on {node}"), r.stderr);
    }
    if r.code != 0 {
        return Attempt::fail(
            format!(
                "cannot read {path} on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    match contains {
        None => Attempt::pass(format!("{path} exists on {node}"), ""),
        Some(re) => {
            let output = format!("{path} on {node}:\n{}", head(&r.stdout, MAX_OUTPUT));
            if re.is_match(&r.stdout) {
                Attempt::pass(
                    format!("{path} on {node} matches /{}/", re.as_str()),
                    output,
                )
            } else {
                Attempt::fail(
                    format!(
                        "{path} exists on {node} but does not match /{}/ ({} bytes)",
                        re.as_str(),
                        r.stdout.len()
                    ),
                    output,
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------
// cron

/// One cron entry for the user: where it was found and the line as written.
#[derive(Debug, Clone, PartialEq)]
struct CronEntry {
    source: String,
    line: String,
}

/// Whether cron reads a file in /etc/cron.d (Debian's cron skips names that are
/// not run-parts names, e.g. `job.dpkg-old`, `job.bak`).
fn cron_d_name_ok(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A line that schedules something (not a comment, blank or `VAR=value` line).
fn cron_job_line(line: &str) -> bool {
    line.trim_start()
        .starts_with(|c: char| c.is_ascii_digit() || c == '*' || c == '@')
}

/// The user field of a system crontab line (`/etc/crontab`, `/etc/cron.d/*`).
fn cron_system_user(line: &str) -> Option<&str> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.first()?.starts_with('@') {
        f.get(1).copied()
    } else {
        f.get(5).copied()
    }
}

/// Parse the cron script's output into the user's entries plus notes.
fn parse_cron(out: &str, user: &str) -> (Vec<CronEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut crontab_lines: Vec<&str> = Vec::new();
    let mut section: Option<String> = None; // None: crontab -l; Some(file)
    let mut in_crontab = false;
    for line in out.lines() {
        if line == "@@labctl-crontab" {
            in_crontab = true;
            section = None;
            continue;
        }
        if let Some(rc) = line.strip_prefix("@@labctl-rc ") {
            in_crontab = false;
            if rc.trim() == "0" {
                entries.extend(crontab_lines.iter().filter(|l| cron_job_line(l)).map(|l| {
                    CronEntry {
                        source: format!("crontab -l -u {user}"),
                        line: l.trim().to_string(),
                    }
                }));
            } else {
                notes.push(format!(
                    "crontab -l -u {user} (exit {}): {}",
                    rc.trim(),
                    crontab_lines
                        .iter()
                        .map(|l| l.trim())
                        .find(|l| !l.is_empty())
                        .unwrap_or("")
                ));
            }
            continue;
        }
        if let Some(f) = line.strip_prefix("@@labctl-file ") {
            section = Some(f.to_string());
            if f.starts_with("/etc/cron.d/") && !cron_d_name_ok(f) {
                notes.push(format!(
                    "{f}: ignored by cron (file name is not a run-parts name)"
                ));
            }
            continue;
        }
        if in_crontab {
            crontab_lines.push(line);
        } else if let Some(f) = &section {
            let ignored = f.starts_with("/etc/cron.d/") && !cron_d_name_ok(f);
            if !ignored && cron_job_line(line) && cron_system_user(line) == Some(user) {
                entries.push(CronEntry {
                    source: f.clone(),
                    line: line.trim().to_string(),
                });
            }
        }
    }
    (entries, notes)
}

fn cron_script(user: &str) -> String {
    format!(
        "echo @@labctl-crontab; crontab -l -u {u} 2>&1; rc=$?; echo; echo \"@@labctl-rc $rc\"; \
         for f in /etc/crontab /etc/cron.d/*; do [ -f \"$f\" ] || continue; printf '@@labctl-file %s\\n' \"$f\"; cat -- \"$f\"; echo; done; true",
        u = shell_quote(user)
    )
}

fn cron_attempt(
    lab: &Lab,
    node: &str,
    user: &str,
    contains: Option<&Regex>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let r = match run_on(shell, node, &sh_root(&cron_script(user)), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if !r.stdout.contains("@@labctl-crontab") {
        return Attempt::fail(
            format!(
                "cannot read cron tables on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    let (entries, notes) = parse_cron(&r.stdout, user);
    let mut output: String = entries
        .iter()
        .map(|e| format!("{}: {}\n", e.source, e.line))
        .collect();
    for n in &notes {
        output.push_str(&format!("note: {n}\n"));
    }
    if entries.is_empty() {
        return Attempt::fail(format!("no cron entries for {user} on {node} (crontab -l -u {user}, /etc/crontab, /etc/cron.d)"), output);
    }
    match contains {
        None => Attempt::pass(
            format!(
                "{} cron entr{} for {user} on {node}",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" }
            ),
            output,
        ),
        Some(re) => match entries.iter().find(|e| re.is_match(&e.line)) {
            Some(e) => Attempt::pass(
                format!(
                    "cron entry for {user} in {} matches /{}/",
                    e.source,
                    re.as_str()
                ),
                output,
            ),
            None => Attempt::fail(
                format!(
                    "none of {} cron entries for {user} on {node} matches /{}/",
                    entries.len(),
                    re.as_str()
                ),
                output,
            ),
        },
    }
}

// ---------------------------------------------------------------------------
// service

fn service_attempt(
    lab: &Lab,
    node: &str,
    service: &str,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let r = match run_on(
        shell,
        node,
        &sh_root(&format!("service {} status", shell_quote(service))),
        budget,
    ) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let output = format!(
        "{}{}",
        tail(&r.stdout, MAX_OUTPUT),
        tail(&r.stderr, MAX_OUTPUT / 2)
    );
    if r.code == 0 {
        Attempt::pass(format!("{service} is running on {node}"), output)
    } else {
        let detail = first_line(&r.stdout);
        let detail = if detail.is_empty() {
            first_line(&r.stderr)
        } else {
            detail
        };
        Attempt::fail(
            format!(
                "`service {service} status` on {node} exited {}: {detail}",
                r.code
            ),
            output,
        )
    }
}

// ---------------------------------------------------------------------------
// reach

/// Reach passes on an ICMP echo reply OR a TCP connection to port 22 of the
/// target: ping may be missing, lack CAP_NET_RAW in a container, or be filtered,
/// while every node runs sshd (labctl reaches it that way).
fn reach_script(ip: Ipv4Addr) -> String {
    format!(
        "if command -v ping >/dev/null 2>&1 && ping -c1 -W2 {ip} >/dev/null 2>&1; then echo icmp; exit 0; fi; \
         if {}; then echo tcp22; exit 0; fi; echo none; exit 1",
        tcp_probe(ip, 22, 3)
    )
}

fn reach_attempt(
    lab: &Lab,
    from: &str,
    to: &str,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, from) {
        return a;
    }
    let ip = match node_ip(lab, to) {
        Ok(ip) => ip,
        Err(a) => return a,
    };
    let r = match run_on(shell, from, &sh(&reach_script(ip)), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let output = format!("{}{}", r.stdout, r.stderr);
    match (r.code, r.stdout.trim()) {
        (0, "icmp") => Attempt::pass(format!("{from} reaches {to} ({ip}) by ping"), output),
        (0, "tcp22") => Attempt::pass(
            format!("{from} reaches {to} ({ip}) by TCP port 22 (no ping reply or no ping)"),
            output,
        ),
        _ => Attempt::fail(
            format!(
                "{from} cannot reach {to} ({ip}): no ping reply and no TCP connection to port 22"
            ),
            output,
        ),
    }
}

// ---------------------------------------------------------------------------
// disk

fn disk_script(device: Option<&str>) -> String {
    match device {
        None => "for d in /sys/block/*; do [ -r \"$d/size\" ] && printf '%s %s\\n' \"${d##*/}\" \"$(cat \"$d/size\")\"; done; true".to_string(),
        Some(dev) => format!(
            "d=$(readlink -f -- {q}) && [ -b \"$d\" ] || {{ echo \"not a block device: \"{q} >&2; exit {MISSING}; }}; \
             n=${{d##*/}}; printf '%s %s\\n' \"$n\" \"$(cat \"/sys/class/block/$n/size\")\"",
            q = shell_quote(dev)
        ),
    }
}

/// `NAME SECTORS` lines to `(name, bytes)`.
fn parse_disks(out: &str) -> Vec<(String, u64)> {
    out.lines()
        .filter_map(|l| {
            let (n, s) = l.trim().split_once(' ')?;
            Some((
                n.to_string(),
                s.trim().parse::<u64>().ok()?.checked_mul(512)?,
            ))
        })
        .collect()
}

fn disk_attempt(
    lab: &Lab,
    node: &str,
    size: u64,
    device: Option<&str>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let r = match run_on(shell, node, &sh(&disk_script(device)), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let want = format!("{size} bytes ({})", human_bytes(size));
    if let Some(dev) = device {
        if r.code == MISSING {
            return Attempt::fail(format!("{dev} is not a block device on {node}"), r.stderr);
        }
    }
    if r.code != 0 {
        return Attempt::fail(
            format!(
                "cannot list block devices on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    let disks = parse_disks(&r.stdout);
    let output = disks
        .iter()
        .map(|(n, b)| format!("{n} {b}\n"))
        .collect::<String>();
    match device {
        Some(dev) => match disks.first() {
            Some((n, b)) if *b == size => {
                Attempt::pass(format!("{dev} ({n}) on {node} is {want}"), output)
            }
            Some((n, b)) => Attempt::fail(
                format!(
                    "{dev} ({n}) on {node} is {b} bytes ({}), expected {want}",
                    human_bytes(*b)
                ),
                output,
            ),
            None => Attempt::fail(
                format!("cannot read the size of {dev} on {node}"),
                output + &r.stderr,
            ),
        },
        None => match disks.iter().find(|(_, b)| *b == size) {
            Some((n, _)) => Attempt::pass(format!("{n} on {node} is {want}"), output),
            None => {
                let seen: Vec<String> = disks
                    .iter()
                    .filter(|(_, b)| *b > 0)
                    .map(|(n, b)| format!("{n} {}", human_bytes(*b)))
                    .collect();
                Attempt::fail(
                    format!(
                        "no block device of {want} on {node} (seen: {})",
                        if seen.is_empty() {
                            "none".into()
                        } else {
                            seen.join(", ")
                        }
                    ),
                    output,
                )
            }
        },
    }
}

// ---------------------------------------------------------------------------
// Host HTTP client

/// Plain HTTP/1.1 GET over `std::net::TcpStream`: IPv4 literals only (no DNS),
/// no proxies, no redirects, `Connection: close`, chunked and Content-Length
/// bodies, bodies cut at 8 MiB; the whole exchange is bounded by `timeout`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdHttp;

impl HostHttp for StdHttp {
    fn get(&self, url: &str, timeout: Duration) -> Result<(u16, String), String> {
        let u = Url::parse(url).ok_or_else(|| format!("invalid URL {url}"))?;
        if u.scheme != "http" {
            return Err(format!("{url}: only http:// is supported"));
        }
        let ip: Ipv4Addr = u.host.parse().map_err(|_| {
            format!("{url}: host is not an IPv4 address (labctl never resolves names here)")
        })?;
        let addr = SocketAddr::from((ip, u.port_or_default()));
        let deadline = Instant::now() + timeout;
        let left = || {
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                Err(format!(
                    "{url}: timed out after {:.1}s",
                    timeout.as_secs_f64()
                ))
            } else {
                Ok(d)
            }
        };
        let mut s = TcpStream::connect_timeout(&addr, left()?)
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        let host = match u.port {
            Some(p) => format!("{}:{p}", u.host),
            None => u.host.clone(),
        };
        let req = format!("GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: labctl\r\nAccept: */*\r\nConnection: close\r\n\r\n", u.rest.split('#').next().unwrap_or("/"));
        s.set_write_timeout(Some(left()?)).ok();
        s.write_all(req.as_bytes())
            .map_err(|e| format!("send to {addr}: {e}"))?;
        let mut data = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            if let Some(done) = parse_response(&data, false)? {
                return Ok(done);
            }
            if data.len() > MAX_BODY + 65536 {
                return parse_response(&data, true)?
                    .ok_or_else(|| format!("{url}: response too large"));
            }
            s.set_read_timeout(Some(left()?))
                .map_err(|e| e.to_string())?;
            match s.read(&mut buf) {
                Ok(0) => {
                    return parse_response(&data, true)?.ok_or_else(|| {
                        format!("{url}: connection closed before a complete response")
                    })
                }
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(format!(
                        "{url}: timed out after {:.1}s",
                        timeout.as_secs_f64()
                    ))
                }
                Err(e) => return Err(format!("read from {addr}: {e}")),
            }
        }
    }
}

/// A complete response in `data` as `(status, body)`; `None` while more bytes are
/// needed. With `eof`, a body without framing ends here (and a truncated body is
/// taken as it is).
fn parse_response(data: &[u8], eof: bool) -> Result<Option<(u16, String)>, String> {
    let Some(hend) = find(data, b"\r\n\r\n") else {
        return if eof {
            Err("connection closed inside the response headers".into())
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&data[..hend]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !proto.starts_with("HTTP/") {
        return Err(format!(
            "not an HTTP response: {}",
            one_line(status_line, 80)
        ));
    }
    let code: u16 = code
        .parse()
        .map_err(|_| format!("bad status line: {}", one_line(status_line, 80)))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse().ok();
            }
        }
    }
    let body = &data[hend + 4..];
    let text = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(MAX_BODY)]).into_owned();
    if chunked {
        return match dechunk(body)? {
            Some(b) => Ok(Some((code, text(&b)))),
            None if eof || body.len() > MAX_BODY => {
                Err("connection closed inside a chunked body".into())
            }
            None => Ok(None),
        };
    }
    if let Some(n) = length {
        if body.len() >= n || body.len() >= MAX_BODY {
            return Ok(Some((code, text(&body[..n.min(body.len())]))));
        }
        return if eof {
            Err(format!(
                "connection closed after {} of {n} body bytes",
                body.len()
            ))
        } else {
            Ok(None)
        };
    }
    if code == 204 || code == 304 || (100..200).contains(&code) {
        return Ok(Some((code, String::new())));
    }
    Ok(if eof || body.len() >= MAX_BODY {
        Some((code, text(body)))
    } else {
        None
    })
}

/// Decode a chunked body; `None` while incomplete.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(le) = find(b, b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&b[..le]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {:?}", one_line(size_hex, 20)))?;
        b = &b[le + 2..];
        if size == 0 {
            return Ok(Some(out)); // trailers, if any, are ignored
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[..size]);
        if out.len() > MAX_BODY {
            return Ok(Some(out));
        }
        b = &b[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use crate::lab::{From, Sp};
    use std::collections::VecDeque;
    use std::net::TcpListener;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    const LAB: &str = r#"
name = "t"
[defaults]
box = "debian/bookworm64"
[network]
subnet = "192.168.57.0/24"
[[node]]
name = "mgmt"
ip = "192.168.57.10"
[[node]]
name = "lb"
ip = "192.168.57.11"
forward = [{ guest = 8080, host = 18080 }]
[[node]]
name = "web"
count = 2
ip = "192.168.57.21"
"#;

    fn lab() -> Lab {
        let mut cx = crate::lab::reader::Ctx::new();
        let lab = crate::lab::parse::parse_lab(LAB, &mut cx).expect("test lab parses");
        assert!(cx.diags.iter().all(|d| !d.is_error()), "{:?}", cx.diags);
        lab
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sp(s: &str) -> Sp<String> {
        Sp::new(s.to_string(), Span::default())
    }

    /// A check that gives up soon: 1 s, retried every 5 ms.
    fn check(kind: CheckKind) -> Check {
        // Several tests need a second attempt inside the timeout. The fakes
        // answer at once, but a loaded 2-core CI machine can deschedule a
        // thread for a few hundred milliseconds, so the window is generous.
        Check {
            name: "t".into(),
            span: Span::default(),
            timeout: ms(1000),
            interval: ms(5),
            disruptive: false,
            kind,
        }
    }

    /// A check with room for several scripted replies.
    fn patient(kind: CheckKind) -> Check {
        Check {
            timeout: Duration::from_secs(5),
            interval: ms(1),
            ..check(kind)
        }
    }

    type Reply = Result<ExecResult, String>;

    fn ok(code: i32, stdout: &str) -> Reply {
        Ok(ExecResult {
            code,
            stdout: stdout.into(),
            stderr: String::new(),
        })
    }
    fn with_err(code: i32, stdout: &str, stderr: &str) -> Reply {
        Ok(ExecResult {
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        })
    }

    /// Scripted node shell: the first rule whose node matches and whose needle the
    /// command contains answers; its replies are used in order, the last repeats.
    #[derive(Default)]
    struct Fake {
        rules: Mutex<Vec<(String, String, VecDeque<Reply>)>>,
        calls: Mutex<Vec<(String, String)>>,
    }

    impl Fake {
        fn new() -> Self {
            Fake::default()
        }
        fn on(self, node: &str, needle: &str, replies: Vec<Reply>) -> Self {
            self.rules
                .lock()
                .unwrap()
                .push((node.into(), needle.into(), replies.into()));
            self
        }
        fn calls(&self) -> Vec<(String, String)> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl NodeShell for Fake {
        fn run(&self, node: &str, cmd: &str, _timeout: Duration) -> crate::Result<ExecResult> {
            // Locks tolerate poisoning and are released before the deliberate
            // panic below: checks run on parallel threads, and a poisoned lock
            // would make a sibling check panic too (a race that failed CI).
            self.calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((node.into(), cmd.into()));
            let reply = {
                let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
                rules
                    .iter_mut()
                    .find(|(n, needle, _)| n == node && cmd.contains(needle.as_str()))
                    .map(|(_, _, replies)| {
                        if replies.len() > 1 {
                            replies.pop_front().unwrap()
                        } else {
                            replies.front().cloned().expect("a reply")
                        }
                    })
            };
            let Some(r) = reply else {
                panic!("no scripted reply for {node}: {cmd}");
            };
            r.map_err(|e| crate::Error::env(e, None))
        }
    }

    /// Host HTTP that must not be used.
    struct NoHttp;
    impl HostHttp for NoHttp {
        fn get(&self, url: &str, _: Duration) -> Result<(u16, String), String> {
            panic!("unexpected host request to {url}")
        }
    }

    /// Scripted host HTTP; records every URL.
    #[derive(Default)]
    struct FakeHttp {
        replies: Mutex<VecDeque<Result<(u16, String), String>>>,
        urls: Mutex<Vec<String>>,
    }
    impl FakeHttp {
        fn new(replies: Vec<Result<(u16, String), String>>) -> Self {
            FakeHttp {
                replies: Mutex::new(replies.into()),
                urls: Mutex::default(),
            }
        }
    }
    impl HostHttp for FakeHttp {
        fn get(&self, url: &str, _: Duration) -> Result<(u16, String), String> {
            self.urls.lock().unwrap().push(url.into());
            let mut q = self.replies.lock().unwrap();
            if q.len() > 1 {
                q.pop_front().unwrap()
            } else {
                q.front().cloned().expect("a reply")
            }
        }
    }

    fn run(c: &Check, shell: &dyn NodeShell, http: &dyn HostHttp) -> (CheckResult, Vec<String>) {
        let mut seen = Vec::new();
        let r = run_check(c, &lab(), shell, http, &mut |m| seen.push(m.to_string()));
        assert_eq!(
            seen.len() as u32,
            r.attempts - 1,
            "on_attempt sees every retried failure"
        );
        (r, seen)
    }

    fn http_node(url: &str, body: Option<&str>, spread: &[&str], requests: u32) -> CheckKind {
        CheckKind::Http {
            from: From::Node("mgmt".into()),
            url: url.into(),
            status: 200,
            body: body.map(String::from),
            spread: spread.iter().map(|s| sp(s)).collect(),
            requests,
        }
    }
    fn http_host(url: &str, body: Option<&str>, spread: &[&str], requests: u32) -> CheckKind {
        CheckKind::Http {
            from: From::Host,
            url: url.into(),
            status: 200,
            body: body.map(String::from),
            spread: spread.iter().map(|s| sp(s)).collect(),
            requests,
        }
    }
    fn resp(code: u16, body: &str) -> String {
        format!("{body}\n@@labctl-http {code}@@\n")
    }

    // --- http ---------------------------------------------------------------

    #[test]
    fn http_from_node_passes_and_resolves_node_names_without_dns() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![ok(0, &resp(200, "<p>web1 rev abc</p>"))],
        );
        let (r, _) = run(
            &check(http_node("http://web1/", Some("web1"), &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!((r.kind, r.attempts), ("http", 1));
        assert_eq!(r.message, "status 200, body matches /web1/");
        let cmd = &shell.calls()[0].1;
        assert!(cmd.contains(&shell_quote("web1:80:192.168.57.21")), "{cmd}");
        assert!(
            cmd.contains("--noproxy"),
            "proxies from the node's environment are ignored"
        );
    }

    #[test]
    fn http_from_node_fails_on_status_and_body() {
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &resp(503, "down"))]);
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(r.message, "status 503 (expected 200)");
        assert!(r.attempts > 1, "retried until the timeout");

        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &resp(200, "web2\nhere"))]);
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", Some("web1"), &[], 1)),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "status 200 but body does not match /web1/ (body: \"web2 here\")"
        );
    }

    #[test]
    fn http_from_node_reports_connection_errors_from_stderr() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![with_err(
                0,
                &resp(0, ""),
                "curl: (7) Failed to connect to 192.168.57.21 port 80: Connection refused\n",
            )],
        );
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert!(r.message.contains("Connection refused"), "{}", r.message);
        assert!(r.output.contains("curl: (7)"));
    }

    #[test]
    fn http_retries_then_passes_and_reports_the_last_failure_on_timeout() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![
                ok(0, &resp(502, "")),
                Err("ssh: connection reset".into()),
                ok(0, &resp(200, "ok")),
            ],
        );
        let (r, seen) = run(
            &patient(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.attempts, 3);
        assert_eq!(seen[0], "status 502 (expected 200)");
        assert!(
            seen[1].starts_with("cannot run on mgmt: ssh: connection reset"),
            "{}",
            seen[1]
        );

        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![ok(0, &resp(502, "")), ok(0, &resp(404, ""))],
        );
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed && r.attempts >= 2);
        assert_eq!(
            r.message, "status 404 (expected 200)",
            "the last failure is reported"
        );
        assert!(r.seconds >= 0.29, "ran until its timeout: {}", r.seconds);
    }

    #[test]
    fn spread_names_the_missing_backend() {
        let out: String = (0..10).map(|_| resp(200, "served by web1")).collect();
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 10)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(r.message, "backend web2 never answered: web1: 10, web2: 0 over 10 requests (expected every listed backend)");
        let cmd = &shell.calls()[0].1;
        assert!(
            cmd.contains("-lt 10 ]"),
            "ten requests in one command: {cmd}"
        );
    }

    #[test]
    fn spread_passes_when_every_backend_answers_and_counts_whole_names() {
        let mut out = String::new();
        for i in 0..20 {
            out.push_str(&resp(
                200,
                if i % 2 == 0 {
                    "web1"
                } else {
                    "<b>web2</b> (not web10)"
                },
            ));
        }
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 20)),
            &shell,
            &NoHttp,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!(r.message, "web1: 10, web2: 10 over 20 requests, status 200");

        // web10 must not count as web1.
        let out: String = (0..4).map(|_| resp(200, "web10 web2")).collect();
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 4)),
            &shell,
            &NoHttp,
        );
        assert!(
            r.message.starts_with("backend web1 never answered"),
            "{}",
            r.message
        );
    }

    #[test]
    fn spread_with_errors_names_missing_backends_first() {
        let mut out: String = (0..3).map(|_| resp(200, "web1")).collect();
        out.push_str(&resp(503, "<h1>503 Service Unavailable</h1>"));
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node(
                "http://lb:8080/",
                None,
                &["web1", "web2", "web3"],
                4,
            )),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "backends web2, web3 never answered: web1: 3, web2: 0, web3: 0 over 4 requests (expected every listed backend); 1 of 4 requests failed, first: status 503 (expected 200)"
        );
        // Both backends seen but one request failed: still a failure.
        let mut out: String = [resp(200, "web1"), resp(200, "web2")].concat();
        out.push_str(&resp(503, ""));
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 3)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "1 of 3 requests failed, first: status 503 (expected 200) (web1: 1, web2: 1)"
        );
    }

    #[test]
    fn spread_from_host_uses_lab_addresses() {
        let http = FakeHttp::new(vec![Ok((200, "web1".into())), Ok((200, "web2".into()))]);
        let (r, _) = run(
            &check(http_host(
                "http://lb:8080/x?y=1",
                None,
                &["web1", "web2"],
                4,
            )),
            &Fake::new(),
            &http,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!(r.message, "web1: 1, web2: 3 over 4 requests, status 200");
        let urls = http.urls.lock().unwrap().clone();
        assert_eq!(
            urls,
            vec!["http://192.168.57.11:8080/x?y=1"; 4],
            "node names are resolved from the lab"
        );

        let http = FakeHttp::new(vec![Ok((200, "web1".into()))]);
        let (r, _) = run(
            &check(http_host(
                "http://192.168.57.11:8080/",
                None,
                &["web1", "web2"],
                5,
            )),
            &Fake::new(),
            &http,
        );
        assert!(!r.passed);
        assert!(
            r.message
                .starts_with("backend web2 never answered: web1: 5, web2: 0"),
            "{}",
            r.message
        );
    }

    #[test]
    fn http_from_host_passes_fails_and_retries() {
        let http = FakeHttp::new(vec![
            Err("connect to 127.0.0.1:18080: Connection refused".into()),
            Ok((200, "revision 3".into())),
        ]);
        let (r, seen) = run(
            &patient(http_host(
                "http://127.0.0.1:18080/",
                Some("revision"),
                &[],
                1,
            )),
            &Fake::new(),
            &http,
        );
        assert!(r.passed);
        assert_eq!(r.attempts, 2);
        assert_eq!(
            seen[0],
            "request failed: connect to 127.0.0.1:18080: Connection refused"
        );

        let http = FakeHttp::new(vec![Ok((200, "nothing".into()))]);
        let (r, _) = run(
            &check(http_host(
                "http://127.0.0.1:18080/",
                Some("revision"),
                &[],
                1,
            )),
            &Fake::new(),
            &http,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "status 200 but body does not match /revision/ (body: \"nothing\")"
        );
    }

    #[test]
    fn http_never_targets_addresses_outside_the_lab() {
        for (from_host, url) in [
            (true, "http://8.8.8.8/"),
            (true, "http://127.0.0.1:8080/"), // not a forwarded port
            (true, "http://127.0.0.1/"),
            (true, "http://example.com/"),
            (true, "http://localhost:18080/"),
            (false, "http://192.168.58.1/"),
            (false, "http://[::1]:80/"),
            (false, "http://user@192.168.57.11/"),
            (false, "ftp://192.168.57.11/"),
        ] {
            let kind = if from_host {
                http_host(url, None, &[], 1)
            } else {
                http_node(url, None, &[], 1)
            };
            let shell = Fake::new();
            let (r, _) = run(&patient(kind), &shell, &NoHttp);
            assert!(!r.passed);
            assert_eq!(r.attempts, 1, "a refused target is not retried: {url}");
            assert!(
                r.message.starts_with("refusing to send traffic to"),
                "{url}: {}",
                r.message
            );
            assert!(shell.calls().is_empty(), "nothing was sent for {url}");
        }
        // Loopback from a node is the node's own loopback.
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &resp(200, ""))]);
        assert!(
            run(
                &check(http_node("http://localhost:3000/", None, &[], 1)),
                &shell,
                &NoHttp
            )
            .0
            .passed
        );
        // https from the host is not spoken by the built-in client: a clear failure.
        let (r, _) = run(
            &patient(http_host("https://192.168.57.11/", None, &[], 1)),
            &Fake::new(),
            &NoHttp,
        );
        assert!(
            !r.passed && r.attempts == 1 && r.message.contains("plain http only"),
            "{}",
            r.message
        );
    }

    #[test]
    fn http_node_output_parsing() {
        let out = format!("{}{}{}", resp(200, "a\n@@x"), resp(0, ""), resp(404, "b"));
        assert_eq!(
            parse_node_http(&out),
            vec![
                (200, "a\n@@x".to_string()),
                (0, String::new()),
                (404, "b".to_string())
            ]
        );
        assert_eq!(parse_node_http(""), vec![]);
    }

    #[test]
    fn http_missing_client_on_node() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![with_err(
                127,
                "",
                "labctl: neither curl nor python3 on this node\n",
            )],
        );
        let (r, _) = run(
            &check(http_node("http://web1/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "cannot send HTTP requests from mgmt: neither curl nor python3 is installed"
        );
    }

    // --- port ---------------------------------------------------------------

    const SS: &str = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\
                      LISTEN 0      128          0.0.0.0:22        0.0.0.0:*\n\
                      LISTEN 0      4096         0.0.0.0:8080      0.0.0.0:*\n\
                      LISTEN 0      128             [::]:22           [::]:*\n";

    #[test]
    fn port_listening_and_reachable() {
        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]).on(
            "mgmt",
            "/dev/tcp/192.168.57.11/8080",
            vec![ok(0, "")],
        );
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 8080,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!(
            r.message,
            "lb listens on 8080 and mgmt connects to 192.168.57.11:8080"
        );
        assert_eq!(shell.calls().len(), 2);

        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]);
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 22,
                from: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.message, "lb listens on 22 (0.0.0.0:22, [::]:22)");
    }

    #[test]
    fn port_not_listening_lists_what_is() {
        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]);
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 80,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "nothing listens on port 80 on lb (listening: 22, 8080)"
        );
        assert!(
            shell.calls().iter().all(|(n, _)| n == "lb"),
            "no probe when nothing listens"
        );
    }

    #[test]
    fn port_unreachable_from_node_then_reachable() {
        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]).on(
            "mgmt",
            "/dev/tcp/",
            vec![with_err(1, "", "bash: connect: Connection refused\n")],
        );
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 8080,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert_eq!(r.message, "lb listens on 8080 but mgmt cannot connect to 192.168.57.11:8080: bash: connect: Connection refused");

        let shell = Fake::new()
            .on("lb", "ss -ltn", vec![ok(0, "State\n"), ok(0, SS)])
            .on("mgmt", "/dev/tcp/", vec![with_err(124, "", ""), ok(0, "")]);
        let (r, seen) = run(
            &patient(CheckKind::Port {
                node: sp("lb"),
                port: 8080,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.attempts, 3);
        assert_eq!(
            seen[0],
            "nothing listens on port 8080 on lb (listening: none)"
        );
        assert!(seen[1].ends_with("timed out after 5s"), "{}", seen[1]);
    }

    // --- command ------------------------------------------------------------

    fn command(run: &str, exit: i32, stdout: Option<&str>) -> CheckKind {
        CheckKind::Command {
            node: sp("mgmt"),
            run: run.into(),
            exit,
            stdout: stdout.map(String::from),
        }
    }

    #[test]
    fn command_exit_and_stdout() {
        let shell = Fake::new().on(
            "mgmt",
            "ansible",
            vec![ok(0, "gitlab | SUCCESS\nlb | SUCCESS\n")],
        );
        let (r, _) = run(
            &check(command(
                "ansible all -m ping -o",
                0,
                Some("(?s)gitlab.*SUCCESS"),
            )),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.message, "exit 0, stdout matches /(?s)gitlab.*SUCCESS/");
        assert_eq!(
            shell.calls()[0].1,
            "ansible all -m ping -o",
            "run is sent as written"
        );

        let shell = Fake::new().on(
            "mgmt",
            "false",
            vec![with_err(1, "", "boom\nreally boom\n")],
        );
        let (r, _) = run(&check(command("false", 0, None)), &shell, &NoHttp);
        assert_eq!(r.message, "exit 1 (expected 0): really boom");
        assert!(r.output.contains("stderr:\nboom"));

        let shell = Fake::new().on("mgmt", "grep", vec![ok(1, "")]);
        assert!(
            run(
                &check(command("grep -q x /etc/hosts", 1, None)),
                &shell,
                &NoHttp
            )
            .0
            .passed,
            "a non-zero exit can be expected"
        );

        let shell = Fake::new().on("mgmt", "echo", vec![ok(0, "FAILED\n")]);
        let (r, _) = run(
            &check(command("echo FAILED", 0, Some("SUCCESS"))),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "exit 0 but stdout does not match /SUCCESS/ (stdout: \"FAILED\")"
        );
    }

    #[test]
    fn command_retry_then_pass_and_timeout() {
        let shell = Fake::new().on("mgmt", "x", vec![ok(2, ""), ok(0, "")]);
        let (r, _) = run(&patient(command("x", 0, None)), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);

        let shell = Fake::new().on("mgmt", "x", vec![ok(2, "")]);
        let c = Check {
            timeout: ms(1000),
            interval: ms(50),
            ..check(command("x", 0, None))
        };
        let (r, _) = run(&c, &shell, &NoHttp);
        assert!(!r.passed);
        assert!(
            (2..=21).contains(&r.attempts),
            "about timeout/interval attempts: {}",
            r.attempts
        );
        // It gives up near its timeout, not after some unrelated wait.
        assert!(r.seconds < 10.0);
    }

    #[test]
    fn invalid_regex_fails_without_retrying() {
        let shell = Fake::new();
        let (r, _) = run(&patient(command("x", 0, Some("("))), &shell, &NoHttp);
        assert!(!r.passed && r.attempts == 1);
        assert!(
            r.message.starts_with("invalid stdout regex /(/"),
            "{}",
            r.message
        );
        assert!(shell.calls().is_empty());
    }

    #[test]
    fn unknown_node_fails_without_retrying() {
        let (r, _) = run(
            &patient(CheckKind::Service {
                node: sp("nope"),
                service: "x".into(),
            }),
            &Fake::new(),
            &NoHttp,
        );
        assert_eq!(
            (r.passed, r.attempts, r.message.as_str()),
            (false, 1, "unknown node `nope`")
        );
    }

    // --- file ---------------------------------------------------------------

    fn file(path: &str, contains: Option<&str>) -> CheckKind {
        CheckKind::File {
            node: sp("web2"),
            path: path.into(),
            contains: contains.map(String::from),
        }
    }

    #[test]
    fn file_exists_and_contains() {
        let shell = Fake::new().on(
            "web2",
            "test -f",
            vec![ok(0, "/var/log/ansible-pull.log {\n  weekly\n}\n")],
        );
        let (r, _) = run(
            &check(file(
                "/etc/logrotate.d/ansible-pull",
                Some("/var/log/ansible-pull\\.log"),
            )),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(
            r.message,
            "/etc/logrotate.d/ansible-pull on web2 matches //var/log/ansible-pull\\.log/"
        );
        let cmd = &shell.calls()[0].1;
        assert!(cmd.contains("sudo -n sh -c"), "read as root: {cmd}");
        assert!(!cmd.contains("grep"), "matched in Rust");

        let shell = Fake::new().on("web2", "test -f", vec![ok(0, "something else\n")]);
        let (r, _) = run(&check(file("/etc/x", Some("weekly"))), &shell, &NoHttp);
        assert_eq!(
            r.message,
            "/etc/x exists on web2 but does not match /weekly/ (15 bytes)"
        );

        let shell = Fake::new().on("web2", "test -f", vec![ok(MISSING, ""), ok(0, "")]);
        let (r, seen) = run(&patient(file("/etc/x", None)), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);
        assert_eq!(seen[0], "no file /etc/x on web2");
        assert_eq!(r.message, "/etc/x exists on web2");
        assert!(
            !shell.calls()[0].1.contains("cat"),
            "no read without `contains`"
        );

        let shell = Fake::new().on("web2", "test -f", vec![ok(MISSING, "")]);
        let (r, _) = run(&check(file("/etc/x", None)), &shell, &NoHttp);
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(r.message, "no file /etc/x on web2");
    }

    #[test]
    fn hostile_values_are_quoted() {
        let hostile = "/tmp/x'; rm -rf / #";
        let shell = Fake::new().on("web2", "test -f", vec![ok(MISSING, "")]);
        run(&check(file(hostile, None)), &shell, &NoHttp);
        let cmd = &shell.calls()[0].1;
        // The path is quoted inside the script, and the script is quoted again for sh -c.
        let script = format!("test -f {} || exit {MISSING}", shell_quote(hostile));
        assert_eq!(cmd, &sh_root(&script));
        // (Executing hostile values for real, with a harmless payload, is in
        // file_check_with_hostile_path_runs_safely_in_sh.)

        for kind in [
            CheckKind::Service {
                node: sp("lb"),
                service: "x'; reboot #".into(),
            },
            CheckKind::Cron {
                node: sp("lb"),
                user: "root'$(id)".into(),
                contains: None,
            },
            CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 1,
                device: Some("/dev/x'`id`".into()),
            },
        ] {
            let shell = Fake::new().on("lb", "", vec![ok(1, "")]);
            run(&check(kind), &shell, &NoHttp);
            let cmd = shell.calls()[0].1.clone();
            // Parse-only check that the command is one well-formed shell command.
            let st = std::process::Command::new("sh")
                .arg("-n")
                .arg("-c")
                .arg(&cmd)
                .status()
                .unwrap();
            assert!(st.success(), "{cmd}");
        }
    }

    // --- cron ---------------------------------------------------------------

    const CRON_OUT: &str = "@@labctl-crontab\nno crontab for root\n\n@@labctl-rc 1\n\
        @@labctl-file /etc/crontab\nSHELL=/bin/sh\n17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n\n\
        @@labctl-file /etc/cron.d/ansible-pull\n# pull\nPATH=/usr/bin:/bin\n*/3 * * * * root flock -n /run/ap.lock ansible-pull -U http://192.168.57.2/centraladmin_web.git local.yml >>/var/log/ansible-pull.log 2>&1\n@reboot root ansible-pull -U http://192.168.57.2/centraladmin_web.git\n\n\
        @@labctl-file /etc/cron.d/old.dpkg-old\n* * * * * root ansible-pull centraladmin_lb\n\n\
        @@labctl-file /etc/cron.d/other\n* * * * * www-data ansible-pull centraladmin_lb\n\n";

    #[test]
    fn cron_reads_crontab_and_cron_d_for_the_user() {
        let (entries, notes) = parse_cron(CRON_OUT, "root");
        let lines: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(
            lines,
            vec![
                "/etc/crontab",
                "/etc/cron.d/ansible-pull",
                "/etc/cron.d/ansible-pull"
            ]
        );
        assert!(notes.iter().any(|n| n.contains("no crontab for root")));
        assert!(notes
            .iter()
            .any(|n| n.contains("old.dpkg-old: ignored by cron")));

        let (entries, _) = parse_cron("@@labctl-crontab\n# m h dom mon dow command\n*/5 * * * * /usr/local/bin/job\n\n@@labctl-rc 0\n", "vagrant");
        assert_eq!(
            entries,
            vec![CronEntry {
                source: "crontab -l -u vagrant".into(),
                line: "*/5 * * * * /usr/local/bin/job".into()
            }]
        );
    }

    #[test]
    fn cron_check_matches_one_line() {
        let shell = Fake::new().on("web1", "crontab -l -u", vec![ok(0, CRON_OUT)]);
        let kind = CheckKind::Cron {
            node: sp("web1"),
            user: "root".into(),
            contains: Some("ansible-pull .*centraladmin_web".into()),
        };
        let (r, _) = run(&check(kind), &shell, &NoHttp);
        assert!(r.passed, "{r:?}");
        assert_eq!(r.message, "cron entry for root in /etc/cron.d/ansible-pull matches /ansible-pull .*centraladmin_web/");
        assert!(
            shell.calls()[0].1.contains("crontab -l -u '\\''root'\\''"),
            "user quoted: {}",
            shell.calls()[0].1
        );

        // Only in an ignored file or for another user: fails.
        let shell = Fake::new().on("web1", "crontab", vec![ok(0, CRON_OUT)]);
        let kind = CheckKind::Cron {
            node: sp("web1"),
            user: "root".into(),
            contains: Some("centraladmin_lb".into()),
        };
        let (r, _) = run(&check(kind), &shell, &NoHttp);
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "none of 3 cron entries for root on web1 matches /centraladmin_lb/"
        );
        assert!(r.output.contains("ignored by cron"));

        let shell = Fake::new().on(
            "web1",
            "crontab",
            vec![
                ok(
                    0,
                    "@@labctl-crontab\nno crontab for nobody\n@@labctl-rc 1\n",
                ),
                ok(0, CRON_OUT),
            ],
        );
        let kind = CheckKind::Cron {
            node: sp("web1"),
            user: "www-data".into(),
            contains: None,
        };
        let (r, seen) = run(&patient(kind), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);
        assert_eq!(seen[0], "no cron entries for www-data on web1 (crontab -l -u www-data, /etc/crontab, /etc/cron.d)");
        assert_eq!(r.message, "1 cron entry for www-data on web1");
    }

    #[test]
    fn cron_timeout_reports_last_failure() {
        let shell = Fake::new().on(
            "web1",
            "crontab",
            vec![with_err(1, "", "sudo: a password is required\n")],
        );
        let (r, _) = run(
            &check(CheckKind::Cron {
                node: sp("web1"),
                user: "root".into(),
                contains: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(
            r.message,
            "cannot read cron tables on web1 (exit 1): sudo: a password is required"
        );
    }

    // --- service --------------------------------------------------------------

    #[test]
    fn service_status() {
        let shell = Fake::new().on(
            "lb",
            "status",
            vec![
                ok(3, "haproxy is not running ... failed!\n"),
                ok(0, "haproxy is running.\n"),
            ],
        );
        let (r, seen) = run(
            &patient(CheckKind::Service {
                node: sp("lb"),
                service: "haproxy".into(),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed && r.attempts == 2);
        assert_eq!(
            seen[0],
            "`service haproxy status` on lb exited 3: haproxy is not running ... failed!"
        );
        assert_eq!(r.message, "haproxy is running on lb");

        let shell = Fake::new().on(
            "lb",
            "service",
            vec![with_err(1, "", "haproxy: unrecognized service\n")],
        );
        let (r, _) = run(
            &check(CheckKind::Service {
                node: sp("lb"),
                service: "haproxy".into(),
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(
            r.message,
            "`service haproxy status` on lb exited 1: haproxy: unrecognized service"
        );
    }

    // --- reach ----------------------------------------------------------------

    #[test]
    fn reach_by_ping_or_ssh_port() {
        let reach = || CheckKind::Reach {
            from: sp("web2"),
            to: sp("lb"),
        };
        let shell = Fake::new().on("web2", "ping -c1 -W2 192.168.57.11", vec![ok(0, "icmp\n")]);
        assert_eq!(
            run(&check(reach()), &shell, &NoHttp).0.message,
            "web2 reaches lb (192.168.57.11) by ping"
        );
        assert!(shell.calls()[0].1.contains("/dev/tcp/192.168.57.11/22"));

        let shell = Fake::new().on("web2", "ping", vec![ok(1, "none\n"), ok(0, "tcp22\n")]);
        let (r, _) = run(&patient(reach()), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);
        assert_eq!(
            r.message,
            "web2 reaches lb (192.168.57.11) by TCP port 22 (no ping reply or no ping)"
        );

        let shell = Fake::new().on("web2", "ping", vec![ok(1, "none\n")]);
        let (r, _) = run(&check(reach()), &shell, &NoHttp);
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(
            r.message,
            "web2 cannot reach lb (192.168.57.11): no ping reply and no TCP connection to port 22"
        );
    }

    // --- disk -----------------------------------------------------------------

    #[test]
    fn disk_by_size_and_device() {
        let gib = 1u64 << 30;
        let sys = format!("loop0 0\nsda {}\nsdb {}\n", 64 * gib / 512, 8 * gib / 512);
        let shell = Fake::new().on("lb", "/sys/block", vec![ok(0, &sys)]);
        let (r, _) = run(
            &check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 8 * gib,
                device: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.message, "sdb on lb is 8589934592 bytes (8.0 GiB)");

        let shell = Fake::new().on("lb", "/sys/block", vec![ok(0, &sys)]);
        let (r, _) = run(
            &check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 4 * gib,
                device: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "no block device of 4294967296 bytes (4.0 GiB) on lb (seen: sda 64.0 GiB, sdb 8.0 GiB)"
        );

        let shell = Fake::new().on(
            "lb",
            "readlink -f -- '\\''/dev/sdb'\\''",
            vec![ok(MISSING, ""), ok(0, &format!("sdb {}\n", 4 * gib / 512))],
        );
        let c = Check {
            interval: ms(1),
            ..check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 8 * gib,
                device: Some("/dev/sdb".into()),
            })
        };
        let (r, seen) = run(&c, &shell, &NoHttp);
        assert!(!r.passed);
        assert_eq!(seen[0], "/dev/sdb is not a block device on lb");
        assert_eq!(r.message, "/dev/sdb (sdb) on lb is 4294967296 bytes (4.0 GiB), expected 8589934592 bytes (8.0 GiB)");

        let shell = Fake::new().on(
            "lb",
            "readlink",
            vec![ok(0, &format!("vdb {}\n", 8 * gib / 512))],
        );
        let (r, _) = run(
            &check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 8 * gib,
                device: Some("/dev/disk/by-id/x".into()),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
    }

    // --- run_all ------------------------------------------------------------

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
        let results = run_all(&lab, &shell, &NoHttp, true, &mut |e| match e {
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
        });
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
    fn run_all_sequential() {
        let lab = lab_with_checks(4);
        let shell = Slow {
            now: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
        };
        let mut order = Vec::new();
        let results = run_all(&lab, &shell, &NoHttp, false, &mut |e| {
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
        let results = run_all(&lab, &shell, &NoHttp, true, &mut |_| {});
        assert!(results[0].passed);
        assert!(
            !results[1].passed && results[1].message.starts_with("internal error"),
            "{:?}",
            results[1]
        );
    }

    // --- generated scripts, executed by a real sh ---------------------------

    /// Runs commands with the local `sh`, as a node's SSH session would.
    struct LocalShell {
        path: Option<String>,
        cwd: Option<std::path::PathBuf>,
    }
    impl NodeShell for LocalShell {
        fn run(&self, _node: &str, cmd: &str, _: Duration) -> crate::Result<ExecResult> {
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c").arg(cmd);
            if let Some(p) = &self.path {
                c.env("PATH", p);
            }
            if let Some(d) = &self.cwd {
                c.current_dir(d);
            }
            let o = c
                .output()
                .map_err(|e| crate::Error::env(e.to_string(), None))?;
            Ok(ExecResult {
                code: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into(),
                stderr: String::from_utf8_lossy(&o.stderr).into(),
            })
        }
    }

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn file_check_with_hostile_path_runs_safely_in_sh() {
        if !is_root() {
            eprintln!("skipped: sh_root needs root or sudo");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pwned = dir.path().join("pwned");
        let name = "x'; touch pwned #";
        let path = dir.path().join(name);
        std::fs::write(&path, "hello $(id) `id`\n").unwrap();
        let c = check(file(path.to_str().unwrap(), Some(r"hello \$\(id\) `id`")));
        let sh = LocalShell {
            path: None,
            cwd: Some(dir.path().to_path_buf()),
        };
        let (r, _) = run(&c, &sh, &NoHttp);
        assert!(r.passed, "{r:?}");
        assert!(!pwned.exists(), "the path was executed");

        let c = check(file(
            &format!(
                "{}/missing'\"$(touch pwned)`touch pwned`",
                dir.path().display()
            ),
            None,
        ));
        let (r, _) = run(&c, &sh, &NoHttp);
        assert!(
            !r.passed && r.message.starts_with("no file "),
            "{}",
            r.message
        );
        assert!(!pwned.exists());
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
            r.stdout.starts_with("@@labctl-crontab\n") && r.stdout.contains("@@labctl-rc "),
            "{r:?}"
        );
        let r = LocalShell {
            path: None,
            cwd: None,
        }
        .run("x", &sh(&disk_script(None)), ms(5000))
        .unwrap();
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.lines().all(|l| parse_disks(l).len() == 1),
            "{}",
            r.stdout
        );
        let r = LocalShell {
            path: None,
            cwd: None,
        }
        .run("x", &sh(&disk_script(Some("/dev/null"))), ms(5000))
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

    /// A loopback HTTP server answering each connection with the next canned
    /// response; returns its port and the requests it saw.
    fn serve(responses: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for resp in responses {
                let (mut s, _) = l.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut req = Vec::new();
                let mut b = [0u8; 4096];
                while find(&req, b"\r\n\r\n").is_none() {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&b[..n]),
                    }
                }
                seen.push(String::from_utf8_lossy(&req).into_owned());
                let _ = s.write_all(&resp);
            }
            seen
        });
        (port, h)
    }

    fn local_http_lab(port: u16) -> Lab {
        let mut lab = lab();
        lab.nodes[1].forward[0].host = port;
        lab
    }

    #[test]
    fn node_http_script_runs_with_curl_and_with_python() {
        let responses = || {
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nhi web1\n\n".to_vec(),
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nweb2".to_vec(),
                b"HTTP/1.1 302 Found\r\nLocation: http://8.8.8.8/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            ]
        };
        let python = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .filter(|o| o.status.success());
        let mut variants: Vec<(&str, Option<String>)> = Vec::new();
        if which("curl").is_some() {
            variants.push(("curl", None));
        }
        let pydir = tempfile::tempdir().unwrap();
        if let Some(o) = python {
            // A PATH with python3 and sh but no curl forces the fallback.
            let exe = String::from_utf8_lossy(&o.stdout).trim().to_string();
            std::os::unix::fs::symlink(exe, pydir.path().join("python3")).unwrap();
            std::os::unix::fs::symlink("/bin/sh", pydir.path().join("sh")).unwrap();
            variants.push(("python3", Some(pydir.path().display().to_string())));
        }
        for (client, path) in variants {
            let (port, h) = serve(responses());
            let url = format!("http://127.0.0.1:{port}/a'b$(id)?q=1");
            let target = http_target(&lab(), &From::Node("mgmt".into()), &url).unwrap();
            let cmd = sh(&node_http_script(&target, 3, Duration::from_secs(5)));
            let r = LocalShell {
                path: path.clone(),
                cwd: None,
            }
            .run("mgmt", &cmd, Duration::from_secs(20))
            .unwrap();
            let got = parse_node_http(&r.stdout);
            assert_eq!(
                got,
                vec![
                    (200, "hi web1\n\n".to_string()),
                    (404, "web2".to_string()),
                    (302, String::new())
                ],
                "{client}: {r:?}"
            );
            let seen = h.join().unwrap();
            assert!(
                seen[0].starts_with("GET /a'b$(id)?q=1 HTTP/1."),
                "{client}: {}",
                seen[0]
            );
            assert!(seen.len() == 3, "{client}: the redirect was not followed");
        }
    }

    fn which(p: &str) -> Option<std::path::PathBuf> {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(p))
                .find(|f| f.is_file())
        })
    }

    // --- StdHttp --------------------------------------------------------------

    #[test]
    fn std_http_reads_length_chunked_and_close_delimited_bodies() {
        let (port, h) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello-and-more-ignored".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nweb1\r\n6;ext=1\r\n rev 3\r\n0\r\n\r\n".to_vec(),
            b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<h1>503</h1>".to_vec(),
        ]);
        let url = format!("http://127.0.0.1:{port}/p?x=1");
        assert_eq!(
            StdHttp.get(&url, Duration::from_secs(5)),
            Ok((200, "hello".into()))
        );
        assert_eq!(
            StdHttp.get(&url, Duration::from_secs(5)),
            Ok((200, "web1 rev 3".into()))
        );
        assert_eq!(
            StdHttp.get(&url, Duration::from_secs(5)),
            Ok((503, "<h1>503</h1>".into()))
        );
        let seen = h.join().unwrap();
        assert!(
            seen[0].starts_with(&format!(
                "GET /p?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            )),
            "{}",
            seen[0]
        );
        assert!(seen[0].contains("Connection: close\r\n"));
    }

    #[test]
    fn std_http_times_out_and_refuses_names() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(ms(300));
            drop(s);
        });
        let t = Instant::now();
        let e = StdHttp
            .get(&format!("http://127.0.0.1:{port}/"), ms(100))
            .unwrap_err();
        assert!(
            e.contains("timed out"),
            "the read timeout fired before the server closed: {e}"
        );
        assert!(t.elapsed() < ms(1000));
        h.join().unwrap();
        assert!(StdHttp
            .get("http://example.com/", ms(100))
            .unwrap_err()
            .contains("not an IPv4 address"));
        assert!(StdHttp
            .get("https://127.0.0.1/", ms(100))
            .unwrap_err()
            .contains("only http://"));
    }

    #[test]
    fn host_check_end_to_end_over_loopback_forward() {
        let (port, h) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nrevision 7".to_vec(),
        ]);
        let lab = local_http_lab(port);
        let c = check(http_host(
            &format!("http://127.0.0.1:{port}/"),
            Some("revision \\d"),
            &[],
            1,
        ));
        let r = run_check(
            &Check {
                timeout: Duration::from_secs(5),
                ..c
            },
            &lab,
            &Fake::new(),
            &StdHttp,
            &mut |_| {},
        );
        assert!(r.passed, "{r:?}");
        h.join().unwrap();
    }

    #[test]
    fn response_parsing_edge_cases() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", false),
            Ok(None)
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", true).is_err());
        assert_eq!(
            parse_response(b"HTTP/1.1 204 No Content\r\n\r\n", false),
            Ok(Some((204, String::new())))
        );
        assert_eq!(
            parse_response(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3\r\nab",
                false
            ),
            Ok(None)
        );
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .is_err());
    }

    #[test]
    fn url_parsing() {
        let u = Url::parse("HTTP://Web1:8080?x").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.rest.as_str()),
            ("http", "web1", Some(8080), "/?x")
        );
        assert_eq!(u.with_host("10.0.0.1"), "http://10.0.0.1:8080/?x");
        assert!(Url::parse("http://a:99999/").is_none());
        assert!(Url::parse("http:///").is_none());
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(one_line("a\n\n b\tc", 80), "a b c");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
