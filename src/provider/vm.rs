//! The VirtualBox provider (it cannot run on this development host; its
//! command sequences are tested with a recording runner in
//! tests/vm_providers.rs). It shares the lifecycle with docker (render,
//! `vagrant up --no-provision` one machine at a time, one `vagrant ssh-config`,
//! SSH provisioning, `vagrant destroy`); what differs is here: no image to build
//! (the lab's box is used), Vagrant makes the host-only network and labctl's
//! Vagrantfile the disks, and the sweep that `down` runs after `vagrant destroy`
//! so that a VM Vagrant lost track of is not left running.

use super::{Preflight, Provider};
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use crate::load::Loaded;
use crate::provider::Kind;
use crate::state::runtime::Runtime;
use crate::state::{Phase, Snapshot, State, StateDir};
use std::collections::BTreeMap;
use std::path::Path;

/// VirtualBox: Vagrant makes the host-only network and the disks from the
/// Vagrantfile and boots the lab's box; labctl records, checks and provisions
/// as for docker, and sweeps by machine name on `down`.
pub struct VirtualBox;

impl Provider for VirtualBox {
    fn kind(&self) -> Kind {
        Kind::Virtualbox
    }

    // Alike on purpose (duplicates): a trait method's signature, as the trait in provider/mod.rs declares it.
    fn preflight(
        &self,
        r: &dyn Runner,
        loaded: &Loaded,
        state: &State,
        _rebuild_image: bool,
    ) -> Result<Preflight> {
        let fresh = state.phase == Phase::New;
        if fresh {
            super::hostnet::check_overlap(r, &loaded.lab)?;
        }
        Ok(Preflight {
            image: None,
            box_name: None,
            fresh,
        })
    }

    fn create(
        &self,
        _r: &dyn Runner,
        _lab: &Lab,
        _dir: &StateDir,
        _state: &mut State,
        _pre: &Preflight,
    ) -> Result<Runtime> {
        Ok(Runtime {
            image: None,
            libvirt: None,
            nodes: Default::default(),
            provider: Kind::Virtualbox,
        })
    }

    fn states(&self, r: &dyn Runner, _lab: &Lab, dir: &Path) -> Result<BTreeMap<String, String>> {
        if !dir.join(".vagrant").exists() {
            return Ok(BTreeMap::new());
        }
        Ok(super::vagrant::status(r, dir)?.into_iter().collect())
    }

    fn check_route(&self, r: &dyn Runner, lab: &Lab) -> Result<()> {
        check_route(r, lab)
    }

    fn probe(&self) -> Cmd {
        Cmd::new("VBoxManage").arg("--version")
    }

    fn destroy(&self, r: &dyn Runner, _lab: &Lab, dir: &Path) -> Vec<String> {
        // Vagrant first (it also removes the network and disks it made);
        // whatever it lost track of is swept by name afterwards.
        if dir.join("Vagrantfile").exists()
            && dir.join(".vagrant").exists()
            && super::vagrant::destroy(r, dir).is_ok_and(|o| o.success())
        {
            return vec!["machines (vagrant destroy)".to_string()];
        }
        vec![]
    }

    fn sweep(&self, r: &dyn Runner, lab: &Lab, _stopped_children: bool) -> Result<Vec<String>> {
        sweep(r, lab)
    }

    fn inventory(&self, r: &dyn Runner, lab: &Lab) -> Result<Vec<String>> {
        Ok(Held::read(r, lab)?.describe())
    }

    fn snapshot_support(&self, _lab: &Lab) -> std::result::Result<(), String> {
        Ok(())
    }

    // VirtualBox's own snapshots, through `vagrant snapshot`.
    fn snapshot_save(
        &self,
        r: &dyn Runner,
        _lab: &Lab,
        dir: &StateDir,
        _state: &mut State,
        snap: &Snapshot,
    ) -> Result<()> {
        super::vm_snapshots::save(r, dir, snap)
    }

    fn snapshot_restore(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        _state: &State,
        snap: &Snapshot,
    ) -> Result<()> {
        super::vm_snapshots::restore(r, lab, dir, snap, "VirtualBox")
    }

    fn snapshot_delete(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        snap: &Snapshot,
    ) -> Result<Vec<String>> {
        super::vm_snapshots::delete(self, r, lab, dir, snap)
    }
}

