//! The virtual-machine providers, VirtualBox and libvirt. They share the
//! lifecycle with docker (render, `vagrant up --no-provision`, one
//! `vagrant ssh-config`, SSH provisioning, `vagrant destroy`); what differs is
//! here: no image to build (the lab's box is used), no network to create
//! (Vagrant makes the host-only or libvirt network), disks made by the
//! provider from the Vagrantfile, and the sweep that `down` runs after
//! `vagrant destroy` so that a VM Vagrant lost track of is not left running.

use super::{Preflight, Provider};
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use crate::load::Loaded;
use crate::provider::Kind;
use crate::state::runtime::Runtime;
use crate::state::{Phase, State, StateDir};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::path::Path;

/// A VM provider: Vagrant makes the network and the disks from the
/// Vagrantfile and boots the lab's box; labctl records, checks and provisions
/// as for docker, and sweeps by machine name on `down`.
pub struct Vm(pub Kind);

impl Provider for Vm {
    fn kind(&self) -> Kind {
        self.0
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
            check_overlap(r, &loaded.lab)?;
        }
        Ok(Preflight { image: None, fresh })
    }

    fn create(
        &self,
        _r: &dyn Runner,
        _lab: &Lab,
        _dir: &StateDir,
        _state: &mut State,
        _pre: &Preflight,
    ) -> Result<Runtime> {
        Ok(runtime(self.0))
    }

    fn states(&self, r: &dyn Runner, _lab: &Lab, dir: &Path) -> Result<BTreeMap<String, String>> {
        if !dir.join(".vagrant").exists() {
            return Ok(BTreeMap::new());
        }
        Ok(super::vagrant::status(r, dir)?.into_iter().collect())
    }

    fn check_route(&self, r: &dyn Runner, lab: &Lab) -> Result<()> {
        check_route(r, self.0, lab)
    }

    fn probe(&self) -> Cmd {
        match self.0 {
            Kind::Libvirt => Cmd::new("virsh").args(["-c", LIBVIRT_URI, "version"]),
            _ => Cmd::new("VBoxManage").arg("--version"),
        }
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
        sweep(r, self.0, lab)
    }

    fn inventory(&self, r: &dyn Runner, lab: &Lab) -> Result<Vec<String>> {
        Ok(Held::read(r, self.0, lab)?.describe())
    }
}

/// libvirt's system connection: vagrant-libvirt's default, and where its
/// networks live.
pub const LIBVIRT_URI: &str = "qemu:///system";

/// The runtime file for a VM provider: only the provider's name. SSH ports are
/// left to Vagrant: machines start one at a time (VirtualBox) or SSH goes to
/// the guest's own address (libvirt), so its auto-correction does not race.
pub fn runtime(kind: Kind) -> Runtime {
    Runtime {
        image: None,
        nodes: Default::default(),
        provider: kind,
    }
}

/// IPv4 routes of the host as (destination, device); the default route is left out.
pub fn host_routes(r: &dyn Runner) -> Result<Vec<(Ipv4Net, String)>> {
    let out = r.run(&Cmd::new("ip").args(["-o", "-4", "route", "show"]))?;
    Ok(parse_routes(&out.stdout))
}

fn parse_routes(text: &str) -> Vec<(Ipv4Net, String)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let dest = w.next()?;
            let net: Ipv4Net = if dest.contains('/') {
                dest.parse().ok()?
            } else {
                format!("{dest}/32").parse().ok()?
            };
            let dev = super::word_after(l, "dev").unwrap_or("").to_string();
            Some((net, dev))
        })
        .collect()
}

/// Refuse a lab whose subnet overlaps a network the host already routes,
/// before Vagrant creates a host-only or libvirt network on top of it.
pub fn check_overlap(r: &dyn Runner, lab: &Lab) -> Result<()> {
    let ours = lab.network.subnet.value;
    for (net, dev) in host_routes(r)? {
        if net.contains(&ours.network()) || ours.contains(&net.network()) {
            return Err(Error::env(
                format!(
                    "subnet {ours} of lab `{}` overlaps {net}, routed on this host via {dev}",
                    lab.name.value
                ),
                Some("run a second copy with --name NAME --subnet 192.168.X.0/24, or bring the other lab down".into()),
            ));
        }
    }
    Ok(())
}

