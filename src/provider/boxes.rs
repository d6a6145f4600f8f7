//! The libvirt box labctl builds itself, offline: `image/build-box.sh` turns
//! the docker node image's root file system (the same tarball, so the same
//! packages and `vagrant` user) into a bootable qcow2 disk with a kernel,
//! systemd and extlinux, and Vagrant gets it as `labctl/node-<hash>`. The
//! hash covers the node image's inputs and the box script's, so the box is
//! rebuilt exactly when one of them changes. Labs with other roles have other
//! boxes, so `up` never removes one: every box labctl adds is recorded in
//! `/var/lib/labctl/boxes.json`, and only `labctl image build` prunes, and
//! only recorded boxes that no machine's disk is based on (with their base
//! volumes and rootfs tarballs), under an exclusive lock that `vagrant up`'s
//! holders share ([`use_lock`]). Labs boot this box on libvirt; the lab's own
//! `box` stays VirtualBox's.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::provider::libvirt::{pool_volumes, virsh};
use crate::provider::node_image::{self as image, Spec};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const BUILD_SCRIPT: &str = include_str!("../../image/build-box.sh");
/// Every box labctl makes is named `PREFIX<12 hex>`.
pub const PREFIX: &str = "labctl/node-";
/// The virtual size of the box's disk (GiB); the qcow2 holds only what is used.
pub const DISK_GB: u32 = 20;
/// The storage pool vagrant-libvirt uploads base volumes to.
pub const POOL: &str = "default";

/// A box labctl built and added to Vagrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabBox {
    /// `labctl/node-<12 hex>`.
    pub name: String,
}

/// The box of a node image spec: its name is a hash of everything that
/// changes the box (the node image's inputs, build-box.sh, the disk size).
pub fn name(spec: &Spec) -> String {
    let mut h = Sha256::new();
    h.update(b"labctl-box v1\0");
    h.update(spec.hash().as_bytes());
    h.update(b"\0");
    h.update(BUILD_SCRIPT.as_bytes());
    h.update(b"\0");
    h.update(DISK_GB.to_string().as_bytes());
    format!("{PREFIX}{}", &hex::encode(h.finalize())[..12])
}

/// The prefix of the base volumes vagrant-libvirt makes in the pool for box
/// `name` (`labctl-VAGRANTSLASH-node-<hash>_vagrant_box_image_...`).
fn volume_prefix(name: &str) -> String {
    format!("{}_vagrant_box_image_", name.replace('/', "-VAGRANTSLASH-"))
}

/// Where labctl keeps its record of the boxes it added, and their lock.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn system() -> Store {
        Store {
            dir: PathBuf::from("/var/lib/labctl"),
        }
    }
    fn record_file(&self) -> PathBuf {
        self.dir.join("boxes.json")
    }
    fn lock(&self, exclusive: bool) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("create", &self.dir, e))?;
        let path = self.dir.join("boxes.lock");
        use crate::state::{lock_file, LockMode};
        lock_file(
            &path,
            if exclusive {
                LockMode::Exclusive
            } else {
                LockMode::Shared
            },
        )
    }
    fn read(&self) -> Vec<Recorded> {
        std::fs::read_to_string(self.record_file())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
    fn write(&self, boxes: &[Recorded]) -> Result<()> {
        let f = self.record_file();
        let tmp = f.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(boxes).unwrap() + "\n")
            .map_err(|e| Error::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &f).map_err(|e| Error::io("write", &f, e))
    }
}

/// A box labctl added, and the rootfs tarball it was made from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Recorded {
    name: String,
    rootfs_tar: PathBuf,
}

/// Held (shared) while a box is in use without a machine disk based on it
/// yet, e.g. during `vagrant up`'s base-volume upload: [`prune`] waits for it.
pub fn use_lock() -> Result<std::fs::File> {
    Store::system().lock(false)
}

