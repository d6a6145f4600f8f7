//! The machine lifecycle, one verb per file: [`up`](up()), [`down`](down()),
//! [`provision`](provision()), [`status`](status()), access ([`ssh`](ssh()),
//! [`exec`](exec())), power ([`halt`](halt()), [`restart`](restart())) and
//! snapshots ([`snapshot_save`], [`snapshot_restore`], [`reset`], ...).
//! This file opens a lab for them (`--name`/`--subnet` copies, the state dir)
//! and holds what several verbs share.
//!
//! Every resource is recorded in the state file (or labelled with the lab)
//! before it is created, so `down` can remove everything even after a crash.

use crate::error::{Error, Exit, Result};
use crate::exec::{Runner, System};
use crate::history::Timings;
use crate::lab::Lab;
use crate::load::Loaded;
use crate::provider::{self, docker, vagrant, Choice, Kind};
use crate::remote::ssh_config;
use crate::state::{LabLock, LoopDisk, NodeState, Phase, State, StateDir};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod access;
mod down;
mod heal;
mod power;
mod provision;
mod snapshot;
mod status;
mod up;

pub use access::{exec, ssh};
pub use down::{down, down_with};
pub use power::{halt, restart};
pub use provision::provision;
pub use snapshot::{
    reset, snapshot_delete, snapshot_delete_with, snapshot_list, snapshot_restore,
    snapshot_restore_with, snapshot_save, snapshot_save_with, PROVISIONED,
};
pub use status::{node_status, status, NodeStatus};
pub use up::{up, up_with};

/// Which lab, and which copy of it: the arguments every command that opens a
/// lab takes (flattened into the command line by `cli`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LabArgs {
    /// Shipped lab name (see `labctl list`), or lab file path (with a `/` or ending in .toml)
    pub lab: String,
    /// Run a second copy of the lab under this name
    #[arg(long)]
    pub name: Option<String>,
    /// Put the copy on this subnet (same prefix length; host numbers are kept)
    #[arg(long)]
    pub subnet: Option<ipnet::Ipv4Net>,
    /// State dir (default: .labctl/NAME beside the lab file, or in the current dir for shipped labs)
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

impl LabArgs {
    /// The shipped lab or lab file `lab` itself: no copy, the default state dir.
    pub fn named(lab: impl Into<String>) -> LabArgs {
        LabArgs {
            lab: lab.into(),
            ..Default::default()
        }
    }
}

/// A lab opened for a lifecycle command: model, roles, state dir.
pub struct Opened {
    pub loaded: Loaded,
    pub dir: StateDir,
}

impl Opened {
    pub fn lab(&self) -> &Lab {
        &self.loaded.lab
    }
}

/// Load a lab and apply `--name`/`--subnet`.
pub fn open(a: &LabArgs) -> Result<Opened> {
    let mut loaded = crate::load::load(&a.lab)?;
    relocate(&mut loaded.lab, a.name.as_deref(), a.subnet)?;
    let dir = StateDir::new(
        a.state_dir
            .clone()
            .unwrap_or_else(|| crate::state::default_state_dir(&loaded.lab)),
    );
    // A copy made with --subnet remembers it: later commands need not repeat it.
    if a.subnet.is_none() {
        if let Ok(Some(st)) = dir.load() {
            if let Some(net) = st.subnet {
                if net != loaded.lab.network.subnet.value {
                    relocate(&mut loaded.lab, None, Some(net))?;
                }
            }
        }
    }
    Ok(Opened { loaded, dir })
}

