//! What libvirt holds of a lab, read from the host by exact name, and the
//! sweep `down` runs after `vagrant destroy` (which leaves labctl's networks,
//! and anything of a machine Vagrant lost track of). Only these names are
//! touched: domains `labctl-LAB-NODE`, volumes `labctl-LAB-NODE.img` and
//! `labctl-LAB-NODE-vdX.qcow2` in the `default` pool, networks `labctl-LAB`
//! and `labctl-LAB-mgmt` and the dnsmasq serving them. The box's base volume
//! and libvirt's own `default` network are never touched.

use super::network;
use super::virsh::virsh;
use crate::error::Result;
use crate::exec::Runner;
use crate::lab::Lab;

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
        let domains = out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|d| machines.iter().any(|m| m == d))
            .map(String::from)
            .collect();
        let volumes = super::pool_volumes(r, "default")?
            .into_iter()
            .filter(|v| machines.iter().any(|m| machine_volume(m, v)))
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
        r.run(&virsh(["undefine", dom, "--remove-all-storage"]))?;
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