/// Build (if its inputs changed) and add the libvirt box made from the node
/// image's rootfs. `rebuild`: build and add again even if Vagrant has it.
/// Never removes another box (labs with other roles use theirs): see [`prune`].
/// Needs root (chroot, loop devices) and the tools `labctl setup --provider
/// libvirt` installs; takes about two minutes under TCG, nothing when cached.
pub fn ensure(r: &dyn Runner, spec: &Spec, rebuild: bool) -> Result<LabBox> {
    let store = Store::system();
    let b = LabBox { name: name(spec) };
    if !rebuild && list(r)?.iter().any(|n| n == &b.name) {
        // Added by a labctl that kept no record yet: it is this spec's box.
        if !store.read().iter().any(|x| x.name == b.name) {
            let _lock = store.lock(true)?;
            let mut rec = store.read();
            rec.push(Recorded {
                name: b.name.clone(),
                rootfs_tar: image::rootfs_tar_path(spec),
            });
            store.write(&rec)?;
        }
        return Ok(b);
    }
    // One build or prune at a time on this host.
    let _lock = store.lock(true)?;
    if !rebuild && list(r)?.iter().any(|n| n == &b.name) {
        return Ok(b);
    }
    let tar = image::ensure_rootfs_tar(spec)?;
    let work = tempfile::Builder::new()
        .prefix("labctl-box-")
        .tempdir_in("/var/tmp")
        .map_err(|e| Error::io("create a temp dir in", "/var/tmp", e))?;
    let file = build(&b, &tar, work.path())?;
    // A rebuilt box of the same name: its old base volume must go first, or
    // vagrant-libvirt keeps booting the old one (unless a disk is based on it).
    let vols = pool_volumes(r, POOL)?;
    let used = backing_files(r, &vols)?;
    for v in vols
        .iter()
        .filter(|v| v.starts_with(&volume_prefix(&b.name)))
    {
        remove_volume(r, v, &used)?;
    }
    r.run(
        &Cmd::new("vagrant")
            .args([
                "box",
                "add",
                "--force",
                "--name",
                &b.name,
                "--provider",
                "libvirt",
            ])
            .arg(file.to_string_lossy())
            .env("VAGRANT_CHECKPOINT_DISABLE", "1")
            .env("VAGRANT_NO_COLOR", "1"),
    )?;
    let mut rec = store.read();
    rec.retain(|x| x.name != b.name);
    rec.push(Recorded {
        name: b.name.clone(),
        rootfs_tar: tar,
    });
    store.write(&rec)?;
    eprintln!(
        "box: {} added to Vagrant (recorded in {})",
        b.name,
        store.record_file().display()
    );
    Ok(b)
}

/// `labctl image build`: remove the boxes labctl added other than the box of
/// `spec` that no machine's disk is based on, with their base volumes in the
/// pool, and the node rootfs tarballs that neither `spec` nor a kept box was
/// made from. Boxes labctl did not add are never touched. Waits for every
/// [`use_lock`] holder. Returns what was removed.
pub fn prune(r: &dyn Runner, spec: &Spec) -> Result<Vec<String>> {
    let keep = LabBox { name: name(spec) };
    let mut removed = prune_in(r, &Store::system(), &keep)?;
    let current = image::rootfs_tar_path(spec);
    let kept: Vec<PathBuf> = Store::system()
        .read()
        .into_iter()
        .map(|x| x.rootfs_tar)
        .collect();
    if let Ok(rd) = std::fs::read_dir(current.parent().unwrap()) {
        for f in rd.filter_map(|e| e.ok()).map(|e| e.path()) {
            let n = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let ours = n.starts_with(&format!("{}-", image::REPO)) && n.ends_with(".tar");
            if ours && f != current && !kept.contains(&f) && std::fs::remove_file(&f).is_ok() {
                eprintln!("box: removed rootfs {}", f.display());
                removed.push(format!("rootfs {}", f.display()));
            }
        }
    }
    Ok(removed)
}

