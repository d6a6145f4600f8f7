//! Running host tools (vagrant, docker, debootstrap, ...).
//!
//! Every command goes through [`Runner`], so unit tests can record the command
//! sequence labctl would run (for providers that cannot run here) while real
//! runs use `duct`. Failures carry the command line and the tail of stderr.

pub mod logged;
pub mod procs;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A command to run: program, arguments, extra environment, working dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: Option<PathBuf>,
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            stdin: None,
        }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, a: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn dir(mut self, d: impl AsRef<Path>) -> Self {
        self.dir = Some(d.as_ref().to_path_buf());
        self
    }
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    /// The command as a user would type it (for messages and logs).
    pub fn display(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                s.push_str(&crate::shell::shell_quote(a));
            } else {
                s.push_str(a);
            }
        }
        s
    }
}

#[derive(Debug, Clone, Default)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

pub trait Runner: Send + Sync {
    /// Run and capture; a non-zero exit is returned, not an error.
    fn output(&self, cmd: &Cmd) -> Result<Output>;

    /// Run with output passed through to the terminal (long-running tools).
    fn stream(&self, cmd: &Cmd) -> Result<Output> {
        self.stream_lines(cmd, &|_| {})
    }

    /// [`stream`](Runner::stream), handing each stdout line to `on_line` as
    /// it is printed, while the command still runs (`vagrant up` says when
    /// each machine is done). A recording runner hands its scripted stdout
    /// line by line once the command "ran".
    fn stream_lines(&self, cmd: &Cmd, on_line: &(dyn Fn(&str) + Sync)) -> Result<Output> {
        let out = self.output(cmd)?;
        for line in out.stdout.lines() {
            on_line(line);
        }
        Ok(out)
    }

    /// Run and require exit 0; errors carry stderr.
    fn run(&self, cmd: &Cmd) -> Result<Output> {
        let out = self.output(cmd)?;
        if out.success() {
            Ok(out)
        } else {
            Err(Error::Tool {
                command: cmd.display(),
                code: out.code,
                stderr: pick_stderr(&out),
                hint: None,
            })
        }
    }

    /// Where `program` is on the PATH, for preflight checks; a recording
    /// runner answers for the host it pretends to be.
    fn which(&self, program: &str) -> Option<PathBuf> {
        which(program)
    }
}

fn pick_stderr(out: &Output) -> String {
    if out.stderr.trim().is_empty() {
        out.stdout.clone()
    } else {
        out.stderr.clone()
    }
}

/// Runs real processes with duct.
#[derive(Debug, Default, Clone)]
pub struct System;

impl System {
    fn expr(cmd: &Cmd) -> duct::Expression {
        let mut e = duct::cmd(&cmd.program, &cmd.args);
        for (k, v) in &cmd.env {
            e = e.env(k, v);
        }
        if let Some(d) = &cmd.dir {
            e = e.dir(d);
        }
        match &cmd.stdin {
            Some(b) => e.stdin_bytes(b.clone()),
            None => e.stdin_null(),
        }
    }
}

impl Runner for System {
    fn output(&self, cmd: &Cmd) -> Result<Output> {
        let out = Self::expr(cmd)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| spawn_error(cmd, e))?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn stream_lines(&self, cmd: &Cmd, on_line: &(dyn Fn(&str) + Sync)) -> Result<Output> {
        // stdout goes to our stderr so machine-readable stdout stays clean,
        // line by line as it comes, each line also handed to `on_line`;
        // stderr is also kept for the error message. The child gets a process
        // group of its own, recorded through the spawn hook, so `down` can end
        // it (and its children) if this labctl dies.
        use std::io::BufRead;
        let handle = Self::expr(cmd)
            .stderr_capture()
            .unchecked()
            .before_spawn(|c| {
                use std::os::unix::process::CommandExt;
                c.process_group(0);
                Ok(())
            })
            .reader()
            .map_err(|e| spawn_error(cmd, e))?;
        let pids = handle.pids();
        for p in &pids {
            crate::interrupt::track(*p as i32);
            spawn_hook(*p, true);
        }
        let mut lines = std::io::BufReader::new(&handle);
        let mut buf = Vec::new();
        let read: std::io::Result<()> = loop {
            buf.clear();
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) => break Ok(()),
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    eprint!("{line}");
                    on_line(line.trim_end_matches(['\n', '\r']));
                }
                Err(e) => break Err(e),
            }
        };
        // EOF waited for the child; an error reading did not.
        let out = read
            .and_then(|()| handle.try_wait())
            .map(|o| o.cloned())
            .map_err(|e| spawn_error(cmd, e));
        for p in &pids {
            spawn_hook(*p, false);
            crate::interrupt::untrack(*p as i32);
        }
        crate::interrupt::check()?;
        let out = out?.ok_or_else(|| {
            Error::io(
                "wait for",
                &cmd.program,
                std::io::Error::other("its output ended before it did"),
            )
        })?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        eprint!("{stderr}");
        Ok(Output {
            code: out.status.code(),
            stdout: String::new(),
            stderr,
        })
    }
}

