//! Helpers for end-to-end tests: run the built binary, and snapshot the host's
//! resources so cleanup is proven by comparing before and after.
#![allow(dead_code)]

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
    let out = Command::new(bin()).args(args).current_dir(dir).env("VAGRANT_CHECKPOINT_DISABLE", "1").output().expect("run labctl");
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

pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "labctl failed: {}", tail(&String::from_utf8_lossy(&out.stderr), 40));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copy a fixture lab (lab file and provision/) into a fresh temp dir.
pub fn fixture_lab(name: &str) -> (tempfile::TempDir, PathBuf) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let tmp = tempfile::Builder::new().prefix("labctl-e2e-").tempdir().unwrap();
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
}

fn lines(s: String) -> BTreeSet<String> {
    s.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

/// Snapshot the host; `needle` selects processes that refer to the lab
/// (its name or state dir appears in their command line).
pub fn snapshot(needles: &[&str]) -> HostSnapshot {
    let procs = sh("ps -eo pid=,args=");
    let processes = procs
        .lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .filter(|l| !l.contains("ps -eo") && !l.contains("cargo") && !l.contains("/deps/"))
        .map(|l| l.trim().splitn(2, ' ').nth(1).unwrap_or("").to_string())
        .collect();
    HostSnapshot {
        containers: lines(sh("docker ps -aq --no-trunc")),
        networks: lines(sh("docker network ls -q --no-trunc")),
        volumes: lines(sh("docker volume ls -q")),
        loop_devices: lines(sh("losetup -a -n -O NAME,BACK-FILE 2>/dev/null")),
        mounts: lines(sh("cut -d' ' -f2 /proc/mounts")),
        processes,
    }
}

pub fn assert_clean(before: &HostSnapshot, after: &HostSnapshot) {
    assert_eq!(before.containers, after.containers, "containers left behind");
    assert_eq!(before.networks, after.networks, "networks left behind");
    assert_eq!(before.volumes, after.volumes, "volumes left behind");
    assert_eq!(before.loop_devices, after.loop_devices, "loop devices left behind");
    assert_eq!(before.mounts, after.mounts, "mounts left behind");
    assert_eq!(before.processes, after.processes, "processes left behind");
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}