fn prune_in(r: &dyn Runner, store: &Store, keep: &LabBox) -> Result<Vec<String>> {
    let _lock = store.lock(true)?;
    let rec = store.read();
    let vols = pool_volumes(r, POOL)?;
    let used = backing_files(r, &vols)?;
    let listed = list(r)?;
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    for x in rec.iter().filter(|x| x.name != keep.name) {
        let prefix = volume_prefix(&x.name);
        let in_use = used
            .iter()
            .any(|u| u.rsplit('/').next().is_some_and(|f| f.starts_with(&prefix)));
        if in_use {
            eprintln!("box: {} kept: a machine's disk is based on it", x.name);
            kept.push(x.clone());
            continue;
        }
        for v in vols.iter().filter(|v| v.starts_with(&prefix)) {
            remove_volume(r, v, &used)?;
            removed.push(format!("base volume {v}"));
        }
        if listed.contains(&x.name) {
            r.run(
                &Cmd::new("vagrant")
                    .args([
                        "box",
                        "remove",
                        "--force",
                        "--all",
                        "--provider",
                        "libvirt",
                        &x.name,
                    ])
                    .env("VAGRANT_CHECKPOINT_DISABLE", "1"),
            )?;
            removed.push(format!("box {}", x.name));
        }
        let tar_still_used = rec
            .iter()
            .any(|o| o.name != x.name && o.rootfs_tar == x.rootfs_tar);
        if !tar_still_used && std::fs::remove_file(&x.rootfs_tar).is_ok() {
            removed.push(format!("rootfs {}", x.rootfs_tar.display()));
        }
    }
    kept.extend(rec.iter().filter(|x| x.name == keep.name).cloned());
    store.write(&kept)?;
    for w in &removed {
        eprintln!("box: removed {w}");
    }
    Ok(removed)
}

/// Delete a base volume from the pool unless a machine's disk is based on it.
fn remove_volume(r: &dyn Runner, v: &str, used: &[String]) -> Result<()> {
    if used.iter().any(|u| u.ends_with(&format!("/{v}"))) {
        eprintln!("box: base volume {v} kept: a machine's disk is based on it");
        return Ok(());
    }
    r.run(&virsh(["vol-delete", "--pool", POOL, v]))?;
    Ok(())
}

/// Run a copy of build-box.sh (bash reads a script while it runs it: an
/// edit during a build would break that build) and return the box file.
fn build(b: &LabBox, rootfs_tar: &Path, work: &Path) -> Result<PathBuf> {
    let script = work.join("build-box.sh");
    std::fs::write(&script, BUILD_SCRIPT).map_err(|e| Error::io("write", &script, e))?;
    let out = work.join("node.box");
    eprintln!(
        "box: building {} from {} (kernel, systemd, extlinux on a {DISK_GB} GiB disk); about two minutes",
        b.name,
        rootfs_tar.display()
    );
    let started = std::time::Instant::now();
    crate::exec::logged::run_logged(
        duct::cmd("bash", [script.to_string_lossy().into_owned()])
            .env("BOX_OUT", &out)
            .env("WORK_DIR", work.join("work"))
            .env("ROOTFS_TAR", rootfs_tar)
            .env("DISK_GB", DISK_GB.to_string())
            .env("BOX_INFO", format!("name={}", b.name)),
        "build-box.sh",
        "the box build's log is above; it needs root and `labctl setup --provider libvirt`",
    )?;
    eprintln!("box: built {} in {} s", b.name, started.elapsed().as_secs());
    Ok(out)
}

/// The names of the boxes Vagrant has for libvirt.
fn list(r: &dyn Runner) -> Result<Vec<String>> {
    let out = r.run(
        &Cmd::new("vagrant")
            .args(["box", "list", "--machine-readable"])
            .env("VAGRANT_CHECKPOINT_DISABLE", "1"),
    )?;
    Ok(parse_box_list(&out.stdout))
}

