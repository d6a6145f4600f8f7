//! Shipped checks run on this host as a node would run them, with stand-ins
//! for the node's tools (`sudo`, `grep`, `apt-config`, ...) on the PATH: each
//! case breaks the thing the check names and the check must fail.

use labctl::checks::{run_check, HostHttp, Settle};
use labctl::lab::Check;
use labctl::remote::{ExecResult, NodeShell};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs a check's command with `sh -c`, the stand-ins first on the PATH.
struct Local {
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl NodeShell for Local {
    fn run(&self, _node: &str, cmd: &str, _: Duration) -> labctl::Result<ExecResult> {
        let o = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        Ok(ExecResult {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        })
    }
}

struct NoHttp;
impl HostHttp for NoHttp {
    fn get(&self, url: &str, _: Duration) -> Result<(u16, String), String> {
        panic!("unexpected request to {url}")
    }
}

fn stub(bin: &Path, name: &str, body: &str) {
    let p = bin.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn shipped(lab: &str, name: &str) -> (labctl::lab::Lab, Check) {
    let loaded = labctl::load::load(lab).unwrap_or_else(|e| panic!("{}", e.render()));
    let c = loaded
        .lab
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{lab} has no check `{name}`"))
        .clone();
    (loaded.lab, c)
}

/// One attempt of the shipped check (a short timeout: the stand-ins answer at
/// once and the same way every time).
fn judge(lab: &labctl::lab::Lab, c: &Check, shell: &dyn NodeShell) -> labctl::checks::CheckResult {
    let c = Check {
        timeout: Duration::from_millis(200),
        interval: Duration::from_millis(50),
        ..c.clone()
    };
    run_check(&c, lab, shell, &NoHttp, Settle::settled(), &mut |_| {})
}

/// testnodes' "accepts no unsigned repository", with a stand-in recursive grep
/// (`GREP_R`: `none` finds nothing, `found` names a file, `unreadable` is
/// grep's exit 2) and a log of what ran under sudo.
fn unsigned_repo(grep_r: &str, config: &str) -> (labctl::checks::CheckResult, String) {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = tmp.path().join("sudo.log");
    stub(
        &bin,
        "sudo",
        &format!(
            "[ \"$1\" = -n ] && shift; echo \"$*\" >>'{}'; exec \"$@\"",
            log.display()
        ),
    );
    stub(
        &bin,
        "grep",
        "case \"$1\" in -r*) ;; *) exec /bin/grep \"$@\" ;; esac
case $GREP_R in
none) exit 1 ;;
found) echo /etc/apt/sources.list.d/x.list; exit 0 ;;
unreadable) echo 'grep: /etc/apt/auth.conf.d/lab.conf: Permission denied' >&2; exit 2 ;;
esac",
    );
    stub(&bin, "apt-config", "printf '%s\\n' \"$CONFIG\"");
    let shell = Local {
        bin,
        env: vec![
            ("GREP_R".into(), grep_r.into()),
            ("CONFIG".into(), config.into()),
        ],
    };
    let (lab, c) = shipped("testnodes", "testnode1 accepts no unsigned repository");
    let r = judge(&lab, &c, &shell);
    (r, std::fs::read_to_string(&log).unwrap_or_default())
}

const SAFE_CONFIG: &str = "APT::Architecture \"amd64\";\nAcquire::AllowInsecureRepositories \"0\";";

#[test]
fn testnodes_unsigned_repository_check_passes_on_a_clean_node_reading_as_root() {
    let (r, sudo) = unsigned_repo("none", SAFE_CONFIG);
    assert!(r.passed, "{r:?}");
    assert!(
        sudo.contains("grep -rlIiE"),
        "/etc/apt is read as root: {sudo:?}"
    );
}

#[test]
fn testnodes_unsigned_repository_check_fails_when_a_file_cannot_be_read() {
    let (r, _) = unsigned_repo("unreadable", SAFE_CONFIG);
    assert!(!r.passed, "grep's exit 2 is not \"nothing found\": {r:?}");
    assert!(r.message.contains("grep exit 2"), "{}", r.message);
}

#[test]
fn testnodes_unsigned_repository_check_fails_on_trusted_yes_and_on_the_configuration() {
    let (r, _) = unsigned_repo("found", SAFE_CONFIG);
    assert!(!r.passed, "{r:?}");
    let (r, _) = unsigned_repo("none", "APT::Get::AllowUnauthenticated \"true\";");
    assert!(!r.passed, "{r:?}");
}

