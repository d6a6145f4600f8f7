//! Reaching lab nodes: one SSH connection ([`Conn`]), the [`NodeShell`] seam
//! that checks and bench run commands through, its SSH implementation
//! ([`SshShell`], one session per node), the lab's own `ssh_config`, and the
//! one in-band protocol of node-side output ([`marker`]).

mod conn;
pub mod marker;
mod pool;
pub mod ssh_config;

pub use conn::{forget_host, Conn, ExecResult, Target};
pub use pool::SshShell;

use std::time::Duration;

/// Runs shell commands on lab nodes (over SSH in production, a scripted fake
/// in tests).
///
/// The check engine calls it from several threads at once, possibly for the
/// same node: an implementation over one [`Conn`] per node must serialize
/// calls per connection (the SSH session toggles blocking mode per exec).
pub trait NodeShell: Sync {
    fn run(&self, node: &str, cmd: &str, timeout: Duration) -> crate::Result<ExecResult>;
}
