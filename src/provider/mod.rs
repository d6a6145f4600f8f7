//! Providers: where the machines run. labctl drives the real `vagrant` CLI for
//! every provider; what differs is the host preparation (the docker provider's
//! image, network and capabilities) and how `auto` picks one.

pub mod boxes;
pub mod docker;
pub mod hostnet;
pub mod hosts;
pub mod kvm;
pub mod libvirt;
pub mod node_image;
pub mod vagrant;
pub mod vagrant_records;
pub mod vm;
pub mod vm_snapshots;

use crate::error::Result;
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use crate::load::Loaded;
use crate::state::runtime::Runtime;
pub use crate::state::Kind;
use crate::state::{Snapshot, State, StateDir};
use std::collections::BTreeMap;
use std::path::Path;

/// What a provider answers for itself; the lifecycle asks, in this order, on
/// `up`: [`preflight`](Provider::preflight), [`record`](Provider::record)
/// (the state is saved after it), [`create`](Provider::create); on `status`:
/// [`states`](Provider::states); before traffic: [`check_route`](Provider::check_route);
/// on `down`: [`destroy`](Provider::destroy), [`sweep`](Provider::sweep).
/// [`of`] gives the provider of a [`Kind`].
pub trait Provider: Sync {
    fn kind(&self) -> Kind;

    /// Before anything is recorded for the lab: make what it needs that is
    /// not the lab's own (the docker node image) and refuse a lab that
    /// cannot go here (a subnet another network has). Nothing of the lab is
    /// created yet.
    fn preflight(
        &self,
        r: &dyn Runner,
        loaded: &Loaded,
        state: &State,
        rebuild_image: bool,
    ) -> Result<Preflight>;

    /// Record in `state` what [`create`](Provider::create) will make
    /// (record-before-create: the caller saves the state next).
    fn record(&self, _lab: &Lab, _dir: &StateDir, _state: &mut State) {}

    /// Create the lab's own resources (network, disks) and return the runtime
    /// file the Vagrantfile reads. Saves the state as each resource is made.
    fn create(
        &self,
        r: &dyn Runner,
        lab: &Lab,
        dir: &StateDir,
        state: &mut State,
        pre: &Preflight,
    ) -> Result<Runtime>;

    /// A node's SSH address, user and key file when the provider knows them
    /// without asking Vagrant (`vagrant ssh-config` costs seconds of Ruby);
    /// `None` when it does not, and the caller asks Vagrant. The key
    /// file is the machine's own: labctl's on docker, made before the
    /// machine; on the VM providers the one Vagrant writes when it replaces
    /// the well-known key ([`Provider::vagrant_writes_key`]).
    fn known_ssh(
        &self,
        _r: &dyn Runner,
        _lab: &Lab,
        _dir: &StateDir,
        _node: &str,
    ) -> Option<crate::remote::ssh_config::Host> {
        None
    }

    /// Whether the key [`known_ssh`](Provider::known_ssh) names is written by
    /// Vagrant during `up` (insert_key swaps the box's well-known key for it),
    /// so the caller waits for Vagrant to finish the machine and for that file
    /// before using it. Docker nodes get labctl's key at creation: no wait.
    fn vagrant_writes_key(&self) -> bool {
        true
    }

    /// After `vagrant up` brought `nodes` up, before labctl's first SSH
    /// contact with them: check what Vagrant made and pin the nodes' SSH host
    /// keys in the lab's known_hosts where the provider knows them
    /// beforehand (libvirt: from each VM's console).
    fn after_boot(
        &self,
        _r: &dyn Runner,
        _lab: &Lab,
        _dir: &StateDir,
        _nodes: &[String],
    ) -> Result<()> {
        Ok(())
    }

    /// The state of each machine the provider knows, by node name.
    fn states(&self, r: &dyn Runner, lab: &Lab, dir: &Path) -> Result<BTreeMap<String, String>>;

    /// Network safety: the lab's subnet is routed to the lab's own network
    /// on this host, before any traffic is sent toward it.
    fn check_route(&self, r: &dyn Runner, lab: &Lab) -> Result<()>;

    /// A command that succeeds when the provider works on this host.
    fn probe(&self) -> Cmd;

    /// `vagrant destroy` in the state dir `dir`, when Vagrant made machines
    /// there; what was removed.
    fn destroy(&self, r: &dyn Runner, lab: &Lab, dir: &Path) -> Vec<String>;

    /// Remove whatever of the lab the provider still holds, by label or by
    /// name, whatever Vagrant's bookkeeping says. `stopped_children`: labctl's
    /// own tools were just stopped, and late resources may still appear.
    fn sweep(&self, r: &dyn Runner, lab: &Lab, stopped_children: bool) -> Result<Vec<String>>;

    /// What of the lab the provider holds now, read from the host: the same
    /// listing [`sweep`](Provider::sweep) removes by, without removing
    /// anything. Empty means nothing of the lab is there.
    fn inventory(&self, r: &dyn Runner, lab: &Lab) -> Result<Vec<String>>;