/// Network safety for VirtualBox labs: the lab's first address must be on a
/// directly connected host-only adapter, never behind a gateway.
pub fn check_route(r: &dyn Runner, lab: &Lab) -> Result<()> {
    let kind = Kind::Virtualbox;
    let route = super::route_to_lab(r, lab)?;
    if !route.found || route.via_gateway || !route.dev.starts_with("vboxnet") {
        return Err(Error::env(
            format!(
                "network safety: {} is not on a {kind} host network of this host (route: {:?}); refusing to send traffic to {}",
                route.probe,
                route.text,
                lab.network.subnet.value
            ),
            Some(format!("`labctl status {}` shows whether the machines are up", lab.name.value)),
        ));
    }
    Ok(())
}

/// What VirtualBox holds of the lab, by name: machines named like the lab's
/// nodes, and host-only adapters whose address lies in the lab's subnet (which
/// can only be the lab's, since `up` refuses a subnet the host already routes).
#[derive(Debug, Default)]
pub struct Held {
    pub vms: Vec<String>,
    pub adapters: Vec<String>,
}

impl Held {
    pub fn read(r: &dyn Runner, lab: &Lab) -> Result<Held> {
        let names: Vec<String> = lab
            .nodes
            .iter()
            .map(|n| lab.machine_name(&n.name))
            .collect();
        let out = r.run(&Cmd::new("VBoxManage").args(["list", "vms"]))?;
        let vms = parse_vbox_vms(&out.stdout)
            .into_iter()
            .filter(|vm| names.contains(vm))
            .collect();
        let out = r.run(&Cmd::new("VBoxManage").args(["list", "hostonlyifs"]))?;
        let adapters = parse_hostonlyifs(&out.stdout)
            .into_iter()
            .filter(|(_, ip)| lab.network.subnet.value.contains(ip))
            .map(|(name, _)| name)
            .collect();
        Ok(Held { vms, adapters })
    }

    /// One line per thing held, as `down` names what it removes.
    pub fn describe(&self) -> Vec<String> {
        let each =
            |what: &str, v: &[String]| v.iter().map(|x| format!("{what} {x}")).collect::<Vec<_>>();
        [
            each("VirtualBox VM", &self.vms),
            each("VirtualBox host-only adapter", &self.adapters),
        ]
        .concat()
    }
}

/// Remove the machines and host-only adapters of this lab that VirtualBox still holds
/// ([`Held::read`]), whatever Vagrant's bookkeeping says.
pub fn sweep(r: &dyn Runner, lab: &Lab) -> Result<Vec<String>> {
    let held = Held::read(r, lab)?;
    let mut removed = Vec::new();
    for vm in &held.vms {
        // Power off may fail on a machine that is already off; the
        // unregister below is what counts.
        let _ = r.output(&Cmd::new("VBoxManage").args(["controlvm", vm, "poweroff"]));
        r.run(&Cmd::new("VBoxManage").args(["unregistervm", vm, "--delete"]))?;
        removed.push(format!("VirtualBox VM {vm}"));
    }
    // Vagrant leaves the host-only adapter it made; its route would make the
    // next `up` of this lab refuse its own subnet.
    for name in &held.adapters {
        r.run(&Cmd::new("VBoxManage").args(["hostonlyif", "remove", name]))?;
        removed.push(format!("VirtualBox host-only adapter {name}"));
    }
    Ok(removed)
}

/// `VBoxManage list vms` prints `"name" {uuid}` per machine.
fn parse_vbox_vms(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix('"')?;
            let end = rest.rfind("\" {")?;
            Some(rest[..end].to_string())
        })
        .collect()
}

/// `VBoxManage list hostonlyifs`: blocks of `Key: value` lines; (Name, IPAddress).
fn parse_hostonlyifs(text: &str) -> Vec<(String, std::net::Ipv4Addr)> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for l in text.lines() {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        match k.trim() {
            "Name" => name = Some(v.trim().to_string()),
            "IPAddress" => {
                if let (Some(n), Ok(ip)) = (name.take(), v.trim().parse()) {
                    out.push((n, ip));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostonly_adapters_are_read_by_name_and_address() {
        let text = "Name:            vboxnet0\nGUID:            786f\nDHCP:            Disabled\nIPAddress:       192.168.56.1\nNetworkMask:     255.255.255.0\n\nName:            vboxnet1\nIPAddress:       192.168.60.1\n";
        let v = parse_hostonlyifs(text);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].0, "vboxnet1");
        assert_eq!(v[1].1.to_string(), "192.168.60.1");
    }

    #[test]
    fn vbox_names_may_hold_quotes_and_spaces() {
        let text = "\"labctl-wf-web1\" {0b3f}\n\"my \"odd\" vm\" {1234}\n<inaccessible> {99}\n";
        assert_eq!(
            parse_vbox_vms(text),
            vec!["labctl-wf-web1", "my \"odd\" vm"]
        );
    }
}
