//! Host side of the docker provider: the lab's network (created and owned by
//! labctl, labelled with the lab), the capabilities this host can grant to nodes
//! that run Docker themselves, the runtime file, and cleanup by label.

use super::{Preflight, Provider};
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use crate::load::Loaded;
use crate::state::runtime::{Runtime, RuntimeNode};
use crate::state::Kind;
use crate::state::{LoopDisk, Snapshot, State, StateDir};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

mod caps;
pub mod disks;
pub mod image;
pub mod keys;
pub mod limits;
mod ports;
pub mod rpm;
pub mod snapshot;

pub use caps::{missing_capabilities, nested_args, nested_args_for};
pub use ports::{
    pick_ssh_ports, release_leases, vagrant_lease_dir, vagrant_unavailable_ports, SSH_PORT_FROM_ENV,
};

pub const LABEL_LAB: &str = "labctl.lab";

/// The docker provider: a node image labctl builds, a Docker network and
/// loop-device disks labctl creates and owns, containers found by label.
pub struct Docker;

impl Provider for Docker {
    fn kind(&self) -> Kind {
        Kind::Docker
    }

    // Alike on purpose (duplicates): a trait method's signature, as the trait in provider/mod.rs declares it.
    fn preflight(
        &self,
        r: &dyn Runner,
        loaded: &Loaded,
        state: &State,
        rebuild_image: bool,
    ) -> Result<Preflight> {
        let lab = &loaded.lab;
        let roles = &loaded.roles;
        if state.provider.is_none() {
            refuse_unrecorded(r, lab)?;
            // A new lab: ports, loop devices and descriptors for every node,
            // before the image build and before anything of the lab exists.
            limits::check(r, lab, &BTreeMap::new())?;
        }
        // The node image first: nothing is created for the lab until it exists.
        crate::interrupt::set_phase("node image");
        let spec = crate::provider::node_image::Spec::node(roles);
        let image = crate::provider::docker::image::ensure(&spec, r, rebuild_image)?;
        let have_network = network_exists(r, &lab.network_name());
        if !have_network {
            check_overlap(r, lab)?;
        }
        Ok(Preflight {
            image: Some(image),
            box_name: None,
            fresh: !have_network,
        })
    }

    fn record(&self, lab: &Lab, dir: &StateDir, state: &mut State) {
        // Disks are recorded before anything is attached.
        for n in &lab.nodes {
            for d in &n.disks {
                let file = dir.disks().join(disks::file_name(&n.name, &d.name));
                let file = std::path::absolute(&file)
                    .unwrap_or(file)
                    .display()
                    .to_string();
                // Keyed by node and disk, not file: a lab recorded under an
                // older file name keeps the file it has.
                if !state
                    .disks
                    .iter()
                    .any(|x| x.node == n.name && x.disk == d.name)
                {
                    state.disks.push(LoopDisk {
                        node: n.name.clone(),
                        disk: d.name.clone(),
                        file,
                        size_bytes: d.size_bytes,
                        device: None,
                    });
                }
            }
        }
    }

    fn create(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        state: &mut State,
        pre: &Preflight,
    ) -> Result<Runtime> {
        crate::interrupt::set_phase("network and disks");
        crate::interrupt::check()?;
        if pre.fresh {
            create_network(r, lab)?;
        }
        // Each node's key pair before any container: a container gets its
        // public key when it is created (the Vagrantfile reads keys/NODE.pub).
        let nodes: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
        keys::refuse_swapped(&dir.root, &dir.keys(), &lab.name.value, &nodes)?;
        keys::ensure(&dir.keys(), &nodes)?;
        let mut devices: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for i in 0..state.disks.len() {
            let d = state.disks[i].clone();
            disks::create_file(&d)?;
            let dev = disks::attach(r, &d)?;
            state.disks[i].device = Some(dev.clone());
            dir.save(state)?;
            let idx = devices.get(&d.node).map(|v| v.len()).unwrap_or(0);
            devices
                .entry(d.node.clone())
                .or_default()
                .push((dev, disks::guest_device(idx)));
        }
        let mut existing: BTreeMap<String, u16> = state
            .nodes
            .iter()
            .map(|(k, v)| (k.clone(), v.ssh_port))
            .filter(|(_, p)| *p != 0)
            .collect();
        // A container that exists keeps the port it was created with (Vagrant
        // starts it again, never re-creates it), whatever the state file says
        // (a failed first `up` recorded none): the runtime file must name that
        // port, as labctl reaches the node through it without asking Vagrant.
        existing.extend(ports::container_ssh_ports(r, &lab.name.value)?);
        let ssh_ports = pick_ssh_ports(
            lab,
            &existing,
            &vagrant_unavailable_ports(r),
            ports::ssh_port_from(),
        )?;
        let image = pre.image.clone().unwrap_or_default();
        Ok(runtime(lab, &image, &devices, &ssh_ports))
    }