    /// Whether labctl can snapshot this lab on this provider: `Err` says why
    /// not. Asked before anything is recorded, so an automatic snapshot
    /// (after provisioning) is skipped with that reason instead of failing
    /// a lab that came up fine.
    fn snapshot_support(&self, _lab: &Lab) -> std::result::Result<(), String> {
        Err(no_snapshots(self.kind()).to_string())
    }

    /// Take snapshot `snap` of every node of a lab that is up. The caller
    /// has recorded `snap` in the state (and saved it) before; the provider
    /// fills in what it makes, saving the state as it goes.
    fn snapshot_save(
        &self,
        _r: &dyn Runner,
        _lab: &Lab,
        _dir: &StateDir,
        _state: &mut State,
        _snap: &Snapshot,
    ) -> Result<()> {
        Err(no_snapshots(self.kind()))
    }

    /// Bring every node back to snapshot `snap`: same addresses, ports,
    /// disks and host keys; the machines are running when it returns.
    fn snapshot_restore(
        &self,
        _r: &dyn Runner,
        _lab: &Lab,
        _dir: &StateDir,
        _state: &State,
        _snap: &Snapshot,
    ) -> Result<()> {
        Err(no_snapshots(self.kind()))
    }

    /// Remove what snapshot `snap` holds; what was removed.
    fn snapshot_delete(
        &self,
        _r: &dyn Runner,
        _lab: &Lab,
        _dir: &StateDir,
        _snap: &Snapshot,
    ) -> Result<Vec<String>> {
        Err(no_snapshots(self.kind()))
    }
}

/// A provider labctl does not take snapshots on (yet).
fn no_snapshots(kind: Kind) -> crate::error::Error {
    crate::error::Error::usage(format!(
        "labctl takes no snapshots on the {kind} provider yet (docker, libvirt and virtualbox have them)"
    ))
}

/// What [`Provider::preflight`] found, for [`Provider::create`].
#[derive(Debug, Clone, Default)]
pub struct Preflight {
    /// The node image the machines boot (docker); `None` where a box is used.
    pub image: Option<String>,
    /// The Vagrant box labctl built for the machines (libvirt); `None` where
    /// the lab's own box is used (VirtualBox) or no box at all (docker).
    pub box_name: Option<String>,
    /// Nothing of the lab exists yet: the caller checks the host's ports too.
    pub fresh: bool,
}

static DOCKER: docker::Docker = docker::Docker;
static VIRTUALBOX: vm::VirtualBox = vm::VirtualBox;
static LIBVIRT: libvirt::Libvirt = libvirt::Libvirt;
static HOSTS: hosts::Hosts = hosts::Hosts;

/// The provider of a kind.
pub fn of(kind: Kind) -> &'static dyn Provider {
    match kind {
        Kind::Docker => &DOCKER,
        Kind::Virtualbox => &VIRTUALBOX,
        Kind::Libvirt => &LIBVIRT,
        Kind::Hosts => &HOSTS,
    }
}

/// Does the provider answer on this host? Asked only when no state says which
/// provider a lab used (`down --force`): a provider that is not installed or
/// whose daemon is not running cannot hold the lab's machines.
pub fn answers(p: &dyn Provider, r: &dyn Runner) -> bool {
    let ok = answers_quietly(p, r);
    if !ok {
        eprintln!("down: {} does not answer on this host; not swept", p.kind());
    }
    ok
}

/// [`answers`] without a word.
pub fn answers_quietly(p: &dyn Provider, r: &dyn Runner) -> bool {
    let cmd = p.probe();
    r.which(&cmd.program).is_some() && r.output(&cmd).is_ok_and(|o| o.success())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    Auto,
    Virtualbox,
    Libvirt,
    Docker,
}

/// The provider to use and why it was chosen.
pub fn choose(choice: Choice, runner: &dyn Runner) -> (Kind, String) {
    match choice {
        Choice::Virtualbox => (Kind::Virtualbox, "asked for with --provider".into()),
        Choice::Libvirt => (Kind::Libvirt, "asked for with --provider".into()),
        Choice::Docker => (Kind::Docker, "asked for with --provider".into()),
        Choice::Auto => {
            if runner.which("VBoxManage").is_some()
                && runner
                    .output(&Cmd::new("VBoxManage").arg("--version"))
                    .map(|o| o.success())
                    .unwrap_or(false)
            {
                return (Kind::Virtualbox, "VBoxManage works".into());
            }
            let vbox = "VirtualBox: VBoxManage not found or not working";
            match libvirt_probe(runner, &kvm::Host::system()) {
                Ok(()) => (
                    Kind::Libvirt,
                    format!("{vbox}; libvirt: a guest kernel boots under KVM (cached probe)"),
                ),
                Err(why) => (
                    Kind::Docker,
                    format!("{vbox}; libvirt: {why}; docker runs anywhere"),
                ),
            }
        }
    }
}

