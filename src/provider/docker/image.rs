//! The docker provider's node image: a Debian rootfs made with debootstrap from
//! the host's mirror (and its apt settings), with the packages the roles ask
//! for, a `vagrant` user as Vagrant boxes have it and no SSH host keys, imported
//! with `docker import`. Cached by a hash of its inputs, rebuilt only when they change.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::provider::node_image::{build_kept_rootfs_tar, build_rootfs};
use crate::provider::node_image::{Spec, REPO};
use std::path::PathBuf;

/// Prints the small nginx + haproxy root file system for containers in nodes.
pub const BASE_ROOTFS_SCRIPT: &str = include_str!("../../../image/base-rootfs.sh");

pub fn exists(runner: &dyn Runner, tag: &str) -> bool {
    runner
        .output(&Cmd::new("docker").args(["image", "inspect", "--format", "{{.Id}}", tag]))
        .map(|o| o.success())
        .unwrap_or(false)
}

/// Build (unless cached) and return the tag.
pub fn ensure(spec: &Spec, runner: &dyn Runner, rebuild: bool) -> Result<String> {
    let tag = spec.tag();
    if !rebuild && exists(runner, &tag) {
        return Ok(tag);
    }
    eprintln!(
        "image: building {tag} (debootstrap {}, {} extra packages); this takes a few minutes",
        spec.release,
        spec.packages.len()
    );
    let kept = build_kept_rootfs_tar(spec)?;
    let hash = spec.hash();
    runner.run(
        &Cmd::new("docker")
            .arg("import")
            .args(["--change", "CMD [\"/usr/local/sbin/labctl-init\"]"])
            .args(["--change", &format!("LABEL labctl.image.hash={hash}")])
            .arg(kept.to_string_lossy())
            .arg(&tag),
    )?;
    runner.run(&Cmd::new("docker").args(["tag", &tag, &format!("{REPO}:latest")]))?;
    eprintln!(
        "image: {tag} ready (its root file system kept as {})",
        kept.display()
    );
    Ok(tag)
}

// ------------------------------------------------------------------ rootfs images for users

/// What [`build_rootfs_tar`] made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RootfsBuild {
    /// The tarball written (`--output`), and its size.
    pub output: Option<PathBuf>,
    pub bytes: Option<u64>,
    /// The image imported (`--import NAME`).
    pub imported: Option<String>,
}

/// `labctl image build --release R --packages P... --output rootfs.tar.gz --import NAME`:
/// a Debian root file system made by the same script and from the same inputs
/// as the node image (debootstrap `minbase` from the host's Debian mirror and
/// apt settings, the base packages every node has plus `spec.packages`, the
/// `vagrant` user, `labctl-init` as the command, no SSH host keys), written
/// as a tarball (gzip-compressed when the name ends in `.gz` or `.tgz`) and/or
/// imported with `docker import` as `NAME`. At least one of the two is needed.
/// Needs root (debootstrap, chroot); takes minutes. Not cached: the node
/// image (`ensure`) is.
pub fn build_rootfs_tar(
    spec: &Spec,
    output: Option<&std::path::Path>,
    import: Option<&str>,
    runner: &dyn Runner,
) -> Result<RootfsBuild> {
    if output.is_none() && import.is_none() {
        return Err(Error::usage(
            "say where the root file system goes: --output FILE.tar[.gz] and/or --import NAME",
        ));
    }
    if let Some(name) = import {
        check_image_name(name)?;
    }
    if let Some(out) = output {
        check_output(out)?;
    }
    eprintln!("image: building a Debian {} root file system ({} extra packages); this takes a few minutes", spec.release, spec.packages.len());
    let work = tempfile::Builder::new()
        .prefix("labctl-rootfs-")
        .tempdir_in("/var/tmp")
        .map_err(|e| Error::io("create a temp dir in", "/var/tmp", e))?;
    let mut tar = work.path().join("rootfs.tar");
    build_rootfs(spec, &work.path().join("rootfs"), &tar)?;
    if let Some(out) = output {
        tar = gzip_if_asked(&tar, out, runner)?;
    }
    let mut res = RootfsBuild {
        output: None,
        bytes: None,
        imported: None,
    };
    if let Some(out) = output {
        res.bytes = Some(place_output(&tar, out)?);
        res.output = Some(out.to_path_buf());
    }
    if let Some(name) = import {
        runner.run(
            &Cmd::new("docker")
                .arg("import")
                .args(["--change", "CMD [\"/usr/local/sbin/labctl-init\"]"])
                .args([
                    "--change",
                    &format!("LABEL labctl.rootfs.release={}", spec.release),
                ])
                .arg(tar.to_string_lossy())
                .arg(name),
        )?;
        eprintln!(
            "image: imported as {name} (docker run -d --name NODE -e LABCTL_SSH_AUTHORIZED_KEY=\"$(cut -d' ' -f1,2 KEY.pub)\" {name}; it starts sshd and cron, and user vagrant takes that one ed25519 key, no other)"
        );
        res.imported = Some(name.to_string());
    }
    Ok(res)
}