/// Rename a lab and move it to another subnet, keeping host numbers. Every
/// address of the old subnet written in the lab moves with it: check URLs,
/// commands, expected output (regexes too), file paths and contents, and role
/// variables ([`crate::lab::readdress`]), so a copy never probes the original.
pub fn relocate(lab: &mut Lab, name: Option<&str>, subnet: Option<ipnet::Ipv4Net>) -> Result<()> {
    if let Some(n) = name {
        if !crate::lab::parse::LAB_NAME.is_match(n) {
            return Err(Error::usage(format!("--name {n:?} is not a lab name (a lower-case letter, then up to 30 of a-z, 0-9, -)")));
        }
        lab.name.value = n.to_string();
    }
    if let Some(new) = subnet {
        // Existing machines keep their own addresses: a copy cannot move them.
        if lab.on_hosts() {
            return Err(Error::usage(format!(
                "--subnet {new}: lab {} is made of existing machines, whose addresses labctl does not choose",
                lab.name.value
            )));
        }
        let old = lab.network.subnet.value;
        if new.prefix_len() != old.prefix_len() {
            return Err(Error::usage(format!(
                "--subnet {new} must have the lab's prefix length /{}",
                old.prefix_len()
            )));
        }
        if new.network() != new.addr() {
            return Err(Error::usage(format!("--subnet {new} has host bits set")));
        }
        use crate::lab::readdress::{readdress, shift};
        let move_str = |s: &mut String| *s = readdress(s, old, new);
        let move_opt = |s: &mut Option<String>| {
            if let Some(s) = s {
                *s = readdress(s, old, new);
            }
        };
        for n in &mut lab.nodes {
            n.ip = shift(n.ip, old, new);
            for v in n.vars.values_mut() {
                move_str(&mut v.value);
            }
        }
        for c in &mut lab.checks {
            use crate::lab::CheckKind::*;
            match &mut c.kind {
                Http { url, body, .. } => {
                    move_str(url);
                    move_opt(body);
                }
                Command { run, stdout, .. } => {
                    move_str(run);
                    move_opt(stdout);
                }
                File { path, contains, .. } => {
                    move_str(path);
                    move_opt(contains);
                }
                Cron { contains, .. } => move_opt(contains),
                Disk { device, .. } => move_opt(device),
                Port { .. } | Service { .. } | Reach { .. } => {}
            }
        }
        lab.network.subnet.value = new;
    }
    Ok(())
}

fn runner() -> Arc<dyn Runner> {
    Arc::new(System)
}

pub struct UpOptions {
    pub provider: Choice,
    pub no_setup: bool,
    pub rebuild_image: bool,
    pub provision: bool,
    pub keep_on_failure: bool,
    /// Nodes to re-create as new machines on a lab that is up (`--recreate`).
    pub recreate: Vec<String>,
    /// Print the run's phase timings at the end (`--timings`).
    pub timings: bool,
    /// Take the `provisioned` snapshot after provisioning succeeds (what
    /// `labctl reset` restores); off with `--no-snapshot`.
    pub snapshot: bool,
}

impl UpOptions {
    /// What `test` and `bench` bring a lab up with: provisioned, the cached
    /// node image, and what a failed first `up` created removed.
    pub fn new(provider: Choice, no_setup: bool) -> UpOptions {
        UpOptions {
            provider,
            no_setup,
            rebuild_image: false,
            provision: true,
            keep_on_failure: false,
            recreate: Vec::new(),
            timings: false,
            snapshot: true,
        }
    }
}

/// Where `--timings` prints its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The table for `--timings`: stdout, unless `--json` holds it.
    fn for_timings(timings: bool, json: bool) -> Option<Stream> {
        match (timings, json) {
            (false, _) => None,
            (true, false) => Some(Stream::Stdout),
            (true, true) => Some(Stream::Stderr),
        }
    }
}

/// Record a run of `up`, `provision` or `down` with its phases in the lab's
/// history (beside `test`'s records), and print them when `--timings` asked
/// (on stderr where stdout carries `--json`, so the JSON stays parseable).
/// A run refused before the state dir was made records nothing: the record
/// would make the folder for it. A record that cannot be written is said,
/// never the command's failure.
fn record_phases(
    op: &Opened,
    command: &str,
    started: Instant,
    error: Option<&Error>,
    t: &Timings,
    print: Option<Stream>,
) {
    match print {
        Some(Stream::Stdout) => print!("{}", crate::history::phase_table(&t.phases)),
        Some(Stream::Stderr) => eprint!("{}", crate::history::phase_table(&t.phases)),
        None => {}
    }
    let lab = &op.lab().name.value;
    if !matches!(op.dir.check_owned(lab), Ok(true)) {
        return;
    }
    let rec = crate::history::Record::timed(
        command,
        lab,
        started.elapsed().as_secs_f64(),
        error.map(|e| e.to_string()),
        &op.loaded.source.path.display().to_string(),
        &op.loaded.source.text,
        t.phases.clone(),
    );
    let store = crate::history::Store::for_lab(&op.dir.root, lab, None);
    match store.append(rec) {
        Ok(n) => eprintln!(
            "history: {command} run {n} recorded in {}",
            store.dir.display()
        ),
        Err(e) => eprint!("{}", e.render()),
    }
}

