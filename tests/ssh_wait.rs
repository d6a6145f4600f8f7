//! vagrant/ssh_wait.rb (the pace of Vagrant's wait for a machine's sshd,
//! loaded by the rendered Vagrantfile on docker) run by the real `ruby`
//! against a stand-in for Vagrant's SSH communicator:
//! tests/ruby/ssh_wait_test.rb, one Minitest case per process. The real
//! communicator under `vagrant up` is exercised by the docker e2e tests.
//!
//! `ruby` is required: see tests/common/minitest.rs.

mod common;

fn minitest(case: &str) {
    common::minitest::minitest(
        "tests/ruby/ssh_wait_test.rb",
        case,
        &[
            ("LABCTL_ENV_SECONDS", "vagrant/env_seconds.rb"),
            ("LABCTL_SSH_WAIT", "vagrant/ssh_wait.rb"),
        ],
        &["LABCTL_SSH_WAIT_PAUSE"],
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