/// libvirt only counts when a guest kernel really boots under KVM (on some
/// hosts /dev/kvm answers but guests hang; TCG works everywhere but is far too
/// slow to be picked without being asked for). The probe's cached result is
/// read ([`kvm`]); where there is none and QEMU is installed, it is probed now.
fn libvirt_probe(runner: &dyn Runner, host: &kvm::Host) -> Result<(), String> {
    if runner.which("virsh").is_none() || runner.which("qemu-system-x86_64").is_none() {
        return Err("not installed (`labctl setup --provider libvirt`)".into());
    }
    let probe = match kvm::cached(runner, host) {
        Some(p) => p,
        None => {
            kvm::probe(runner, host, false)
                .map_err(|e| e.to_string())?
                .0
        }
    };
    if probe.mode != kvm::Mode::Kvm {
        return Err(format!(
            "KVM does not work here ({}; {})",
            probe.why,
            host.cache_file().display()
        ));
    }
    let ok = runner
        .output(&Cmd::new("virsh").args(["-c", libvirt::URI, "version"]))
        .map(|o| o.success())
        .unwrap_or(false);
    if !ok {
        return Err(
            "KVM works, but libvirtd does not answer (`labctl setup --provider libvirt`)".into(),
        );
    }
    Ok(())
}

/// The word after `key` in a line of `ip` output (`dev eth0` → `eth0`).
pub fn word_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace().skip_while(|w| *w != key).nth(1)
}

/// What `ip -o route get` says about the lab's first node address: the
/// network-safety checks of every provider look at it before any traffic.
pub struct RouteToLab {
    pub probe: std::net::Ipv4Addr,
    /// `ip` found a route at all.
    pub found: bool,
    /// The device the route leaves by ("" when none is named).
    pub dev: String,
    /// Through a gateway rather than a directly connected network.
    pub via_gateway: bool,
    pub text: String,
}

pub fn route_to_lab(runner: &dyn Runner, lab: &Lab) -> Result<RouteToLab> {
    let probe = lab
        .nodes
        .first()
        .map(|n| n.ip)
        .unwrap_or(lab.network.subnet.value.network());
    let out = runner.output(&Cmd::new("ip").args(["-o", "route", "get", &probe.to_string()]))?;
    Ok(RouteToLab {
        probe,
        found: out.success(),
        dev: word_after(&out.stdout, "dev").unwrap_or("").to_string(),
        via_gateway: out.stdout.split_whitespace().any(|w| w == "via"),
        text: out.stdout.trim().to_string(),
    })
}

#[cfg(test)]
mod auto_tests {
    use super::*;

    /// A host under a temporary root with a cached KVM probe result.
    fn host_with_probe(mode: &str) -> (tempfile::TempDir, kvm::Host) {
        let t = tempfile::tempdir().unwrap();
        let host = kvm::Host {
            root: t.path().to_path_buf(),
        };
        for (f, text) in [
            ("/proc/sys/kernel/osrelease", "6.1.0-test\n".to_string()),
            (
                "/var/lib/labctl/kvm-probe",
                format!("key=kernel=6.1.0-test qemu=1:7.2 kvm=none\nmode={mode}\nwhy=measured\n"),
            ),
        ] {
            let p = host.p(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        (t, host)
    }

    /// Command-sequence test: `--provider auto` with a cached probe. TCG
    /// (KVM guests hang): not libvirt, and no libvirtd is even asked; KVM and
    /// a libvirtd that answers: libvirt. Nothing boots (the cache is read).
    #[test]
    fn auto_reads_the_cached_kvm_probe() {
        let (_t, tcg) = host_with_probe("tcg");
        let r = crate::exec::Recorder::default();
        r.answer("dpkg-query", 0, "1:7.2");
        let e = libvirt_probe(&r, &tcg).unwrap_err();
        assert!(e.contains("KVM does not work here (measured;"), "{e}");
        assert!(
            !r.lines()
                .iter()
                .any(|l| l.starts_with("virsh") || l.contains("qemu-system-x86_64")),
            "{:?}",
            r.lines()
        );

        let (_t2, kvm_host) = host_with_probe("kvm");
        let r = crate::exec::Recorder::default();
        r.answer("dpkg-query", 0, "1:7.2");
        assert_eq!(libvirt_probe(&r, &kvm_host), Ok(()));
        assert!(r
            .lines()
            .iter()
            .any(|l| l == "virsh -c qemu:///system version"));
        assert!(!r.lines().iter().any(|l| l.contains("qemu-system-x86_64")));
        // KVM works but libvirtd is down: not libvirt, and why.
        r.answer("virsh -c qemu:///system version", 1, "");
        let e = libvirt_probe(&r, &kvm_host).unwrap_err();
        assert!(e.contains("libvirtd does not answer"), "{e}");
    }
}