    /// labctl chose each node's SSH port (the runtime file) and Vagrant
    /// forwards it on 127.0.0.1 to user vagrant; the key is the node's own,
    /// which labctl made before the container ([`keys`]), never the
    /// well-known key. A machine an older labctl made has no such key but
    /// the one Vagrant's swap put in place of the well-known key, also its
    /// own: `restart` of such a lab goes on with it (`up` refuses the lab
    /// and says to make it again, [`keys::refuse_swapped`]).
    fn known_ssh(
        &self,
        _r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        node: &str,
    ) -> Option<crate::remote::ssh_config::Host> {
        let rt = Runtime::read(&dir.runtime_file())?;
        let port = rt.nodes.get(node)?.ssh_port?;
        let own = keys::private_key(&dir.keys(), node);
        let swapped = crate::provider::vagrant_records::machine_key(&dir.root, node, "docker");
        let key = if !own.is_file() && swapped.is_file() {
            swapped
        } else {
            own
        };
        Some(crate::provider::vagrant_records::ssh_host(
            lab,
            &key,
            node,
            "127.0.0.1".into(),
            port,
        ))
    }

    fn vagrant_writes_key(&self) -> bool {
        false
    }

    fn states(&self, r: &dyn Runner, lab: &Lab, _dir: &Path) -> Result<BTreeMap<String, String>> {
        // docker ps is one fast call; `vagrant status` takes seconds.
        let out = r.run(&Cmd::new("docker").args([
            "ps",
            "-a",
            "--filter",
            &format!("label={}={}", LABEL_LAB, lab.name.value),
            "--format",
            "{{.Label \"labctl.node\"}} {{.State}}",
        ]))?;
        let mut states = BTreeMap::new();
        for l in out.stdout.lines() {
            if let Some((n, s)) = l.split_once(' ') {
                states.insert(n.to_string(), s.to_string());
            }
        }
        Ok(states)
    }

    fn check_route(&self, r: &dyn Runner, lab: &Lab) -> Result<()> {
        check_route(r, lab)
    }

    fn probe(&self) -> Cmd {
        Cmd::new("docker").args(["info", "--format", "{{.ID}}"])
    }

    fn destroy(&self, r: &dyn Runner, lab: &Lab, dir: &Path) -> Vec<String> {
        if !(dir.join("Vagrantfile").exists() && dir.join(".vagrant").exists()) {
            return vec![];
        }
        // One engine call for every machine (`vagrant destroy` takes about a
        // second per machine, one after another), with Vagrant's records
        // kept as its destroy keeps them.
        let mut removed = match remove_recorded(r, &lab.name.value, dir) {
            Ok(0) => vec![],
            Ok(n) => vec![format!("{n} machine(s) (one docker rm)")],
            Err(e) => {
                eprintln!(
                    "warning: removing the lab's containers in one call failed ({}); vagrant destroy removes them",
                    e.to_string().lines().next().unwrap_or("")
                );
                vec![]
            }
        };
        if super::vagrant_records::machines(dir, "docker").is_empty() {
            return removed;
        }
        // What Vagrant still records (a container not labelled as this lab's,
        // or the call above failed): Vagrant's own destroy; failures are
        // covered by the label sweep afterwards.
        let machines = lab_containers(r, &lab.name.value)
            .map(|c| c.len())
            .unwrap_or(0);
        let _ = super::vagrant::destroy(r, dir);
        let left = lab_containers(r, &lab.name.value)
            .map(|c| c.len())
            .unwrap_or(0);
        if machines > left {
            removed.push(format!("{} machine(s) (vagrant destroy)", machines - left));
        }
        removed
    }

