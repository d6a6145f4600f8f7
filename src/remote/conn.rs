//! One SSH connection to a lab node with `ssh2`: one session per node reused for every step,
//! host keys recorded on first contact under a lab/node alias and verified after,
//! uploads over SFTP, and commands with their output streamed line by line.

use crate::error::{Error, Result};
use ssh2::{CheckResult, KnownHostFileKind, KnownHostKeyFormat, Session};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How to reach one node.
#[derive(Debug, Clone)]
pub struct Target {
    pub node: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key: PathBuf,
    /// Name the host key is recorded under (`labctl-LAB-NODE`): forwarded ports on
    /// 127.0.0.1 are reused across labs, so the address cannot be the key.
    pub alias: String,
    pub known_hosts: PathBuf,
}

/// Writes a command's input into its channel, as it goes.
pub type Input<'a> = dyn FnMut(&mut dyn Write) -> std::io::Result<()> + 'a;

pub struct Conn {
    pub target: Target,
    sess: Session,
}

#[derive(Debug, Clone, Default)]
pub struct ExecResult {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn ssh_err(t: &Target, what: &str, e: impl std::fmt::Display) -> Error {
    Error::env(
        format!(
            "node {}: {what} ({}@{}:{}): {e}",
            t.node, t.user, t.host, t.port
        ),
        Some(format!(
            "is the node running? `labctl status` shows it; `labctl ssh LAB {}` tries by hand",
            t.node
        )),
    )
}

impl Conn {
    /// Connect, verify the host key, authenticate. Retries the TCP connection and
    /// handshake until `wait` has passed (sshd may still be starting).
    pub fn connect(t: &Target, wait: Duration) -> Result<Conn> {
        let deadline = Instant::now() + wait;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_connect(t) {
                Ok(c) => return Ok(c),
                Err(ConnectError::Fatal(e)) => return Err(e),
                Err(ConnectError::Retry(e)) => {
                    if Instant::now() >= deadline {
                        return Err(ssh_err(
                            t,
                            &format!("cannot connect after {attempt} attempts"),
                            e,
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    fn try_connect(t: &Target) -> std::result::Result<Conn, ConnectError> {
        let addr = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(|e| ConnectError::Fatal(ssh_err(t, "bad address", e)))?
            .next()
            .ok_or_else(|| ConnectError::Fatal(ssh_err(t, "bad address", "no address")))?;
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| ConnectError::Retry(e.to_string()))?;
        let mut sess = Session::new().map_err(|e| ConnectError::Fatal(ssh_err(t, "ssh", e)))?;
        sess.set_tcp_stream(tcp);
        // Bounded waits: a node whose sshd stops answering must not hang labctl.
        sess.set_timeout(30_000);
        sess.handshake()
            .map_err(|e| ConnectError::Retry(e.to_string()))?;
        verify_host_key(t, &sess).map_err(ConnectError::Fatal)?;
        sess.userauth_pubkey_file(&t.user, None, &t.key, None)
            .map_err(|e| {
                ConnectError::Fatal(ssh_err(
                    t,
                    &format!("key {} was refused", t.key.display()),
                    e,
                ))
            })?;
        sess.set_keepalive(true, 10);
        Ok(Conn {
            target: t.clone(),
            sess,
        })
    }

    /// Run a command; `stdin` writes the command's input (streamed: an upload
    /// is never held whole in memory); `on_line(is_stderr, line)` sees output
    /// as it arrives. Fails when the command runs longer than `timeout` or the
    /// node stops answering.
    pub fn exec(
        &self,
        command: &str,
        stdin: Option<&mut Input>,
        timeout: Duration,
        on_line: &mut dyn FnMut(bool, &str),
    ) -> Result<ExecResult> {
        let t = &self.target;
        self.sess.set_blocking(true);
        let mut ch = self
            .sess
            .channel_session()
            .map_err(|e| ssh_err(t, "cannot open a channel", e))?;
        ch.exec(command)
            .map_err(|e| ssh_err(t, "cannot start a command", e))?;
        if let Some(input) = stdin {
            input(&mut ch).map_err(|e| ssh_err(t, "cannot send input", e))?;
        }
        ch.send_eof()
            .map_err(|e| ssh_err(t, "cannot send input", e))?;
        self.sess.set_blocking(false);
        let deadline = Instant::now() + timeout;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (mut out_line, mut err_line) = (Vec::new(), Vec::new());
        let mut buf = [0u8; 16384];
        let mut last_keepalive = Instant::now();
        loop {
            let mut progressed = false;
            for is_err in [false, true] {
                let r = if is_err {
                    ch.stderr().read(&mut buf)
                } else {
                    ch.read(&mut buf)
                };
                match r {
                    Ok(0) => {}
                    Ok(n) => {
                        progressed = true;
                        let (all, line) = if is_err {
                            (&mut err, &mut err_line)
                        } else {
                            (&mut out, &mut out_line)
                        };
                        all.extend_from_slice(&buf[..n]);
                        for &b in &buf[..n] {
                            if b == b'\n' {
                                on_line(is_err, &String::from_utf8_lossy(line));
                                line.clear();
                            } else {
                                line.push(b);
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        self.sess.set_blocking(true);
                        return Err(ssh_err(t, "connection lost while running a command", e));
                    }
                }
            }
            if ch.eof() && !progressed {
                break;
            }
            if crate::interrupt::stops_here() {
                // Closing the channel ends the remote command's session.
                let _ = ch.close();
                self.sess.set_blocking(true);
                return Err(crate::Error::Interrupted {
                    phase: crate::interrupt::phase(),
                });
            }
            if Instant::now() > deadline {
                self.sess.set_blocking(true);
                // Where the command stood is what tells a hung step from a
                // slow one: name its last output before the command itself,
                // which callers may cut short.
                let mut what = format!("command still running after {}s", timeout.as_secs());
                for (stream, all) in [("stdout", &out), ("stderr", &err)] {
                    if let Some(line) = last_line(all) {
                        what.push_str(&format!(", last {stream} line: {line:?}"));
                    }
                }
                return Err(ssh_err(t, &what, command_name(command)));
            }
            if !progressed {
                if last_keepalive.elapsed() > Duration::from_secs(10) {
                    // A dead peer shows up as a failed keepalive.
                    if let Err(e) = self.sess.keepalive_send() {
                        if e.code() != ssh2::ErrorCode::Session(-37) {
                            self.sess.set_blocking(true);
                            return Err(ssh_err(t, "node stopped answering", e));
                        }
                    }
                    last_keepalive = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for (is_err, line) in [(false, &out_line), (true, &err_line)] {
            if !line.is_empty() {
                on_line(is_err, &String::from_utf8_lossy(line));
            }
        }
        self.sess.set_blocking(true);
        ch.wait_close().ok();
        // A command killed by a signal has no exit status: report 128+n as a
        // shell would, never 0.
        let code = match ch.exit_signal() {
            Ok(sig) if sig.exit_signal.is_some() => {
                128 + signal_number(sig.exit_signal.as_deref().unwrap_or(""))
            }
            _ => ch.exit_status().unwrap_or(255),
        };
        Ok(ExecResult {
            code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }

    /// Run and capture, without streaming.
    pub fn run(&self, command: &str, timeout: Duration) -> Result<ExecResult> {
        self.exec(command, None, timeout, &mut |_, _| {})
    }

    /// Write a file over SFTP with the given mode (created with that mode, so a
    /// secret never exists with wider permissions).
    pub fn write_file(&self, path: &str, bytes: &[u8], mode: i32) -> Result<()> {
        let t = &self.target;
        self.sess.set_blocking(true);
        let sftp = self
            .sess
            .sftp()
            .map_err(|e| ssh_err(t, "cannot start SFTP", e))?;
        let mut f = sftp
            .open_mode(
                Path::new(path),
                ssh2::OpenFlags::WRITE | ssh2::OpenFlags::CREATE | ssh2::OpenFlags::TRUNCATE,
                mode,
                ssh2::OpenType::File,
            )
            .map_err(|e| ssh_err(t, &format!("cannot create {path}"), e))?;
        f.write_all(bytes)
            .map_err(|e| ssh_err(t, &format!("cannot write {path}"), e))?;
        Ok(())
    }
}

fn signal_number(name: &str) -> i32 {
    match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ABRT" => 6,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 127,
    }
}

/// The last non-blank line of a stream (a partial one counts), cut to 160
/// characters.
fn last_line(all: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(all);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    Some(crate::text::one_line(line, 160))
}

fn command_name(c: &str) -> String {
    c.chars().take(80).collect()
}

enum ConnectError {
    Retry(String),
    Fatal(Error),
}

/// Check the node's host key against the lab's known_hosts: record it on first
/// contact, refuse a changed key.
/// Nodes connect in parallel and share the lab's known_hosts: reading, adding
/// and writing it happen under one lock, and the file is replaced atomically,
/// so no connection ever reads a half-written file.
static KNOWN_HOSTS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn verify_host_key(t: &Target, sess: &Session) -> Result<()> {
    let _g = KNOWN_HOSTS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (key, kind) = sess
        .host_key()
        .ok_or_else(|| ssh_err(t, "no host key offered", "handshake"))?;
    let mut kh = sess
        .known_hosts()
        .map_err(|e| ssh_err(t, "known_hosts", e))?;
    if t.known_hosts.exists() {
        kh.read_file(&t.known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| ssh_err(t, &format!("cannot read {}", t.known_hosts.display()), e))?;
    }
    match kh.check(&t.alias, key) {
        CheckResult::Match => Ok(()),
        CheckResult::NotFound => {
            let fmt = match kind {
                ssh2::HostKeyType::Rsa => KnownHostKeyFormat::SshRsa,
                ssh2::HostKeyType::Dss => KnownHostKeyFormat::SshDss,
                ssh2::HostKeyType::Ecdsa256 => KnownHostKeyFormat::Ecdsa256,
                ssh2::HostKeyType::Ecdsa384 => KnownHostKeyFormat::Ecdsa384,
                ssh2::HostKeyType::Ecdsa521 => KnownHostKeyFormat::Ecdsa521,
                ssh2::HostKeyType::Ed25519 => KnownHostKeyFormat::Ed25519,
                ssh2::HostKeyType::Unknown => return Err(ssh_err(t, "unknown host key type", "")),
            };
            kh.add(&t.alias, key, &t.node, fmt).map_err(|e| ssh_err(t, "known_hosts", e))?;
            // libssh2 writes only to a path: a scratch file, whose text then
            // replaces the known_hosts atomically like every file labctl writes.
            let scratch = tempfile::NamedTempFile::new().map_err(|e| Error::io("create a temp file in", std::env::temp_dir(), e))?;
            kh.write_file(scratch.path(), KnownHostFileKind::OpenSSH).map_err(|e| ssh_err(t, &format!("cannot write {}", scratch.path().display()), e))?;
            let text = std::fs::read(scratch.path()).map_err(|e| Error::io("read", scratch.path(), e))?;
            crate::state::write_atomic(&t.known_hosts, &text)
        }
        CheckResult::Mismatch => Err(Error::env(
            format!("node {}: its SSH host key changed since first contact; refusing to connect", t.node),
            Some(format!(
                "labctl did not re-create this machine, so its key should not change: someone may be intercepting {}:{} (recorded in {}); if you replaced the machine yourself, `labctl up LAB --recreate {}` makes labctl re-create it and record its new key (an existing machine of a hosts lab: remove its line from that file, then `labctl up LAB` records the new key)",
                t.host,
                t.port,
                t.known_hosts.display(),
                t.node
            )),
        )),
        CheckResult::Failure => Err(ssh_err(t, "host key check failed", "libssh2")),
    }
}

/// Remove a node's entries (by alias) from a known_hosts file.
pub fn forget_host(known_hosts: &Path, alias: &str) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(known_hosts) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .map(|h| !h.split(',').any(|x| x == alias))
                .unwrap_or(true)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    crate::state::write_atomic(known_hosts, kept.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_skips_blank_lines_and_keeps_a_partial_one() {
        assert_eq!(last_line(b""), None);
        assert_eq!(last_line(b"\n  \n"), None);
        assert_eq!(
            last_line(b"waiting 0s\nwaiting 10s, firings so far: 1\n\n"),
            Some("waiting 10s, firings so far: 1".into())
        );
        assert_eq!(
            last_line(b"one\ntwo, no newline yet"),
            Some("two, no newline yet".into())
        );
        assert_eq!(
            last_line(&[b'x'; 400]).map(|l| l.chars().count() <= 161),
            Some(true)
        );
    }

    #[test]
    fn forget_removes_only_alias() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("kh");
        std::fs::write(
            &p,
            "labctl-a-web1 ssh-ed25519 AAAA\nlabctl-a-web2 ssh-ed25519 BBBB\n",
        )
        .unwrap();
        forget_host(&p, "labctl-a-web1").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "labctl-a-web2 ssh-ed25519 BBBB\n"
        );
    }
}
