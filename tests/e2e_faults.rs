//! Fault injection, end to end on the docker provider: labctl killed or
//! interrupted while bringing a lab up, a role failing half way, a node that
//! stops answering, resources removed behind labctl's back, locks, corrupt
//! state files, a lab whose network vanished, iperf3 missing. Each ends with
//! the host compared before and after.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LAB: &str = "faults";
const NET: &str = "labctl-faults";

/// The fault fixture with its placeholders filled in.
fn write_lab(dir: &Path, slow: u32, fail_at: u32) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faults");
    copy_dir(&src.join("provision"), &dir.join("provision"));
    let text = std::fs::read_to_string(src.join("lab.toml"))
        .unwrap()
        .replace("@SLOW@", &slow.to_string())
        .replace("@FAIL@", &fail_at.to_string());
    let lab = dir.join("lab.toml");
    std::fs::write(&lab, text).unwrap();
    lab
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("spawned.err")).unwrap())
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait for a point in a spawned `labctl` run; fail at once, with its stderr,
/// if it ends before getting there.
fn wait_for_point(child: &mut Child, dir: &Path, what: &str, mut f: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(900), || {
        if f() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "labctl ended ({status}) before {what}:\n{}",
                std::fs::read_to_string(dir.join("spawned.err")).unwrap_or_default()
            );
        }
        false
    });
}

