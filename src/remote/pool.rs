//! [`SshShell`]: the [`NodeShell`] of real runs, one SSH session per node.

use super::{Conn, ExecResult, NodeShell, Target};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Runs commands on nodes over SSH: one session per node, opened on first use
/// and reused; calls on one node are serialized.
pub struct SshShell {
    targets: BTreeMap<String, Target>,
    conns: BTreeMap<String, Mutex<Option<Conn>>>,
}

impl SshShell {
    pub fn new(targets: BTreeMap<String, Target>) -> Self {
        let conns = targets
            .keys()
            .map(|k| (k.clone(), Mutex::new(None)))
            .collect();
        SshShell { targets, conns }
    }
}

impl NodeShell for SshShell {
    fn run(&self, node: &str, cmd: &str, timeout: Duration) -> Result<ExecResult> {
        let (Some(t), Some(slot)) = (self.targets.get(node), self.conns.get(node)) else {
            return Err(Error::usage(format!(
                "no running node `{node}` in this lab"
            )));
        };
        let mut g = slot.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(Conn::connect(t, Duration::from_secs(15))?);
        }
        let res = g.as_ref().unwrap().run(cmd, timeout);
        if res.is_err() {
            // A broken session is dropped; the next attempt reconnects.
            *g = None;
        }
        res
    }
}
