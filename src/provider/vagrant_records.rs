//! Vagrant's own records of a lab's machines, kept as Vagrant keeps them when
//! labctl removes machines without `vagrant destroy` (docker `down` removes
//! every container in one engine call instead of Vagrant's second or so per
//! machine): the machine's data dir `.vagrant/machines/NODE/PROVIDER/` (its
//! `id` file makes a machine "created") and its entry in Vagrant's global
//! machine index (`vagrant global-status`). What Vagrant's `machine.id = nil`
//! does, for machines whose container is gone. Also the one reading of the
//! SSH key Vagrant keeps in that data dir (`machine_key`), and how labctl
//! reaches a machine without asking `vagrant ssh-config` (`ssh_host`).

use crate::error::{Error, Result};
use crate::lab::Lab;
use crate::remote::ssh_config::Host;
use std::path::{Path, PathBuf};

/// A machine Vagrant recorded in a lab's state dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub node: String,
    /// The provider's id of it (a docker container id).
    pub id: String,
    data_dir: PathBuf,
}

/// The private key Vagrant keeps for machine `node` of `provider` in the
/// state dir `root`: the key it put in place of the well-known key during
/// `up` (insert_key; libvirt). Docker nodes use labctl's own key instead
/// ([`crate::provider::docker::keys`]).
pub fn machine_key(root: &Path, node: &str, provider: &str) -> PathBuf {
    root.join(".vagrant/machines")
        .join(node)
        .join(provider)
        .join("private_key")
}

/// How to reach machine `node` as `vagrant ssh-config` says it for labctl's
/// Vagrantfile: user vagrant and the machine's own `key` (never the
/// well-known key), as an absolute path (ssh runs from other folders). The
/// address, port and key are the provider's to know. One place, so every
/// provider names its machines the same way.
pub fn ssh_host(lab: &Lab, key: &Path, node: &str, hostname: String, port: u16) -> Host {
    let key = std::path::absolute(key).unwrap_or(key.to_path_buf());
    Host {
        name: node.to_string(),
        alias: lab.machine_name(node),
        hostname,
        port,
        user: "vagrant".into(),
        key: key.display().to_string(),
    }
}

/// `$VAGRANT_HOME` (default `~/.vagrant.d`): Vagrant's global data.
pub fn home() -> Option<PathBuf> {
    match std::env::var_os("VAGRANT_HOME") {
        Some(h) => Some(PathBuf::from(h)),
        None => Some(PathBuf::from(std::env::var_os("HOME")?).join(".vagrant.d")),
    }
}

/// The machines Vagrant recorded in the state dir `dir` for `provider`:
/// those whose data dir holds a non-empty `id` file.
pub fn machines(dir: &Path, provider: &str) -> Vec<Machine> {
    let Ok(rd) = std::fs::read_dir(dir.join(".vagrant").join("machines")) else {
        return vec![];
    };
    let mut out: Vec<Machine> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let data_dir = e.path().join(provider);
            let id = std::fs::read_to_string(data_dir.join("id")).ok()?;
            let id = id.trim().to_string();
            (!id.is_empty()).then(|| Machine {
                node: e.file_name().to_string_lossy().into_owned(),
                id,
                data_dir,
            })
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
}

/// Forget machines whose provider resource is gone, as Vagrant's destroy
/// does: each one's entry in the global machine index (only an entry whose
/// `local_data_path` is this state dir's `.vagrant`, under Vagrant's index
/// lock, skipped while a Vagrant process holds that machine's lock), then the
/// contents of its data dir, `id` included. `vagrant status` then says "not
/// created".
pub fn forget(dir: &Path, gone: &[Machine]) -> Result<()> {
    let index_dir = home().map(|h| h.join("data").join("machine-index"));
    forget_with(index_dir.as_deref(), dir, gone)
}

