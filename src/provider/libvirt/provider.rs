//! The libvirt [`Provider`]: networks before `vagrant up`, the runtime file
//! the Vagrantfile's libvirt block reads, host keys from the console, and the
//! sweep by exact name on `down`.

use super::{address, console, driver, held, network, snapshots};
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use crate::load::Loaded;
use crate::provider::{hostnet, Kind, Preflight, Provider};
use crate::state::runtime::{LibvirtRuntime, ManagementNetwork, Runtime};
use crate::state::{Phase, Snapshot, State, StateDir};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub struct Libvirt;

/// The folder of the VMs' console logs in the state dir.
fn console_dir(dir: &StateDir) -> std::path::PathBuf {
    dir.root.join("console")
}

impl Provider for Libvirt {
    fn kind(&self) -> Kind {
        Kind::Libvirt
    }

    fn preflight(
        &self,
        r: &dyn Runner,
        loaded: &Loaded,
        state: &State,
        rebuild_image: bool,
    ) -> Result<Preflight> {
        refuse_nested_engines(&loaded.lab)?;
        let fresh = state.phase == Phase::New;
        if fresh {
            hostnet::check_overlap(r, &loaded.lab)?;
        }
        // The box first (built from the node image's rootfs when its inputs
        // changed): nothing is created for the lab until it exists.
        crate::interrupt::set_phase("libvirt box");
        let spec = crate::provider::node_image::Spec::node(&loaded.roles);
        let lab_box = crate::provider::boxes::ensure(r, &spec, rebuild_image)?;
        Ok(Preflight {
            image: None,
            box_name: Some(lab_box.name),
            fresh,
        })
    }

    fn create(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        state: &mut State,
        pre: &Preflight,
    ) -> Result<Runtime> {
        let box_name = pre
            .box_name
            .clone()
            .expect("libvirt's preflight names the box");
        let driver = driver::driver(r)?;
        // Record-before-create: the management subnet is in state.json before
        // either network exists, so `down` after a crash knows both.
        let mgmt = match state.management_subnet {
            Some(m) => m,
            None => {
                let m = network::allocate(r, lab)?;
                state.management_subnet = Some(m);
                dir.save(state)?;
                m
            }
        };
        let offline = network::offline_lab(lab);
        let mgmt_name = network::management_name(lab);
        let mut made = network::ensure(
            r,
            &lab.network_name(),
            &network::lab_xml(lab),
            &lab.network.subnet.value,
        )?;
        made.extend(network::ensure(
            r,
            &mgmt_name,
            &network::mgmt_xml(lab, &mgmt, offline),
            &mgmt,
        )?);
        for m in made {
            eprintln!("libvirt: {m}");
        }
        if offline {
            eprintln!("libvirt: {mgmt_name} is isolated (lab {} is offline): no route out for any of its VMs", lab.name.value);
        }
        let console = console_dir(dir);
        std::fs::create_dir_all(&console).map_err(|e| Error::io("create", &console, e))?;
        Ok(Runtime {
            image: None,
            libvirt: Some(LibvirtRuntime {
                box_name,
                driver: driver.to_string(),
                console_dir: std::path::absolute(&console).unwrap_or(console),
                management_network: ManagementNetwork {
                    name: mgmt_name,
                    address: mgmt,
                },
                owner: held::owner(lab),
            }),
            nodes: Default::default(),
            provider: Kind::Libvirt,
        })
    }

    fn known_ssh(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        node: &str,
    ) -> Option<crate::remote::ssh_config::Host> {
        let mgmt = Runtime::read(&dir.runtime_file())?
            .libvirt?
            .management_network
            .address;
        let ip = address::lease_address(r, &dir.root, node, mgmt)?;
        // The guest's own sshd on its lease address: Vagrant's default port.
        use crate::provider::vagrant_records::{machine_key, ssh_host};
        Some(ssh_host(
            lab,
            &machine_key(&dir.root, node, "libvirt"),
            node,
            ip.to_string(),
            22,
        ))
    }

    fn after_boot(
        &self,
        _r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        nodes: &[String],
    ) -> Result<()> {
        refuse_created_networks(dir, nodes)?;
        let console = console_dir(dir);
        for n in nodes {
            let log = console.join(format!("{n}.log"));
            let k = console::pin(
                &log,
                &dir.known_hosts(),
                &lab.machine_name(n),
                Duration::from_secs(30),
            )?;
            eprintln!("libvirt: {n}: {k} SSH host key(s) pinned from its console");
        }
        Ok(())
    }

    fn states(&self, r: &dyn Runner, _lab: &Lab, dir: &Path) -> Result<BTreeMap<String, String>> {
        if !dir.join(".vagrant").exists() {
            return Ok(BTreeMap::new());
        }
        Ok(crate::provider::vagrant::status(r, dir)?
            .into_iter()
            .collect())
    }