/// `--output FILE`: a file name (not a folder) in a folder that exists.
/// Checked before a build starts, so a typo costs nothing.
pub fn check_output(out: &std::path::Path) -> Result<()> {
    if out.is_dir() {
        return Err(Error::usage(format!(
            "--output {} is a folder; give a file name such as rootfs.tar.gz",
            out.display()
        )));
    }
    let parent = output_folder(out);
    if !parent.is_dir() {
        return Err(Error::usage(format!(
            "--output {}: folder {} does not exist",
            out.display(),
            parent.display()
        )));
    }
    Ok(())
}

fn output_folder(out: &std::path::Path) -> &std::path::Path {
    out.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
}

/// Compress `tar` (in place, beside itself) when `out` is named `.gz` or
/// `.tgz`; returns the file to place.
pub fn gzip_if_asked(
    tar: &std::path::Path,
    out: &std::path::Path,
    runner: &dyn Runner,
) -> Result<PathBuf> {
    let n = out.to_string_lossy();
    if !(n.ends_with(".gz") || n.ends_with(".tgz")) {
        return Ok(tar.to_path_buf());
    }
    runner.run(
        &Cmd::new("gzip")
            .args(["-n", "-6", "-f"])
            .arg(tar.to_string_lossy()),
    )?;
    Ok(PathBuf::from(format!("{}.gz", tar.display())))
}

/// Copy `tar` to `out` through a temporary file beside it, then rename: never
/// a half-written tarball under the asked name. Returns its size.
pub fn place_output(tar: &std::path::Path, out: &std::path::Path) -> Result<u64> {
    let parent = output_folder(out);
    let tmp = tempfile::Builder::new()
        .prefix(".rootfs-")
        .tempfile_in(parent)
        .map_err(|e| Error::io("create a temp file in", parent, e))?;
    std::fs::copy(tar, tmp.path()).map_err(|e| Error::io("write", tmp.path().to_path_buf(), e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(out)
        .map_err(|e| Error::io("write", out, e.error))?;
    let bytes = std::fs::metadata(out)
        .map(|m| m.len())
        .map_err(|e| Error::io("read", out, e))?;
    eprintln!(
        "image: wrote {} ({:.0} MiB)",
        out.display(),
        bytes as f64 / 1048576.0
    );
    Ok(bytes)
}

/// A Docker image reference labctl may create for a user: `name[:tag]`, not
/// in the `labctl-node` repository (labctl manages that one).
pub fn check_image_name(name: &str) -> Result<()> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$").unwrap()
    });
    if name.len() > 200 || !RE.is_match(name) {
        return Err(Error::usage(format!("--import/--tag {name:?} is not a Docker image name (lower-case name, optionally :tag, e.g. my-debian:bookworm)")));
    }
    let repo = name
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .map(|(r, _)| r)
        .unwrap_or(name);
    if repo == REPO {
        return Err(Error::usage(format!(
            "--import/--tag {name}: the `{REPO}` images are labctl's node images; choose another name"
        )));
    }
    Ok(())
}

