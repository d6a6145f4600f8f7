//! Files built into the binary: the shipped labs, roles and the Vagrantfile
//! template, so that an installed `labctl` works outside this repository.

use include_dir::{include_dir, Dir};

pub static LABS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/labs");
pub static ROLES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/provision");
pub static VAGRANTFILE_TEMPLATE: &str = include_str!("../Vagrantfile.tera");
/// Loaded by the rendered Vagrantfile on docker: shares Vagrant's repeated
/// container listings between the machines of one `vagrant up`.
pub static DOCKER_LISTING_RB: &str = include_str!("../vagrant/docker_listing.rb");
/// Loaded by the rendered Vagrantfile on docker: paces Vagrant's wait for a
/// machine's sshd (it retried without a pause, spinning under Ruby's lock).
pub static SSH_WAIT_RB: &str = include_str!("../vagrant/ssh_wait.rb");
/// Loaded by the rendered Vagrantfile on docker before the two above: the
/// one reading of their settings (seconds from the environment).
pub static ENV_SECONDS_RB: &str = include_str!("../vagrant/env_seconds.rb");
/// Loaded by the rendered Vagrantfile on docker: skips Vagrant's /etc/fstab
/// step for machines with no synced folder (three SSH commands each).
pub static FSTAB_RB: &str = include_str!("../vagrant/fstab.rb");

/// Names of the shipped labs, sorted.
pub fn lab_names() -> Vec<String> {
    let mut names: Vec<String> = LABS
        .files()
        .filter_map(|f| {
            let p = f.path();
            (p.extension()? == "toml")
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

pub fn lab_text(name: &str) -> Option<&'static str> {
    LABS.get_file(format!("{name}.toml"))
        .and_then(|f| f.contents_utf8())
}
