//! `labctl image build --rpm-repo DIR ...`: the options that choose the
//! RPM mode of `image build`, and the command.

use crate::error::{Exit, Result};
use clap::Args;
use std::path::PathBuf;

// The RPM mode's own options of `labctl image build` (no doc comment: clap
// would print it). `--rpm-repo` chooses the mode and needs the key, the
// release version, the packages and the image name; the Debian-only options
// do not go with it.
#[derive(Args, Debug, Default)]
pub struct RpmArgs {
    /// Build a RHEL-family image from this local RPM repository (a folder with repodata/, e.g. a
    /// mounted ISO's BaseOS); repeatable
    #[arg(
        long = "rpm-repo",
        value_name = "DIR",
        requires_all = ["gpg_key", "releasever", "packages", "import"],
        conflicts_with_all = ["rebuild", "mirror", "release"]
    )]
    pub rpm_repo: Vec<PathBuf>,
    /// The key the packages are signed with (ASCII-armored, e.g. the ISO's RPM-GPG-KEY-*);
    /// repeatable. GPG checks are always on
    #[arg(long, value_name = "FILE", requires = "rpm_repo")]
    pub gpg_key: Vec<PathBuf>,
    /// dnf's $releasever: the distribution's version (9 for RHEL/Rocky/Alma 9)
    #[arg(long, value_name = "N", requires = "rpm_repo")]
    pub releasever: Option<String>,
}

pub fn build(
    args: RpmArgs,
    packages: Vec<String>,
    tag: String,
    output: Option<PathBuf>,
) -> Result<Exit> {
    let r = crate::exec::System;
    let spec = crate::provider::docker::rpm::Spec {
        repos: args.rpm_repo,
        keys: args.gpg_key,
        releasever: args.releasever.unwrap_or_default(),
        packages,
        tag,
        output,
    };
    // Bad input is refused before setup installs anything.
    spec.check()?;
    crate::setup::ensure_rpm_tools(&r, true)?;
    let b = crate::provider::docker::rpm::build(&spec, &r)?;
    for w in &b.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "image: {} package{} installed, every one signed by the given key{}: {}",
        b.packages.len(),
        if b.packages.len() == 1 { "" } else { "s" },
        if spec.keys.len() == 1 { "" } else { "s" },
        b.packages.join(" ")
    );
    eprintln!(
        "image: imported as {} ({}, root file system {} MiB, command {}) in {:.1}s",
        b.image,
        &b.id[..b.id.len().min(19)],
        b.rootfs_bytes >> 20,
        b.command
            .as_deref()
            .unwrap_or("none: no shell among the packages"),
        b.seconds
    );
    if let (Some(o), Some(n)) = (&b.output, b.output_bytes) {
        eprintln!("image: on another machine: docker load -i {}", o.display());
        println!("{} ({} MiB)", o.display(), n >> 20);
    }
    println!("{}", b.image);
    Ok(Exit::Ok)
}