/// How long a machine's own key may take to appear after Vagrant said it
/// finished the machine (it writes the key before that line: a wait here is
/// a Vagrant that did not replace the well-known key, which is refused).
const OWN_KEY_WAIT: Duration = Duration::from_secs(20);

/// Every node's SSH address, user and key, as [`ssh_hosts`] reads them, into
/// the state and the lab's own ssh_config.
fn refresh_ssh(op: &Opened, r: &dyn Runner, state: &mut State) -> Result<()> {
    let nodes: Vec<String> = op.lab().nodes.iter().map(|n| n.name.clone()).collect();
    let hosts = ssh_hosts(op, r, provider::of(state_kind(state)), &nodes)?;
    record_hosts(op, state, &hosts)
}

/// The SSH address, user and key of `nodes`, whose machines Vagrant has
/// finished: from the provider where it knows them (docker: the ports labctl
/// chose and the key labctl made; libvirt: the domain's DHCP lease, and
/// each machine's own key once Vagrant wrote it), else `vagrant
/// ssh-config` of the others in one call; then the provider's checks after
/// boot (libvirt: host keys pinned from each console).
fn ssh_hosts(
    op: &Opened,
    r: &dyn Runner,
    p: &dyn provider::Provider,
    nodes: &[String],
) -> Result<Vec<ssh_config::Host>> {
    let lab = op.lab();
    let mut hosts = Vec::new();
    let mut ask = Vec::new();
    for n in nodes {
        match p.known_ssh(r, lab, &op.dir, n) {
            Some(h) => {
                if p.vagrant_writes_key() {
                    wait_for_own_key(n, Path::new(&h.key), OWN_KEY_WAIT)?;
                }
                hosts.push(h);
            }
            None => ask.push(n.clone()),
        }
    }
    if !ask.is_empty() {
        let text = vagrant::ssh_config(r, &op.dir.root, &ask)?;
        hosts.extend(
            ssh_config::parse(&text)
                .into_iter()
                .filter(|h| ask.contains(&h.0))
                .map(|(name, hostname, port, user, key)| ssh_config::Host {
                    alias: lab.machine_name(&name),
                    name,
                    hostname,
                    port,
                    user,
                    key,
                }),
        );
    }
    let booted: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    p.after_boot(r, lab, &op.dir, &booted)?;
    Ok(hosts)
}

