//! Snapshots of virtual machines through `vagrant snapshot`, for the
//! providers whose hypervisor keeps them (VirtualBox; libvirt, where
//! vagrant-libvirt takes internal snapshots of every qcow2 disk and the
//! running guest's memory: labctl takes those through virsh, every domain
//! at once, `libvirt/snapshots.rs`, and restores and deletes them here). The disks, host keys and addresses belong to the
//! VM, so they come back with it: labctl only checks that every machine has
//! the snapshot before any is restored, and removes it on `delete`. `down`
//! needs nothing more: `vagrant destroy` deletes a VM's snapshots with it
//! (vagrant-libvirt removes their metadata before undefining the domain).

use super::vagrant::{self, SnapshotVerb};
use super::Provider;
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::lab::Lab;
use crate::state::{Snapshot, StateDir};

/// Take snapshot `snap` of every machine (replacing one of the same name).
pub fn save(r: &dyn Runner, dir: &StateDir, snap: &Snapshot) -> Result<()> {
    vagrant::snapshot(r, &dir.root, SnapshotVerb::Save, &snap.name).map(|_| ())
}

/// Bring every machine back to `snap`, refusing before any is touched when
/// one of them lacks it (`hypervisor` names what keeps them, for the error).
pub fn restore(
    r: &dyn Runner,
    lab: &Lab,
    dir: &StateDir,
    snap: &Snapshot,
    hypervisor: &str,
) -> Result<()> {
    let have = vagrant::snapshot_list(r, &dir.root)?;
    for n in &lab.nodes {
        if !have.get(&n.name).is_some_and(|v| v.contains(&snap.name)) {
            return Err(Error::env(
                format!(
                    "snapshot {} of lab {}: {hypervisor} has none of node {}",
                    snap.name, lab.name.value, n.name
                ),
                Some(format!(
                    "`labctl snapshot save {} {}` takes it again",
                    lab.name.value, snap.name
                )),
            ));
        }
    }
    vagrant::snapshot(r, &dir.root, SnapshotVerb::Restore, &snap.name).map(|_| ())
}

/// Remove `snap` from every machine; nothing to do once the machines are
/// gone (their snapshots went with them). What was removed.
pub fn delete(
    p: &dyn Provider,
    r: &dyn Runner,
    lab: &Lab,
    dir: &StateDir,
    snap: &Snapshot,
) -> Result<Vec<String>> {
    let created = p
        .states(r, lab, &dir.root)?
        .values()
        .any(|s| s != "not_created");
    if !created {
        return Ok(vec![]);
    }
    vagrant::snapshot(r, &dir.root, SnapshotVerb::Delete, &snap.name)?;
    Ok(vec![format!(
        "snapshot {} (vagrant snapshot delete)",
        snap.name
    )])
}