/// A small image for containers a lab runs inside its nodes (nginx, haproxy
/// and the libraries they link; about 20 MB), made from the node
/// image on the host and saved as a tarball that roles `docker load` offline,
/// the way the Jul 2 write-up moves its images. Cached by the node image's ID.
pub fn ensure_base_image_tar(
    runner: &dyn Runner,
    node_image: &str,
    cache_dir: &std::path::Path,
) -> Result<std::path::PathBuf> {
    let id = runner
        .run(&Cmd::new("docker").args(["image", "inspect", "--format", "{{.Id}}", node_image]))?
        .stdout;
    let id = id.trim().trim_start_matches("sha256:");
    let short = &id[..12.min(id.len())];
    let tag = format!("labctl-base:{short}");
    let tar = cache_dir.join(format!("labctl-base-{short}.tar"));
    if tar.exists() {
        return Ok(tar);
    }
    if !runner
        .output(&Cmd::new("docker").args(["image", "inspect", &tag]))?
        .success()
    {
        eprintln!(
            "image: making {tag} (nginx, haproxy and their libraries) for containers inside nodes"
        );
        let tar = export_from_node_image(
            node_image,
            BASE_ROOTFS_SCRIPT,
            "collect the base root file system",
        )?;
        runner.run(
            &Cmd::new("docker")
                .args(["import", "--change", "CMD [\"/bin/bash\"]", "-", &tag])
                .stdin(tar),
        )?;
    }
    std::fs::create_dir_all(cache_dir).map_err(|e| Error::io("create", cache_dir, e))?;
    let tmp = cache_dir.join(format!(".labctl-base-{short}.tar.tmp"));
    runner.run(
        &Cmd::new("docker")
            .args(["save", "-o"])
            .arg(tmp.to_string_lossy())
            .arg(&tag),
    )?;
    std::fs::rename(&tmp, &tar).map_err(|e| Error::io("replace", &tar, e))?;
    Ok(tar)
}

/// Run `script` in a throwaway container of the node image (no network) and
/// return what it writes to stdout: a tar stream for `docker import`. Small
/// images (the base image, iperf3's) are cut out of the node image this way, so
/// they need no download.
pub fn export_from_node_image(node_image: &str, script: &str, what: &str) -> Result<Vec<u8>> {
    let out = duct::cmd(
        "docker",
        [
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/bin/sh",
            node_image,
            "-c",
            script,
        ],
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .map_err(|e| Error::io("run", "docker", e))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(Error::Tool {
            command: format!("docker run ({what})"),
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
            hint: None,
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod rootfs_tests {
    use super::*;

    #[test]
    fn image_names() {
        for ok in [
            "my-debian",
            "my-debian:bookworm",
            "registry.local/team/base:1.0",
            "a_b",
        ] {
            assert!(check_image_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "My-Debian",
            "x:",
            "-x",
            "x;rm -rf /",
            "x y",
            "labctl-node",
            "labctl-node:mine",
            "a//b",
        ] {
            assert!(check_image_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nothing_to_do_is_refused_before_building() {
        let spec = Spec {
            release: "bookworm".into(),
            mirror: None,
            packages: vec![],
        };
        let r = crate::exec::Recorder::default();
        let e = build_rootfs_tar(&spec, None, None, &r).unwrap_err();
        assert!(e.to_string().contains("--output"), "{e}");
        let e = build_rootfs_tar(&spec, None, Some("labctl-node:x"), &r).unwrap_err();
        assert!(e.to_string().contains("labctl's node images"), "{e}");
        let e = build_rootfs_tar(
            &spec,
            Some(std::path::Path::new("/nonexistent-dir/x.tar.gz")),
            None,
            &r,
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(r.lines().is_empty(), "nothing ran");
    }
}