    fn sweep(&self, r: &dyn Runner, lab: &Lab, stopped_children: bool) -> Result<Vec<String>> {
        // A `docker run` that Vagrant had sent when it was stopped still
        // completes in the daemon: after an interruption or killed children,
        // watch a few seconds for late containers and sweep them too (a late
        // container can also hold the network, failing the first sweep).
        let mut removed = Vec::new();
        match remove_all(r, &lab.name.value, &lab.network_name()) {
            Ok(v) => removed.extend(v),
            Err(e) if !stopped_children => return Err(e),
            Err(_) => {}
        }
        if stopped_children {
            let end = Instant::now() + Duration::from_secs(4);
            let mut last = Ok(());
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(500));
                let late = !lab_containers(r, &lab.name.value)?.is_empty();
                if late || network_exists(r, &lab.network_name()) {
                    match remove_all(r, &lab.name.value, &lab.network_name()) {
                        Ok(v) => {
                            removed.extend(v);
                            last = Ok(());
                        }
                        Err(e) => last = Err(e),
                    }
                }
            }
            last?;
        }
        Ok(removed)
    }

    fn inventory(&self, r: &dyn Runner, lab: &Lab) -> Result<Vec<String>> {
        let network = lab.network_name();
        Ok(Held::read(r, &lab.name.value, &network)?.describe(&network))
    }

    // A node that runs its own Docker engine needs the host's cgroup tree
    // bind-mounted, and its engine's storage would go into every commit:
    // such labs get no snapshots rather than a restore that cannot work.
    fn snapshot_support(&self, lab: &Lab) -> std::result::Result<(), String> {
        match lab.nodes.iter().find(|n| n.nested_containers) {
            Some(n) => Err(format!(
                "node {} runs its own Docker engine (nested_containers), whose state labctl does not snapshot",
                n.name
            )),
            None => Ok(()),
        }
    }

    fn snapshot_save(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        state: &mut State,
        snap: &Snapshot,
    ) -> Result<()> {
        snapshot::save(r, lab, dir, state, snap)
    }

    fn snapshot_restore(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        state: &State,
        snap: &Snapshot,
    ) -> Result<()> {
        snapshot::restore(r, lab, dir, state, snap)
    }

    fn snapshot_delete(
        &self,
        r: &dyn Runner,
        _lab: &Lab,
        dir: &StateDir,
        snap: &Snapshot,
    ) -> Result<Vec<String>> {
        Ok(snapshot::delete(r, dir, snap))
    }
}

/// Per-node `docker create` arguments, decided at run time on this host.
pub fn node_args(lab: &Lab, node: &crate::lab::Node, devices: &[(String, String)]) -> Vec<String> {
    let mut v = Vec::new();
    if node.nested_containers {
        v.extend(nested_args());
    } else if node.bandwidth.is_some()
        || lab.network.bandwidth.is_some()
        || node
            .roles
            .iter()
            .any(|r| r.value == crate::repo::CONSUMER_ROLE)
    {
        // tc on the lab interface; offline nodes drop their default route.
        v.extend(["--cap-add".to_string(), "NET_ADMIN".to_string()]);
    }
    for (host, guest) in devices {
        v.extend(["--device".to_string(), format!("{host}:{guest}")]);
    }
    v
}

/// The runtime file the Vagrantfile reads (host-dependent values only).
pub fn runtime(
    lab: &Lab,
    image: &str,
    devices: &BTreeMap<String, Vec<(String, String)>>,
    ssh_ports: &BTreeMap<String, u16>,
) -> Runtime {
    let nodes = lab
        .nodes
        .iter()
        .map(|n| {
            let d = devices.get(&n.name).cloned().unwrap_or_default();
            let node = RuntimeNode {
                create_args: node_args(lab, n, &d),
                ssh_port: ssh_ports.get(&n.name).copied(),
            };
            (n.name.clone(), node)
        })
        .collect();
    Runtime {
        image: Some(image.to_string()),
        libvirt: None,
        nodes,
        provider: crate::state::Kind::Docker,
    }
}

/// A Docker network: its name, subnets and the lab it is labelled with.
pub type NetworkInfo = (String, Vec<Ipv4Net>, Option<String>);

