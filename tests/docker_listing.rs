//! vagrant/docker_listing.rb (the cache of Vagrant's docker listings the
//! rendered Vagrantfile loads on docker) run by the real `ruby` against a
//! stand-in for Vagrant's docker driver: tests/ruby/docker_listing_test.rb,
//! one Minitest case per process. The stand-in counts docker calls; the real
//! driver under `vagrant up` is exercised by the docker e2e tests.
//!
//! `ruby` is required (CI installs Debian's `ruby`, whose Minitest ships with
//! it): when it is missing these tests fail, they never skip.

use std::path::Path;
use std::process::Command;

fn minitest(case: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("ruby")
        .arg(root.join("tests/ruby/docker_listing_test.rb"))
        .args(["-n", case])
        .env(
            "LABCTL_DOCKER_LISTING",
            root.join("vagrant/docker_listing.rb"),
        )
        .env_remove("LABCTL_LISTING_TTL")
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
fn ten_threads_share_one_listing() {
    minitest("test_ten_threads_share_one_listing");
}

#[test]
fn a_change_forces_a_relist() {
    minitest("test_change_forces_relist");
}

#[test]
fn inspect_is_shared() {
    minitest("test_inspect_shared");
}

#[test]
fn answers_expire_after_the_ttl() {
    minitest("test_ttl_expiry");
}

#[test]
fn calls_with_options_are_not_cached() {
    minitest("test_options_not_cached");
}
