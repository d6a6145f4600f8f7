//! Per-lab state: the state dir and its marker, the typed state file
//! (provider [`Kind`], [`Phase`], subnet), the lab lock, the typed runtime
//! file the Vagrantfile reads ([`runtime`]), and atomic file writes.

pub mod runtime;
mod typed;

pub use typed::{Kind, Phase};

use crate::error::{Error, Result};
use ipnet::Ipv4Net;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write a file atomically: a temp file in the same folder, fsync, rename.
/// A crash leaves either the old or the new content, never a torn file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io("create a temp file in", dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| Error::io("write", tmp.path().to_path_buf(), e))?;
    // Temp files are created 0600; rendered files are not secret. Secrets never
    // reach files labctl writes (they travel to nodes in a 0600 file over SFTP).
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("sync", path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// Default state dir of a lab: `.labctl/NAME/` beside the lab file, or under the
/// current directory for shipped labs.
pub fn default_state_dir(lab: &crate::lab::Lab) -> PathBuf {
    let base = lab.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    base.join(".labctl").join(&lab.name.value)
}

/// The file that makes a folder a labctl state dir. labctl writes it when it
/// first uses a folder (which must then be missing or empty) and never removes
/// it, so a destructive command can tell its own folder from one a user named
/// by mistake (`--state-dir ~`) or one another lab owns.
pub const MARKER: &str = ".labctl-state-dir";

/// Paths inside a lab's state dir.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }
    pub fn marker(&self) -> PathBuf {
        self.root.join(MARKER)
    }

    /// Make this folder lab `lab`'s state dir, or confirm that it already is:
    /// a missing or empty folder gets the marker; a folder with the marker of
    /// this lab is used as it is; anything else is refused (exit 2) before
    /// labctl writes a byte into it.
    pub fn claim(&self, lab: &str) -> Result<()> {
        if self.owner()?.is_some() {
            return self.check_owned(lab).map(|_| ());
        }
        let empty = match std::fs::read_dir(&self.root) {
            Ok(mut rd) => rd.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(Error::io("read", &self.root, e)),
        };
        if !empty {
            return Err(self.not_ours("it is not empty and has no state-dir marker", lab));
        }
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io("create", &self.root, e))?;
        write_atomic(
            &self.marker(),
            format!("labctl state dir\nlab = {lab}\n").as_bytes(),
        )
    }

    /// Before a destructive command: `Ok(false)` when the folder does not
    /// exist (nothing of the lab can be here), `Ok(true)` when it carries the
    /// marker of lab `lab`; any other folder is refused with exit 2.
    pub fn check_owned(&self, lab: &str) -> Result<bool> {
        match std::fs::symlink_metadata(&self.root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("read", &self.root, e)),
            Ok(_) => {}
        }
        match self.owner()? {
            Some(owner) if owner == lab => Ok(true),
            Some(owner) => Err(self.not_ours(&format!("it belongs to lab `{owner}`"), lab)),
            None => Err(self.not_ours("it has no state-dir marker", lab)),
        }
    }

    /// The lab named in the marker; `None` when there is no marker (a marker
    /// that is a symbolic link or not labctl's text counts as none).
    fn owner(&self) -> Result<Option<String>> {
        let path = self.marker();
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        let mut lines = text.lines();
        if lines.next() != Some("labctl state dir") {
            return Ok(None);
        }
        Ok(lines
            .find_map(|l| l.strip_prefix("lab = "))
            .map(|s| s.trim().to_string()))
    }

    fn not_ours(&self, why: &str, lab: &str) -> Error {
        Error::Usage {
            message: format!(
                "{} is not the state dir of lab `{lab}`: {why}; refusing to use it",
                self.root.display()
            ),
            hint: Some(format!(
                "labctl keeps each lab's files in a folder of its own, marked by {MARKER}; \
                 give --state-dir a new or empty folder (default: .labctl/{lab} beside the lab file)"
            )),
        }
    }

    /// Is `path` a file or folder strictly inside this state dir, reached
    /// without following a symbolic link out of it? `path` itself may be a
    /// symbolic link (removing one removes only the link).
    pub fn holds(&self, path: &Path) -> bool {
        let (Ok(root), Some(parent), Some(name)) =
            (self.root.canonicalize(), path.parent(), path.file_name())
        else {
            return false;
        };
        if name == ".." || name == "." {
            return false;
        }
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        parent.canonicalize().is_ok_and(|p| p.starts_with(&root))
    }
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }
    pub fn runtime_file(&self) -> PathBuf {
        self.root.join("labctl-runtime.json")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.root.join("known_hosts")
    }
    pub fn ssh_config(&self) -> PathBuf {
        self.root.join("ssh_config")
    }
    /// Copies of extra disks taken with snapshots, one folder per snapshot.
    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }
    pub fn disks(&self) -> PathBuf {
        self.root.join("disks")
    }
    /// Each docker node's SSH key pair, made by labctl (provider::docker::keys).
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }
    pub fn reports(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// Read the state file; `None` when the lab was never brought up here.
    pub fn load(&self) -> Result<Option<State>> {
        let path = self.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read state file", &path, e)),
        };
        if text.trim().is_empty() {
            return Err(corrupt(&path, "it is empty"));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| corrupt(&path, &format!("it is not a valid state file ({e})")))
    }

    pub fn save(&self, state: &State) -> Result<()> {
        let mut text = serde_json::to_string_pretty(state).expect("state serializes");
        text.push('\n');
        write_atomic(&self.state_file(), text.as_bytes())
    }
}