/// Vagrant writes a machine's own private key when it replaces the
/// well-known one; labctl never connects with the well-known key, so a
/// machine whose own key is not there (a regular file) is an error.
fn wait_for_own_key(node: &str, key: &Path, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !std::fs::symlink_metadata(key).is_ok_and(|m| m.is_file() && m.len() > 0) {
        crate::interrupt::check()?;
        if Instant::now() > deadline {
            return Err(Error::env(
                format!(
                    "node {node}: Vagrant finished the machine but its own SSH key {} is not there after {:.1}s",
                    key.display(),
                    limit.as_secs_f64()
                ),
                Some("labctl never connects with Vagrant's well-known key; is `config.ssh.insert_key` off in a Vagrantfile that labctl did not write?".into()),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Record `hosts` in the state and rewrite the lab's ssh_config with every
/// node known so far (host keys verified against the lab's known_hosts
/// under a lab/node alias).
fn record_hosts(op: &Opened, state: &mut State, hosts: &[ssh_config::Host]) -> Result<()> {
    let lab = op.lab();
    for h in hosts {
        let Some(n) = lab.node(&h.name) else { continue };
        state.nodes.insert(
            h.name.clone(),
            NodeState {
                ip: n.ip.to_string(),
                ssh_host: h.hostname.clone(),
                ssh_port: h.port,
                ssh_user: h.user.clone(),
                ssh_key: h.key.clone(),
            },
        );
    }
    let known: Vec<ssh_config::Host> = lab
        .nodes
        .iter()
        .filter_map(|n| {
            let s = state.nodes.get(&n.name)?;
            Some(ssh_config::Host {
                name: n.name.clone(),
                alias: lab.machine_name(&n.name),
                hostname: s.ssh_host.clone(),
                port: s.ssh_port,
                user: s.ssh_user.clone(),
                key: s.ssh_key.clone(),
            })
        })
        .collect();
    ssh_config::write(&op.dir.ssh_config(), &op.dir.known_hosts(), &known)
}

/// The SSH target of node `h` of the lab.
fn target_of(op: &Opened, h: &ssh_config::Host) -> crate::remote::Target {
    crate::remote::Target {
        node: h.name.clone(),
        host: h.hostname.clone(),
        port: h.port,
        user: h.user.clone(),
        key: PathBuf::from(&h.key),
        alias: op.lab().machine_name(&h.name),
        known_hosts: op.dir.known_hosts(),
    }
}

pub fn targets(op: &Opened, state: &State) -> BTreeMap<String, crate::remote::Target> {
    state
        .nodes
        .iter()
        .map(|(name, n)| {
            (
                name.clone(),
                crate::remote::Target {
                    node: name.clone(),
                    host: n.ssh_host.clone(),
                    port: n.ssh_port,
                    user: n.ssh_user.clone(),
                    key: PathBuf::from(&n.ssh_key),
                    alias: op.lab().machine_name(name),
                    known_hosts: op.dir.known_hosts(),
                },
            )
        })
        .collect()
}

fn require_up(op: &Opened) -> Result<State> {
    match op.dir.load()? {
        Some(s) if s.phase == Phase::Up || s.phase == Phase::Halted => Ok(s),
        _ => Err(Error::env(
            format!("lab {} is not up", op.lab().name.value),
            Some(format!("run `labctl up {}` first", op.lab().name.value)),
        )),
    }
}

/// Connect to one node of a running lab.
pub fn connect(op: &Opened, state: &State, node: &str) -> Result<crate::remote::Conn> {
    let t = targets(op, state);
    let Some(target) = t.get(node) else {
        return Err(Error::usage(format!(
            "lab {} has no running node `{node}`",
            op.lab().name.value
        )));
    };
    crate::remote::Conn::connect(target, Duration::from_secs(20))
}

/// The provider a lab was brought up with; docker when the state does not say
/// (a lab that never got that far, or a state file lost to a crash).
pub fn state_kind(state: &State) -> Kind {
    state.provider.unwrap_or(Kind::Docker)
}

/// Network safety before any traffic from the host toward lab addresses: the
/// lab's subnet must be routed to the lab's own network on this host.
/// On a lab of existing machines there is no lab network of this host to
/// route to: every lab address must instead be held by the lab's own node,
/// reached with its recorded host key.
pub fn check_route(op: &Opened, state: &State, r: &dyn Runner) -> Result<()> {
    if state_kind(state) == Kind::Hosts {
        return provider::hosts::check_lab_addresses(op.lab(), &targets(op, state));
    }
    provider::of(state_kind(state)).check_route(r, op.lab())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machine's own key is used once Vagrant wrote it (a key written a
    /// little later is waited for); without it, or with a link in its place,
    /// `up` stops naming the node instead of falling back to the
    /// well-known key.
    #[test]
    fn only_the_machines_own_key_file_is_taken() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("private_key");
        let short = Duration::from_millis(300);
        let e = wait_for_own_key("web1", &key, short).unwrap_err();
        let text = e.render();
        assert!(
            text.contains("node web1") && text.contains("well-known key"),
            "{text}"
        );
        std::os::unix::fs::symlink("/etc/hostname", &key).unwrap();
        assert!(wait_for_own_key("web1", &key, short).is_err());
        std::fs::remove_file(&key).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                std::fs::write(&key, "-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
            });
            wait_for_own_key("web1", &key, Duration::from_secs(5)).unwrap();
        });
    }
}
