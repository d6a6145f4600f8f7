//! `labctl image build --rpm-repo DIR ...`: a RHEL-family base image from
//! local RPM repositories (a mounted installation ISO's BaseOS and AppStream,
//! or any folder indexed with createrepo_c), made with Debian's own rpm and
//! dnf, the way the Jul 4 write-up made its RHEL image with `rpm --root
//! --initdb` and `yum --installroot` — with GPG checks on, which it had off.
//!
//! The steps, each a command through the [`Runner`]: an empty root with its
//! rpm database at /var/lib/rpm (`root.rs` says why that takes care), the
//! keys imported into that database, one `dnf install` from the given
//! repositories only (`dnf.rs`), the installed packages and their signatures
//! read back, dnf's cache and logs left out, `tar` of the root and `docker
//! import` with the first shell as the command; `--output` adds the image as
//! `docker save` writes it, for `docker load` on a machine without the ISO.
//!
//! Parts: `error.rs` the refusals and their hints, `dnf.rs` the dnf command
//! line and its refusals, `root.rs` the build's private folder and the root.

mod dnf;
mod error;
mod root;

pub use error::RpmImageError;

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to build, as given on the command line.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Folders holding `repodata/` (repeatable `--rpm-repo`).
    pub repos: Vec<PathBuf>,
    /// ASCII-armored public keys the packages must be signed with.
    pub keys: Vec<PathBuf>,
    /// dnf's `$releasever` (the distribution's version: 9).
    pub releasever: String,
    /// dnf package specs: names, `name-version`, `@group`, `@module:stream`.
    pub packages: Vec<String>,
    /// The Docker image name (`--tag`/`--import`).
    pub tag: String,
    /// `--output`: the image as a `docker save` tarball (.tar, .tar.gz).
    pub output: Option<PathBuf>,
}

/// What a build made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RpmBuild {
    pub image: String,
    pub id: String,
    /// The image's default command (none when the packages bring no shell).
    pub command: Option<String>,
    /// `NAME-VERSION-RELEASE.ARCH` of every installed package.
    pub packages: Vec<String>,
    /// The root file system's tarball size.
    pub rootfs_bytes: u64,
    pub output: Option<PathBuf>,
    pub output_bytes: Option<u64>,
    pub seconds: f64,
    /// What the image's users should know (its own rpm cannot read sqlite).
    pub warnings: Vec<String>,
}

impl Spec {
    /// Every refusal that needs no tool run: before anything is made.
    pub fn check(&self) -> Result<()> {
        if self.packages.is_empty() {
            return Err(RpmImageError::NoPackages.into());
        }
        for p in &self.packages {
            check_package(p)?;
        }
        check_releasever(&self.releasever)?;
        crate::provider::docker::image::check_image_name(&self.tag)?;
        if let Some(out) = &self.output {
            crate::provider::docker::image::check_output(out)?;
        }
        let mut seen = Vec::new();
        for r in &self.repos {
            let canon = std::fs::canonicalize(r)
                .ok()
                .filter(|c| c.is_dir())
                .ok_or_else(|| RpmImageError::RepoMissing(r.clone()))?;
            if !canon.join("repodata/repomd.xml").is_file() {
                return Err(RpmImageError::NoRepodata(r.clone()).into());
            }
            if seen.contains(&canon) {
                return Err(RpmImageError::RepoTwice(r.clone()).into());
            }
            seen.push(canon);
        }
        for k in &self.keys {
            if !k.is_file() {
                return Err(RpmImageError::KeyMissing(k.clone()).into());
            }
            let text = std::fs::read(k).map_err(|e| Error::io("read", k, e))?;
            if !String::from_utf8_lossy(&text).contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
                return Err(RpmImageError::KeyNotArmored(k.clone()).into());
            }
        }
        Ok(())
    }
}

/// A dnf package spec passed as one argument (never through a shell): it
/// must not read as an option, and the characters are those of RPM names,
/// versions, file paths, capabilities, groups and module streams.
fn check_package(p: &str) -> std::result::Result<(), RpmImageError> {
    if made_of(p, 200, "._+-:/@()=<>~^*") {
        Ok(())
    } else {
        Err(RpmImageError::BadPackage(p.to_string()))
    }
}

fn check_releasever(r: &str) -> std::result::Result<(), RpmImageError> {
    if made_of(r, 32, "._-") && r.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(RpmImageError::BadReleasever(r.to_string()))
    }
}

/// One argument of at most `max` letters, digits and `punct`, not an option.
fn made_of(s: &str, max: usize, punct: &str) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || punct.contains(c))
}