/// Subnets of every Docker network, by network name.
pub fn network_subnets(runner: &dyn Runner) -> Result<Vec<NetworkInfo>> {
    let ids = runner
        .run(&Cmd::new("docker").args(["network", "ls", "-q"]))?
        .stdout;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let out = runner
        .run(
            &Cmd::new("docker")
                .args(["network", "inspect"])
                .args(ids.iter().copied()),
        )?
        .stdout;
    let v: serde_json::Value = serde_json::from_str(&out)
        .map_err(|e| Error::env(format!("cannot read `docker network inspect`: {e}"), None))?;
    let mut res = Vec::new();
    for n in v.as_array().into_iter().flatten() {
        let name = n["Name"].as_str().unwrap_or("").to_string();
        let lab = n["Labels"][LABEL_LAB].as_str().map(|s| s.to_string());
        let subnets = n["IPAM"]["Config"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Subnet"].as_str()?.parse().ok())
            .collect();
        res.push((name, subnets, lab));
    }
    Ok(res)
}

/// Refuse a lab whose subnet overlaps any other Docker network, before anything
/// is created.
pub fn check_overlap(runner: &dyn Runner, lab: &Lab) -> Result<()> {
    let ours = lab.network.subnet.value;
    let name = lab.network_name();
    for (other, subnets, other_lab) in network_subnets(runner)? {
        if other == name {
            continue;
        }
        for s in subnets {
            if s.contains(&ours.network()) || ours.contains(&s.network()) {
                let who = match other_lab {
                    Some(l) => format!("lab `{l}` (network {other})"),
                    None => format!("Docker network {other}"),
                };
                return Err(Error::env(
                    format!("subnet {ours} of lab `{}` overlaps {s} of {who}", lab.name.value),
                    Some("run a second copy with --name NAME --subnet 192.168.X.0/24, or bring the other lab down".into()),
                ));
            }
        }
    }
    Ok(())
}

/// Does the lab's network exist?
pub fn network_exists(runner: &dyn Runner, name: &str) -> bool {
    runner
        .output(&Cmd::new("docker").args(["network", "inspect", name]))
        .map(|o| o.success())
        .unwrap_or(false)
}

pub fn create_network(runner: &dyn Runner, lab: &Lab) -> Result<()> {
    let name = lab.network_name();
    if network_exists(runner, &name) {
        return Ok(());
    }
    let subnet = lab.network.subnet.value;
    let gateway = std::net::Ipv4Addr::from(u32::from(subnet.network()) + 1);
    runner.run(
        &Cmd::new("docker")
            .args([
                "network",
                "create",
                "--driver",
                "bridge",
                "--subnet",
                &subnet.to_string(),
                "--gateway",
                &gateway.to_string(),
            ])
            .args(["--label", &format!("{LABEL_LAB}={}", lab.name.value)])
            .arg(&name),
    )?;
    Ok(())
}

/// Linux bridge behind a Docker network (`br-<id12>`), for the route check.
pub fn bridge_of(runner: &dyn Runner, name: &str) -> Option<String> {
    let out = runner
        .output(&Cmd::new("docker").args([
            "network",
            "inspect",
            "--format",
            "{{.Id}} {{index .Options \"com.docker.network.bridge.name\"}}",
            name,
        ]))
        .ok()?;
    if !out.success() {
        return None;
    }
    let mut it = out.stdout.split_whitespace();
    let id = it.next()?;
    match it.next() {
        Some(b) if !b.is_empty() && b != "<no" => Some(b.to_string()),
        _ => Some(format!("br-{}", &id[..12.min(id.len())])),
    }
}

/// Network safety: traffic from the host to lab addresses only once the lab's
/// subnet is routed to the lab's own bridge on this host. Otherwise packets
/// would leave by the default route toward someone else's network.
pub fn check_route(runner: &dyn Runner, lab: &Lab) -> Result<()> {
    let name = lab.network_name();
    let fail = |why: String| {
        Error::env(
            format!("network safety: {why}; refusing to send traffic to {}", lab.network.subnet.value),
            Some(format!("the lab's network {name} is gone or not this lab's; `labctl down {0}` then `labctl up {0}` rebuilds it", lab.name.value)),
        )
    };
    let Some(bridge) = bridge_of(runner, &name) else {
        return Err(fail(format!("Docker network {name} does not exist")));
    };
    let route = super::route_to_lab(runner, lab)?;
    let probe = route.probe;
    if !route.found {
        return Err(fail(format!("no route to {probe}")));
    }
    let dev = route.dev;
    if dev != bridge {
        return Err(fail(format!(
            "{probe} is routed via {dev:?}, not via the lab's bridge {bridge}"
        )));
    }
    Ok(())
}

/// A state dir that recorded nothing must find nothing of its lab on Docker.
/// Containers or a network of the same lab that it did not create belong to
/// another checkout's lab of that name, or were left by a run that was killed
/// before it could clean up; `up` would collide with them by name, and its
/// failure cleanup would then remove them. Refuse before anything is made.
fn refuse_unrecorded(r: &dyn Runner, lab: &Lab) -> Result<()> {
    let name = &lab.name.value;
    let containers = lab_containers(r, name)?;
    let network = lab.network_name();
    let have_network = network_exists(r, &network);
    if containers.is_empty() && !have_network {
        return Ok(());
    }
    let mut found = Vec::new();
    if !containers.is_empty() {
        found.push(format!(
            "{} container(s) labelled {LABEL_LAB}={name}",
            containers.len()
        ));
    }
    if have_network {
        found.push(format!("network {network}"));
    }
    Err(Error::env(
        format!(
            "lab {name}: Docker already holds {} that this state dir did not create",
            found.join(" and ")
        ),
        Some(format!(
            "they belong to lab {name} brought up from another folder (run `labctl down {name}` there), \
             or were left by a run that was killed; `labctl down {name} --force` removes everything labelled as lab {name}"
        )),
    ))
}

/// Remove, in one `docker rm -f`, the containers Vagrant recorded as this
/// state dir's machines that are labelled as the lab's (both: a recorded id
/// alone could name anything, a label alone another folder's lab of the same
/// name), then forget them in Vagrant's records; a recorded container that no
/// longer exists is forgotten too. Returns how many were removed. A recorded
/// container that exists without the lab's label is left to `vagrant destroy`.
fn remove_recorded(r: &dyn Runner, lab: &str, dir: &Path) -> Result<usize> {
    let recorded = super::vagrant_records::machines(dir, "docker");
    if recorded.is_empty() {
        return Ok(0);
    }
    let ids = |filter: Option<String>| -> Result<Vec<String>> {
        let mut c = Cmd::new("docker").args(["ps", "-aq", "--no-trunc"]);
        if let Some(f) = filter {
            c = c.args(["--filter", &f]);
        }
        Ok(r.run(&c)?
            .stdout
            .split_whitespace()
            .map(String::from)
            .collect())
    };
    let labelled = ids(Some(format!("label={LABEL_LAB}={lab}")))?;
    let all = ids(None)?;
    let same =
        |a: &str, b: &str| a.len() >= 12 && b.len() >= 12 && (a.starts_with(b) || b.starts_with(a));
    let (ours, rest): (Vec<_>, Vec<_>) = recorded
        .into_iter()
        .partition(|m| labelled.iter().any(|l| same(l, &m.id)));
    let gone: Vec<_> = rest
        .into_iter()
        .filter(|m| !all.iter().any(|c| same(c, &m.id)))
        .collect();
    if !ours.is_empty() {
        // Anonymous volumes go with their containers (-v).
        r.run(
            &Cmd::new("docker")
                .args(["rm", "-f", "-v"])
                .args(ours.iter().map(|m| m.id.clone())),
        )?;
    }
    super::vagrant_records::forget(dir, &ours)?;
    super::vagrant_records::forget(dir, &gone)?;
    Ok(ours.len())
}

/// Containers labelled with the lab (any state).
pub fn lab_containers(runner: &dyn Runner, lab: &str) -> Result<Vec<String>> {
    let out = runner.run(&Cmd::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        &format!("label={LABEL_LAB}={lab}"),
    ]))?;
    Ok(out.stdout.split_whitespace().map(String::from).collect())
}