/// `vagrant box list --machine-readable`: `TS,,box-name,NAME` followed by
/// `TS,,box-provider,PROVIDER`; the libvirt ones.
fn parse_box_list(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut name: Option<&str> = None;
    for l in text.lines() {
        let f: Vec<&str> = l.splitn(4, ',').collect();
        if f.len() < 4 {
            continue;
        }
        match f[2] {
            "box-name" => name = Some(f[3]),
            "box-provider" if f[3] == "libvirt" => {
                if let Some(n) = name.take() {
                    out.push(n.to_string());
                }
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The box a libvirt machine's root disk was made from, read from the host:
/// `MACHINE.img` in the pool is a qcow2 overlay whose backing file is the
/// box's base volume (`labctl-VAGRANTSLASH-node-<hash>_vagrant_box_image_...`
/// is `labctl/node-<hash>`). `None` when the machine has no disk.
pub fn box_of_machine(r: &dyn Runner, machine: &str) -> Option<String> {
    let out = r
        .output(&virsh([
            "vol-dumpxml",
            "--pool",
            POOL,
            &format!("{machine}.img"),
        ]))
        .ok()
        .filter(|o| o.success())?;
    box_of_backing_file(&backing_path(&out.stdout)?)
}

fn backing_path(xml: &str) -> Option<String> {
    xml.split("<backingStore>")
        .nth(1)
        .and_then(|s| s.split("<path>").nth(1))
        .and_then(|s| s.split("</path>").next())
        .map(|p| p.trim().to_string())
}

fn box_of_backing_file(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let (name, _) = file.split_once("_vagrant_box_image_")?;
    Some(name.replace("-VAGRANTSLASH-", "/"))
}

/// The backing files of the pool's volumes other than box base volumes
/// (machine disks are qcow2 overlays on a base volume).
fn backing_files(r: &dyn Runner, vols: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in vols.iter().filter(|v| !v.contains("_vagrant_box_image_")) {
        let x = r.output(&virsh(["vol-dumpxml", "--pool", POOL, v]))?;
        if let Some(path) = backing_path(&x.stdout) {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pkgs: &[&str]) -> Spec {
        Spec {
            release: "bookworm".into(),
            mirror: None,
            packages: pkgs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_name_follows_the_node_image_inputs() {
        let a = name(&spec(&["nginx"]));
        assert!(a.starts_with(PREFIX), "{a}");
        assert_eq!(a.len(), PREFIX.len() + 12);
        assert_eq!(a, name(&spec(&["nginx"])), "same inputs, same box");
        assert_ne!(
            a,
            name(&spec(&["nginx", "jq"])),
            "another package, another box"
        );
    }

    #[test]
    fn a_machines_box_is_read_from_its_disks_backing_file() {
        let r = crate::exec::Recorder::default();
        r.answer(
            "virsh -c qemu:///system vol-dumpxml --pool default labctl-lab-n1.img",
            0,
            "<volume type='file'>\n  <name>labctl-lab-n1.img</name>\n  <backingStore>\n    <path>/var/lib/libvirt/images/labctl-VAGRANTSLASH-node-7507f0bd3a92_vagrant_box_image_0_1796190145_box.img</path>\n  </backingStore>\n</volume>\n",
        );
        r.answer(
            "virsh -c qemu:///system vol-dumpxml --pool default labctl-lab-n2.img",
            1,
            "",
        );
        assert_eq!(
            box_of_machine(&r, "labctl-lab-n1").as_deref(),
            Some("labctl/node-7507f0bd3a92")
        );
        assert_eq!(box_of_machine(&r, "labctl-lab-n2"), None, "no disk, no box");
    }

    #[test]
    fn box_list_keeps_libvirt_boxes() {
        let text =
            "1,,box-name,labctl/node-aaaaaaaaaaaa\n1,,box-provider,libvirt\n1,,box-version,0\n\
                    1,,box-name,debian/bookworm64\n1,,box-provider,virtualbox\n1,,box-version,12\n\
                    1,,box-name,labctl/node-bbbbbbbbbbbb\n1,,box-provider,libvirt\n";
        assert_eq!(
            parse_box_list(text),
            vec!["labctl/node-aaaaaaaaaaaa", "labctl/node-bbbbbbbbbbbb"]
        );
        assert!(parse_box_list("There are no installed boxes!").is_empty());
    }

    const VOLS: &str = " Name                                                                  Path\n\
        -----------------------------------------------------------------------------------\n\
        labctl-VAGRANTSLASH-node-aaaaaaaaaaaa_vagrant_box_image_0_1764650000_box.img   /var/lib/libvirt/images/labctl-VAGRANTSLASH-node-aaaaaaaaaaaa_vagrant_box_image_0_1764650000_box.img\n\
        labctl-VAGRANTSLASH-node-bbbbbbbbbbbb_vagrant_box_image_0_1764651111_box.img   /var/lib/libvirt/images/labctl-VAGRANTSLASH-node-bbbbbbbbbbbb_vagrant_box_image_0_1764651111_box.img\n\
        labctl-VAGRANTSLASH-node-cccccccccccc_vagrant_box_image_0_1764652222_box.img   /var/lib/libvirt/images/labctl-VAGRANTSLASH-node-cccccccccccc_vagrant_box_image_0_1764652222_box.img\n\
        labctl-lab1-n1.img   /var/lib/libvirt/images/labctl-lab1-n1.img\n\
        other.qcow2   /var/lib/libvirt/images/other.qcow2\n";

    /// Command-sequence test: which boxes and base volumes go when box
    /// `aaaa` is current: `bbbb` (listed, unused) goes with its volume;
    /// `cccc`'s volume stays while lab1-n1's disk is based on it, and so
    /// does its box; `aaaa`'s own volume stays; other volumes are never touched.
    /// Command-sequence test: `image build`'s prune with box `aaaa` current.
    /// Recorded `bbbb` (unused) goes with its base volume and tarball;
    /// recorded `cccc` stays while lab1-n1's disk is based on it; `dddd`,
    /// a box labctl did not record, and `aaaa`'s own volume are never touched.
    #[test]
    fn prune_removes_only_recorded_unused_boxes() {
        let t = tempfile::tempdir().unwrap();
        let store = Store {
            dir: t.path().to_path_buf(),
        };
        let tar = |h: &str| t.path().join(format!("labctl-node-{h}.tar"));
        for h in ["a", "b", "c"] {
            std::fs::write(tar(h), "x").unwrap();
        }
        store
            .write(&[
                Recorded {
                    name: "labctl/node-aaaaaaaaaaaa".into(),
                    rootfs_tar: tar("a"),
                },
                Recorded {
                    name: "labctl/node-bbbbbbbbbbbb".into(),
                    rootfs_tar: tar("b"),
                },
                Recorded {
                    name: "labctl/node-cccccccccccc".into(),
                    rootfs_tar: tar("c"),
                },
            ])
            .unwrap();
        let r = crate::exec::Recorder::default();
        r.answer("virsh -c qemu:///system vol-list", 0, VOLS);
        r.answer(
            "virsh -c qemu:///system vol-dumpxml --pool default labctl-lab1-n1.img",
            0,
            "<volume><backingStore><path>/var/lib/libvirt/images/labctl-VAGRANTSLASH-node-cccccccccccc_vagrant_box_image_0_1764652222_box.img</path></backingStore></volume>",
        );
        r.answer(
            "vagrant box list",
            0,
            "1,,box-name,labctl/node-aaaaaaaaaaaa\n1,,box-provider,libvirt\n1,,box-name,labctl/node-bbbbbbbbbbbb\n1,,box-provider,libvirt\n1,,box-name,labctl/node-cccccccccccc\n1,,box-provider,libvirt\n1,,box-name,labctl/node-dddddddddddd\n1,,box-provider,libvirt\n",
        );
        let keep = LabBox {
            name: "labctl/node-aaaaaaaaaaaa".into(),
        };
        prune_in(&r, &store, &keep).unwrap();
        let changes: Vec<String> = r
            .lines()
            .into_iter()
            .filter(|l| l.contains("vol-delete") || l.contains("box remove"))
            .collect();
        assert_eq!(
            changes,
            vec![
                "virsh -c qemu:///system vol-delete --pool default labctl-VAGRANTSLASH-node-bbbbbbbbbbbb_vagrant_box_image_0_1764651111_box.img",
                "vagrant box remove --force --all --provider libvirt labctl/node-bbbbbbbbbbbb",
            ]
        );
        assert!(!tar("b").exists() && tar("a").exists() && tar("c").exists());
        let left: Vec<String> = store.read().into_iter().map(|x| x.name).collect();
        assert_eq!(
            left,
            vec!["labctl/node-cccccccccccc", "labctl/node-aaaaaaaaaaaa"]
        );
    }
}
