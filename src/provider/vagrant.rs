//! The `vagrant` CLI, shared by every provider: up, ssh-config, status, halt,
//! destroy. Commands run in the lab's state dir, where the Vagrantfile is.

use crate::error::Result;
use crate::exec::{Cmd, Output, Runner};
use crate::provider::Kind;
use std::path::Path;

fn vagrant(dir: &Path) -> Cmd {
    // No update checks against the network; labctl runs offline.
    Cmd::new("vagrant")
        .dir(dir)
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .env("VAGRANT_NO_COLOR", "1")
}

pub fn up(
    runner: &dyn Runner,
    dir: &Path,
    kind: Kind,
    nodes: &[String],
    parallel: bool,
) -> Result<Output> {
    // A libvirt `up` may upload the box's base volume before any disk is based
    // on it: `labctl image build`'s prune waits while this shared lock is held.
    let _box_in_use = match kind {
        Kind::Libvirt => Some(super::boxes::use_lock()?),
        _ => None,
    };
    let mut c = vagrant(dir).args(["up", "--no-provision", "--provider", &kind.to_string()]);
    c = c.arg(if parallel {
        "--parallel"
    } else {
        "--no-parallel"
    });
    c = c.args(nodes.iter().cloned());
    let out = runner.stream(&c)?;
    if !out.success() {
        return Err(crate::error::Error::Tool {
            command: c.display(),
            code: out.code,
            stderr: out.stderr,
            hint: Some(format!(
                "the Vagrant log is above; the rendered Vagrantfile is in {}",
                dir.display()
            )),
        });
    }
    Ok(out)
}

/// `vagrant ssh-config NODE...`: with the names, one machine that was never
/// created (a node left out of a partial `up`) does not fail the others.
pub fn ssh_config(runner: &dyn Runner, dir: &Path, nodes: &[String]) -> Result<String> {
    Ok(runner
        .run(&vagrant(dir).arg("ssh-config").args(nodes.iter().cloned()))?
        .stdout)
}

/// `vagrant status --machine-readable` as (machine, state) pairs.
pub fn status(runner: &dyn Runner, dir: &Path) -> Result<Vec<(String, String)>> {
    let out = runner.run(&vagrant(dir).args(["status", "--machine-readable"]))?;
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() >= 4 && f[2] == "state").then(|| (f[1].to_string(), f[3].to_string()))
        })
        .collect())
}

pub fn halt(runner: &dyn Runner, dir: &Path, nodes: &[String]) -> Result<Output> {
    runner.run(&vagrant(dir).arg("halt").args(nodes.iter().cloned()))
}

/// `vagrant destroy -f NODE...`: remove these machines only (`up --recreate`).
pub fn destroy_nodes(runner: &dyn Runner, dir: &Path, nodes: &[String]) -> Result<Output> {
    runner.run(
        &vagrant(dir)
            .args(["destroy", "-f"])
            .args(nodes.iter().cloned()),
    )
}

/// `vagrant destroy -f`; its exit code is returned, not an error: `down`
/// sweeps what it leaves by label or name afterwards anyway.
pub fn destroy(runner: &dyn Runner, dir: &Path) -> Result<Output> {
    runner.output(&vagrant(dir).args(["destroy", "-f"]))
}

/// What `vagrant snapshot` is asked to do, on every machine of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotVerb {
    Save,
    Restore,
    Delete,
}

/// `vagrant snapshot save|restore|delete NAME` on every machine. A restore
/// does not provision: the snapshot is the provisioned state.
pub fn snapshot(runner: &dyn Runner, dir: &Path, verb: SnapshotVerb, name: &str) -> Result<Output> {
    let c = vagrant(dir).arg("snapshot");
    let c = match verb {
        SnapshotVerb::Save => c.args(["save", "--force", name]),
        SnapshotVerb::Restore => c.args(["restore", "--no-provision", name]),
        SnapshotVerb::Delete => c.args(["delete", name]),
    };
    runner.run(&c)
}

/// `vagrant snapshot list`: the snapshot names of each machine, by machine.
pub fn snapshot_list(
    runner: &dyn Runner,
    dir: &Path,
) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
    let out = runner.run(&vagrant(dir).args(["snapshot", "list"]))?;
    Ok(parse_snapshot_list(&out.stdout))
}

/// Vagrant prints `==> MACHINE: ` then one snapshot name a line (or a
/// sentence saying there are none, which is not a name: it has spaces).
fn parse_snapshot_list(text: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut by_machine = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("==> ") {
            let machine = rest.split(':').next().unwrap_or("").trim().to_string();
            by_machine.entry(machine.clone()).or_default();
            current = Some(machine);
        } else if let Some(m) = &current {
            let name = line.trim();
            if !name.is_empty() && !name.contains(' ') {
                by_machine
                    .entry(m.clone())
                    .or_default()
                    .push(name.to_string());
            }
        }
    }
    by_machine
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_list_is_read_per_machine() {
        let text = "==> web1: \nprovisioned\nbefore-upgrade\n==> web2: \nNo snapshots have been taken yet!\n";
        let m = parse_snapshot_list(text);
        assert_eq!(m["web1"], vec!["provisioned", "before-upgrade"]);
        assert!(m["web2"].is_empty());
    }
}