/// [`forget`] with Vagrant's index dir given (tests use their own).
fn forget_with(index_dir: Option<&Path>, dir: &Path, gone: &[Machine]) -> Result<()> {
    if gone.is_empty() {
        return Ok(());
    }
    if let Some(index_dir) = index_dir {
        let uuids: Vec<String> = gone
            .iter()
            .filter_map(|m| std::fs::read_to_string(m.data_dir.join("index_uuid")).ok())
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if !uuids.is_empty() && index_dir.join("index").exists() {
            forget_in_index(index_dir, &dir.join(".vagrant"), &uuids)?;
        }
    }
    for m in gone {
        // Only inside the lab's own .vagrant: `machines` built these paths.
        if let Ok(rd) = std::fs::read_dir(&m.data_dir) {
            for e in rd.filter_map(|e| e.ok()) {
                let p = e.path();
                let _ = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    Ok(())
}

/// Remove `uuids` from the index in `index_dir`, holding `index.lock` as
/// Vagrant does (flock, exclusive) and each machine's `UUID.lock` (not
/// waited for: a Vagrant process working on that machine keeps its entry).
fn forget_in_index(index_dir: &Path, local_data_path: &Path, uuids: &[String]) -> Result<()> {
    let _index = lock(&index_dir.join("index.lock"), true)?;
    let file = index_dir.join("index");
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io("read", &file, e))?;
    let mut index: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::env(
            format!(
                "cannot read Vagrant's machine index {}: {e}",
                file.display()
            ),
            None,
        )
    })?;
    let ours = |p: &str| {
        let p = Path::new(p);
        p == local_data_path
            || (p.canonicalize().ok().is_some()
                && p.canonicalize().ok() == local_data_path.canonicalize().ok())
    };
    let Some(entries) = index["machines"].as_object_mut() else {
        return Ok(());
    };
    let mut released = Vec::new();
    for u in uuids {
        let is_ours = entries
            .get(u)
            .and_then(|e| e["local_data_path"].as_str())
            .is_some_and(ours);
        if !is_ours {
            continue;
        }
        let machine_lock = index_dir.join(format!("{u}.lock"));
        if let Ok(held) = lock(&machine_lock, false) {
            entries.remove(u);
            released.push((held, machine_lock));
        }
    }
    if released.is_empty() {
        return Ok(());
    }
    // Written in place under the index lock, as Vagrant writes it
    // (MachineIndex#unlocked_save): a rename would replace the file's owner
    // and mode (root's, under `sudo -E`, locking the user's Vagrant out) and
    // leave a temp file in Vagrant's folder if it failed half way.
    std::fs::write(&file, index.to_string()).map_err(|e| Error::io("write", &file, e))?;
    for (_held, path) in released {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// An exclusive flock on `path` (created if missing); `wait` false fails at
/// once when another process holds it.
fn lock(path: &Path, wait: bool) -> Result<std::fs::File> {
    use crate::state::{lock_file, LockMode};
    lock_file(
        path,
        if wait {
            LockMode::Exclusive
        } else {
            LockMode::ExclusiveNow
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(dir: &Path, node: &str, id: &str, uuid: &str) {
        let d = dir.join(".vagrant/machines").join(node).join("docker");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("id"), id).unwrap();
        std::fs::write(d.join("index_uuid"), uuid).unwrap();
        std::fs::write(d.join("private_key"), "key").unwrap();
    }

    /// Forgetting removes this lab's index entries and data dirs only: the
    /// entry of another folder's machine and a machine not forgotten stay.
    #[test]
    fn forget_keeps_other_labs_entries() {
        let lab = tempfile::tempdir().unwrap();
        let index_dir = tempfile::tempdir().unwrap();
        machine(lab.path(), "node1", "c1", "u1");
        machine(lab.path(), "node2", "c2", "u2");
        std::fs::create_dir_all(lab.path().join(".vagrant/machines/node3/docker")).unwrap();
        let ours = lab.path().join(".vagrant").display().to_string();
        let index = serde_json::json!({"version": 1, "machines": {
            "u1": {"local_data_path": ours, "name": "node1"},
            "u2": {"local_data_path": ours, "name": "node2"},
            "u9": {"local_data_path": "/elsewhere/.vagrant", "name": "node1"},
        }});
        std::fs::write(index_dir.path().join("index"), index.to_string()).unwrap();

        let all = machines(lab.path(), "docker");
        assert_eq!(
            all.iter()
                .map(|m| (m.node.as_str(), m.id.as_str()))
                .collect::<Vec<_>>(),
            vec![("node1", "c1"), ("node2", "c2")],
            "node3 has no id: not created"
        );
        // node1 is forgotten; its index_uuid is made to name u9 as well
        // (a stale or hand-edited file): another folder's entry, kept.
        let node1: Vec<Machine> = all.iter().filter(|m| m.node == "node1").cloned().collect();
        forget_with(Some(index_dir.path()), lab.path(), &node1).unwrap();
        forget_in_index(
            index_dir.path(),
            &lab.path().join(".vagrant"),
            &["u9".into()],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_dir(&node1[0].data_dir).unwrap().count(),
            0,
            "node1's data dir is emptied, as Vagrant's destroy does"
        );
        let left: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(index_dir.path().join("index")).unwrap())
                .unwrap();
        let mut keys: Vec<&String> = left["machines"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["u2", "u9"]);
        assert_eq!(left["version"], 1);
        assert_eq!(machines(lab.path(), "docker")[0].node, "node2");
    }

    /// A machine whose lock a Vagrant process holds keeps its entry.
    #[test]
    fn a_machine_vagrant_is_working_on_keeps_its_entry() {
        let lab = tempfile::tempdir().unwrap();
        let index_dir = tempfile::tempdir().unwrap();
        let ours = lab.path().join(".vagrant").display().to_string();
        let index = serde_json::json!({"version": 1, "machines": {
            "u1": {"local_data_path": ours}}});
        std::fs::write(index_dir.path().join("index"), index.to_string()).unwrap();
        let _held = lock(&index_dir.path().join("u1.lock"), true).unwrap();
        forget_in_index(
            index_dir.path(),
            &lab.path().join(".vagrant"),
            &["u1".into()],
        )
        .unwrap();
        let left = std::fs::read_to_string(index_dir.path().join("index")).unwrap();
        assert!(left.contains("u1"), "{left}");
    }
}
