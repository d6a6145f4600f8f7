//! The machine lifecycle: up, provision, status, exec, halt, restart, down.
//!
//! Every resource is recorded in the state file (or labelled with the lab)
//! before it is created, so `down` can remove everything even after a crash.

use crate::error::{Error, Exit, Result};
use crate::exec::{Cmd, Runner, System};
use crate::lab::Lab;
use crate::load::Loaded;
use crate::provider::{self, docker, vagrant, Choice, Kind};
use crate::remote::ssh_config;
use crate::state::{LabLock, LoopDisk, NodeState, State, StateDir};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options shared by commands that open a lab.
#[derive(Debug, Clone, Default)]
pub struct LabArgs {
    pub lab: String,
    /// Run a second copy under another name.
    pub name: Option<String>,
    /// ... on another subnet (host numbers kept).
    pub subnet: Option<ipnet::Ipv4Net>,
    pub state_dir: Option<PathBuf>,
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
            if let Ok(net) = st.subnet.parse::<ipnet::Ipv4Net>() {
                if net != loaded.lab.network.subnet.value {
                    relocate(&mut loaded.lab, None, Some(net))?;
                }
            }
        }
    }
    Ok(Opened { loaded, dir })
}

/// Rename a lab and move it to another subnet, keeping host numbers; check URLs
/// naming old addresses follow.
pub fn relocate(lab: &mut Lab, name: Option<&str>, subnet: Option<ipnet::Ipv4Net>) -> Result<()> {
    if let Some(n) = name {
        if !crate::lab::parse::LAB_NAME.is_match(n) {
            return Err(Error::usage(format!("--name {n:?} is not a lab name (a lower-case letter, then up to 30 of a-z, 0-9, -)")));
        }
        lab.name.value = n.to_string();
    }
    if let Some(new) = subnet {
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
        let shift = |ip: Ipv4Addr| {
            Ipv4Addr::from(u32::from(new.network()) + (u32::from(ip) - u32::from(old.network())))
        };
        let mut map = Vec::new();
        for n in &mut lab.nodes {
            let to = shift(n.ip);
            map.push((n.ip.to_string(), to.to_string()));
            n.ip = to;
        }
        // Longest first, so .2 does not rewrite part of .21.
        map.sort_by_key(|b| std::cmp::Reverse(b.0.len()));
        for c in &mut lab.checks {
            if let crate::lab::CheckKind::Http { url, .. } = &mut c.kind {
                for (from, to) in &map {
                    if url.contains(from.as_str()) {
                        *url = url.replace(from.as_str(), to);
                        break;
                    }
                }
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
}

/// Bring a lab up (create what is missing) and provision it.
pub fn up(a: &LabArgs, o: &UpOptions) -> Result<Exit> {
    up_with(a, o, runner())
}

/// `up` with the runner given: tests record the commands a VM provider would run.
pub fn up_with(a: &LabArgs, o: &UpOptions, r: Arc<dyn Runner>) -> Result<Exit> {
    let op = open(a)?;
    eprint!("{}", op.loaded.render_warnings());
    let findings = crate::lint::lint(&op.loaded)?;
    if crate::lint::report(&op.loaded, &findings) > 0 {
        return Err(Error::usage(format!(
            "lab {} uses insecure patterns (see above); `labctl lint` lists them",
            op.lab().name.value
        )));
    }
    let (kind, why) = provider::choose(o.provider, r.as_ref());
    eprintln!("provider: {kind} ({why})");
    crate::setup::ensure(kind, r.as_ref(), !o.no_setup)?;
    // Missing secrets are found before anything is created.
    secrets(op.lab())?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let started = Instant::now();
    let mut state = op.dir.load()?.unwrap_or_default();
    let fresh = state.phase.is_empty();
    let result = up_locked(&op, o, kind, r.as_ref(), &mut state);
    match result {
        Ok(exit) => {
            eprintln!(
                "lab {} is up ({:.1}s)",
                op.lab().name.value,
                started.elapsed().as_secs_f64()
            );
            print_reach(op.lab(), &op.dir);
            Ok(exit)
        }
        Err(e) => {
            // Resources are recorded in the state file before they are made:
            // with no state file, this run made nothing (a preflight refused).
            if fresh && !op.dir.state_file().exists() {
                return Err(e);
            }
            if fresh && !o.keep_on_failure && matches!(e, Error::Interrupted { .. }) {
                eprintln!("interrupted during {}; removing what this run created (--keep-on-failure keeps it)", crate::interrupt::phase());
                let _ = teardown(op.lab(), &op.dir, r.as_ref(), &mut state, false);
                return Err(e);
            }
            if fresh && !o.keep_on_failure {
                eprint!("{}", e.render());
                eprintln!("up failed; removed what this run created (run with --keep-on-failure to keep it and debug)");
                let _ = teardown(op.lab(), &op.dir, r.as_ref(), &mut state, true);
                return Err(Error::env(
                    format!(
                        "lab {} could not be brought up (details above); nothing was left behind",
                        op.lab().name.value
                    ),
                    Some(format!(
                        "fix the cause and run `labctl up {}` again",
                        op.lab().name.value
                    )),
                ));
            }
            Err(e)
        }
    }
}

fn record_children(dir: &StateDir) {
    let dir = dir.clone();
    crate::exec::set_spawn_hook(Some(Box::new(move |pid, started| {
        if let Ok(Some(mut s)) = dir.load() {
            if started {
                s.child_pgids.push(pid as i32);
            } else {
                s.child_pgids.retain(|p| *p != pid as i32);
            }
            let _ = dir.save(&s);
        }
    })));
}

fn up_locked(
    op: &Opened,
    o: &UpOptions,
    kind: Kind,
    r: &dyn Runner,
    state: &mut State,
) -> Result<Exit> {
    let lab = op.lab();
    let dir = &op.dir;
    let roles = &op.loaded.roles;

    if kind != Kind::Docker {
        return up_vm(op, o, kind, r, state);
    }
    // The node image first: nothing is created for the lab until it exists.
    crate::interrupt::set_phase("node image");
    let spec = crate::image::Spec {
        release: "bookworm".into(),
        mirror: None,
        packages: roles.packages(roles.roles.keys().map(|s| s.as_str())),
    };
    let image = crate::image::ensure(&spec, r, o.rebuild_image)?;

    let network = lab.network_name();
    let have_network = docker::network_exists(r, &network);
    if !have_network {
        docker::check_overlap(r, lab)?;
        check_host_ports(lab)?;
    }
    record_lab(state, lab, kind, Some(image.clone()));
    // Disks are recorded before anything is attached.
    for n in &lab.nodes {
        for d in &n.disks {
            let file = dir.disks().join(format!("{}-{}.img", n.name, d.name));
            let file = std::path::absolute(&file)
                .unwrap_or(file)
                .display()
                .to_string();
            if !state.disks.iter().any(|x| x.file == file) {
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
    dir.save(state)?;
    record_children(dir);
    crate::interrupt::set_phase("network and disks");
    crate::interrupt::check()?;
    if !have_network {
        docker::create_network(r, lab)?;
    }
    let mut devices: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for i in 0..state.disks.len() {
        let d = state.disks[i].clone();
        crate::disks::create_file(&d)?;
        let dev = crate::disks::attach(r, &d)?;
        state.disks[i].device = Some(dev.clone());
        dir.save(state)?;
        let idx = devices.get(&d.node).map(|v| v.len()).unwrap_or(0);
        devices
            .entry(d.node.clone())
            .or_default()
            .push((dev, crate::disks::guest_device(idx)));
    }

    let existing: BTreeMap<String, u16> = state
        .nodes
        .iter()
        .map(|(k, v)| (k.clone(), v.ssh_port))
        .filter(|(_, p)| *p != 0)
        .collect();
    let ssh_ports = docker::pick_ssh_ports(lab, &existing, &docker::vagrant_unavailable_ports(r));
    let runtime = docker::runtime_json(lab, &image, &devices, &ssh_ports);
    boot_and_provision(op, o, kind, r, state, &runtime)
}

/// VirtualBox and libvirt: Vagrant makes the network and the disks from the
/// Vagrantfile and boots the lab's box; labctl records, checks and provisions
/// as for docker.
fn up_vm(
    op: &Opened,
    o: &UpOptions,
    kind: Kind,
    r: &dyn Runner,
    state: &mut State,
) -> Result<Exit> {
    let lab = op.lab();
    let dir = &op.dir;
    if state.phase.is_empty() {
        crate::provider::vm::check_overlap(r, lab)?;
        check_host_ports(lab)?;
    }
    record_lab(state, lab, kind, None);
    dir.save(state)?;
    record_children(dir);
    boot_and_provision(
        op,
        o,
        kind,
        r,
        state,
        &crate::provider::vm::runtime_json(kind),
    )
}

/// Every provider's last steps: write the Vagrantfile and the runtime file,
/// `vagrant up --no-provision`, read `vagrant ssh-config` once, provision.
fn boot_and_provision(
    op: &Opened,
    o: &UpOptions,
    kind: Kind,
    r: &dyn Runner,
    state: &mut State,
    runtime: &str,
) -> Result<Exit> {
    let dir = &op.dir;
    let rendered = crate::render::render(&op.loaded)?;
    rendered.write_to(&dir.root)?;
    crate::state::write_atomic(&dir.runtime_file(), runtime.as_bytes())?;
    let nodes: Vec<String> = op.lab().nodes.iter().map(|n| n.name.clone()).collect();
    crate::interrupt::set_phase("vagrant up");
    crate::interrupt::check()?;
    let parallel = kind.parallel_up();
    eprintln!(
        "vagrant: bringing up {} node(s) with the {kind} provider ({})",
        nodes.len(),
        if parallel {
            "in parallel"
        } else {
            "one at a time, as VirtualBox requires"
        }
    );
    let t = Instant::now();
    vagrant::up(r, &dir.root, kind, &nodes, parallel)?;
    let t_up = t.elapsed().as_secs_f64();
    let t = Instant::now();
    refresh_ssh(op, r, state)?;
    eprintln!(
        "vagrant: machines up in {t_up:.1}s, SSH addresses read in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    state.phase = "up".into();
    dir.save(state)?;
    crate::exec::set_spawn_hook(None);
    provision_after_up(op, o, state)
}

/// What the state file says about the lab before anything is created for it.
fn record_lab(state: &mut State, lab: &Lab, kind: Kind, image: Option<String>) {
    state.lab = lab.name.value.clone();
    state.lab_file = lab.file.display().to_string();
    state.provider = kind.to_string();
    state.subnet = lab.network.subnet.value.to_string();
    state.image = image;
    state.owner_pid = std::process::id();
    state.owner_pgid = nix::unistd::getpgrp().as_raw();
    if state.phase.is_empty() {
        state.phase = "creating".into();
    }
    state.network = Some(lab.network_name());
    state.host_ports = lab
        .nodes
        .iter()
        .flat_map(|n| n.forward.iter().map(|f| f.host))
        .collect();
}

fn provision_after_up(op: &Opened, o: &UpOptions, state: &mut State) -> Result<Exit> {
    if !o.provision {
        return Ok(Exit::Ok);
    }
    crate::interrupt::set_phase("provisioning");
    crate::interrupt::check()?;
    let report = provision_locked(op, state, None, None)?;
    crate::interrupt::check()?;
    if report.ok() {
        Ok(Exit::Ok)
    } else {
        Err(provision_error(&report))
    }
}

fn provision_error(report: &crate::provision::Report) -> Error {
    Error::env(
        format!("provisioning failed:\n  {}", report.failures().join("\n  ")),
        Some("fix the role and run `labctl provision LAB` again".into()),
    )
}

fn check_host_ports(lab: &Lab) -> Result<()> {
    for n in &lab.nodes {
        for f in &n.forward {
            if std::net::TcpListener::bind((f.host_ip, f.host)).is_err() {
                return Err(Error::env(
                    format!("host port {}:{} (forwarded to {}:{}) is already in use", f.host_ip, f.host, n.name, f.guest),
                    Some("another lab or program holds it; bring that down or change `forward` in the lab file".into()),
                ));
            }
        }
    }
    Ok(())
}

/// Read `vagrant ssh-config` once for all nodes; write the lab's own ssh_config
/// (host keys verified against the lab's known_hosts under a lab/node alias).
fn refresh_ssh(op: &Opened, r: &dyn Runner, state: &mut State) -> Result<()> {
    let lab = op.lab();
    let text = vagrant::ssh_config(r, &op.dir.root)?;
    let mut hosts = Vec::new();
    for (host, hostname, port, user, key) in ssh_config::parse(&text) {
        let Some(n) = lab.node(&host) else { continue };
        state.nodes.insert(
            host.clone(),
            NodeState {
                ip: n.ip.to_string(),
                ssh_host: hostname.clone(),
                ssh_port: port,
                ssh_user: user.clone(),
                ssh_key: key.clone(),
            },
        );
        hosts.push(ssh_config::Host {
            alias: lab.machine_name(&host),
            name: host,
            hostname,
            port,
            user,
            key,
        });
    }
    ssh_config::write(&op.dir.ssh_config(), &op.dir.known_hosts(), &hosts)
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

/// Secret role variables, read from the host environment now and never stored.
fn secrets(lab: &Lab) -> Result<Vec<(String, String)>> {
    let mut v = Vec::new();
    for (var, env) in &lab.secret_vars {
        match std::env::var(&env.value) {
            Ok(val) => v.push((var.clone(), val)),
            Err(_) => {
                return Err(Error::env(
                    format!(
                        "secret `{var}` needs the environment variable {} on the host",
                        env.value
                    ),
                    Some(format!("export {}=... before running labctl", env.value)),
                ))
            }
        }
    }
    Ok(v)
}

fn provision_locked(
    op: &Opened,
    state: &mut State,
    nodes: Option<BTreeSet<String>>,
    roles: Option<BTreeSet<String>>,
) -> Result<crate::provision::Report> {
    let lab = op.lab();
    let plan = crate::plan::build(lab, &op.loaded.roles);
    let mut opts = crate::provision::Options {
        only_nodes: nodes,
        only_roles: roles,
        log_dir: op.dir.logs(),
        secrets: secrets(lab)?,
        published: state.published.clone(),
        role_timeout: Duration::from_secs(900),
        connect_wait: Duration::from_secs(60),
        quiet: false,
        repo_dir: None,
        base_image_tar: None,
    };
    // A lab with an offline repository gets it built (or confirmed current)
    // before its roles run; an unchanged rebuild costs a few seconds.
    if lab
        .nodes
        .iter()
        .any(|n| n.roles.iter().any(|r| r.value == crate::repo::SERVER_ROLE))
    {
        let dir = crate::repo::default_dir(&op.dir);
        let info = crate::repo::build(lab, &op.loaded.roles, &dir, &System)?;
        eprintln!(
            "repo: {} packages signed with key {}",
            info.packages, info.key_fingerprint
        );
        opts.repo_dir = Some(dir);
    }
    if lab.nodes.iter().any(|n| {
        n.roles
            .iter()
            .any(|r| r.value == crate::provision::BASE_IMAGE_ROLE)
    }) {
        let node_image = state.image.clone().ok_or_else(|| {
            Error::env(
                format!(
                    "role {} hands the nodes a base image exported from labctl's Docker node image, and lab {} runs on {}",
                    crate::provision::BASE_IMAGE_ROLE,
                    lab.name.value,
                    if state.provider.is_empty() { "an unknown provider" } else { state.provider.as_str() }
                ),
                Some(format!("bring the lab up with --provider docker: `labctl down {0}` then `labctl up {0} --provider docker`", lab.name.value)),
            )
        })?;
        opts.base_image_tar = Some(crate::image::ensure_base_image_tar(
            &System,
            &node_image,
            &op.dir.root.join("images"),
        )?);
    }
    let started = Instant::now();
    let report = crate::provision::run(lab, &op.loaded.roles, &plan, &targets(op, state), &opts)?;
    // Published values are kept (public keys, revisions); secrets never are.
    let secret_values: Vec<&String> = opts.secrets.iter().map(|(_, v)| v).collect();
    state.published = report
        .published
        .iter()
        .filter(|(_, v)| !secret_values.contains(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    op.dir.save(state)?;
    eprint!("{}", report.table());
    let changed = report
        .tasks
        .iter()
        .filter(|t| t.outcome == crate::provision::Outcome::Changed)
        .count();
    eprintln!(
        "provisioned {} role run(s) in {:.1}s: {changed} changed",
        report.tasks.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(report)
}

/// `labctl provision`: re-run roles (all, or some nodes/roles).
pub fn provision(a: &LabArgs, nodes: Vec<String>, roles: Vec<String>, json: bool) -> Result<Exit> {
    let op = open(a)?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = require_up(&op)?;
    for n in &nodes {
        if op.lab().node(n).is_none() {
            return Err(Error::usage(format!(
                "lab {} has no node `{n}`",
                op.lab().name.value
            )));
        }
    }
    for r in &roles {
        if !op.lab().roles().contains(r) {
            return Err(Error::usage(format!(
                "no node of lab {} has role `{r}` (roles: {})",
                op.lab().name.value,
                op.lab().roles().join(", ")
            )));
        }
    }
    let report = provision_locked(
        &op,
        &mut state,
        (!nodes.is_empty()).then(|| nodes.into_iter().collect()),
        (!roles.is_empty()).then(|| roles.into_iter().collect()),
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    }
    if report.ok() {
        Ok(Exit::Ok)
    } else {
        Err(provision_error(&report))
    }
}

fn require_up(op: &Opened) -> Result<State> {
    match op.dir.load()? {
        Some(s) if s.phase == "up" || s.phase == "halted" => Ok(s),
        _ => Err(Error::env(
            format!("lab {} is not up", op.lab().name.value),
            Some(format!("run `labctl up {}` first", op.lab().name.value)),
        )),
    }
}

#[derive(serde::Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub state: String,
    pub ip: String,
    pub provider: String,
    pub ssh: String,
}

pub fn node_status(op: &Opened, r: &dyn Runner) -> Result<Vec<NodeStatus>> {
    let lab = op.lab();
    let state = op.dir.load()?.unwrap_or_default();
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    if state_kind(&state) == Kind::Docker {
        // docker ps is one fast call; `vagrant status` takes seconds.
        let out = r.run(&Cmd::new("docker").args([
            "ps",
            "-a",
            "--filter",
            &format!("label={}={}", docker::LABEL_LAB, lab.name.value),
            "--format",
            "{{.Label \"labctl.node\"}} {{.State}}",
        ]))?;
        for l in out.stdout.lines() {
            if let Some((n, s)) = l.split_once(' ') {
                states.insert(n.to_string(), s.to_string());
            }
        }
    } else if op.dir.root.join(".vagrant").exists() {
        states.extend(vagrant::status(r, &op.dir.root)?);
    }
    Ok(lab
        .nodes
        .iter()
        .map(|n| NodeStatus {
            node: n.name.clone(),
            state: states
                .get(&n.name)
                .cloned()
                .unwrap_or_else(|| "not created".into()),
            ip: n.ip.to_string(),
            provider: if state.provider.is_empty() {
                "-".into()
            } else {
                state.provider.clone()
            },
            ssh: state
                .nodes
                .get(&n.name)
                .map(|s| format!("{}:{}", s.ssh_host, s.ssh_port))
                .unwrap_or_else(|| "-".into()),
        })
        .collect())
}

pub fn status(a: &LabArgs, json: bool) -> Result<Exit> {
    let op = open(a)?;
    let r = runner();
    let st = node_status(&op, r.as_ref())?;
    if json {
        let v = serde_json::json!({ "lab": op.lab().name.value, "network": op.lab().network_name(), "subnet": op.lab().network.subnet.value.to_string(), "nodes": st });
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
    } else {
        let mut rows = vec![vec![
            "NODE".to_string(),
            "STATE".into(),
            "IP".into(),
            "PROVIDER".into(),
            "SSH".into(),
        ]];
        for s in st {
            rows.push(vec![s.node, s.state, s.ip, s.provider, s.ssh]);
        }
        print!("{}", crate::text::table(&rows));
    }
    Ok(Exit::Ok)
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

/// `labctl exec LAB NODE -- CMD...`: exit code passed through.
pub fn exec(a: &LabArgs, node: &str, command: &[String]) -> Result<Exit> {
    let op = open(a)?;
    let state = require_up(&op)?;
    let conn = connect(&op, &state, node)?;
    let cmd = command
        .iter()
        .map(|w| crate::shell::shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let res = conn.exec(
        &cmd,
        None,
        Duration::from_secs(24 * 3600),
        &mut |is_err, line| {
            if is_err {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        },
    )?;
    std::process::exit(res.code.clamp(0, 255));
}

/// `labctl ssh LAB NODE`: OpenSSH with the lab's ssh_config (host keys verified).
pub fn ssh(a: &LabArgs, node: &str) -> Result<Exit> {
    use std::os::unix::process::CommandExt;
    let op = open(a)?;
    let state = require_up(&op)?;
    if !state.nodes.contains_key(node) {
        return Err(Error::usage(format!(
            "lab {} has no running node `{node}`",
            op.lab().name.value
        )));
    }
    // Record the host key through our own verified connection first, so OpenSSH
    // (StrictHostKeyChecking yes) finds it.
    connect(&op, &state, node)?;
    let err = std::process::Command::new("ssh")
        .arg("-F")
        .arg(op.dir.ssh_config())
        .arg(node)
        .exec();
    Err(Error::io("run", "ssh", err))
}

pub fn halt(a: &LabArgs) -> Result<Exit> {
    let op = open(a)?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = require_up(&op)?;
    let r = runner();
    vagrant::halt(r.as_ref(), &op.dir.root, &[])?;
    state.phase = "halted".into();
    op.dir.save(&state)?;
    eprintln!("lab {} halted", op.lab().name.value);
    Ok(Exit::Ok)
}

/// Restart nodes without re-provisioning: services come back through the node's init.
pub fn restart(a: &LabArgs, node: Option<&str>) -> Result<Exit> {
    let op = open(a)?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = require_up(&op)?;
    let r = runner();
    let nodes: Vec<String> = match node {
        Some(n) if op.lab().node(n).is_some() => vec![n.to_string()],
        Some(n) => {
            return Err(Error::usage(format!(
                "lab {} has no node `{n}`",
                op.lab().name.value
            )))
        }
        None => vec![],
    };
    vagrant::halt(r.as_ref(), &op.dir.root, &nodes)?;
    let up_nodes = if nodes.is_empty() {
        op.lab().nodes.iter().map(|n| n.name.clone()).collect()
    } else {
        nodes
    };
    let kind = state_kind(&state);
    vagrant::up(
        r.as_ref(),
        &op.dir.root,
        kind,
        &up_nodes,
        kind.parallel_up(),
    )?;
    refresh_ssh(&op, r.as_ref(), &mut state)?;
    state.phase = "up".into();
    op.dir.save(&state)?;
    eprintln!("restarted {} (no re-provisioning)", up_nodes.join(", "));
    Ok(Exit::Ok)
}

/// The provider a lab was brought up with; docker when the state does not say
/// (a lab that never got that far, or a state file lost to a crash).
pub fn state_kind(state: &State) -> Kind {
    state.provider.parse().unwrap_or(Kind::Docker)
}

/// Network safety before any traffic from the host toward lab addresses: the
/// lab's subnet must be routed to the lab's own network on this host.
pub fn check_route(op: &Opened, state: &State) -> Result<()> {
    match state_kind(state) {
        Kind::Docker => docker::check_route(&System, op.lab()),
        kind => crate::provider::vm::check_route(&System, kind, op.lab()),
    }
}

/// `labctl down`: destroy machines, then everything the lab owns.
pub fn down(a: &LabArgs, force: bool) -> Result<Exit> {
    down_with(a, force, runner())
}

/// `down` with the runner given (tests record a VM provider's commands).
pub fn down_with(a: &LabArgs, force: bool, r: Arc<dyn Runner>) -> Result<Exit> {
    let op = open(a)?;
    // `down` deletes files: only in a folder labctl marked as this lab's own.
    // A folder that does not exist holds nothing of the lab, and is not made.
    if !op.dir.check_owned(&op.lab().name.value)? && !force {
        eprintln!(
            "lab {}: nothing to remove (no state dir at {})",
            op.lab().name.value,
            op.dir.root.display()
        );
        return Ok(Exit::Ok);
    }
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = match op.dir.load() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) if force => {
            eprintln!("warning: {e}; removing by label");
            State::default()
        }
        Err(e) => return Err(e),
    };
    if state.provider.is_empty() && !force {
        // Nothing was recorded, so this state dir created nothing that is
        // still there (every resource is recorded before it is made). The
        // label sweep is for a lost state file, and asked for with --force:
        // without it, `down` of a lab that is not up asks no provider at all.
        eprintln!(
            "lab {}: nothing to remove (already down)",
            op.lab().name.value
        );
        return Ok(Exit::Ok);
    }
    let removed = teardown(op.lab(), &op.dir, r.as_ref(), &mut state, false)?;
    if removed.is_empty() {
        eprintln!(
            "lab {}: nothing to remove (already down)",
            op.lab().name.value
        );
    } else {
        eprintln!(
            "lab {} is down; removed: {}",
            op.lab().name.value,
            removed.join(", ")
        );
    }
    Ok(Exit::Ok)
}

/// Remove every trace of a lab; idempotent. Returns what was removed.
fn teardown(
    lab: &Lab,
    dir: &StateDir,
    r: &dyn Runner,
    state: &mut State,
    quiet: bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    // Children of a labctl that died (vagrant, docker) go first, or they would
    // keep creating things while we remove them.
    let owner_alive = state.owner_pid != 0
        && state.owner_pid != std::process::id()
        && nix::sys::signal::kill(nix::unistd::Pid::from_raw(state.owner_pid as i32), None).is_ok();
    if !owner_alive {
        // A child spawned just before its owner was killed may not have made
        // it into the state file: find the lab's tools by their working
        // directory (Vagrant runs in the state dir) as well.
        let mut groups = std::mem::take(&mut state.child_pgids);
        for pg in groups_working_in(&dir.root) {
            if !groups.contains(&pg) {
                groups.push(pg);
            }
        }
        for pg in groups {
            let pgid = nix::unistd::Pid::from_raw(pg);
            // PIDs are reused: only a group whose leader is still a tool labctl ran.
            if !group_is_ours(pg) {
                continue;
            }
            if nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM).is_ok() {
                std::thread::sleep(Duration::from_millis(500));
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                removed.push(format!("process group {pg}"));
            }
        }
    }
    let kind = state_kind(state);
    if kind != Kind::Docker {
        if dir.root.join("Vagrantfile").exists() && dir.root.join(".vagrant").exists() {
            // Vagrant first (it also removes the network and disks it made);
            // whatever it lost track of is swept by name below.
            if vagrant::destroy(r, &dir.root).is_ok_and(|o| o.success()) {
                removed.push("machines (vagrant destroy)".to_string());
            }
        }
        removed.extend(crate::provider::vm::sweep(r, kind, lab)?);
    } else if dir.root.join("Vagrantfile").exists() && dir.root.join(".vagrant").exists() {
        // Vagrant first, so its own bookkeeping is cleared; failures are covered
        // by the label sweep below.
        let machines = docker::lab_containers(r, &lab.name.value)
            .map(|c| c.len())
            .unwrap_or(0);
        let _ = vagrant::destroy(r, &dir.root);
        let left = docker::lab_containers(r, &lab.name.value)
            .map(|c| c.len())
            .unwrap_or(0);
        if machines > left {
            removed.push(format!("{} machine(s) (vagrant destroy)", machines - left));
        }
    }
    // A lab whose state file was lost (`down --force`) is swept by label on
    // each provider that answers here; one that does not answer (no engine,
    // no libvirtd) cannot hold the lab's machines and is skipped, said so.
    let unknown = state.provider.is_empty();
    let answers = |k: Kind| !unknown || provider_answers(r, k);
    if kind == Kind::Docker && answers(Kind::Docker) {
        // A `docker run` that Vagrant had sent when it was stopped still
        // completes in the daemon: after an interruption or killed children,
        // watch a few seconds for late containers and sweep them too (a late
        // container can also hold the network, failing the first sweep).
        let stopped_children = crate::interrupt::interrupted()
            || removed.iter().any(|x| x.starts_with("process group"));
        let first = docker::remove_all(r, &lab.name.value, &lab.network_name());
        match first {
            Ok(v) => removed.extend(v),
            Err(e) if !stopped_children => return Err(e),
            Err(_) => {}
        }
        if stopped_children {
            let end = Instant::now() + Duration::from_secs(4);
            let mut last = Ok(());
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(500));
                let late = !docker::lab_containers(r, &lab.name.value)?.is_empty();
                if late || docker::network_exists(r, &lab.network_name()) {
                    match docker::remove_all(r, &lab.name.value, &lab.network_name()) {
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
    }
    // ... and on the VM providers this host has, by machine name.
    if unknown {
        for vm in [Kind::Virtualbox, Kind::Libvirt] {
            if answers(vm) {
                removed.extend(crate::provider::vm::sweep(r, vm, lab)?);
            }
        }
    }
    // Disk files are removed only from the state dir's own `disks/` folder,
    // whatever the state file lists (a hand-edited or corrupt one could name
    // any file), and never through a symbolic link.
    let disks_dir = dir.disks();
    let own_disk = |file: &Path| {
        let plain_dir = std::fs::symlink_metadata(&disks_dir).is_ok_and(|m| m.is_dir());
        let plain_file = std::fs::symlink_metadata(file).is_ok_and(|m| m.is_file());
        plain_dir
            && plain_file
            && dir.holds(file)
            && file.parent().and_then(|p| p.canonicalize().ok()) == disks_dir.canonicalize().ok()
    };
    for d in &state.disks {
        let file = Path::new(&d.file);
        if !file.exists() && std::fs::symlink_metadata(file).is_err() {
            continue;
        }
        if own_disk(file) {
            removed.extend(crate::disks::remove(r, d));
        } else {
            eprintln!(
                "warning: state file lists disk {} outside {}; left alone",
                d.file,
                disks_dir.display()
            );
        }
    }
    // Disk files not in the state (a crash before it was saved cannot happen,
    // since they are recorded first, but a corrupt state file can).
    if std::fs::symlink_metadata(&disks_dir).is_ok_and(|m| m.is_dir()) {
        if let Ok(rd) = std::fs::read_dir(&disks_dir) {
            for e in rd.filter_map(|e| e.ok()) {
                let f = e.path();
                if f.extension().is_some_and(|x| x == "img") && own_disk(&f) {
                    removed.extend(crate::disks::remove(
                        r,
                        &LoopDisk {
                            file: f.display().to_string(),
                            ..Default::default()
                        },
                    ));
                }
            }
        }
    }
    // Vagrant leases a port for the whole boot of a machine and releases it
    // when done; a killed or interrupted `vagrant up` leaves the lease, which
    // would refuse that port to the next lab for a minute. The ports are the
    // lab's own (labctl picked them), so their leases are too.
    let mut ports: Vec<u16> = state.host_ports.clone();
    if let Ok(text) = std::fs::read_to_string(dir.runtime_file()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            for n in v["nodes"].as_object().into_iter().flat_map(|m| m.values()) {
                if let Some(p) = n["ssh_port"].as_u64() {
                    ports.push(p as u16);
                }
            }
        }
    }
    removed.extend(docker::release_leases(&ports));
    for p in [
        dir.state_file(),
        dir.runtime_file(),
        dir.known_hosts(),
        dir.ssh_config(),
    ] {
        let _ = std::fs::remove_file(p);
    }
    // remove_dir_all removes a symbolic link itself, never what it points to.
    let _ = std::fs::remove_dir_all(dir.root.join(".vagrant"));
    let _ = std::fs::remove_dir_all(dir.disks());
    if !quiet {
        for x in &removed {
            eprintln!("down: removed {x}");
        }
    }
    *state = State::default();
    Ok(removed)
}

/// Does provider `k` answer on this host? Asked only when no state says which
/// provider a lab used (`down --force`): a provider that is not installed or
/// whose daemon is not running cannot hold the lab's machines.
fn provider_answers(r: &dyn Runner, k: Kind) -> bool {
    let cmd = match k {
        Kind::Docker => Cmd::new("docker").args(["info", "--format", "{{.ID}}"]),
        Kind::Libvirt => {
            Cmd::new("virsh").args(["-c", crate::provider::vm::LIBVIRT_URI, "version"])
        }
        Kind::Virtualbox => Cmd::new("VBoxManage").arg("--version"),
    };
    let ok = r.which(&cmd.program).is_some() && r.output(&cmd).is_ok_and(|o| o.success());
    if !ok {
        eprintln!("down: {k} does not answer on this host; not swept");
    }
    ok
}

/// The process group of the process at `/proc/PID`: the 5th field of its
/// `stat`, counted after the command name (which may hold spaces and parens).
fn process_group_of(proc_pid: &Path) -> Option<i32> {
    let stat = std::fs::read_to_string(proc_pid.join("stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// Process groups of processes whose working directory is `dir` (never our own).
fn groups_working_in(dir: &Path) -> Vec<i32> {
    let Ok(dir) = dir.canonicalize() else {
        return vec![];
    };
    let me = std::process::id();
    let my_group = nix::unistd::getpgrp().as_raw();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || std::fs::read_link(e.path().join("cwd")).ok().as_deref() != Some(&dir) {
            continue;
        }
        if let Some(pg) = process_group_of(&e.path()) {
            if pg != my_group && pg > 1 && !out.contains(&pg) {
                out.push(pg);
            }
        }
    }
    out
}

/// Is process group `pg` still led by a tool labctl starts (vagrant/ruby, docker)?
fn group_is_ours(pg: i32) -> bool {
    let Ok(cmd) = std::fs::read(format!("/proc/{pg}/cmdline")) else {
        // Leader gone; members may live on. Accept only if some member is vagrant.
        return std::fs::read_dir("/proc")
            .map(|rd| {
                rd.filter_map(|e| e.ok()).any(|e| {
                    let p = e.path();
                    process_group_of(&p) == Some(pg)
                        && String::from_utf8_lossy(
                            &std::fs::read(p.join("cmdline")).unwrap_or_default(),
                        )
                        .contains("vagrant")
                })
            })
            .unwrap_or(false);
    };
    let cmd = String::from_utf8_lossy(&cmd);
    cmd.contains("vagrant") || cmd.contains("ruby") || cmd.contains("docker")
}

fn print_reach(lab: &Lab, dir: &StateDir) {
    let name = &lab.name.value;
    let mut lines = vec![format!("reach the lab:")];
    for n in &lab.nodes {
        for f in &n.forward {
            lines.push(format!(
                "  http://{}:{}/  ->  {}:{}",
                f.host_ip, f.host, n.name, f.guest
            ));
        }
    }
    if let Some(n) = lab.nodes.first() {
        lines.push(format!("  labctl ssh {name} {}", n.name));
        lines.push(format!("  labctl exec {name} {} -- hostname", n.name));
    }
    lines.push(format!("  labctl test {name}      labctl down {name}"));
    lines.push(format!(
        "  state, logs and the rendered Vagrantfile: {}",
        dir.root.display()
    ));
    eprintln!("{}", lines.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_tool_running_in_the_state_dir_is_found_by_its_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .process_group(0)
            .spawn()
            .unwrap();
        let found = groups_working_in(dir.path());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, vec![child.id() as i32]);
        let other = tempfile::tempdir().unwrap();
        assert!(groups_working_in(other.path()).is_empty());
    }
}
