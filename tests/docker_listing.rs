//! vagrant/docker_listing.rb (the cache of Vagrant's docker listings the
//! rendered Vagrantfile loads on docker) run by the real `ruby` against a
//! stand-in for Vagrant's docker driver: tests/ruby/docker_listing_test.rb,
//! one Minitest case per process. The stand-in counts docker calls; the real
//! driver under `vagrant up` is exercised by the docker e2e tests.
//!
//! `ruby` is required: see tests/common/minitest.rs.

mod common;

fn minitest(case: &str) {
    common::minitest::minitest(
        "tests/ruby/docker_listing_test.rb",
        case,
        &[
            ("LABCTL_ENV_SECONDS", "vagrant/env_seconds.rb"),
            ("LABCTL_DOCKER_LISTING", "vagrant/docker_listing.rb"),
        ],
        &["LABCTL_LISTING_TTL"],
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
