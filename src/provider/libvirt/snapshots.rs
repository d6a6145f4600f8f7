//! Taking a snapshot of a libvirt lab: every domain at once, through virsh.
//! `vagrant snapshot save` does the same one machine after the other, after
//! starting Ruby and Vagrant's plugins (seconds on a loaded host), and `up`
//! takes the `provisioned` snapshot last, so the lab waits for all of it.
//! The snapshot is the one vagrant-libvirt makes (`create_snapshot`: an
//! existing one of that name deleted first, then `snapshot_create_xml` with
//! the name and vagrant-libvirt's description, no flags: libvirt's internal
//! snapshot of every qcow2 disk and the running guest's memory), so
//! `vagrant snapshot list/restore/delete`, which labctl uses for the rest,
//! see it as their own. Domains are named by Vagrant's machine id.

use super::virsh::{machine_domain, virsh};
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::lab::Lab;
use crate::state::{Snapshot, StateDir};

/// The description vagrant-libvirt gives its snapshots.
const DESCRIPTION: &str = "Snapshot for vagrant sandbox";

/// Take `snap` of every node's domain at the same time, replacing one of
/// that name. Every domain is asked; the first failure is the result.
pub fn save(r: &dyn Runner, lab: &Lab, dir: &StateDir, snap: &Snapshot) -> Result<()> {
    let mut domains = Vec::new();
    for n in &lab.nodes {
        let Some(id) = machine_domain(&dir.root, &n.name) else {
            return Err(Error::env(
                format!(
                    "snapshot {} of lab {}: node {} has no machine Vagrant made (no .vagrant/machines/{}/libvirt/id)",
                    snap.name, lab.name.value, n.name, n.name
                ),
                Some(format!("`labctl up {}` brings it up", lab.name.value)),
            ));
        };
        domains.push(id);
    }
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = domains
            .iter()
            .map(|id| s.spawn(move || save_one(r, id, &snap.name)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    results.into_iter().collect()
}

fn save_one(r: &dyn Runner, domain: &str, name: &str) -> Result<()> {
    let have = r.run(&virsh(["snapshot-list", domain, "--name"]))?;
    if have.stdout.lines().any(|l| l.trim() == name) {
        r.run(&virsh(["snapshot-delete", domain, "--snapshotname", name]))?;
    }
    r.run(&virsh([
        "snapshot-create-as",
        "--domain",
        domain,
        "--name",
        name,
        "--description",
        DESCRIPTION,
    ]))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Recorder;

    fn lab_dir(ids: &[(&str, &str)]) -> (tempfile::TempDir, StateDir) {
        let d = tempfile::tempdir().unwrap();
        for (node, id) in ids {
            let m = d
                .path()
                .join(".vagrant/machines")
                .join(node)
                .join("libvirt");
            std::fs::create_dir_all(&m).unwrap();
            std::fs::write(m.join("id"), id).unwrap();
        }
        let sd = StateDir::new(d.path());
        (d, sd)
    }

    fn two_nodes() -> Lab {
        let text = "name = \"t\"\n[network]\nsubnet = \"192.168.91.0/24\"\n\
                    [[node]]\nname = \"web1\"\nip = \"192.168.91.10\"\n\
                    [[node]]\nname = \"web2\"\nip = \"192.168.91.11\"\n";
        let mut cx = crate::lab::reader::Ctx::new();
        crate::lab::parse::parse_lab(text, &mut cx).expect("test lab parses")
    }

    fn snap() -> Snapshot {
        Snapshot {
            name: "provisioned".into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_domain_gets_the_snapshot_and_an_old_one_of_that_name_goes_first() {
        let (_d, dir) = lab_dir(&[("web1", "aaaa-1"), ("web2", "bbbb-2")]);
        let r = Recorder::default();
        r.answer(
            "virsh -c qemu:///system snapshot-list bbbb-2",
            0,
            "provisioned\nother\n\n",
        );
        save(&r, &two_nodes(), &dir, &snap()).unwrap();
        let mut calls = r.lines();
        calls.sort();
        assert_eq!(
            calls,
            vec![
                "virsh -c qemu:///system snapshot-create-as --domain aaaa-1 --name provisioned --description 'Snapshot for vagrant sandbox'",
                "virsh -c qemu:///system snapshot-create-as --domain bbbb-2 --name provisioned --description 'Snapshot for vagrant sandbox'",
                "virsh -c qemu:///system snapshot-delete bbbb-2 --snapshotname provisioned",
                "virsh -c qemu:///system snapshot-list aaaa-1 --name",
                "virsh -c qemu:///system snapshot-list bbbb-2 --name",
            ]
        );
    }

    #[test]
    fn a_domain_that_fails_fails_the_snapshot_and_a_node_without_machine_stops_it_first() {
        let (_d, dir) = lab_dir(&[("web1", "aaaa-1"), ("web2", "bbbb-2")]);
        let r = Recorder::default();
        r.answer(
            "virsh -c qemu:///system snapshot-create-as --domain bbbb-2",
            1,
            "",
        );
        let e = save(&r, &two_nodes(), &dir, &snap()).unwrap_err();
        assert!(e.to_string().contains("bbbb-2"), "{e}");
        let (_d, dir) = lab_dir(&[("web1", "aaaa-1")]);
        let r = Recorder::default();
        let e = save(&r, &two_nodes(), &dir, &snap()).unwrap_err();
        assert!(e.to_string().contains("node web2 has no machine"), "{e}");
        assert!(r.lines().is_empty(), "{:?}", r.lines());
    }
}
