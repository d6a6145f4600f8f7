//! Test support shared by the check kinds' tests: a small lab, scripted node
//! shells and host HTTP, a local `sh` as a node, a loopback HTTP server.
#![allow(dead_code)]

pub(crate) use super::engine::*;
pub(crate) use super::http_client::*;
pub(crate) use crate::diag::Span;
pub(crate) use crate::lab::{Check, CheckKind, Lab};
pub(crate) use crate::lab::{CheckFrom, Sp};
pub(crate) use crate::remote::{ExecResult, NodeShell};
pub(crate) use std::collections::VecDeque;
pub(crate) use std::io::{Read, Write};
pub(crate) use std::net::TcpListener;
pub(crate) use std::sync::Mutex;
pub(crate) use std::time::Duration;

pub(crate) const LAB: &str = r#"
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

pub(crate) fn lab() -> Lab {
    let mut cx = crate::lab::reader::Ctx::new();
    let lab = crate::lab::parse::parse_lab(LAB, &mut cx).expect("test lab parses");
    assert!(cx.diags.iter().all(|d| !d.is_error()), "{:?}", cx.diags);
    lab
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn sp(s: &str) -> Sp<String> {
    Sp::new(s.to_string(), Span::default())
}

/// A check that gives up soon: 1 s, retried every 5 ms.
pub(crate) fn check(kind: CheckKind) -> Check {
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
pub(crate) fn patient(kind: CheckKind) -> Check {
    Check {
        timeout: Duration::from_secs(5),
        interval: ms(1),
        ..check(kind)
    }
}

pub(crate) type Reply = Result<ExecResult, String>;

pub(crate) fn ok(code: i32, stdout: &str) -> Reply {
    Ok(ExecResult {
        code,
        stdout: stdout.into(),
        stderr: String::new(),
    })
}
pub(crate) fn with_err(code: i32, stdout: &str, stderr: &str) -> Reply {
    Ok(ExecResult {
        code,
        stdout: stdout.into(),
        stderr: stderr.into(),
    })
}

/// Scripted node shell: the first rule whose node matches and whose needle the
/// command contains answers; its replies are used in order, the last repeats.
#[derive(Default)]
pub(crate) struct Fake {
    pub(crate) rules: Mutex<Vec<(String, String, VecDeque<Reply>)>>,
    pub(crate) calls: Mutex<Vec<(String, String)>>,
}

impl Fake {
    pub(crate) fn new() -> Self {
        Fake::default()
    }
    pub(crate) fn on(self, node: &str, needle: &str, replies: Vec<Reply>) -> Self {
        self.rules
            .lock()
            .unwrap()
            .push((node.into(), needle.into(), replies.into()));
        self
    }
    pub(crate) fn calls(&self) -> Vec<(String, String)> {
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
pub(crate) struct NoHttp;
impl HostHttp for NoHttp {
    fn get(&self, url: &str, _: Duration) -> Result<(u16, String), String> {
        panic!("unexpected host request to {url}")
    }
}

/// Scripted host HTTP; records every URL.
#[derive(Default)]
pub(crate) struct FakeHttp {
    pub(crate) replies: Mutex<VecDeque<Result<(u16, String), String>>>,
    pub(crate) urls: Mutex<Vec<String>>,
}
impl FakeHttp {
    pub(crate) fn new(replies: Vec<Result<(u16, String), String>>) -> Self {
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

pub(crate) fn run(
    c: &Check,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
) -> (CheckResult, Vec<String>) {
    let mut seen = Vec::new();
    let r = run_check(c, &lab(), shell, http, Settle::settling(), &mut |m| {
        seen.push(m.to_string())
    });
    assert_eq!(
        seen.len() as u32,
        r.attempts - 1,
        "on_attempt sees every retried failure"
    );
    (r, seen)
}

pub(crate) fn http_node(
    url: &str,
    body: Option<&str>,
    spread: &[&str],
    requests: u32,
) -> CheckKind {
    CheckKind::Http {
        from: CheckFrom::Node("mgmt".into()),
        url: url.into(),
        status: 200,
        body: body.map(String::from),
        spread: spread.iter().map(|s| sp(s)).collect(),
        requests,
    }
}
// Alike on purpose (duplicates): http_node and http_host differ only in `from`, which the tests read as the point.
pub(crate) fn http_host(
    url: &str,
    body: Option<&str>,
    spread: &[&str],
    requests: u32,
) -> CheckKind {
    CheckKind::Http {
        from: CheckFrom::Host,
        url: url.into(),
        status: 200,
        body: body.map(String::from),
        spread: spread.iter().map(|s| sp(s)).collect(),
        requests,
    }
}
pub(crate) fn resp(code: u16, body: &str) -> String {
    format!("{body}\n::labctl:: http {code}\n")
}

/// Runs commands with the local `sh`, as a node's SSH session would.
pub(crate) struct LocalShell {
    pub(crate) path: Option<String>,
    pub(crate) cwd: Option<std::path::PathBuf>,
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

pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A loopback HTTP server answering each connection with the next canned
/// response; returns its port and the requests it saw.
pub(crate) fn serve(responses: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
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

pub(crate) fn local_http_lab(port: u16) -> Lab {
    let mut lab = lab();
    lab.nodes[1].forward[0].host = port;
    lab
}

pub(crate) fn which(p: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(p))
            .find(|f| f.is_file())
    })
}

pub(crate) fn command(run: &str, exit: i32, stdout: Option<&str>) -> CheckKind {
    CheckKind::Command {
        node: sp("mgmt"),
        run: run.into(),
        exit,
        stdout: stdout.map(String::from),
        undo: None,
    }
}