/// Interfaces a provider's lab network may sit on: VirtualBox host-only
/// adapters, libvirt bridges.
fn lab_device(kind: Kind, dev: &str) -> bool {
    match kind {
        Kind::Virtualbox => dev.starts_with("vboxnet"),
        Kind::Libvirt => dev.starts_with("virbr"),
        Kind::Docker => false,
    }
}

/// Network safety for VM labs: the lab's first address must be on a directly
/// connected host-only or libvirt network, never behind a gateway.
pub fn check_route(r: &dyn Runner, kind: Kind, lab: &Lab) -> Result<()> {
    let route = super::route_to_lab(r, lab)?;
    if !route.found || route.via_gateway || !lab_device(kind, &route.dev) {
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

/// Machines of this lab that the provider still knows, whatever Vagrant's
/// bookkeeping says; then remove them (and, for libvirt, the lab's network).
/// What a VM provider holds of the lab, by name: machines named like the lab's
/// nodes, and its network (VirtualBox: a host-only adapter whose address lies in
/// the lab's subnet, which can only be the lab's since `up` refuses a subnet the
/// host already routes; libvirt: the network labctl names after the lab).
#[derive(Debug, Default)]
pub struct Held {
    pub vms: Vec<String>,
    pub adapters: Vec<String>,
    pub domains: Vec<String>,
    pub networks: Vec<String>,
}

impl Held {
    pub fn read(r: &dyn Runner, kind: Kind, lab: &Lab) -> Result<Held> {
        let names: Vec<String> = lab
            .nodes
            .iter()
            .map(|n| lab.machine_name(&n.name))
            .collect();
        let mut held = Held::default();
        match kind {
            Kind::Virtualbox => {
                let out = r.run(&Cmd::new("VBoxManage").args(["list", "vms"]))?;
                held.vms = parse_vbox_vms(&out.stdout)
                    .into_iter()
                    .filter(|vm| names.contains(vm))
                    .collect();
                let out = r.run(&Cmd::new("VBoxManage").args(["list", "hostonlyifs"]))?;
                held.adapters = parse_hostonlyifs(&out.stdout)
                    .into_iter()
                    .filter(|(_, ip)| lab.network.subnet.value.contains(ip))
                    .map(|(name, _)| name)
                    .collect();
            }
            Kind::Libvirt => {
                let out = r.run(&virsh(&["list", "--all", "--name"]))?;
                held.domains = out
                    .stdout
                    .lines()
                    .map(str::trim)
                    .filter(|d| names.iter().any(|n| n == d))
                    .map(String::from)
                    .collect();
                let net = lab.network_name();
                let out = r.run(&virsh(&["net-list", "--all", "--name"]))?;
                if out.stdout.lines().any(|l| l.trim() == net) {
                    held.networks.push(net);
                }
            }
            Kind::Docker => {}
        }
        Ok(held)
    }

    /// One line per thing held, as `down` names what it removes.
    pub fn describe(&self) -> Vec<String> {
        let each =
            |what: &str, v: &[String]| v.iter().map(|x| format!("{what} {x}")).collect::<Vec<_>>();
        [
            each("VirtualBox VM", &self.vms),
            each("VirtualBox host-only adapter", &self.adapters),
            each("libvirt domain", &self.domains),
            each("libvirt network", &self.networks),
        ]
        .concat()
    }
}

fn virsh(args: &[&str]) -> Cmd {
    Cmd::new("virsh")
        .args(["-c", LIBVIRT_URI])
        .args(args.iter().copied())
}

/// Remove the machines and network of this lab that the provider still holds
/// ([`Held::read`]), whatever Vagrant's bookkeeping says.
pub fn sweep(r: &dyn Runner, kind: Kind, lab: &Lab) -> Result<Vec<String>> {
    let held = Held::read(r, kind, lab)?;
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
    for dom in &held.domains {
        let _ = r.output(&virsh(&["destroy", dom]));
        r.run(&virsh(&["undefine", dom, "--remove-all-storage"]))?;
        removed.push(format!("libvirt domain {dom}"));
    }
    for net in &held.networks {
        let _ = r.output(&virsh(&["net-destroy", net]));
        r.run(&virsh(&["net-undefine", net]))?;
        removed.push(format!("libvirt network {net}"));
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
    fn routes_are_parsed_without_the_default() {
        let text = "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n192.168.56.0/24 dev vboxnet0 proto kernel scope link src 192.168.56.1\n";
        let r = parse_routes(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].0.to_string(), "192.168.56.0/24");
        assert_eq!(r[1].1, "vboxnet0");
    }

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
