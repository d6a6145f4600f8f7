//! Helpers for end-to-end tests: run the built binary, and snapshot the host's
//! resources so cleanup is proven by comparing before and after.
#![allow(dead_code)]

pub mod minitest;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// End-to-end tests share one Docker engine and compare whole-host snapshots,
/// so the tests of one binary run one at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_labctl")
}

/// Run labctl in `dir`; returns the output (stdout, stderr, status).
pub fn labctl(dir: &Path, args: &[&str]) -> Output {
    labctl_env(dir, args, &[])
}

/// The secret the e2e fixture lab passes to its role (a canary: it must never
/// appear on the host outside this process's environment).
pub const CANARY: &str = "canary-7f3a9c1e-do-not-leak";

pub fn labctl_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args)
        .current_dir(dir)
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .env("LABCTL_E2E_TOKEN", CANARY);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run labctl");
    eprintln!(
        "$ labctl {}\n--- exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        tail(&String::from_utf8_lossy(&out.stderr), 60)
    );
    out
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A command's stderr, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Append a `file` check to the lab file at `lab` that fails within 3 s: web1
/// has no `path`. The broken case of the tests that run several labs.
pub fn add_failing_file_check(lab: &Path, path: &str) {
    let mut text = std::fs::read_to_string(lab).unwrap();
    text.push_str(&format!(
        "\n[[check]]\nname = \"a file that is not there\"\nkind = \"file\"\ntimeout = \"3s\"\n\
         node = \"web1\"\npath = \"{path}\"\n"
    ));
    std::fs::write(lab, text).unwrap();
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "labctl failed: {}",
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh folder for one test's lab and its `.labctl` state, removed when
/// dropped; the prefix says which test left it if a run is killed.
pub fn workdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

/// Copy a fixture lab (lab file and provision/) into a fresh temp dir.
pub fn fixture_lab(name: &str) -> (tempfile::TempDir, PathBuf) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let tmp = workdir("labctl-e2e-");
    copy_dir(&src, tmp.path());
    let lab = tmp.path().join("lab.toml");
    (tmp, lab)
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// What a lab can leave behind on the host.
#[derive(Debug, PartialEq, Eq)]
pub struct HostSnapshot {
    pub containers: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
    pub loop_devices: BTreeSet<String>,
    pub mounts: BTreeSet<String>,
    pub processes: BTreeSet<String>,
    /// Vagrant's forwarded-port leases (a killed `vagrant up` leaves them).
    pub port_leases: BTreeSet<String>,
}

fn lines(s: String) -> BTreeSet<String> {
    s.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Snapshot the host; `needle` selects processes that refer to the lab
/// (its name or state dir appears in their command line).
pub fn snapshot(needles: &[&str]) -> HostSnapshot {
    let procs = sh("ps -eo pid=,args=");
    // A process refers to the lab when its command line names it or its working
    // directory is inside a lab folder (vagrant runs in the state dir).
    let cwd_in = |pid: &str| {
        std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|p| {
                needles
                    .iter()
                    .any(|n| n.starts_with('/') && p.starts_with(n))
            })
            .unwrap_or(false)
    };
    let me = std::process::id().to_string();
    let processes = procs
        .lines()
        .filter(|l| {
            let pid = l.split_whitespace().next().unwrap_or("");
            pid != me && (needles.iter().any(|n| l.contains(n)) || cwd_in(pid))
        })
        .filter(|l| !l.contains("ps -eo") && !l.contains("cargo") && !l.contains("/deps/"))
        .map(|l| {
            l.trim()
                .split_once(' ')
                .map(|x| x.1)
                .unwrap_or("")
                .to_string()
        })
        .collect();
    HostSnapshot {
        containers: lines(sh("docker ps -aq --no-trunc")),
        networks: lines(sh("docker network ls -q --no-trunc")),
        volumes: lines(sh("docker volume ls -q")),
        loop_devices: lines(sh("losetup -a -n -O NAME,BACK-FILE 2>/dev/null"))
            .into_iter()
            .filter(|l| lab_owned(l, needles))
            .collect(),
        mounts: lines(sh("cut -d' ' -f2 /proc/mounts"))
            .into_iter()
            .filter(|m| lab_owned(m, needles))
            .collect(),
        processes,
        port_leases: lines(sh(
            "ls \"${VAGRANT_HOME:-$HOME/.vagrant.d}/data/fp-leases\" 2>/dev/null",
        )),
    }
}

/// Loop devices and mounts a lab can leave: its disks (backed by files in a
/// `.labctl/` state dir), Docker's container mounts, and anything under the
/// test's own folders. Other mounts and loop devices on the host (a box build
/// running beside the tests, say) are not the lab's and are left out of the
/// comparison, so the tests stay true on a busy machine.
fn lab_owned(line: &str, needles: &[&str]) -> bool {
    line.contains("/.labctl/")
        || line.contains("labctl")
        || line.contains("/var/lib/docker/")
        || line.contains("/run/docker/")
        || needles
            .iter()
            .any(|n| n.starts_with('/') && line.contains(n))
}

pub fn assert_clean(before: &HostSnapshot, after: &HostSnapshot) {
    assert_eq!(
        before.containers, after.containers,
        "containers left behind"
    );
    assert_eq!(before.networks, after.networks, "networks left behind");
    assert_eq!(before.volumes, after.volumes, "volumes left behind");
    assert_eq!(
        before.loop_devices, after.loop_devices,
        "loop devices left behind"
    );
    assert_eq!(before.mounts, after.mounts, "mounts left behind");
    assert_eq!(before.processes, after.processes, "processes left behind");
    assert_eq!(
        before.port_leases, after.port_leases,
        "Vagrant port leases left behind"
    );
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Runs `labctl down ARGS...` when dropped, so a failing assertion does not
/// leave a lab running for the next test (or the next CI step).
pub struct DownGuard {
    pub dir: PathBuf,
    pub args: Vec<String>,
}

impl DownGuard {
    pub fn new(dir: &Path, args: &[&str]) -> Self {
        DownGuard {
            dir: dir.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Drop for DownGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut a = vec!["down".to_string()];
            a.extend(self.args.clone());
            let _ = Command::new(bin()).args(&a).current_dir(&self.dir).output();
        }
    }
}

/// One shipped role's file edited on one node, for [`drift_is_repaired`].
pub struct Drift<'a> {
    pub node: &'a str,
    pub role: &'a str,
    pub path: &'a str,
    /// Shell run on the node as root to edit `path` (e.g. `echo x >>"$1"`);
    /// `$1` is the path.
    pub edit: &'a str,
}

/// Status of each (node, role) in a `provision --json` report.
pub fn provision_statuses(p: &serde_json::Value) -> Vec<(String, String, String)> {
    p["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["node"].as_str().unwrap().to_string(),
                t["role"].as_str().unwrap().to_string(),
                t["outcome"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The idempotence gate: a provision of a provisioned lab reports every role
/// `unchanged` (or `skipped`, a role that does not apply); an `unreported`
/// role fails it (issue 10.10).
pub fn assert_idempotent(dir: &Path, lab: &str) {
    let p = json(&labctl(dir, &["provision", lab, "--json"]));
    let all = provision_statuses(&p);
    // A provision that ran no role (or skipped them all) says nothing about
    // idempotence: it must have measured at least one role unchanged.
    assert!(
        all.iter().any(|(_, _, s)| s == "unchanged"),
        "second provision of {lab} measured no role: {all:?}"
    );
    let not: Vec<_> = all
        .into_iter()
        .filter(|(_, _, s)| s != "unchanged" && s != "skipped")
        .collect();
    assert!(
        not.is_empty(),
        "second provision of {lab}: not unchanged: {not:?}"
    );
}

/// Drift of every role that writes files (issue 10.10): edit one file of each
/// given role, provision once, and require exactly those (node, role) pairs to
/// report `changed`, every other role `unchanged`, and each file to be put back
/// (its sha256 as before the edit).
pub fn drift_is_repaired(dir: &Path, lab: &str, drifts: &[Drift]) {
    let sum = |d: &Drift| {
        ok(&labctl(
            dir,
            &["exec", lab, d.node, "--", "sudo", "sha256sum", d.path],
        ))
    };
    let sums: Vec<String> = drifts.iter().map(sum).collect();
    for (d, before) in drifts.iter().zip(&sums) {
        ok(&labctl(
            dir,
            &[
                "exec",
                lab,
                d.node,
                "--",
                "sudo",
                "sh",
                "-c",
                d.edit,
                "labctl-drift",
                d.path,
            ],
        ));
        assert_ne!(&sum(d), before, "{} on {} was not edited", d.path, d.node);
    }
    let p = json(&labctl(dir, &["provision", lab, "--json"]));
    for (node, role, status) in provision_statuses(&p) {
        let drifted = drifts.iter().any(|d| d.node == node && d.role == role);
        let want = match (drifted, status.as_str()) {
            (true, _) => "changed",
            (false, "skipped") => "skipped",
            (false, _) => "unchanged",
        };
        assert_eq!(
            status,
            want,
            "{node}:{role} after drift of {:?}\n{p}",
            drifts.iter().map(|d| d.path).collect::<Vec<_>>()
        );
    }
    for (d, before) in drifts.iter().zip(&sums) {
        assert_eq!(
            &sum(d),
            before,
            "{} on {} was not put back by {}",
            d.path,
            d.node,
            d.role
        );
    }
}

/// Write an executable `/bin/sh` stand-in `name` with `body` into `bin`: the
/// role-script tests put these first on PATH in place of a node's commands.
pub fn write_stub(bin: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = bin.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}
