//! What libvirt holds of a lab, read from the host by exact name, and the
//! sweep `down` runs after `vagrant destroy` (which leaves labctl's networks,
//! and anything of a machine Vagrant lost track of). Only these names are
//! touched: domains `labctl-LAB-NODE` that carry the lab's description
//! ([`owner`], written by the Vagrantfile from the runtime file: names alone
//! collide, lab `a` node `b-c` and lab `a-b` node `c` are both
//! `labctl-a-b-c`), volumes `labctl-LAB-NODE.img` and
//! `labctl-LAB-NODE-vdX.qcow2` in the `default` pool unless a domain of that
//! name is someone else's, networks `labctl-LAB` and `labctl-LAB_mgmt` and
//! the dnsmasq serving them. The box's base volume and libvirt's own
//! `default` network are never touched.

use super::network;
use super::virsh::virsh;
use crate::error::Result;
use crate::exec::Runner;
use crate::lab::Lab;

/// The description of every domain of the lab.
pub fn owner(lab: &Lab) -> String {
    format!("labctl lab={}", lab.name.value)
}

#[derive(Debug, Default)]
pub struct Held {
    pub domains: Vec<String>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
    /// dnsmasq processes (pid) started for the lab's networks.
    pub dnsmasq: Vec<u32>,
}

/// Is `vol` a volume vagrant-libvirt makes for machine `m`: its root volume
/// or an extra disk `m-vd[b-z].qcow2`?
fn machine_volume(m: &str, vol: &str) -> bool {
    if vol == format!("{m}.img") {
        return true;
    }
    vol.strip_prefix(m)
        .and_then(|r| r.strip_prefix("-vd"))
        .and_then(|r| r.strip_suffix(".qcow2"))
        .is_some_and(|x| x.len() == 1 && x.as_bytes()[0].is_ascii_lowercase() && x != "a")
}

/// The lab's network names, private first.
fn network_names(lab: &Lab) -> [String; 2] {
    [lab.network_name(), network::management_name(lab)]
}

/// dnsmasq processes whose config file is one of the named networks'.
fn dnsmasq_of(nets: &[String]) -> Vec<u32> {
    let confs: Vec<String> = nets
        .iter()
        .map(|n| format!("--conf-file=/var/lib/libvirt/dnsmasq/{n}.conf"))
        .collect();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
            args.first().is_some_and(|a| a.ends_with(b"dnsmasq"))
                && args
                    .iter()
                    .any(|a| confs.iter().any(|c| c.as_bytes() == *a))
        })
        .collect()
}

impl Held {
    pub fn read(r: &dyn Runner, lab: &Lab) -> Result<Held> {
        let machines: Vec<String> = lab
            .nodes
            .iter()
            .map(|n| lab.machine_name(&n.name))
            .collect();
        let out = r.run(&virsh(["list", "--all", "--name"]))?;
        let named: Vec<String> = out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|d| machines.iter().any(|m| m == d))
            .map(String::from)
            .collect();
        // A domain with one of the lab's machine names is the lab's only when
        // it carries the lab's description; otherwise it, and its volumes,
        // are another lab's (or someone's by hand) and stay.
        let owner = owner(lab);
        let (domains, foreign): (Vec<String>, Vec<String>) = named.into_iter().partition(|d| {
            r.output(&virsh(["desc", d]))
                .is_ok_and(|o| o.success() && o.stdout.trim() == owner)
        });
        let volumes = super::pool_volumes(r, "default")?
            .into_iter()
            .filter(|v| {
                machines
                    .iter()
                    .filter(|m| !foreign.contains(m))
                    .any(|m| machine_volume(m, v))
            })
            .collect();
        let all = network::names(r)?;
        let ours = network_names(lab);
        let networks = ours.iter().filter(|n| all.contains(n)).cloned().collect();
        Ok(Held {
            domains,
            volumes,
            networks,
            dnsmasq: dnsmasq_of(&ours),
        })
    }

    /// One line per thing held, as `down` names what it removes.
    pub fn describe(&self) -> Vec<String> {
        let each =
            |what: &str, v: &[String]| v.iter().map(|x| format!("{what} {x}")).collect::<Vec<_>>();
        let pids: Vec<String> = self.dnsmasq.iter().map(u32::to_string).collect();
        [
            each("libvirt domain", &self.domains),
            each("libvirt volume", &self.volumes),
            each("libvirt network", &self.networks),
            each("dnsmasq process", &pids),
        ]
        .concat()
    }
}