fn network_exists() -> bool {
    Command::new("docker")
        .args(["network", "inspect", NET])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn containers_exist() -> bool {
    !sh(&format!("docker ps -aq --filter label=labctl.lab={LAB}"))
        .trim()
        .is_empty()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn needles(dir: &Path) -> Vec<String> {
    vec![NET.to_string(), dir.to_str().unwrap().to_string()]
}

fn snap(dir: &Path) -> HostSnapshot {
    let n = needles(dir);
    snapshot(&n.iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

#[test]
fn sigkill_during_up_then_down_leaves_nothing() {
    let _g = serial();
    type Point = (&'static str, fn(&Path) -> bool);
    let points: [Point; 3] = [
        ("after the network exists", |_| network_exists()),
        ("while containers start", |_| containers_exist()),
        ("in the middle of provisioning", |d| {
            std::fs::read_to_string(d.join(".labctl/faults/logs/node1.log"))
                .map(|t| t.contains("step 1/2 wait"))
                .unwrap_or(false)
        }),
    ];
    for (what, reached) in points {
        let tmp = workdir("labctl-e2e-kill-");
        let dir = tmp.path();
        let lab = write_lab(dir, 30, 0);
        let lab = lab.to_str().unwrap();
        let _down = DownGuard::new(dir, &[lab]);
        let before = snap(dir);
        let mut child = spawn(dir, &["up", lab, "--provider", "docker"]);
        wait_for_point(&mut child, dir, what, || reached(dir));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The state file is readable after the kill (written atomically).
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(".labctl/faults/state.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(state["lab"], LAB, "{what}");
        let out = labctl(dir, &["down", lab]);
        assert!(out.status.success(), "down after SIGKILL {what}");
        assert_clean(&before, &snap(dir));
    }
}

#[test]
fn ctrl_c_during_up_stops_children_and_cleans_up() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-int-");
    let dir = tmp.path();
    let lab = write_lab(dir, 30, 0);
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab]);
    let before = snap(dir);
    let mut child = spawn(dir, &["up", lab, "--provider", "docker"]);
    wait_for_point(&mut child, dir, "containers", containers_exist);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = std::fs::read_to_string(dir.join("spawned.err")).unwrap();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted during"), "names the phase: {err}");
    // It says what it removed and that it read the host again after (issue 10.9).
    assert!(err.contains("cleanup: removed "), "{err}");
    assert!(
        err.contains("nothing of lab faults is left on this host (read again after the cleanup)"),
        "{err}"
    );
    // Without any `down`: the run removed what it created.
    assert_clean(&before, &snap(dir));
}

#[test]
fn failing_role_is_named_and_recoverable() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-fail-");
    let dir = tmp.path();
    let lab = write_lab(dir, 0, 3);
    let lab_s = lab.to_str().unwrap().to_string();
    let lab = lab_s.as_str();
    let _down = DownGuard::new(dir, &[lab]);
    let before = snap(dir);
    let out = labctl(
        dir,
        &["up", lab, "--provider", "docker", "--keep-on-failure"],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("node node1, role flaky, step 3/5: exit 1"),
        "{err}"
    );
    assert!(
        err.contains("failing at part 3 on purpose"),
        "stderr tail shown: {err}"
    );
    // The other node's provisioning finished and is reported.
    assert!(
        err.lines()
            .any(|l| l.starts_with("node2") && l.contains("flaky") && l.contains("changed")),
        "{err}"
    );
    // Fix the role's input and provision again: it completes.
    write_lab(dir, 0, 0);
    let out = labctl(dir, &["provision", lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    ok(&labctl(dir, &["down", lab]));
    assert_clean(&before, &snap(dir));
}

#[test]
fn running_lab_faults() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-run-");
    let dir = tmp.path();
    let lab = write_lab(dir, 0, 0);
    let lab_s = lab.to_str().unwrap().to_string();
    let lab = lab_s.as_str();
    let _down = DownGuard::new(dir, &[lab]);
    let before = snap(dir);
    ok(&labctl(dir, &["up", lab, "--provider", "docker"]));

    // A busy iperf3 port: labctl picks another free one.
    ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "node2",
            "--",
            "sh",
            "-c",
            // Wait (bounded) until the port really listens, or the bench
            // could start before it and test nothing.
            "nohup python3 -m http.server 5201 >/dev/null 2>&1 & i=0; \
             until python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 5201), 1)' 2>/dev/null; do \
             i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done",
        ],
    ));
    let out = labctl(dir, &["bench", lab, "--rounds", "1", "--duration", "1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "busy port avoided: {}",
        stderr(&out)
    );
    // iperf3 missing on the server: "could not run" (exit 3), not a ratio verdict.
    ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "node2",
            "--",
            "sudo",
            "mv",
            "/usr/bin/iperf3",
            "/usr/bin/iperf3.off",
        ],
    ));
    let out = labctl(dir, &["bench", lab, "--rounds", "1", "--duration", "1"]);
    assert_eq!(out.status.code(), Some(3));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        all.contains("could not") && all.contains("scenario raw"),
        "{all}"
    );
    ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "node2",
            "--",
            "sudo",
            "mv",
            "/usr/bin/iperf3.off",
            "/usr/bin/iperf3",
        ],
    ));

    // A node whose host key changed after first contact: refused, naming it.
    let kh_path = dir.join(".labctl/faults/known_hosts");
    let kh = std::fs::read_to_string(&kh_path).unwrap();
    let key_of = |alias: &str| {
        kh.lines()
            .find(|l| l.starts_with(alias))
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .unwrap()
    };
    let forged: String = kh
        .lines()
        .map(|l| {
            if l.starts_with("labctl-faults-node1 ") {
                format!("labctl-faults-node1 {}\n", key_of("labctl-faults-node2 "))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&kh_path, forged).unwrap();
    let out = labctl(dir, &["exec", lab, "node1", "--", "true"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("node node1: its SSH host key changed"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&kh_path, &kh).unwrap();
    ok(&labctl(dir, &["exec", lab, "node1", "--", "true"]));

    // A node that stops answering: bounded, and the error names node and address.
    let c1 = format!("labctl-{LAB}-node1");
    assert!(Command::new("docker")
        .args(["pause", &c1])
        .status()
        .unwrap()
        .success());
    let t = Instant::now();
    let out = labctl(dir, &["exec", lab, "node1", "--", "true"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        t.elapsed() < Duration::from_secs(120),
        "no hang: {:?}",
        t.elapsed()
    );
    let err = stderr(&out);
    assert!(
        err.contains("node node1") && err.contains("127.0.0.1:"),
        "{err}"
    );
    let out = labctl(dir, &["provision", lab, "--node", "node1"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("node node1"), "{}", stderr(&out));
    assert!(Command::new("docker")
        .args(["unpause", &c1])
        .status()
        .unwrap()
        .success());

    // The lab's network removed by hand: test and bench refuse (exit 3) before
    // sending anything toward lab addresses.
    for c in ["node1", "node2"] {
        Command::new("docker")
            .args([
                "network",
                "disconnect",
                "-f",
                NET,
                &format!("labctl-{LAB}-{c}"),
            ])
            .status()
            .unwrap();
    }
    assert!(Command::new("docker")
        .args(["network", "rm", NET])
        .status()
        .unwrap()
        .success());
    for args in [vec!["test", lab], vec!["bench", lab, "--rounds", "1"]] {
        let out = labctl(dir, &args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("network safety"), "{err}");
        assert!(
            !err.contains("PASS") && !err.contains("round 1"),
            "nothing was sent: {err}"
        );
    }

    // Containers removed by hand, then down twice: both succeed and say so.
    sh(&format!(
        "docker rm -f $(docker ps -aq --filter label=labctl.lab={LAB})"
    ));
    let out = labctl(dir, &["down", lab]);
    assert!(out.status.success());
    let out = labctl(dir, &["down", lab]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("already down"), "{}", stderr(&out));
    assert_clean(&before, &snap(dir));
}

#[test]
fn second_up_fails_at_once_and_stale_lock_is_taken_over() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-lock-");
    let dir = tmp.path();
    let lab = write_lab(dir, 20, 0);
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab]);
    let before = snap(dir);
    let mut first = spawn(dir, &["up", lab, "--provider", "docker"]);
    wait_for_point(&mut first, dir, "the lock", network_exists);
    let t = Instant::now();
    let out = labctl(dir, &["up", lab, "--provider", "docker"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(t.elapsed() < Duration::from_secs(20), "fails at once");
    assert!(
        stderr(&out).contains(&format!("pid {}", first.id())),
        "names the holder: {}",
        stderr(&out)
    );
    first.wait().unwrap();
    ok(&labctl(dir, &["down", lab]));
    // A lock file left by a process that no longer exists is taken over.
    std::fs::create_dir_all(dir.join(".labctl/faults")).unwrap();
    std::fs::write(dir.join(".labctl/faults/lock"), "999999\n").unwrap();
    ok(&labctl(dir, &["down", lab]));
    assert_clean(&before, &snap(dir));
}

#[test]
fn corrupt_state_files_give_clear_errors() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-state-");
    let dir = tmp.path();
    let lab = write_lab(dir, 0, 0);
    let lab = lab.to_str().unwrap();
    let state = dir.join(".labctl/faults/state.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    // A state dir of labctl's (its marker) whose state file got damaged.
    std::fs::write(
        dir.join(".labctl/faults/.labctl-state-dir"),
        "labctl state dir\nlab = faults\n",
    )
    .unwrap();
    for (what, content) in [
        ("empty", ""),
        ("truncated", "{\"lab\": \"faults\", \"provider\": \"doc"),
        ("corrupt", "\u{0}\u{1}garbage"),
    ] {
        std::fs::write(&state, content).unwrap();
        for args in [
            vec!["provision", lab],
            vec!["status", lab],
            vec!["down", lab],
        ] {
            let out = labctl(dir, &args);
            assert_eq!(out.status.code(), Some(3), "{what} {args:?}");
            let err = stderr(&out);
            assert!(
                err.contains("state.json") && err.contains("--force"),
                "{what}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
        // The documented way out works.
        ok(&labctl(dir, &["down", lab, "--force"]));
    }
}

/// A state dir that recorded nothing finds its lab's network already on
/// Docker (another checkout's lab of the same name, or a killed run's
/// leftover): `up` refuses before making anything, and its failure cleanup
/// does not remove what it never created. CI once failed on exactly this
/// (containers of a killed run collided by name, and up's cleanup then swept
/// them by label).
#[test]
fn up_refuses_a_lab_it_did_not_create_and_leaves_it_alone() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-foreign-");
    let dir = tmp.path();
    let lab = write_lab(dir, 0, 0);
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab, "--force"]);
    let before = snap(dir);
    let made = Command::new("docker")
        .args([
            "network",
            "create",
            "--label",
            &format!("labctl.lab={LAB}"),
            NET,
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let out = labctl(dir, &["up", lab, "--provider", "docker"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("network {NET}")) && err.contains("did not create"),
        "names what it found: {err}"
    );
    assert!(
        err.contains("--force"),
        "says how to remove a leftover: {err}"
    );
    assert!(network_exists(), "what up did not create is left alone");
    assert!(
        !dir.join(".labctl/faults/state.json").exists(),
        "nothing recorded"
    );
    // `down --force` is the way to remove a leftover labelled as the lab.
    ok(&labctl(dir, &["down", lab, "--force"]));
    assert!(!network_exists());
    assert_clean(&before, &snap(dir));
}