type Hook = Box<dyn Fn(u32, bool) + Send + Sync>;
static SPAWN_HOOK: Mutex<Option<Hook>> = Mutex::new(None);

/// Called with (pid, started) for every long-running child, so the lifecycle
/// can record its process group in the state file before anything else happens.
pub fn set_spawn_hook(h: Option<Hook>) {
    *SPAWN_HOOK.lock().unwrap() = h;
}

fn spawn_hook(pid: u32, started: bool) {
    if let Some(h) = SPAWN_HOOK.lock().unwrap().as_ref() {
        h(pid, started);
    }
}

fn spawn_error(cmd: &Cmd, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::env(
            format!(
                "`{}` is not installed (needed for `{}`)",
                cmd.program,
                cmd.display()
            ),
            Some("run `labctl setup` to install what the provider needs".into()),
        )
    } else {
        Error::io("run", &cmd.program, e)
    }
}

/// Records commands and answers from a script; for unit tests of command
/// sequences on providers that cannot run on the test host.
#[derive(Default)]
pub struct Recorder {
    pub calls: Mutex<Vec<Cmd>>,
    /// (program + first args prefix, output) pairs; first match wins, default success.
    pub answers: Mutex<Vec<(String, Output)>>,
    /// Programs the pretended host lacks; every other one is "installed".
    pub missing_programs: Mutex<Vec<String>>,
    /// Answers used once each, before `answers` (a daemon down, then up).
    pub once: Mutex<Vec<(String, Output)>>,
}

impl Recorder {
    pub fn answer(&self, prefix: &str, code: i32, stdout: &str) {
        self.answers.lock().unwrap().push((
            prefix.to_string(),
            Output {
                code: Some(code),
                stdout: stdout.into(),
                stderr: String::new(),
            },
        ));
    }
    /// Like [`answer`](Recorder::answer), for the first matching call only.
    pub fn answer_once(&self, prefix: &str, code: i32, stdout: &str) {
        self.once.lock().unwrap().push((
            prefix.to_string(),
            Output {
                code: Some(code),
                stdout: stdout.into(),
                stderr: String::new(),
            },
        ));
    }
    pub fn lines(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.display())
            .collect()
    }
}

impl Runner for Recorder {
    fn which(&self, program: &str) -> Option<PathBuf> {
        if self
            .missing_programs
            .lock()
            .unwrap()
            .iter()
            .any(|p| p == program)
        {
            None
        } else {
            Some(PathBuf::from("/usr/bin").join(program))
        }
    }

    fn output(&self, cmd: &Cmd) -> Result<Output> {
        self.calls.lock().unwrap().push(cmd.clone());
        let line = cmd.display();
        {
            let mut once = self.once.lock().unwrap();
            if let Some(i) = once.iter().position(|(p, _)| line.starts_with(p.as_str())) {
                return Ok(once.remove(i).1);
            }
        }
        for (prefix, out) in self.answers.lock().unwrap().iter() {
            if line.starts_with(prefix.as_str()) {
                return Ok(out.clone());
            }
        }
        Ok(Output {
            code: Some(0),
            ..Default::default()
        })
    }
}

/// Is `program` on the PATH?
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
