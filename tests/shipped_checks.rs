//! Shipped checks run on this host as a node would run them, with stand-ins
//! for the node's tools (`sudo`, `grep`, `apt-config`, ...) on the PATH: each
//! case breaks the thing the check names and the check must fail.

use labctl::checks::{run_check, HostHttp};
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
fn judge(lab: &labctl::lab::Lab, c: &Check, shell: &Local) -> labctl::checks::CheckResult {
    let c = Check {
        timeout: Duration::from_millis(200),
        interval: Duration::from_millis(50),
        ..c.clone()
    };
    run_check(&c, lab, shell, &NoHttp, &mut |_| {})
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
