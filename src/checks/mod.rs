//! Running a lab's `[[check]]`s (docs/lab-file.md): every kind retries until it
//! passes or its timeout elapses (retry-until-healthy), then reports the last
//! failure. Commands run on nodes through a
//! [`NodeShell`](crate::remote::NodeShell) (SSH in production, a scripted fake
//! in tests); host-side HTTP goes through a [`HostHttp`].
//!
//! Rules every kind follows:
//! - The node-side scripts are files (`checks/scripts/`, included with
//!   `include_str!`); values from the lab file reach them only as quoted
//!   arguments ([`crate::shell::sh_args`]), never spliced into script text.
//!   Each runs under `sh -c`, so the node user's login shell does not matter.
//!   `command` checks are the exception: `run` *is* a shell command and is sent
//!   as written, as the SSH user.
//! - Node-side output that labctl reads is cut with marker lines
//!   ([`crate::remote::marker`]).
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
//!
//! The room: [`engine`] retries and runs checks in parallel; one file per
//! kind (`http`, `port`, `command`, `file`, `cron`, `service`, `reach`,
//! `disk`) builds that kind's node-side command and judges its output;
//! [`http_client`] is the host-side HTTP client; [`pace`] scales the lab's
//! check timeouts to the speed of its nodes (emulated VMs: longer).

pub mod engine;
pub mod http_client;
pub mod pace;

mod command;
mod cron;
pub mod disk;
mod file;
mod http;
mod port;
mod reach;
mod service;

#[cfg(test)]
pub(crate) mod testing;

pub use engine::{run_all, run_check, CheckEvent, CheckResult, Settle, MAX_PARALLEL, SETTLE};
pub use http_client::{HostHttp, StdHttp};
