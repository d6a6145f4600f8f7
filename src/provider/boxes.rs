//! The libvirt box labctl builds itself, offline: `image/build-box.sh` turns
//! the docker node image's root file system (the same tarball, so the same
//! packages and `vagrant` user) into a bootable qcow2 disk with a kernel,
//! systemd and extlinux, and Vagrant gets it as `labctl/node-<hash>`. The
//! hash covers the node image's inputs and the box script's, so the box is
//! rebuilt exactly when one of them changes; older `labctl/node-*` boxes and
//! their base volumes in libvirt's pool are removed when a new one is added.
//! Labs boot this box on libvirt; the lab's own `box` stays VirtualBox's.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::provider::docker::image::{self, Spec};
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

/// Build (if its inputs changed) and add the libvirt box made from the node
/// image's rootfs. `rebuild`: build and add again even if Vagrant has it.
/// Needs root (chroot, loop devices) and the tools `labctl setup --provider
/// libvirt` installs; takes about two minutes under TCG, nothing when cached.
pub fn ensure(r: &dyn Runner, spec: &Spec, rebuild: bool) -> Result<LabBox> {
    let b = LabBox { name: name(spec) };
    let listed = list(r)?;
    if !rebuild && listed.iter().any(|n| n == &b.name) {
        remove_stale(r, &b, &listed, false)?;
        return Ok(b);
    }
    let tar = image::ensure_rootfs_tar(spec)?;
    let work = tempfile::Builder::new()
        .prefix("labctl-box-")
        .tempdir_in("/var/tmp")
        .map_err(|e| Error::io("create a temp dir in", "/var/tmp", e))?;
    let file = build(&b, &tar, work.path())?;
    // A rebuilt box of the same name: its old base volume must go first, or
    // vagrant-libvirt keeps booting the old one.
    remove_stale(r, &b, &listed, true)?;
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
    eprintln!("box: {} added to Vagrant", b.name);
    Ok(b)
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

/// Remove the other `labctl/node-*` boxes and their base volumes, and with
/// `own_volumes` the base volumes of `keep` itself (it is being replaced). A
/// base volume that a machine's disk still uses as its backing file stays
/// (and so does its box): it belongs to a lab that is up.
fn remove_stale(r: &dyn Runner, keep: &LabBox, listed: &[String], own_volumes: bool) -> Result<()> {
    let vols = pool_volumes(r)?;
    let used = backing_files(r, &vols)?;
    let stale_boxes: Vec<&String> = listed
        .iter()
        .filter(|n| n.starts_with(PREFIX) && **n != keep.name)
        .collect();
    let keep_prefix = volume_prefix(&keep.name);
    let ours = PREFIX.replace('/', "-VAGRANTSLASH-");
    // Base volumes of labctl boxes: the stale ones, whether Vagrant still
    // lists their box or not.
    for v in &vols {
        if !v.starts_with(&ours) || !v.contains("_vagrant_box_image_") {
            continue;
        }
        if v.starts_with(&keep_prefix) && !own_volumes {
            continue;
        }
        if used.iter().any(|u| u.ends_with(&format!("/{v}"))) {
            eprintln!("box: base volume {v} kept: a machine's disk is based on it");
            continue;
        }
        r.run(&virsh().args(["vol-delete", "--pool", POOL, v]))?;
        eprintln!("box: removed base volume {v} from pool {POOL}");
    }
    for n in stale_boxes {
        let prefix = volume_prefix(n);
        if used
            .iter()
            .any(|u| u.rsplit('/').next().is_some_and(|f| f.starts_with(&prefix)))
        {
            eprintln!("box: {n} kept: a machine still uses it");
            continue;
        }
        r.run(
            &Cmd::new("vagrant")
                .args([
                    "box",
                    "remove",
                    "--force",
                    "--all",
                    "--provider",
                    "libvirt",
                    n,
                ])
                .env("VAGRANT_CHECKPOINT_DISABLE", "1"),
        )?;
        eprintln!("box: removed {n} (replaced by {})", keep.name);
    }
    Ok(())
}

/// The box a libvirt machine's root disk was made from, read from the host:
/// `MACHINE.img` in the pool is a qcow2 overlay whose backing file is the
/// box's base volume (`labctl-VAGRANTSLASH-node-<hash>_vagrant_box_image_...`
/// is `labctl/node-<hash>`). `None` when the machine has no disk.
pub fn box_of_machine(r: &dyn Runner, machine: &str) -> Option<String> {
    let out = r
        .output(&virsh().args(["vol-dumpxml", "--pool", POOL, &format!("{machine}.img")]))
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

fn virsh() -> Cmd {
    Cmd::new("virsh").args(["-c", super::libvirt::URI])
}

/// The volumes of the pool by name.
fn pool_volumes(r: &dyn Runner) -> Result<Vec<String>> {
    let out = r.run(&virsh().args(["vol-list", "--pool", POOL]))?;
    Ok(parse_vol_list(&out.stdout))
}

/// `virsh vol-list` prints a header, a rule, then `NAME PATH` rows.
fn parse_vol_list(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The backing files of the pool's volumes other than box base volumes
/// (machine disks are qcow2 overlays on a base volume).
fn backing_files(r: &dyn Runner, vols: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in vols.iter().filter(|v| !v.contains("_vagrant_box_image_")) {
        let x = r.output(&virsh().args(["vol-dumpxml", "--pool", POOL, v]))?;
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
    #[test]
    fn stale_boxes_and_their_unused_base_volumes_are_removed() {
        let r = crate::exec::Recorder::default();
        r.answer("virsh -c qemu:///system vol-list", 0, VOLS);
        r.answer(
            "virsh -c qemu:///system vol-dumpxml --pool default labctl-lab1-n1.img",
            0,
            "<volume><backingStore><path>/var/lib/libvirt/images/labctl-VAGRANTSLASH-node-cccccccccccc_vagrant_box_image_0_1764652222_box.img</path></backingStore></volume>",
        );
        let keep = LabBox {
            name: "labctl/node-aaaaaaaaaaaa".into(),
        };
        let listed: Vec<String> = [
            "labctl/node-aaaaaaaaaaaa",
            "labctl/node-bbbbbbbbbbbb",
            "labctl/node-cccccccccccc",
            "someone/else",
        ]
        .map(String::from)
        .to_vec();
        remove_stale(&r, &keep, &listed, false).unwrap();
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
        // Replacing aaaa itself (--rebuild): its old base volume goes too.
        let r2 = crate::exec::Recorder::default();
        r2.answer("virsh -c qemu:///system vol-list", 0, VOLS);
        remove_stale(&r2, &keep, &["labctl/node-aaaaaaaaaaaa".to_string()], true).unwrap();
        let deleted: Vec<String> = r2
            .lines()
            .into_iter()
            .filter(|l| l.contains("vol-delete"))
            .collect();
        assert_eq!(deleted.len(), 3, "{deleted:?}");
        assert!(deleted[0].contains("node-aaaaaaaaaaaa"), "{deleted:?}");
    }
}