/// Remove what libvirt still holds of the lab ([`Held::read`]): domains
/// (with their storage), volumes of domains never defined, both networks
/// (their dnsmasq and leases go with them), then any dnsmasq still serving
/// their config and the config files libvirt leaves behind.
pub fn sweep(r: &dyn Runner, lab: &Lab) -> Result<Vec<String>> {
    let held = Held::read(r, lab)?;
    let mut removed = Vec::new();
    for dom in &held.domains {
        // Off first; a domain that is already off makes `destroy` fail.
        let _ = r.output(&virsh(["destroy", dom]));
        // A domain with snapshots (`labctl snapshot`, `reset`) cannot be
        // undefined until their metadata goes too; the snapshots' data is
        // inside the qcow2 volumes removed with it.
        r.run(&virsh([
            "undefine",
            dom,
            "--snapshots-metadata",
            "--remove-all-storage",
        ]))?;
        removed.push(format!("libvirt domain {dom}"));
    }
    if !held.domains.is_empty() {
        // --remove-all-storage took the domains' own volumes; list again.
        let again = Held::read(r, lab)?;
        for vol in &again.volumes {
            r.run(&virsh(["vol-delete", "--pool", "default", vol]))?;
            removed.push(format!("libvirt volume {vol}"));
        }
    } else {
        for vol in &held.volumes {
            r.run(&virsh(["vol-delete", "--pool", "default", vol]))?;
            removed.push(format!("libvirt volume {vol}"));
        }
    }
    // The management network goes before the lab network (the order the
    // machines were attached in, reversed).
    for net in held.networks.iter().rev() {
        network::remove(r, net)?;
        removed.push(format!("libvirt network {net}"));
    }
    let names = network_names(lab);
    for pid in dnsmasq_of(&names) {
        let p = nix::unistd::Pid::from_raw(pid as i32);
        if nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM).is_ok() {
            removed.push(format!("dnsmasq process {pid}"));
        }
    }
    for n in &names {
        for ext in ["conf", "hostsfile", "addnhosts"] {
            let f = std::path::PathBuf::from(format!("/var/lib/libvirt/dnsmasq/{n}.{ext}"));
            if std::fs::remove_file(&f).is_ok() {
                removed.push(format!("file {}", f.display()));
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Recorder;

    fn lab(text: &str) -> Lab {
        let mut cx = crate::lab::reader::Ctx::new();
        crate::lab::parse::parse_lab(text, &mut cx).expect("test lab parses")
    }

    /// Command-sequence test (recorded virsh answers): lab `a` with node
    /// `b-c` beside lab `a-b` with node `c` (both machines are
    /// `labctl-a-b-c`), a hand-made domain, libvirt's `default` network and
    /// a network of a lab `a-x`. `down` of lab `a` removes only what carries
    /// lab `a`'s description and lab `a`'s two networks.
    #[test]
    fn the_sweep_removes_only_the_labs_own_domains_volumes_and_networks() {
        let a = lab(r#"name = "a"
[network]
subnet = "192.168.91.0/24"
[[node]]
name = "b-c"
ip = "192.168.91.10"
[[node]]
name = "d"
ip = "192.168.91.11"
"#);
        let r = Recorder::default();
        let v = "virsh -c qemu:///system";
        r.answer(
            &format!("{v} list --all --name"),
            0,
            "labctl-a-b-c\nlabctl-a-d\nother-vm\n",
        );
        // labctl-a-b-c is lab a-b's node c; labctl-a-d is lab a's node d.
        r.answer(&format!("{v} desc labctl-a-b-c"), 0, "labctl lab=a-b\n");
        r.answer(&format!("{v} desc labctl-a-d"), 0, "labctl lab=a\n");
        r.answer(
            &format!("{v} vol-list --pool default"),
            0,
            " Name   Path\n----------\n labctl-a-b-c.img  /var/lib/libvirt/images/labctl-a-b-c.img\n \
             labctl-a-b-c-vdb.qcow2  /var/lib/libvirt/images/labctl-a-b-c-vdb.qcow2\n \
             labctl-a-d.img  /var/lib/libvirt/images/labctl-a-d.img\n \
             labctl-VAGRANTSLASH-node-abc_vagrant_box_image_0_1_box.img  /x.img\n",
        );
        r.answer(
            &format!("{v} net-list --all --name"),
            0,
            "default\nlabctl-a\nlabctl-a_mgmt\nlabctl-a-x\nlabctl-a-x_mgmt\n",
        );
        let held = Held::read(&r, &a).unwrap();
        assert_eq!(held.domains, ["labctl-a-d"]);
        // labctl-a-d's volume was not listed apart (its domain holds it); the
        // colliding machine's volumes are lab a-b's and are left.
        assert_eq!(held.volumes, ["labctl-a-d.img"]);
        assert_eq!(held.networks, ["labctl-a", "labctl-a_mgmt"]);
        let before = r.lines().len();
        sweep(&r, &a).unwrap();
        let destructive: Vec<String> = r.lines()[before..]
            .iter()
            .filter(|l| {
                [
                    "destroy",
                    "undefine",
                    "vol-delete",
                    "net-destroy",
                    "net-undefine",
                ]
                .iter()
                .any(|w| l.split_whitespace().nth(3) == Some(w))
            })
            .cloned()
            .collect();
        for l in &destructive {
            assert!(
                !(l.contains("labctl-a-b-c")
                    || l.contains("other-vm")
                    || l.ends_with("net-destroy default")
                    || l.ends_with("net-undefine default")
                    || l.contains("labctl-a-x")
                    || l.contains("VAGRANTSLASH")),
                "touched what is not lab a's: {l}\nall: {destructive:#?}"
            );
        }
        assert!(
            destructive
                .iter()
                .any(|l| l
                    .ends_with("undefine labctl-a-d --snapshots-metadata --remove-all-storage")),
            "{destructive:#?}"
        );
        for n in ["labctl-a", "labctl-a_mgmt"] {
            assert!(
                destructive
                    .iter()
                    .any(|l| l.ends_with(&format!("net-undefine {n}"))),
                "{n} not removed: {destructive:#?}"
            );
        }
    }

    #[test]
    fn only_the_machines_own_volumes_match() {
        let m = "labctl-lab-n1";
        for v in [
            "labctl-lab-n1.img",
            "labctl-lab-n1-vdb.qcow2",
            "labctl-lab-n1-vdz.qcow2",
        ] {
            assert!(machine_volume(m, v), "{v}");
        }
        for v in [
            "labctl-lab-n10.img",
            "labctl-lab-n1-vda.qcow2",
            "labctl-lab-n1-vdbb.qcow2",
            "labctl-lab-n1-vdB.qcow2",
            "labctl-lab-n1.img.bak",
            "labctl-VAGRANTSLASH-node-abc_vagrant_box_image_0_1_box.img",
        ] {
            assert!(!machine_volume(m, v), "{v}");
        }
    }
}
