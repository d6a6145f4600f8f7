//! The library's error type and the process exit codes it maps to.
//!
//! Errors print as a headline, then their causes, then hints (see
//! [`Error::render`]); the CLI never prints a bare `Debug`.

use std::path::PathBuf;

/// Process exit codes, named so that scripts and CI can rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything asked for was done and every check passed.
    Ok = 0,
    /// labctl did its job, and at least one check or ratio failed.
    ChecksFailed = 1,
    /// Bad command line, bad lab file or role metadata.
    Usage = 2,
    /// A provider, tool or the environment failed (Vagrant, Docker, SSH, network safety).
    Environment = 3,
    /// Interrupted by a signal (Ctrl-C).
    Interrupted = 130,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more lab-file or role errors; `rendered` holds every diagnostic.
    #[error("{file}: {count} error{} found", if *.count == 1 { "" } else { "s" })]
    Invalid {
        file: PathBuf,
        count: usize,
        rendered: String,
    },

    #[error("no lab named `{name}`")]
    UnknownLab { name: String, known: Vec<String> },

    /// A lab path on the command line that cannot be read: a usage error.
    #[error("cannot read lab file {}", path.display())]
    UnreadableLab {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("template error while rendering {what}")]
    Template {
        what: String,
        #[source]
        source: tera::Error,
    },

    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },

    /// A tool labctl runs (vagrant, docker, debootstrap, ...) failed.
    #[error("`{command}` failed{}", match code { Some(c) => format!(" with exit code {c}"), None => " (killed by a signal)".to_string() })]
    Tool {
        command: String,
        code: Option<i32>,
        stderr: String,
        hint: Option<String>,
    },

    /// Something in the environment is missing or wrong.
    #[error("{message}")]
    Environment {
        message: String,
        hint: Option<String>,
    },

    #[error("another labctl (pid {pid}) holds the lock on lab `{lab}` ({})", path.display())]
    Locked {
        lab: String,
        pid: u32,
        path: PathBuf,
    },

    #[error("interrupted during {phase}")]
    Interrupted { phase: String },
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Invalid { .. }
            | Error::UnknownLab { .. }
            | Error::UnreadableLab { .. }
            | Error::Usage { .. } => Exit::Usage,
            Error::Interrupted { .. } => Exit::Interrupted,
            _ => Exit::Environment,
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with one more hint (after any it had). An error kind
    /// without hints becomes an environment error saying the same; an
    /// interrupt stays an interrupt (its exit code matters more).
    pub fn with_hint(self, extra: String) -> Self {
        let join = |h: Option<String>| Some(h.map_or(extra.clone(), |h| format!("{h}\n{extra}")));
        match self {
            Error::Usage { message, hint } => Error::Usage {
                message,
                hint: join(hint),
            },
            Error::Environment { message, hint } => Error::Environment {
                message,
                hint: join(hint),
            },
            Error::Tool {
                command,
                code,
                stderr,
                hint,
            } => Error::Tool {
                command,
                code,
                stderr,
                hint: join(hint),
            },
            e @ Error::Interrupted { .. } => e,
            e => Error::Environment {
                message: e.to_string(),
                hint: Some(extra),
            },
        }
    }

    pub fn env(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::Environment {
            message: message.into(),
            hint,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Error::UnknownLab { name, known } => {
                let mut h = vec![format!(
                    "shipped labs: {}; or give a path to a lab file (with a `/` or ending in .toml)",
                    known.join(", ")
                )];
                if std::path::Path::new(name).is_file() {
                    h.push(format!("a bare name means a shipped lab; for the file in this folder write ./{name}"));
                }
                h
            }
            Error::UnreadableLab { .. } => vec!["a lab is a shipped lab's name (`labctl list`) or a path to a lab file".into()],
            Error::Usage { hint, .. } | Error::Environment { hint, .. } | Error::Tool { hint, .. } => {
                hint.iter().cloned().collect()
            }
            Error::Locked { .. } => vec!["wait for it to finish; a lock left by a killed process is taken over automatically".into()],
            _ => vec![],
        }
    }

    /// Headline, causes, the body of multi-line errors, and hints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            // Diagnostics already carry their own `error:` headlines.
            Error::Invalid { rendered, .. } => {
                out.push_str(rendered);
                out.push_str(&format!("error: {self}\n"));
            }
            _ => {
                out.push_str(&format!("error: {self}\n"));
                let mut source = std::error::Error::source(self);
                while let Some(s) = source {
                    out.push_str(&format!("  caused by: {s}\n"));
                    source = s.source();
                }
                if let Error::Tool { stderr, .. } = self {
                    let tail: Vec<&str> = stderr.trim_end().lines().collect();
                    let start = tail.len().saturating_sub(15);
                    if !tail.is_empty() {
                        out.push_str("  stderr (last lines):\n");
                        for l in &tail[start..] {
                            out.push_str(&format!("    {l}\n"));
                        }
                    }
                }
            }
        }
        for h in self.hints() {
            out.push_str(&format!("  hint: {h}\n"));
        }
        out
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
