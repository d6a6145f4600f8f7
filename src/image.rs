//! The docker provider's node image: a Debian rootfs made with debootstrap from
//! the host's mirror (and its apt settings), with the packages the roles ask
//! for, a `vagrant` user as Vagrant boxes have it and no SSH host keys, imported
//! with `docker import`. Cached by a hash of its inputs, rebuilt only when they change.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::path::PathBuf;

pub const BUILD_SCRIPT: &str = include_str!("../image/build-rootfs.sh");
pub const INIT_SCRIPT: &str = include_str!("../image/init.sh");
pub const REPO: &str = "labctl-node";

#[derive(Debug, Clone)]
pub struct Spec {
    pub release: String,
    /// `None`: the host's configured Debian mirror (the script reads it).
    pub mirror: Option<String>,
    pub packages: Vec<String>,
}

impl Spec {
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

pub fn exists(runner: &dyn Runner, tag: &str) -> bool {
    runner.output(&Cmd::new("docker").args(["image", "inspect", "--format", "{{.Id}}", tag])).map(|o| o.success()).unwrap_or(false)
}

/// Build (unless cached) and return the tag.
pub fn ensure(spec: &Spec, runner: &dyn Runner, rebuild: bool) -> Result<String> {
    let tag = spec.tag();
    if !rebuild && exists(runner, &tag) {
        return Ok(tag);
    }
    eprintln!("image: building {tag} (debootstrap {}, {} extra packages); this takes a few minutes", spec.release, spec.packages.len());
    let work = tempfile::Builder::new().prefix("labctl-image-").tempdir_in("/var/tmp").map_err(|e| Error::io("create a temp dir in", "/var/tmp", e))?;
    let tar = work.path().join("rootfs.tar");
    build_rootfs(spec, &work.path().join("rootfs"), &tar)?;
    let hash = spec.hash();
    runner.run(
        &Cmd::new("docker")
            .arg("import")
            .args(["--change", "CMD [\"/usr/local/sbin/labctl-init\"]"])
            .args(["--change", &format!("LABEL labctl.image.hash={hash}")])
            .arg(tar.to_string_lossy())
            .arg(&tag),
    )?;
    runner.run(&Cmd::new("docker").args(["tag", &tag, &format!("{REPO}:latest")]))?;
    eprintln!("image: {tag} ready");
    Ok(tag)
}

/// Run the rootfs build script with its inputs as environment variables,
/// showing progress as it goes and keeping the whole log.
pub fn build_rootfs(spec: &Spec, rootfs: &std::path::Path, output_tar: &std::path::Path) -> Result<()> {
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
        .env("INIT_SCRIPT", &init)
        .stderr_to_stdout()
        .stdin_null()
        .unchecked();
    if let Some(m) = &spec.mirror {
        e = e.env("MIRROR", m);
    }
    let reader = e.reader().map_err(|err| Error::io("run", &script, err))?;
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").unwrap());
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut log = Vec::new();
    let mut lines = std::io::BufReader::new(&reader).lines();
    let result = loop {
        match lines.next() {
            Some(Ok(line)) => {
                pb.set_message(line.chars().take(100).collect::<String>());
                log.push(line);
            }
            Some(Err(err)) => break Err(err),
            None => break Ok(()),
        }
    };
    pb.finish_and_clear();
    let status = reader.try_wait();
    match (result, status) {
        (Ok(()), Ok(Some(o))) if o.status.success() => Ok(()),
        (r, _) => {
            let tail = log.iter().rev().take(20).rev().cloned().collect::<Vec<_>>().join("\n");
            Err(Error::Tool {
                command: "build-rootfs.sh (debootstrap)".into(),
                code: r.err().map(|_| -1).or(Some(1)),
                stderr: tail,
                hint: Some("check the host's apt sources and network access to the Debian mirror; --mirror overrides it".into()),
            })
        }
    }
}
