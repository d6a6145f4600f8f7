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

/// `vagrant up --no-provision` of `nodes`; `on_finished` is called with each
/// machine's name as Vagrant says it is done with it, while it may still be
/// making the others.
pub fn up(
    runner: &dyn Runner,
    dir: &Path,
    kind: Kind,
    nodes: &[String],
    parallel: bool,
    on_finished: &(dyn Fn(&str) + Sync),
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
    let on_line = |line: &str| {
        if let Some(m) = finished_machine(line) {
            on_finished(m);
        }
    };
    let mut out = runner.stream_lines(&c, &on_line)?;
    if !out.success() && docker_listing_race(kind, &out) {
        eprintln!(
            "labctl: Vagrant's docker provider failed inspecting a container it had just listed \
             (Docker's listing race, not this lab's fault); running `vagrant up` once more \
             for the machines it left uncreated"
        );
        out = runner.stream_lines(&c, &on_line)?;
    }
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

/// The machine a line of `vagrant up --no-provision` says is finished. Its
/// provisioning step is the last of `up` on every provider (it runs after
/// boot, SSH, the own key, hostname, networks and synced folders), and says
/// so for a machine that was already running too. Vagrant prints
/// `==> NODE: Machine not provisioned because `--no-provision` is specified.`
fn finished_machine(line: &str) -> Option<&str> {
    let (machine, said) = line.strip_prefix("==> ")?.split_once(": ")?;
    said.starts_with("Machine not provisioned because `--no-provision`")
        .then_some(machine)
        .filter(|m| !m.is_empty() && !m.contains(' '))
}

/// Did `vagrant up` on docker fail only because a container vanished under
/// Vagrant's port scan? Before creating a machine, Vagrant's docker provider
/// lists every container on the host (`docker ps -a`) and inspects each one to
/// find ports in use; one that is gone (or not yet inspectable) by then fails the
/// whole `up` with `No such object`, though nothing is wrong with the lab. It hit
/// CI twice (a different node each time) and never reproduced on demand. The
/// failed machine is left in Vagrant's `preparing` state, which a second `up`
/// creates; the machines that did come up are left as they are.
fn docker_listing_race(kind: Kind, out: &Output) -> bool {
    kind == Kind::Docker
        && out.stderr.contains(r#"["docker", "inspect","#)
        && out.stderr.contains("No such object")
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

    const RACE: &str = "A Docker command executed by Vagrant didn't complete successfully!\n\
        Command: [\"docker\", \"inspect\", \"992edcd4c299\", {:notify=>[:stdout, :stderr]}]\n\n\
        Stderr: Error: No such object: 992edcd4c299\n";

    fn failing(stderr: &str) -> Output {
        Output {
            code: Some(1),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    /// Recorded: the first `vagrant up` fails with the listing race, the second
    /// succeeds, and `up` returns that success after exactly two runs.
    #[test]
    fn docker_listing_race_is_retried_once() {
        let r = crate::exec::Recorder::default();
        r.once
            .lock()
            .unwrap()
            .push(("vagrant up".into(), failing(RACE)));
        let nodes = vec!["gitlab".to_string(), "web1".to_string()];
        up(
            &r,
            Path::new("/nonexistent"),
            Kind::Docker,
            &nodes,
            true,
            &|_| {},
        )
        .unwrap();
        let ups = r
            .lines()
            .iter()
            .filter(|l| l.starts_with("vagrant up"))
            .count();
        assert_eq!(ups, 2);
    }

    /// Recorded: a race that happens twice, or any other failure, is reported
    /// after at most one more run.
    #[test]
    fn other_failures_are_not_retried() {
        for (stderr, want) in [(RACE, 2), ("Stderr: Error: No such image: labctl-node", 1)] {
            let r = crate::exec::Recorder::default();
            for _ in 0..2 {
                r.once
                    .lock()
                    .unwrap()
                    .push(("vagrant up".into(), failing(stderr)));
            }
            let nodes = vec!["gitlab".to_string()];
            let err = up(
                &r,
                Path::new("/nonexistent"),
                Kind::Docker,
                &nodes,
                true,
                &|_| {},
            )
            .unwrap_err();
            assert!(err.to_string().contains("vagrant up"), "{err}");
            let ups = r
                .lines()
                .iter()
                .filter(|l| l.starts_with("vagrant up"))
                .count();
            assert_eq!(ups, want, "{stderr}");
        }
        // Only Vagrant's docker provider has this scan.
        assert!(!docker_listing_race(Kind::Libvirt, &failing(RACE)));
    }

    /// The line Vagrant prints (docker and libvirt alike, VAGRANT_NO_COLOR)
    /// when it is done with a machine; the other lines of a machine are not.
    #[test]
    fn a_machine_is_finished_when_vagrant_skips_its_provisioning() {
        let done = "==> node2: Machine not provisioned because `--no-provision` is specified.";
        assert_eq!(finished_machine(done), Some("node2"));
        for line in [
            "==> node2: Machine booted and ready!",
            "    node2: Machine not provisioned because `--no-provision` is specified.",
            "==> node2: Waiting for machine to boot. This may take a few minutes...",
            "Bringing machine 'node2' up with 'docker' provider...",
            "",
        ] {
            assert_eq!(finished_machine(line), None, "{line}");
        }
    }

    /// Recorded: each machine is handed over as its line comes, in the order
    /// Vagrant finished them.
    #[test]
    fn up_names_machines_as_they_finish() {
        let r = crate::exec::Recorder::default();
        r.answer(
            "vagrant up",
            0,
            "==> web2: Machine booted and ready!\n==> web2: Machine not provisioned because `--no-provision` is specified.\n==> web1: Machine not provisioned because `--no-provision` is specified.\n",
        );
        let seen = std::sync::Mutex::new(Vec::new());
        let nodes = vec!["web1".to_string(), "web2".to_string()];
        up(
            &r,
            Path::new("/nonexistent"),
            Kind::Virtualbox,
            &nodes,
            true,
            &|m| seen.lock().unwrap().push(m.to_string()),
        )
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec!["web2", "web1"]);
    }

    #[test]
    fn snapshot_list_is_read_per_machine() {
        let text = "==> web1: \nprovisioned\nbefore-upgrade\n==> web2: \nNo snapshots have been taken yet!\n";
        let m = parse_snapshot_list(text);
        assert_eq!(m["web1"], vec!["provisioned", "before-upgrade"]);
        assert!(m["web2"].is_empty());
    }
}