/// What Docker holds of a lab: containers, volumes and snapshot images
/// labelled with it, and whether its network exists. Read by [`remove_all`] and by the check after a
/// failed `up` that nothing is left.
pub struct Held {
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    pub network: bool,
}

impl Held {
    pub fn read(runner: &dyn Runner, lab: &str, network: &str) -> Result<Held> {
        let containers = lab_containers(runner, lab)?;
        let volumes = runner
            .run(&Cmd::new("docker").args([
                "volume",
                "ls",
                "-q",
                "--filter",
                &format!("label={LABEL_LAB}={lab}"),
            ]))?
            .stdout
            .split_whitespace()
            .map(String::from)
            .collect();
        Ok(Held {
            containers,
            volumes,
            images: snapshot::lab_images(runner, lab)?,
            network: network_exists(runner, network),
        })
    }

    /// One line per kind of thing held: "2 container(s)", "network labctl-x".
    pub fn describe(&self, network: &str) -> Vec<String> {
        let mut out = Vec::new();
        if !self.containers.is_empty() {
            out.push(format!("{} container(s)", self.containers.len()));
        }
        if !self.volumes.is_empty() {
            out.push(format!("{} volume(s)", self.volumes.len()));
        }
        if !self.images.is_empty() {
            out.push(format!("{} snapshot image(s)", self.images.len()));
        }
        if self.network {
            out.push(format!("network {network}"));
        }
        out
    }
}

