//! vagrant/ssh_wait.rb (the pace of Vagrant's wait for a machine's sshd,
//! loaded by the rendered Vagrantfile on docker) run by the real `ruby`
//! against a stand-in for Vagrant's SSH communicator:
//! tests/ruby/ssh_wait_test.rb, one Minitest case per process. The real
//! communicator under `vagrant up` is exercised by the docker e2e tests.
//!
//! `ruby` is required (CI installs Debian's `ruby`): when it is missing these
//! tests fail, they never skip.

use std::path::Path;
use std::process::Command;

fn minitest(case: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("ruby")
        .arg(root.join("tests/ruby/ssh_wait_test.rb"))
        .args(["-n", case])
        .env("LABCTL_SSH_WAIT", root.join("vagrant/ssh_wait.rb"))
        .env_remove("LABCTL_SSH_WAIT_PAUSE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run ruby (install Debian's `ruby`): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 runs,") && text.contains(" 0 failures, 0 errors"),
        "{case}:\n{text}"
    );
}

#[test]
fn the_wait_for_sshd_pauses_between_attempts() {
    minitest("test_wait_attempts_are_paced");
}

#[test]
fn other_connects_are_not_paced() {
    minitest("test_other_connects_are_not_paced");
}

#[test]
fn the_pause_setting() {
    minitest("test_pause_setting");
}