/// Build the image (see the module's doc). Refusals come before anything is
/// made where they can ([`Spec::check`]); the build's folder goes on every way
/// out. Needs root: rpm chroots into the new root to run the packages' scripts.
pub fn build(spec: &Spec, runner: &dyn Runner) -> Result<RpmBuild> {
    spec.check()?;
    if !nix::unistd::geteuid().is_root() {
        return Err(RpmImageError::NotRoot.into());
    }
    let started = Instant::now();
    crate::interrupt::set_phase("image build from RPM repositories");
    let ws = root::Workspace::new()?;
    let installed = install(spec, &ws, runner)?;
    let rootfs = ws.root();
    root::check_database(&rootfs)?;
    root::leave_out_cache_and_logs(&rootfs)?;
    let mut warnings = Vec::new();
    if let Some(v) = root::image_rpm_version(&ws, runner).filter(|v| !root::reads_sqlite(v)) {
        warnings.push(format!(
            "the image's own rpm is {v}, which cannot read the sqlite database Debian's rpm writes: rpm and yum/dnf inside the image will not see the installed packages (see docs/images-and-repos.md)"
        ));
    }
    let command = root::default_command(&rootfs);
    let tar = ws.path("rootfs.tar");
    runner.run(
        &Cmd::new("tar")
            .args([
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=security.capability",
                "-C",
            ])
            .arg(rootfs.to_string_lossy())
            .args(["-cf"])
            .arg(tar.to_string_lossy())
            .arg("."),
    )?;
    crate::interrupt::check()?;
    let rootfs_bytes = std::fs::metadata(&tar)
        .map(|m| m.len())
        .map_err(|e| Error::io("read", &tar, e))?;
    let id = import(spec, &tar, command, runner)?;
    let (output, output_bytes) = match &spec.output {
        Some(out) => {
            let saved = ws.path("image.tar");
            runner.run(
                &Cmd::new("docker")
                    .args(["save", "-o"])
                    .arg(saved.to_string_lossy())
                    .arg(&spec.tag),
            )?;
            let saved = crate::provider::docker::image::gzip_if_asked(&saved, out, runner)?;
            let bytes = crate::provider::docker::image::place_output(&saved, out)?;
            (Some(out.clone()), Some(bytes))
        }
        None => (None, None),
    };
    Ok(RpmBuild {
        image: spec.tag.clone(),
        id,
        command: command.map(String::from),
        packages: installed,
        rootfs_bytes,
        output,
        output_bytes,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// The empty root, its database, the keys, dnf; returns what was installed,
/// each package checked to carry a signature.
fn install(spec: &Spec, ws: &root::Workspace, runner: &dyn Runner) -> Result<Vec<String>> {
    runner.run(&ws.rpm(&["--initdb"]))?;
    let keys = ws.copy_keys(&spec.keys)?;
    for (given, copy) in spec.keys.iter().zip(&keys) {
        let out = runner.output(&ws.rpm(&["--import", &copy.to_string_lossy()]))?;
        if !out.success() {
            return Err(RpmImageError::KeyRefused {
                path: given.clone(),
                message: out.stderr.trim().replace(&*copy.to_string_lossy(), "key"),
            }
            .into());
        }
    }
    // Links need absolute targets: a relative one would point into the build's folder.
    let dirs = spec
        .repos
        .iter()
        .map(|d| std::fs::canonicalize(d).map_err(|e| Error::io("read", d, e)))
        .collect::<Result<Vec<_>>>()?;
    let repos: Vec<dnf::Repo> = ws
        .link_repos(&dirs)?
        .into_iter()
        .zip(&dirs)
        .enumerate()
        .map(|(i, (link, dir))| dnf::Repo {
            id: dnf::repo_id(i + 1, dir),
            link,
        })
        .collect();
    eprintln!(
        "image: installing {} into an empty root from {} repositor{} (GPG checks on)",
        spec.packages.join(" "),
        repos.len(),
        if repos.len() == 1 { "y" } else { "ies" }
    );
    let cmd = dnf::install(ws, &repos, &keys, &spec.releasever, &spec.packages);
    let out = runner.stream(&cmd)?;
    if !out.success() {
        let text = format!("{}\n{}", out.stdout, out.stderr);
        if let Some(r) = dnf::refusal(&text, keys.len()) {
            return Err(r.into());
        }
        // dnf's whole output was shown as it ran; the error repeats its verdict.
        let verdict: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error") || l.trim_start().starts_with("- "))
            .collect();
        return Err(Error::Tool {
            command: "dnf install (into the new root)".into(),
            code: out.code,
            stderr: verdict.join("\n"),
            hint: Some("dnf's whole output is above".into()),
        });
    }
    let installed = root::installed(ws, runner)?;
    // dnf checked every signature; a package the database records without one
    // would mean it did not, and such a root is not shipped.
    if let Some((p, _)) = installed.iter().find(|(_, sig)| sig == "(none)") {
        return Err(RpmImageError::Unsigned { package: p.clone() }.into());
    }
    Ok(installed.into_iter().map(|(p, _)| p).collect())
}

/// `docker import` of the root's tarball; returns the image ID.
fn import(spec: &Spec, tar: &Path, command: Option<&str>, runner: &dyn Runner) -> Result<String> {
    let mut c = Cmd::new("docker").arg("import");
    if let Some(sh) = command {
        c = c.args(["--change", &format!("CMD [\"{sh}\"]")]);
    }
    c = c
        .args([
            "--change",
            &format!("LABEL labctl.rpm.releasever={}", spec.releasever),
        ])
        .arg(tar.to_string_lossy())
        .arg(&spec.tag);
    let out = runner.run(&c)?;
    Ok(out.stdout.trim().to_string())
}

#[cfg(test)]
mod tests;
