//! Per-lab state: the state dir, atomic file writes.

use crate::error::{Error, Result};
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

/// Paths inside a lab's state dir.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
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
    pub fn disks(&self) -> PathBuf {
        self.root.join("disks")
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
    pub provider: String,
    pub subnet: String,
    /// Network labctl created for the lab (docker network name).
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
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
    /// `creating`, `up`, `halted`.
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub nodes: std::collections::BTreeMap<String, NodeState>,
    /// Values roles published (public keys, revisions); never secrets.
    #[serde(default)]
    pub published: std::collections::BTreeMap<String, String>,
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

/// An exclusive lock on one lab, held for the life of a command. `flock` is
/// released by the kernel when its holder dies, so a lock left by a killed
/// process is simply taken over; the PID inside only names the holder.
pub struct LabLock {
    _file: std::fs::File,
    pub path: PathBuf,
}

impl LabLock {
    pub fn acquire(dir: &StateDir, lab: &str) -> Result<LabLock> {
        #[allow(deprecated)]
        use nix::fcntl::{flock, FlockArg};
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(&dir.root).map_err(|e| Error::io("create", &dir.root, e))?;
        let path = dir.lock_file();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        #[allow(deprecated)]
        if flock(file.as_raw_fd(), FlockArg::LockExclusiveNonblock).is_err() {
            let pid = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            return Err(Error::Locked {
                lab: lab.to_string(),
                pid,
                path,
            });
        }
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
            phase: "up".into(),
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
    fn second_lock_names_holder() {
        let d = tempfile::tempdir().unwrap();
        let sd = StateDir::new(d.path());
        let _l = LabLock::acquire(&sd, "x").unwrap();
        let e = LabLock::acquire(&sd, "x").err().unwrap();
        assert!(matches!(e, Error::Locked { pid, .. } if pid == std::process::id()));
    }
}