fn corrupt(path: &Path, why: &str) -> Error {
    Error::env(
        format!("cannot use state file {}: {why}", path.display()),
        Some(format!(
            "`labctl down LAB --force` removes everything labelled with the lab without the state file; \
             or move {} aside to start over",
            path.display()
        )),
    )
}

/// What labctl created for a lab, recorded before each thing is created so
/// `down` can remove it even after a crash.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct State {
    pub lab: String,
    pub lab_file: String,
    /// The provider the lab was brought up with; written `""` when not known.
    #[serde(with = "typed::empty_is_none")]
    pub provider: Option<Kind>,
    /// The lab's subnet (a `--subnet` copy's own); written `""` when not known.
    #[serde(with = "typed::empty_is_none")]
    pub subnet: Option<Ipv4Net>,
    /// Network labctl created for the lab (docker network name).
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    /// libvirt: the lab's management network's subnet, allocated and
    /// recorded before the network is created.
    #[serde(
        default,
        with = "typed::empty_is_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub management_subnet: Option<Ipv4Net>,
    /// Loop-backed disks: recorded before `losetup` attaches them.
    #[serde(default)]
    pub disks: Vec<LoopDisk>,
    #[serde(default)]
    pub host_ports: Vec<u16>,
    /// The process (group) of the labctl run that owns the lab's children.
    #[serde(default)]
    pub owner_pid: u32,
    #[serde(default)]
    pub owner_pgid: i32,
    /// Process groups of long-running children (vagrant) while they run.
    #[serde(default)]
    pub child_pgids: Vec<i32>,
    #[serde(default)]
    pub phase: Phase,
    #[serde(default)]
    pub nodes: std::collections::BTreeMap<String, NodeState>,
    /// Values roles published (public keys, revisions); never secrets.
    #[serde(default)]
    pub published: std::collections::BTreeMap<String, String>,
    /// Nodes whose machine labctl re-created (it found the old one gone, or
    /// was asked to with `up --recreate`): new machines with new host keys.
    /// Kept until a provisioning run succeeds, so roles that pin other
    /// nodes' keys (mgmt's known_hosts) learn them even after a failed run.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub recreated: std::collections::BTreeSet<String>,
    /// Snapshots of the lab (`labctl snapshot save`, and the one `up` and
    /// `provision` take after a successful run), recorded before they are
    /// made so `down` removes exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<Snapshot>,
}

/// One snapshot of a lab: what the provider made for it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Snapshot {
    pub name: String,
    /// When it was taken, seconds since the Unix epoch.
    pub created: u64,
    /// docker: the image committed from each node's container, by node.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub images: std::collections::BTreeMap<String, String>,
    /// docker: a copy of each extra disk's backing file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<SnapshotDisk>,
    /// The values roles had published when it was taken (public keys,
    /// revisions): the restored machines are the ones that published them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub published: std::collections::BTreeMap<String, String>,
}

/// A copy of one loop disk's backing file, taken with its snapshot.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct SnapshotDisk {
    pub node: String,
    pub disk: String,
    /// The disk's backing file (a [`LoopDisk`]'s `file`).
    pub file: String,
    /// Where its contents were copied, inside the state dir's `snapshots/`.
    pub copy: String,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct LoopDisk {
    pub node: String,
    pub disk: String,
    pub file: String,
    pub size_bytes: u64,
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct NodeState {
    pub ip: String,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub ssh_key: String,
}

/// How [`lock_file`] locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Wait for an exclusive lock.
    Exclusive,
    /// Wait for a shared lock.
    Shared,
    /// Take the exclusive lock now or fail (another process holds it).
    ExclusiveNow,
}

