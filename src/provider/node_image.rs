//! The node image's inputs and root file system, shared by both providers
//! that labctl makes machines from: the docker node image
//! ([`super::docker::image`]) imports it, the libvirt box
//! ([`super::boxes`]) boots it. A Debian rootfs made with debootstrap from the
//! host's mirror (and its apt settings), with the packages the roles ask for,
//! a `vagrant` user as Vagrant boxes have it and no SSH host keys; its hash
//! names both.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

pub const BUILD_SCRIPT: &str = include_str!("../../image/build-rootfs.sh");
pub const INIT_SCRIPT: &str = include_str!("../../image/init.sh");
pub const REPO: &str = "labctl-node";

#[derive(Debug, Clone)]
pub struct Spec {
    pub release: String,
    /// `None`: the host's configured Debian mirror (the script reads it).
    pub mirror: Option<String>,
    pub packages: Vec<String>,
}

impl Spec {
    /// The node image of labs with these roles: Debian bookworm from the
    /// host's mirror, with every role's packages. The libvirt box is made from
    /// the same spec ([`crate::provider::boxes::ensure`]).
    pub fn node(roles: &crate::roles::RoleSet) -> Spec {
        Spec {
            release: "bookworm".into(),
            mirror: None,
            packages: roles.packages(roles.roles.keys().map(|s| s.as_str())),
        }
    }

    /// Everything that changes the image goes into its tag.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"labctl-node-image v1\0");
        h.update(self.release.as_bytes());
        h.update(b"\0");
        h.update(self.mirror.as_deref().unwrap_or("<host>").as_bytes());
        h.update(b"\0");
        for p in &self.packages {
            h.update(p.as_bytes());
            h.update(b" ");
        }
        h.update(b"\0");
        h.update(BUILD_SCRIPT.as_bytes());
        h.update(INIT_SCRIPT.as_bytes());
        // Host apt settings change what debootstrap fetches and how.
        for f in host_apt_files() {
            if let Ok(b) = std::fs::read(&f) {
                h.update(f.to_string_lossy().as_bytes());
                h.update(&b);
            }
        }
        hex::encode(h.finalize())
    }

    pub fn tag(&self) -> String {
        format!("{REPO}:{}", &self.hash()[..12])
    }
}

fn host_apt_files() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("/etc/apt/sources.list")];
    for dir in ["/etc/apt/sources.list.d", "/etc/apt/apt.conf.d"] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            files.sort();
            v.extend(files);
        }
    }
    v
}

/// Run the rootfs build script with its inputs as environment variables,
/// showing progress as it goes and keeping the whole log. A copy of the script
/// runs (bash reads a script as it runs it).
pub fn build_rootfs(
    spec: &Spec,
    rootfs: &std::path::Path,
    output_tar: &std::path::Path,
) -> Result<()> {
    let dir = output_tar.parent().unwrap();
    let script = dir.join("build-rootfs.sh");
    let init = dir.join("init.sh");
    std::fs::write(&script, BUILD_SCRIPT).map_err(|e| Error::io("write", &script, e))?;
    std::fs::write(&init, INIT_SCRIPT).map_err(|e| Error::io("write", &init, e))?;
    let mut e = duct::cmd("bash", [script.to_string_lossy().into_owned()])
        .env("ROOTFS_DIR", rootfs)
        .env("OUTPUT_TAR", output_tar)
        .env("RELEASE", &spec.release)
        .env("PACKAGES", spec.packages.join(" "))
        .env("INIT_SCRIPT", &init);
    if let Some(m) = &spec.mirror {
        e = e.env("MIRROR", m);
    }
    crate::exec::logged::run_logged(
        e,
        "build-rootfs.sh (debootstrap)",
        "check the host's apt sources and network access to the Debian mirror; --mirror overrides it",
    )
}

/// Where the node image's root file system tarball is kept after the image
/// is imported: the libvirt box is made from the same tarball
/// ([`crate::provider::boxes`]), so both providers' nodes have the same files.
pub fn rootfs_tar_path(spec: &Spec) -> PathBuf {
    PathBuf::from(CACHE_DIR)
        .join("rootfs")
        .join(format!("{REPO}-{}.tar", &spec.hash()[..12]))
}

/// labctl's cache on the host (rootfs tarballs, box builds).
pub const CACHE_DIR: &str = "/var/cache/labctl";

/// Move a freshly built tarball to [`rootfs_tar_path`] (through a temporary
/// name: never a half-written tarball there). Tarballs of other inputs stay
/// (other labs' roles make other ones): `labctl image build` prunes those no
/// box needs ([`crate::provider::boxes::prune`]).
pub(crate) fn keep_rootfs_tar(spec: &Spec, tar: &std::path::Path) -> Result<PathBuf> {
    let dest = rootfs_tar_path(spec);
    let dir = dest.parent().unwrap();
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        dest.file_name().unwrap().to_string_lossy()
    ));
    if std::fs::rename(tar, &tmp).is_err() {
        std::fs::copy(tar, &tmp).map_err(|e| Error::io("write", &tmp, e))?;
    }
    std::fs::rename(&tmp, &dest).map_err(|e| Error::io("write", &dest, e))?;
    Ok(dest)
}

/// The node image's root file system as a tarball: the one kept when the
/// image was built, or built now from the same inputs (an image built before
/// tarballs were kept, or a host without a Docker engine).
pub fn ensure_rootfs_tar(spec: &Spec) -> Result<PathBuf> {
    let dest = rootfs_tar_path(spec);
    if dest.is_file() {
        return Ok(dest);
    }
    eprintln!(
        "image: building the node root file system {} (debootstrap {}); this takes a few minutes",
        dest.display(),
        spec.release
    );
    build_kept_rootfs_tar(spec)
}

/// Build the node root file system now, in a work dir under /var/tmp, and
/// keep its tarball where [`rootfs_tar_path`] says; returns that path. The
/// docker image is imported from it and the libvirt box is built from it.
pub fn build_kept_rootfs_tar(spec: &Spec) -> Result<PathBuf> {
    let work = tempfile::Builder::new()
        .prefix("labctl-image-")
        .tempdir_in("/var/tmp")
        .map_err(|e| Error::io("create a temp dir in", "/var/tmp", e))?;
    let tar = work.path().join("rootfs.tar");
    build_rootfs(spec, &work.path().join("rootfs"), &tar)?;
    keep_rootfs_tar(spec, &tar)
}