/// A workflow web node in a private mount namespace: this host's
/// /etc/cron.d, /var and /usr/local/sbin are replaced (for the node's
/// processes only; the stand-ins are laid over /usr/bin too) by folders holding the installed pull cron line, a
/// stand-in `ansible-pull` that does what `pull` says, `sudo`, the node's
/// `ansible-pull-check`, and a log an earlier run left ending in `failed=0`.
/// The namespace lives as long as the node (a holder process keeps it), so
/// what one check run records is there for the next, as on a real node. A
/// stand-in cron daemon (a process named `cron`) fires
/// /etc/cron.d/labctl-cron-probe like cron would (its variables, `/bin/sh
/// -c`), every 2 s while it is there; `stop_cron` ends it.
struct WebNode {
    tmp: tempfile::TempDir,
    holder: std::process::Child,
    /// Cron daemons `start_cron` started (waited for on drop).
    started: std::sync::Mutex<Vec<std::process::Child>>,
}

const PULL_LINE: &str = "*/3 * * * * root flock -n /var/lock/ansible-pull.lock ansible-pull -U http://192.168.57.2/centraladmin_web.git -d /var/lib/ansible/local -i /var/lib/ansible/local/inventory.ini -o >>/var/log/ansible-pull.log 2>&1";

const STAND_IN_CRON: &str = r#"#!/bin/bash
while :; do
    p=/etc/cron.d/labctl-cron-probe
    if [ -f $p ]; then
        mapfile -t e < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' $p)
        cmd=$(sed -n 's|^[*] [*] [*] [*] [*] root ||p' $p)
        env -i "${e[@]}" /bin/sh -c "$cmd"
        sleep 2
    fi
    sleep 0.2
done
"#;

const NAMESPACE: &str = r#"set -e
mount --bind "$R/etc/cron.d" /etc/cron.d
mount --bind "$R/var" /var
mount --bind "$R/sbin" /usr/local/sbin
# The stand-ins also in /usr/bin, where Debian puts ansible-pull and sudo.
mount -t overlay overlay -o "lowerdir=$R/sbin:/usr/bin" /usr/bin
/usr/local/sbin/cron </dev/null >/dev/null 2>&1 &
echo $! >"$R/cron.pid"
exec sleep infinity
"#;

impl WebNode {
    /// `cron_line`: the */3 line of /etc/cron.d/ansible-pull (None: missing);
    /// `pull`: the body of the stand-in ansible-pull.
    fn new(cron_line: Option<&str>, pull: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for d in [
            "etc/cron.d",
            "var/log",
            "var/lock",
            "var/lib/labctl",
            "sbin",
        ] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(
            r.join("etc/cron.d/ansible-pull"),
            format!(
                "# labctl role ansible-pull\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nPYTHONUNBUFFERED=1\n{}\n",
                cron_line.unwrap_or("")
            ),
        )
        .unwrap();
        std::fs::write(
            r.join("var/log/ansible-pull.log"),
            "PLAY RECAP *****\nweb2 : ok=7 changed=0 unreachable=0 failed=0\n",
        )
        .unwrap();
        let sbin = r.join("sbin");
        stub(&sbin, "ansible-pull", pull);
        stub(&sbin, "sudo", "[ \"$1\" = -n ] && shift; exec \"$@\"");
        std::fs::write(sbin.join("cron"), STAND_IN_CRON).unwrap();
        std::fs::copy(
            "provision/ansible-pull/pull-check.sh",
            sbin.join("ansible-pull-check"),
        )
        .unwrap();
        for f in ["ansible-pull-check", "cron"] {
            std::fs::set_permissions(sbin.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let holder = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "bash", "-c", NAMESPACE])
            .env("R", r)
            .spawn()
            .unwrap();
        let node = WebNode {
            tmp,
            holder,
            started: Default::default(),
        };
        wait_until(
            || {
                node.cron_pid().is_some()
                    && !std::fs::read_to_string(format!("/proc/{}/comm", node.holder.id()))
                        .is_ok_and(|c| c.trim() != "sleep")
            },
            "the node's namespace did not come up",
        );
        node
    }

