//! vagrant/fstab.rb (the /etc/fstab step skipped for machines with no synced
//! folder, loaded by the rendered Vagrantfile on docker) run by the real
//! `ruby` against stand-ins for Vagrant's plugin API and its Linux
//! capability: tests/ruby/fstab_test.rb, one Minitest case per process. The
//! real capability lookup under `vagrant up` is exercised by the docker e2e
//! tests.
//!
//! `ruby` is required: see tests/common/minitest.rs.

mod common;

fn minitest(case: &str) {
    common::minitest::minitest(
        "tests/ruby/fstab_test.rb",
        case,
        &[("LABCTL_FSTAB", "vagrant/fstab.rb")],
        &[],
    );
}

#[test]
fn the_capability_is_registered_for_debian() {
    minitest("test_registered_for_debian");
}

#[test]
fn no_synced_folder_runs_nothing() {
    minitest("test_no_folders_runs_nothing");
}

#[test]
fn folders_and_nil_go_to_vagrant() {
    minitest("test_anything_else_goes_to_vagrant");
}