/// Remove every container, volume, snapshot image and network labelled with the lab. Returns what
/// was removed, so `down` can say what was already gone.
pub fn remove_all(runner: &dyn Runner, lab: &str, network: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let held = Held::read(runner, lab, network)?;
    let containers = held.containers;
    if !containers.is_empty() {
        // Anonymous volumes go with their containers (-v).
        runner.run(
            &Cmd::new("docker")
                .args(["rm", "-f", "-v"])
                .args(containers.iter().cloned()),
        )?;
        removed.push(format!("{} container(s)", containers.len()));
    }
    let vols = held.volumes;
    if !vols.is_empty() {
        runner.run(
            &Cmd::new("docker")
                .args(["volume", "rm", "-f"])
                .args(vols.iter().cloned()),
        )?;
        removed.push(format!("{} volume(s)", vols.len()));
    }
    if !held.images.is_empty() {
        runner.run(
            &Cmd::new("docker")
                .args(["image", "rm", "-f"])
                .args(held.images.iter().cloned()),
        )?;
        removed.push(format!("{} snapshot image(s)", held.images.len()));
    }
    if held.network {
        // Only a network labelled as this lab's: never someone else's of the same name.
        let label = runner
            .output(&Cmd::new("docker").args([
                "network",
                "inspect",
                "--format",
                &format!("{{{{index .Labels \"{LABEL_LAB}\"}}}}"),
                network,
            ]))?
            .stdout
            .trim()
            .to_string();
        if label != lab {
            return Err(Error::env(
                format!("Docker network {network} is not labelled as lab {lab}'s ({LABEL_LAB}={label:?}); leaving it alone"),
                Some(format!("remove it by hand if it is a leftover: docker network rm {network}")),
            ));
        }
        runner.run(&Cmd::new("docker").args(["network", "rm", network]))?;
        removed.push(format!("network {network}"));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labs_whose_nodes_run_docker_get_no_snapshots_and_the_reason_names_the_node() {
        for name in ["workflow", "testnodes"] {
            let l = crate::load::load(name).unwrap();
            assert_eq!(Docker.snapshot_support(&l.lab), Ok(()), "{name}");
        }
        for name in ["bench", "docker-deploy"] {
            let l = crate::load::load(name).unwrap();
            let why = Docker.snapshot_support(&l.lab).unwrap_err();
            assert!(why.contains("nested_containers"), "{name}: {why}");
        }
        // libvirt keeps its own (internal qcow2 snapshots through Vagrant).
        let l = crate::load::load("testnodes").unwrap();
        assert_eq!(
            crate::provider::of(Kind::Libvirt).snapshot_support(&l.lab),
            Ok(())
        );
    }

    #[test]
    fn detects_missing_sys_resource() {
        let status = "Name: x\nCapBnd:\t000001fffeffffff\n";
        assert_eq!(
            missing_capabilities(status, 40),
            vec!["SYS_RESOURCE".to_string()]
        );
        let full = "CapBnd:\t000001ffffffffff\n";
        assert!(missing_capabilities(full, 40).is_empty());
        assert_eq!(nested_args_for(&[])[0], "--privileged");
        let a = nested_args_for(&["SYS_RESOURCE".into()]);
        assert!(a
            .windows(2)
            .any(|w| w[0] == "--cap-drop" && w[1] == "SYS_RESOURCE"));
        assert!(!a.contains(&"--privileged".to_string()));
    }

    /// Recorded: `down` removes in one `docker rm` only the containers that
    /// Vagrant recorded for this state dir and that carry the lab's label;
    /// those and a recorded container that is gone are forgotten (no `id`
    /// file: `vagrant status` says not created); a recorded container without
    /// the label is left to `vagrant destroy`.
    #[test]
    fn down_removes_recorded_and_labelled_containers_in_one_call() {
        let dir = tempfile::tempdir().unwrap();
        let ours = format!("{:a<64}", "ours");
        let other = format!("{:b<64}", "other");
        let gone = format!("{:c<64}", "gone");
        for (node, id) in [("node1", &ours), ("node2", &other), ("node3", &gone)] {
            let d = dir
                .path()
                .join(".vagrant/machines")
                .join(node)
                .join("docker");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("id"), id).unwrap();
        }
        let r = crate::exec::Recorder::default();
        r.answer(
            "docker ps -aq --no-trunc --filter",
            0,
            &format!("{ours}\n{:d<64}\n", "unrecorded"),
        );
        r.answer("docker ps -aq --no-trunc", 0, &format!("{ours}\n{other}\n"));
        assert_eq!(remove_recorded(&r, "scale", dir.path()).unwrap(), 1);
        let rm: Vec<String> = r
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("docker rm"))
            .collect();
        assert_eq!(rm, vec![format!("docker rm -f -v {ours}")]);
        let left: Vec<String> = crate::provider::vagrant_records::machines(dir.path(), "docker")
            .into_iter()
            .map(|m| m.node)
            .collect();
        assert_eq!(left, vec!["node2"]);
        // Nothing recorded: no engine call at all.
        let r = crate::exec::Recorder::default();
        assert_eq!(
            remove_recorded(&r, "scale", tempfile::tempdir().unwrap().path()).unwrap(),
            0
        );
        assert!(r.lines().is_empty());
    }

    /// The SSH address, user and each machine's own key file are known
    /// without `vagrant ssh-config` once labctl chose the ports; a node
    /// without its port sends `up` to Vagrant's answer instead.
    #[test]
    fn ssh_is_known_with_the_port_labctl_chose_and_the_nodes_own_key() {
        let l = crate::load::load("testnodes").unwrap().lab;
        let dir = StateDir::new(tempfile::tempdir().unwrap().keep());
        let ports: BTreeMap<String, u16> = l
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), 2200 + i as u16))
            .collect();
        let rt = runtime(&l, "img", &BTreeMap::new(), &ports);
        std::fs::write(dir.runtime_file(), rt.to_text()).unwrap();
        let n1 = &l.nodes[1].name;
        let h = Docker
            .known_ssh(&crate::exec::Recorder::default(), &l, &dir, n1)
            .unwrap();
        assert_eq!(
            (h.hostname.as_str(), h.port, h.user.as_str()),
            ("127.0.0.1", 2201, "vagrant")
        );
        let want = std::path::absolute(dir.root.join("keys").join(n1)).unwrap();
        assert_eq!(h.key, want.display().to_string());
        assert!(!h.key.contains("insecure"), "{}", h.key);
        assert_eq!(h.alias, l.machine_name(n1));
        // A machine an older labctl made: the key Vagrant's swap left, while
        // the node has no labctl key; the labctl key once it has one.
        let swapped = crate::provider::vagrant_records::machine_key(&dir.root, n1, "docker");
        std::fs::create_dir_all(swapped.parent().unwrap()).unwrap();
        std::fs::write(&swapped, "k").unwrap();
        let key_of = || {
            Docker
                .known_ssh(&crate::exec::Recorder::default(), &l, &dir, n1)
                .unwrap()
                .key
        };
        let swapped_abs = std::path::absolute(&swapped).unwrap();
        assert_eq!(key_of(), swapped_abs.display().to_string());
        std::fs::create_dir_all(want.parent().unwrap()).unwrap();
        std::fs::write(&want, "k").unwrap();
        assert_eq!(key_of(), want.display().to_string());
        // Ports Vagrant chose (no runtime ssh_port): ask Vagrant.
        let rt = runtime(&l, "img", &BTreeMap::new(), &BTreeMap::new());
        std::fs::write(dir.runtime_file(), rt.to_text()).unwrap();
        assert!(Docker
            .known_ssh(&crate::exec::Recorder::default(), &l, &dir, n1)
            .is_none());
        let _ = std::fs::remove_dir_all(&dir.root);
    }
}