    fn cron_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.tmp.path().join("cron.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Cron stops on the node (the daemon dies; nothing fires any more).
    fn stop_cron(&self) {
        let pid = self.cron_pid().unwrap();
        std::process::Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap();
        // Gone for good: no firing after this returns (its parent, the
        // holder's `sleep`, never reaps it: a zombie is gone too).
        let running = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'))
            })
        };
        while running() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Cron starts (again) on the node: a new daemon.
    fn start_cron(&self) {
        let child = std::process::Command::new("nsenter")
            .args([
                "-t",
                &self.holder.id().to_string(),
                "-m",
                "/usr/local/sbin/cron",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::fs::write(self.path("cron.pid"), child.id().to_string()).unwrap();
        self.started.lock().unwrap().push(child);
    }

    /// Run `cmd` on the node as root (`sh -c`), as the check's commands run.
    fn sh(&self, cmd: &str) -> std::process::Output {
        std::process::Command::new("nsenter")
            .args([
                "-t",
                &self.holder.id().to_string(),
                "-m",
                "/bin/sh",
                "-c",
                cmd,
            ])
            .env("PATH", "/usr/local/sbin:/usr/bin:/bin")
            .output()
            .unwrap()
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// Another pull (the */3 line in the same minute, the @reboot run) takes
    /// the pull lock on the node and holds it for 4 s; returns once it holds it.
    fn hold_pull_lock(&self) -> std::process::Child {
        let pull = std::process::Command::new("nsenter")
            .args(["-t", &self.holder.id().to_string(), "-m"])
            .args(["flock", "/var/lock/ansible-pull.lock", "sh", "-c"])
            .arg("touch /var/lib/labctl/held; sleep 4")
            .spawn()
            .unwrap();
        wait_until(
            || self.path("var/lib/labctl/held").exists(),
            "the lock was not taken",
        );
        pull
    }

    fn probe_left(&self) -> bool {
        self.path("etc/cron.d/labctl-cron-probe").exists()
    }

    /// What the role does when it provisions the node: arm the probe; then
    /// wait until (stand-in) cron has fired it, as it does within a minute
    /// of provisioning on a real node.
    fn arm_and_let_cron_fire(&self) {
        let o = self.sh("ansible-pull-check arm");
        assert!(
            o.status.success(),
            "arm: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // The firing records itself, then removes the probe.
        wait_until(
            || {
                !self.probe_left()
                    && std::fs::read_to_string(self.path("var/lib/labctl/cron-probe-status"))
                        .unwrap_or_default()
                        .contains(" fired ")
            },
            "the stand-in cron did not fire",
        );
    }
}

impl Drop for WebNode {
    fn drop(&mut self) {
        if let Some(pid) = self.cron_pid() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        for c in self.started.lock().unwrap().iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

impl NodeShell for WebNode {
    fn run(&self, _node: &str, cmd: &str, _: Duration) -> labctl::Result<ExecResult> {
        // The cron check's wait, shortened: the stand-in cron fires at once.
        let cmd = cmd.replace("ansible-pull-check cron 150", "ansible-pull-check cron 6");
        let o = self.sh(&cmd);
        Ok(ExecResult {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        })
    }
}

/// Wait (up to 10 s) until `what` holds; `why` names what did not happen.
fn wait_until(what: impl Fn() -> bool, why: &str) {
    let start = std::time::Instant::now();
    while !what() {
        assert!(start.elapsed() < Duration::from_secs(10), "{why}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn can_unshare() -> bool {
    std::process::Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

fn workflow_check(name: &str, node: &WebNode) -> labctl::checks::CheckResult {
    let (lab, c) = shipped("workflow", name);
    let r = judge(&lab, &c, node);
    eprintln!("{name}: {r:?}");
    r
}

const PULL_OK: &str =
    "echo 'PLAY RECAP *****'; echo 'web2 : ok=7 changed=1 unreachable=0 failed=0'";

#[test]
fn workflow_pull_line_check_runs_the_real_line_and_reads_only_this_run() {
    // Never skip into green: CI runs as root, where this works.
    assert!(
        can_unshare(),
        "this test needs root and mount namespaces (`unshare -m true` failed); run the tests as root, as .ci/run does"
    );
    let name = "the pull cron line works";
    let node = WebNode::new(Some(PULL_LINE), PULL_OK);
    assert!(workflow_check(name, &node).passed);

    // No */3 line: nothing ran, whatever the old log says.
    let node = WebNode::new(None, PULL_OK);
    let r = workflow_check(name, &node);
    assert!(!r.passed && r.message.contains("no */3 root line"), "{r:?}");

    // The line exits 0 but writes nothing this run: the earlier `failed=0`
    // in the log is not this run's.
    let node = WebNode::new(Some(PULL_LINE), "exit 0");
    let r = workflow_check(name, &node);
    assert!(!r.passed && r.message.contains("wrote nothing"), "{r:?}");

    // The pull fails.
    let node = WebNode::new(Some(PULL_LINE), "echo 'ERROR! no playbook'; exit 1");
    assert!(!workflow_check(name, &node).passed);
}

#[test]
fn workflow_cron_check_records_the_pulls_own_exit_status() {
    // Never skip into green: CI runs as root, where this works.
    assert!(
        can_unshare(),
        "this test needs root and mount namespaces (`unshare -m true` failed); run the tests as root, as .ci/run does"
    );
    let name = "cron fires the pull line";
    // Nothing armed (a node provisioned before the role armed the probe):
    // the check arms it and waits for cron.
    let node = WebNode::new(Some(PULL_LINE), PULL_OK);
    let r = workflow_check(name, &node);
    assert!(r.passed, "{r:?}");
    assert!(
        r.output
            .contains("no probe armed yet: arming the probe now"),
        "{r:?}"
    );
    assert!(!node.probe_left(), "the probe is removed after a pass");

    // A pull longer than the script's wait for cron (6 s here, as on an
    // emulated VM, where it takes minutes): a firing still running is waited
    // for, and its own exit status decides.
    let node = WebNode::new(Some(PULL_LINE), &format!("sleep 9; {PULL_OK}"));
    let r = workflow_check(name, &node);
    assert!(r.passed, "{r:?}");
    assert!(
        r.seconds > 9.0,
        "waited past its 6 s for the running pull: {r:?}"
    );
    let node = WebNode::new(
        Some(PULL_LINE),
        "sleep 9; echo 'ERROR! no playbook'; exit 2",
    );
    let r = workflow_check(name, &node);
    assert!(!r.passed, "{r:?}");
    assert!(r.message.contains("exit status of each firing: 2"), "{r:?}");
    assert!(!node.probe_left(), "the probe is removed after a failure");

    // Cron fires the line and the pull fails: the check fails.
    let node = WebNode::new(
        Some(PULL_LINE),
        "echo 'ERROR! repository not found'; exit 2",
    );
    let r = workflow_check(name, &node);
    assert!(!r.passed, "{r:?}");
    assert!(r.message.contains("exit status of each firing: 2"), "{r:?}");
    assert!(!node.probe_left(), "the probe is removed after a failure");
}

#[test]
fn workflow_cron_check_judges_by_the_firing_armed_at_provisioning_while_it_holds() {
    assert!(
        can_unshare(),
        "this test needs root and mount namespaces (`unshare -m true` failed); run the tests as root, as .ci/run does"
    );
    let name = "cron fires the pull line";
    let node = WebNode::new(Some(PULL_LINE), PULL_OK);
    node.arm_and_let_cron_fire();
    assert!(
        !node.probe_left(),
        "the probe removes itself after a firing that exits 0"
    );
    // The firing the role armed is the verdict: nothing armed again, no wait.
    let r = workflow_check(name, &node);
    assert!(r.passed, "{r:?}");
    assert!(
        r.output.contains("the cron daemon that ran it, pid") && !r.output.contains("arming"),
        "{r:?}"
    );

    // The */3 line changed since (here: to one whose pull fails): the old
    // firing says nothing about it; the check arms again and the new line's
    // firings fail.
    let cron_d = node.path("etc/cron.d/ansible-pull");
    let text = std::fs::read_to_string(&cron_d).unwrap();
    std::fs::write(
        &cron_d,
        text.replace("centraladmin_web.git", "centraladmin_gone.git"),
    )
    .unwrap();
    stub(
        &node.path("sbin"),
        "ansible-pull",
        "case \"$*\" in *gone*) echo 'ERROR! not found'; exit 2 ;; esac; echo failed=0",
    );
    let r = workflow_check(name, &node);
    assert!(!r.passed, "{r:?}");
    assert!(
        r.output
            .contains("the */3 line changed since the probe was armed"),
        "{r:?}"
    );
    assert!(r.message.contains("exit status of each firing: 2"), "{r:?}");
    std::fs::write(&cron_d, text).unwrap();

    // Cron stops: the firing recorded earlier was by a daemon that no longer
    // runs; the check arms again, nothing fires, and it fails.
    node.arm_and_let_cron_fire();
    assert!(workflow_check(name, &node).passed);
    node.stop_cron();
    let r = workflow_check(name, &node);
    assert!(!r.passed, "{r:?}");
    assert!(
        r.output.contains("no longer runs: arming the probe now"),
        "{r:?}"
    );
    assert!(
        r.message
            .contains("cron did not fire the pull line within 6s"),
        "{r:?}"
    );
    assert!(!node.probe_left(), "the probe is removed after a failure");
}

#[test]
fn workflow_cron_check_waits_for_the_probe_the_role_armed_when_it_has_not_fired_yet() {
    assert!(
        can_unshare(),
        "this test needs root and mount namespaces (`unshare -m true` failed); run the tests as root, as .ci/run does"
    );
    let node = WebNode::new(Some(PULL_LINE), PULL_OK);
    // Armed while cron is stopped: it has not fired when the check starts
    // (on a node: armed a few seconds before cron's minute came).
    node.stop_cron();
    let o = node.sh("ansible-pull-check arm");
    assert!(o.status.success());
    let armed = std::fs::read_to_string(node.path("var/lib/labctl/cron-probe-status")).unwrap();
    let nonce = armed.split_whitespace().nth(1).unwrap().to_string();
    node.start_cron();
    let r = workflow_check("cron fires the pull line", &node);
    assert!(r.passed, "{r:?}");
    // The check's `undo` removed the file before it ran; the check judged by
    // (or put back and waited for) the probe the role armed, under its nonce,
    // instead of arming a new one.
    assert!(!r.output.contains("arming the probe now"), "{r:?}");
    let status = std::fs::read_to_string(node.path("var/lib/labctl/cron-probe-status")).unwrap();
    assert!(
        status.starts_with(&format!("armed {nonce} "))
            && status.contains(&format!("{nonce} fired ")),
        "{status}"
    );
}

#[test]
fn workflow_cron_probe_waits_for_a_pull_that_holds_the_lock_instead_of_being_skipped() {
    assert!(
        can_unshare(),
        "this test needs root and mount namespaces (`unshare -m true` failed); run the tests as root, as .ci/run does"
    );
    let node = WebNode::new(Some(PULL_LINE), PULL_OK);
    node.stop_cron();
    // Another pull (the */3 line in the same minute, the @reboot run) holds
    // the lock when cron fires the probe.
    let mut other_pull = node.hold_pull_lock();
    assert!(node.sh("ansible-pull-check arm").status.success());
    node.start_cron();
    let r = workflow_check("cron fires the pull line", &node);
    other_pull.wait().unwrap();
    assert!(r.passed, "{r:?}");
    // The firing waited for the lock and ran the line itself: no firing was
    // skipped by `flock -n` (exit 1) on the way.
    let status = std::fs::read_to_string(node.path("var/lib/labctl/cron-probe-status")).unwrap();
    assert!(
        status.contains(" exit=0") && !status.contains(" exit=1"),
        "{status}"
    );
}

#[test]
fn workflow_cron_probe_firing_whose_probe_went_while_it_waited_does_not_pull() {
    assert!(
        can_unshare(),
        "this test needs root and mount namespaces (`unshare -m true` failed); run the tests as root, as .ci/run does"
    );
    let node = WebNode::new(
        Some(PULL_LINE),
        &format!("touch /var/lib/labctl/pulled; {PULL_OK}"),
    );
    node.stop_cron();
    let mut other_pull = node.hold_pull_lock();
    let status = node.path("var/lib/labctl/cron-probe-status");
    assert!(node.sh("ansible-pull-check arm").status.success());
    node.start_cron();
    // A firing has started and waits for the lock; then the check ends.
    wait_until(
        || std::fs::read_to_string(&status).is_ok_and(|s| s.contains(" start")),
        "cron did not fire the probe",
    );
    assert!(node.sh("ansible-pull-check undo").status.success());
    other_pull.wait().unwrap();
    wait_until(
        || std::fs::read_to_string(&status).is_ok_and(|s| s.contains(" fired ")),
        "the waiting firing did not end",
    );
    let s = std::fs::read_to_string(&status).unwrap();
    assert!(s.contains(" exit=skipped") && !s.contains(" exit=0"), "{s}");
    assert!(
        !node.path("var/lib/labctl/pulled").exists(),
        "a firing pulled after its probe was gone: {s}"
    );
}