    fn check_route(&self, r: &dyn Runner, lab: &Lab) -> Result<()> {
        let route = crate::provider::route_to_lab(r, lab)?;
        let bridge = network::bridge(r, &lab.network_name())?;
        if !route.found || route.via_gateway || bridge.as_deref() != Some(route.dev.as_str()) {
            return Err(Error::env(
                format!(
                    "network safety: {} is not on the lab's libvirt network {} (bridge {}) of this host (route: {:?}); refusing to send traffic to {}",
                    route.probe,
                    lab.network_name(),
                    bridge.as_deref().unwrap_or("none"),
                    route.text,
                    lab.network.subnet.value
                ),
                Some(format!("`labctl status {}` shows whether the machines are up", lab.name.value)),
            ));
        }
        Ok(())
    }

    fn probe(&self) -> Cmd {
        super::virsh::virsh(["version"])
    }

    fn destroy(&self, r: &dyn Runner, _lab: &Lab, dir: &Path) -> Vec<String> {
        // Vagrant first (domains and their volumes); the networks, and
        // whatever it lost track of, are swept by name afterwards.
        if dir.join("Vagrantfile").exists()
            && dir.join(".vagrant").exists()
            && crate::provider::vagrant::destroy(r, dir).is_ok_and(|o| o.success())
        {
            return vec!["machines (vagrant destroy)".to_string()];
        }
        vec![]
    }

    fn sweep(&self, r: &dyn Runner, lab: &Lab, _stopped_children: bool) -> Result<Vec<String>> {
        held::sweep(r, lab)
    }

    fn inventory(&self, r: &dyn Runner, lab: &Lab) -> Result<Vec<String>> {
        Ok(held::Held::read(r, lab)?.describe())
    }

    fn snapshot_support(&self, _lab: &Lab) -> std::result::Result<(), String> {
        Ok(())
    }

    // libvirt's internal snapshots of every qcow2 disk (the box's overlay and
    // the extra disks) plus the running guest's memory, as vagrant-libvirt
    // makes them (taken by virsh, every domain at once; restored and deleted
    // through Vagrant): a restore resumes the guests where they were, with
    // their addresses and host keys; nothing boots again.
    fn snapshot_save(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        _state: &mut State,
        snap: &Snapshot,
    ) -> Result<()> {
        snapshots::save(r, lab, dir, snap)
    }

    fn snapshot_restore(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        _state: &State,
        snap: &Snapshot,
    ) -> Result<()> {
        crate::provider::vm_snapshots::restore(r, lab, dir, snap, "libvirt")
    }

    fn snapshot_delete(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        snap: &Snapshot,
    ) -> Result<Vec<String>> {
        crate::provider::vm_snapshots::delete(self, r, lab, dir, snap)
    }
}

/// Labs whose nodes run a Docker engine of their own (bench, docker-deploy)
/// are refused before anything is made: on docker those engines share the
/// host's kernel and docker-deploy's nodes load a base image exported from
/// labctl's Docker node image, which a libvirt lab does not have; a nested
/// engine in a libvirt VM has not been run or tested by labctl.
fn refuse_nested_engines(lab: &Lab) -> Result<()> {
    let nested: Vec<&str> = lab
        .nodes
        .iter()
        .filter(|n| n.nested_containers)
        .map(|n| n.name.as_str())
        .collect();
    if nested.is_empty() {
        return Ok(());
    }
    Err(Error::Usage {
        message: format!(
            "lab {} runs Docker engines inside its nodes ({}: nested_containers = true), which labctl runs on the docker provider only: a nested engine in a libvirt VM is untested, and roles such as docker-image-base need labctl's Docker node image",
            lab.name.value,
            nested.join(", ")
        ),
        hint: Some(format!("`labctl up {} --provider docker`", lab.name.value)),
    })
}

/// vagrant-libvirt creates a network it cannot find (by subnet and name)
/// itself, NAT for management, and says nothing: then the lab is not on
/// labctl's networks. It records such networks in `created_networks`.
fn refuse_created_networks(dir: &StateDir, nodes: &[String]) -> Result<()> {
    for n in nodes {
        let f = dir
            .root
            .join(".vagrant/machines")
            .join(n)
            .join("libvirt/created_networks");
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        if !text.trim().is_empty() && text.trim() != "[]" {
            return Err(Error::env(
                format!(
                    "vagrant-libvirt created libvirt networks of its own for {n} ({}: {}), not labctl's",
                    f.display(),
                    text.trim()
                ),
                Some("a bug in labctl's Vagrantfile or networks; `labctl down` removes the lab".into()),
            ));
        }
    }
    Ok(())
}