/// Open `path` (created if missing, never truncated) and `flock` it. The
/// kernel releases the lock when the file is closed or its holder dies, so a
/// lock left by a killed process is simply taken over. The one place labctl
/// takes file locks: labs, the box store, benches, Vagrant's machine index.
pub fn lock_file(path: &Path, mode: LockMode) -> Result<std::fs::File> {
    #[allow(deprecated)] // nix's Flock type would own the file; the fd form keeps it ours
    use nix::fcntl::{flock, FlockArg};
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let how = match mode {
        LockMode::Exclusive => FlockArg::LockExclusive,
        LockMode::Shared => FlockArg::LockShared,
        LockMode::ExclusiveNow => FlockArg::LockExclusiveNonblock,
    };
    #[allow(deprecated)]
    flock(f.as_raw_fd(), how).map_err(|e| Error::io("lock", path, std::io::Error::from(e)))?;
    Ok(f)
}

/// An exclusive lock on one lab, held for the life of a command. `flock` is
/// released by the kernel when its holder dies, so a lock left by a killed
/// process is simply taken over; the PID inside only names the holder.
pub struct LabLock {
    _file: std::fs::File,
    pub path: PathBuf,
}

impl LabLock {
    pub fn acquire(dir: &StateDir, lab: &str) -> Result<LabLock> {
        dir.claim(lab)?;
        let path = dir.lock_file();
        let Ok(mut file) = lock_file(&path, LockMode::ExclusiveNow) else {
            let pid = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            return Err(Error::Locked {
                lab: lab.to_string(),
                pid,
                path,
            });
        };
        use std::io::Seek;
        file.set_len(0).ok();
        file.seek(std::io::SeekFrom::Start(0)).ok();
        writeln!(file, "{}", std::process::id()).ok();
        Ok(LabLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_roundtrip_and_corruption() {
        let d = tempfile::tempdir().unwrap();
        let sd = StateDir::new(d.path());
        assert!(sd.load().unwrap().is_none());
        let st = State {
            lab: "x".into(),
            phase: Phase::Up,
            ..Default::default()
        };
        sd.save(&st).unwrap();
        assert_eq!(sd.load().unwrap().unwrap(), st);
        std::fs::write(sd.state_file(), "").unwrap();
        let e = sd.load().unwrap_err().render();
        assert!(e.contains("is empty") && e.contains("state.json"), "{e}");
        std::fs::write(sd.state_file(), "{\"lab\": ").unwrap();
        let e = sd.load().unwrap_err().render();
        assert!(e.contains("not a valid state file"), "{e}");
    }

    #[test]
    fn a_state_dir_is_claimed_only_when_new_empty_or_already_ours() {
        let d = tempfile::tempdir().unwrap();
        // Missing: made and marked.
        let sd = StateDir::new(d.path().join("new"));
        assert!(!sd.check_owned("lab").unwrap());
        sd.claim("lab").unwrap();
        assert!(sd.check_owned("lab").unwrap());
        sd.claim("lab").unwrap();
        // Another lab's: refused, for claim and for destructive commands.
        let e = sd.claim("other").unwrap_err();
        assert_eq!(e.exit(), crate::Exit::Usage);
        assert!(
            e.render().contains("belongs to lab `lab`"),
            "{}",
            e.render()
        );
        // Not empty and unmarked (a home folder): refused, nothing written.
        let home = StateDir::new(d.path().join("home"));
        std::fs::create_dir_all(home.root.join(".vagrant")).unwrap();
        assert!(home.claim("lab").is_err() && home.check_owned("lab").is_err());
        assert!(!home.marker().exists());
        // A marker that is a symbolic link to a real marker does not count.
        let linked = StateDir::new(d.path().join("linked"));
        std::fs::create_dir_all(&linked.root).unwrap();
        std::os::unix::fs::symlink(sd.marker(), linked.marker()).unwrap();
        assert!(linked.check_owned("lab").is_err());
    }

    #[test]
    fn holds_means_inside_without_following_a_link_out() {
        let d = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let sd = StateDir::new(d.path());
        std::fs::create_dir_all(sd.disks()).unwrap();
        std::os::unix::fs::symlink(out.path(), d.path().join("escape")).unwrap();
        assert!(sd.holds(&sd.disks().join("a.img")));
        assert!(
            sd.holds(&d.path().join("escape")),
            "the link itself is inside"
        );
        assert!(!sd.holds(&d.path().join("escape/a.img")));
        assert!(!sd.holds(&sd.disks().join("../../x")));
        assert!(!sd.holds(out.path()));
        assert!(!sd.holds(d.path()), "the root itself is not inside");
    }

    #[test]
    fn second_lock_names_holder() {
        let d = tempfile::tempdir().unwrap();
        let sd = StateDir::new(d.path());
        let _l = LabLock::acquire(&sd, "x").unwrap();
        let e = LabLock::acquire(&sd, "x").err().unwrap();
        assert!(matches!(e, Error::Locked { pid, .. } if pid == std::process::id()));
    }
}
