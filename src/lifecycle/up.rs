//! `labctl up`: check, record, create, boot and provision a lab; remove what a
//! failed first `up` created.

use super::down::clean_up_failed_up;
use super::provision::{finish, prepare, provision_error, run_roles, secrets, Prepared};
use super::*;
use crate::provision::{Arrivals, Report};
use crate::state::runtime::Runtime;
use std::sync::Mutex;

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
    let recorded = op
        .dir
        .load()?
        .filter(|s| s.phase != Phase::New)
        .and_then(|s| s.provider);
    let (kind, why) = if op.lab().on_hosts() {
        hosts_provider(&op.lab().name.value, o.provider)?
    } else {
        provider_for(&op.lab().name.value, o.provider, recorded, r.as_ref())?
    };
    eprintln!("provider: {kind} ({why})");
    crate::setup::ensure(kind, r.as_ref(), !o.no_setup)?;
    // Missing secrets are found before anything is created.
    secrets(op.lab())?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let started = Instant::now();
    let mut state = op.dir.load()?.unwrap_or_default();
    let fresh = state.phase == Phase::New;
    let mut timings = Timings::default();
    let result = up_locked(&op, o, kind, r.as_ref(), &mut state, &mut timings);
    record_phases(
        &op,
        "up",
        started,
        result.as_ref().err(),
        &timings,
        Stream::for_timings(o.timings, false),
    );
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
            // What is left is read from the host after the cleanup, never
            // assumed: anything still there is an error naming it (exit 3).
            if fresh && !o.keep_on_failure && matches!(e, Error::Interrupted { .. }) {
                eprintln!("interrupted during {}; removing what this run created (--keep-on-failure keeps it)", crate::interrupt::phase());
                give_back_after_failed_up(&op, &mut state, kind)?;
                clean_up_failed_up(op.lab(), &op.dir, r.as_ref(), &mut state, kind)?;
                eprintln!(
                    "nothing of lab {} is left on this host (read again after the cleanup)",
                    op.lab().name.value
                );
                return Err(e);
            }
            if fresh && !o.keep_on_failure {
                eprint!("{}", e.render());
                eprintln!("up failed; removing what this run created (run with --keep-on-failure to keep it and debug)");
                give_back_after_failed_up(&op, &mut state, kind)?;
                clean_up_failed_up(op.lab(), &op.dir, r.as_ref(), &mut state, kind)?;
                return Err(Error::env(
                    format!(
                        "lab {} could not be brought up (details above); its cleanup was checked: nothing of it is left on this host",
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

/// Held while the state file is read and written by the spawn hook or by
/// `up`'s boot, which run on different threads while Vagrant runs.
static STATE_WRITE: Mutex<()> = Mutex::new(());

/// Save `state`, keeping the children's process groups the spawn hook
/// recorded in the file (a `vagrant up` still running must stay known to a
/// `down` after labctl is killed).
fn save_keeping_children(dir: &StateDir, state: &mut State) -> Result<()> {
    let _g = STATE_WRITE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(on_disk) = dir.load()? {
        state.child_pgids = on_disk.child_pgids;
    }
    dir.save(state)
}

fn record_children(dir: &StateDir) {
    let dir = dir.clone();
    crate::exec::set_spawn_hook(Some(Box::new(move |pid, started| {
        let _g = STATE_WRITE.lock().unwrap_or_else(|e| e.into_inner());
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

/// Under the lab lock: ask the provider to check the host and make what the
/// lab needs, record it, create it, then boot and provision.
fn up_locked(
    op: &Opened,
    o: &UpOptions,
    kind: Kind,
    r: &dyn Runner,
    state: &mut State,
    t: &mut Timings,
) -> Result<Exit> {
    if kind == Kind::Hosts {
        return up_hosts(op, o, r, state, t);
    }
    let lab = op.lab();
    let dir = &op.dir;
    let p = provider::of(kind);
    let pre = t.time("preflight", || {
        p.preflight(r, &op.loaded, state, o.rebuild_image)
    })?;
    if pre.fresh {
        check_host_ports(lab)?;
    }
    record_lab(state, lab, kind, pre.image.clone());
    p.record(lab, dir, state);
    dir.save(state)?;
    record_children(dir);
    super::heal::prepare(op, r, p, state, &o.recreate)?;
    let runtime = t.time("create", || p.create(r, lab, dir, state, &pre))?;
    boot_and_provision(op, o, kind, r, state, &runtime, t)
}

/// `up` of a lab of existing machines: no machine, network or Vagrantfile.
/// Every machine passes the preflight (SSH with its key, host key recorded
/// on first contact or verified, passwordless sudo, Debian-family, labctl's
/// folders free or this lab's) before any is changed; then each is recorded
/// in the state (so `down` gives it back) before it is marked as the lab's,
/// and the roles run as on every provider.
fn up_hosts(
    op: &Opened,
    o: &UpOptions,
    r: &dyn Runner,
    state: &mut State,
    t: &mut Timings,
) -> Result<Exit> {
    let lab = op.lab();
    record_lab(state, lab, Kind::Hosts, None);
    // labctl makes no network for existing machines.
    state.network = None;
    op.dir.save(state)?;
    let hosts = provider::hosts::ssh_hosts(lab);
    let nodes: Vec<crate::remote::Target> = hosts.iter().map(|h| target_of(op, h)).collect();
    crate::interrupt::set_phase("preflight of the machines");
    t.time("preflight", || {
        provider::hosts::preflight(lab, &nodes, provider::hosts::CONNECT_WAIT)
    })?;
    eprintln!(
        "hosts: {} machine(s) passed the preflight (SSH, host key, passwordless sudo, Debian-family, labctl's folders free)",
        nodes.len()
    );
    record_hosts(op, state, &hosts)?;
    op.dir.save(state)?;
    for n in &nodes {
        provider::hosts::claim(lab, n)?;
    }
    state.phase = Phase::Up;
    op.dir.save(state)?;
    if !o.provision {
        return Ok(Exit::Ok);
    }
    crate::interrupt::set_phase("provisioning");
    let report = super::provision::provision_locked(op, state, None, None, r, t, o.snapshot)?;
    if report.ok() {
        Ok(Exit::Ok)
    } else {
        Err(provision_error(op, &report))
    }
}

/// A failed first `up` of a hosts lab gives its machines back (the undo of
/// every role that started) before the local state goes; when that fails,
/// the state stays for `labctl down` and the error says so.
fn give_back_after_failed_up(op: &Opened, state: &mut State, kind: Kind) -> Result<()> {
    if kind != Kind::Hosts {
        return Ok(());
    }
    // Shielded: after Ctrl-C, SIGTERM or SIGHUP (a `--jobs` parent gone)
    // the machines must still be given back, not left half provisioned.
    if let Err(e) = crate::interrupt::shielded(|| super::down::give_back_hosts(op, state)) {
        eprint!("{}", e.render());
        return Err(Error::env(
            format!(
                "lab {0} could not be brought up, and its machines could not all be given back (above); the lab's state is kept",
                op.lab().name.value
            ),
            Some(format!(
                "fix the cause, then `labctl down {}` runs the undo again",
                op.lab().name.value
            )),
        ));
    }
    Ok(())
}

/// A lab of existing machines is on the hosts provider, whatever `auto`
/// would pick; another provider asked for by name is refused.
fn hosts_provider(lab: &str, asked: provider::Choice) -> Result<(Kind, String)> {
    if asked != provider::Choice::Auto {
        return Err(Error::usage(format!(
            "lab {lab} is made of existing machines ([provider] kind = \"hosts\"); --provider {asked:?} cannot make them",
        )));
    }
    Ok((
        Kind::Hosts,
        "the lab file's [provider] kind = \"hosts\": existing machines over SSH".into(),
    ))
}

/// Every provider's last steps: write the Vagrantfile and the runtime file,
/// then `vagrant up --no-provision`, each node provisioned as soon as Vagrant
/// has finished its machine and its SSH address and own key are known, while
/// Vagrant still makes the others (its `after` barriers still hold).
fn boot_and_provision(
    op: &Opened,
    o: &UpOptions,
    kind: Kind,
    r: &dyn Runner,
    state: &mut State,
    runtime: &Runtime,
    timings: &mut Timings,
) -> Result<Exit> {
    let dir = &op.dir;
    let rendered = crate::render::render(&op.loaded)?;
    rendered.write_to(&dir.root)?;
    crate::state::write_atomic(&dir.runtime_file(), runtime.to_text().as_bytes())?;
    let nodes: Vec<String> = op.lab().nodes.iter().map(|n| n.name.clone()).collect();
    crate::interrupt::set_phase("vagrant up");
    crate::interrupt::check()?;
    let parallel = kind.parallel_up();
    eprintln!(
        "vagrant: bringing up {} node(s) with the {kind} provider ({}); each is provisioned as soon as it is up",
        nodes.len(),
        if parallel {
            "in parallel"
        } else {
            "one at a time, as VirtualBox requires"
        }
    );
    let arrivals = Arrivals::new();
    let shared = Mutex::new(&mut *state);
    let (booted, provisioned) = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let nodes = &nodes;
        let started = Instant::now();
        let up = s.spawn(move || {
            let finished = |m: &str| {
                let _ = tx.send(m.to_string());
            };
            vagrant::up(r, &dir.root, kind, nodes, parallel, &finished)
        });
        let provisioning = o
            .provision
            .then(|| s.spawn(|| provision_as_nodes_arrive(op, r, &shared, &arrivals)));
        let booted = boot(op, r, kind, &shared, &arrivals, rx, up, started);
        let provisioned =
            provisioning.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (booted, provisioned)
    });
    crate::exec::set_spawn_hook(None);
    // Vagrant's failure (or the SSH addresses') is the run's, as it was
    // before nodes were provisioned during `up`; a provisioning that ran
    // meanwhile only printed its output.
    let booted = booted?;
    booted.record(timings);
    eprintln!(
        "vagrant: machines up in {:.1}s",
        booted.machines.as_secs_f64()
    );
    state.phase = Phase::Up;
    save_keeping_children(dir, state)?;
    let Some(provisioned) = provisioned else {
        return Ok(Exit::Ok);
    };
    let (prepared, report, t, started) = provisioned?;
    timings.phases.extend(t.phases);
    let report = finish(
        op, state, &prepared, report, r, timings, o.snapshot, started,
    )?;
    crate::interrupt::check()?;
    if report.ok() {
        Ok(Exit::Ok)
    } else {
        Err(provision_error(op, &report))
    }
}

/// What `boot` measured: Vagrant's whole run, and per node when Vagrant
/// finished its machine and how long its SSH address took after that.
struct Booted {
    machines: Duration,
    nodes: Vec<(String, Duration, Duration)>,
    /// `vagrant ssh-config` after `up` of the nodes Vagrant did not say it
    /// finished, when there were any.
    late: Option<Duration>,
}

impl Booted {
    fn record(&self, t: &mut Timings) {
        for (node, up, _) in &self.nodes {
            t.add("machines", Some(node), *up);
        }
        t.add("machines", None, self.machines);
        for (node, _, ssh) in &self.nodes {
            t.add("ssh-config", Some(node), *ssh);
        }
        if let Some(late) = self.late {
            t.add("ssh-config", None, late);
        }
    }
}

/// Closes the arrivals on every way out of `boot` (a panic too), so no
/// node's provisioning waits for a machine that will not come.
struct CloseOnDrop<'a>(&'a Arrivals, &'static str);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close(self.1);
    }
}

/// While `vagrant up` runs: each machine Vagrant says it finished (`rx`) gets
/// its SSH address and own key read, is recorded in the state and the lab's
/// ssh_config, and is handed to provisioning. Then Vagrant's result: its
/// failure is the run's; nodes it did not name are read after it, as
/// before.
#[allow(clippy::too_many_arguments)]
fn boot(
    op: &Opened,
    r: &dyn Runner,
    kind: Kind,
    shared: &Mutex<&mut State>,
    arrivals: &Arrivals,
    rx: std::sync::mpsc::Receiver<String>,
    up: std::thread::ScopedJoinHandle<'_, Result<crate::exec::Output>>,
    started: Instant,
) -> Result<Booted> {
    let mut closing = CloseOnDrop(arrivals, "vagrant up did not bring its machine up");
    let p = provider::of(kind);
    let mut booted = Booted {
        machines: Duration::ZERO,
        nodes: Vec::new(),
        late: None,
    };
    let mut first_err = None;
    // Ends when `vagrant up` has exited (the sender is gone).
    for node in rx.iter() {
        if first_err.is_some()
            || op.lab().node(&node).is_none()
            || booted.nodes.iter().any(|(n, _, _)| *n == node)
        {
            continue;
        }
        let up_at = started.elapsed();
        let t = Instant::now();
        match hand_over(op, r, p, shared, arrivals, std::slice::from_ref(&node)) {
            Ok(()) => {
                eprintln!(
                    "vagrant: {node} is up ({:.1}s), handed to provisioning",
                    up_at.as_secs_f64()
                );
                booted.nodes.push((node, up_at, t.elapsed()));
            }
            Err(e) => {
                // The other nodes are not provisioned past this: the run fails.
                arrivals.close("another node's SSH address could not be read");
                first_err = Some(e);
            }
        }
    }
    let up = up.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
    booted.machines = started.elapsed();
    if up.is_ok() && first_err.is_none() {
        crate::interrupt::set_phase("provisioning");
    }
    up?;
    if let Some(e) = first_err {
        return Err(e);
    }
    let rest: Vec<String> = op
        .lab()
        .nodes
        .iter()
        .map(|n| n.name.clone())
        .filter(|n| !booted.nodes.iter().any(|(b, _, _)| b == n))
        .collect();
    if !rest.is_empty() {
        let t = Instant::now();
        hand_over(op, r, p, shared, arrivals, &rest)?;
        booted.late = Some(t.elapsed());
    }
    closing.1 = "no SSH address known";
    Ok(booted)
}

/// Read `nodes`' SSH addresses, record them (state, ssh_config) and hand
/// them to provisioning.
fn hand_over(
    op: &Opened,
    r: &dyn Runner,
    p: &dyn provider::Provider,
    shared: &Mutex<&mut State>,
    arrivals: &Arrivals,
    nodes: &[String],
) -> Result<()> {
    let hosts = ssh_hosts(op, r, p, nodes)?;
    {
        let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
        record_hosts(op, &mut state, &hosts)?;
        save_keeping_children(&op.dir, &mut state)?;
    }
    for h in &hosts {
        arrivals.ready(target_of(op, h));
    }
    Ok(())
}

/// The provisioning of `up`, beside Vagrant: the offline repository and base
/// image are made meanwhile, and each node's roles start as it arrives.
fn provision_as_nodes_arrive(
    op: &Opened,
    r: &dyn Runner,
    shared: &Mutex<&mut State>,
    arrivals: &Arrivals,
) -> Result<(Prepared, Report, Timings, Instant)> {
    let mut t = Timings::default();
    // What provisioning reads of the state (published values, re-created
    // nodes, the image) is not changed by the boot.
    let state: State = (**shared.lock().unwrap_or_else(|e| e.into_inner())).clone();
    let prepared = prepare(op, &state, None, None, r, &mut t)?;
    let started = Instant::now();
    let report = run_roles(op, &prepared, arrivals, &mut t)?;
    Ok((prepared, report, t, started))
}

/// The provider of this `up`: a lab that has machines stays on the provider
/// it was brought up with (a halted libvirt lab is not brought up again as a
/// second set of machines on docker because `--provider` was left out); an
/// explicit other provider is refused. A new lab's is chosen.
fn provider_for(
    lab: &str,
    asked: provider::Choice,
    recorded: Option<Kind>,
    r: &dyn Runner,
) -> Result<(Kind, String)> {
    let Some(on) = recorded else {
        return Ok(provider::choose(asked, r));
    };
    if asked == provider::Choice::Auto {
        return Ok((on, "the lab's machines are on it (state.json)".into()));
    }
    let (kind, why) = provider::choose(asked, r);
    if kind != on {
        return Err(Error::Usage {
            message: format!(
                "lab {lab} has machines on the {on} provider; --provider {kind} would make a second set"
            ),
            hint: Some(format!(
                "`labctl down {lab}` first, then `labctl up {lab} --provider {kind}`"
            )),
        });
    }
    Ok((kind, why))
}

/// What the state file says about the lab before anything is created for it.
fn record_lab(state: &mut State, lab: &Lab, kind: Kind, image: Option<String>) {
    state.lab = lab.name.value.clone();
    state.lab_file = lab.file.display().to_string();
    state.provider = Some(kind);
    state.subnet = Some(lab.network.subnet.value);
    state.image = image;
    state.owner_pid = std::process::id();
    state.owner_pgid = nix::unistd::getpgrp().as_raw();
    if state.phase == Phase::New {
        state.phase = Phase::Creating;
    }
    state.network = Some(lab.network_name());
    state.host_ports = lab
        .nodes
        .iter()
        .flat_map(|n| n.forward.iter().map(|f| f.host))
        .collect();
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
    use provider::Choice;

    #[test]
    fn a_lab_with_machines_stays_on_its_provider() {
        let r = crate::exec::Recorder::default();
        // New lab: chosen as asked.
        let (k, _) = provider_for("t", Choice::Docker, None, &r).unwrap();
        assert_eq!(k, Kind::Docker);
        // Halted on libvirt, `up` without --provider: libvirt, not auto's pick.
        let (k, why) = provider_for("t", Choice::Auto, Some(Kind::Libvirt), &r).unwrap();
        assert_eq!((k, why.contains("state.json")), (Kind::Libvirt, true));
        // The same provider asked for by name is fine; another is refused.
        assert_eq!(
            provider_for("t", Choice::Libvirt, Some(Kind::Libvirt), &r)
                .unwrap()
                .0,
            Kind::Libvirt
        );
        let e = provider_for("t", Choice::Docker, Some(Kind::Libvirt), &r).unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::Usage);
        assert!(e.to_string().contains("on the libvirt provider"), "{e}");
        assert!(e.render().contains("labctl down t"), "{}", e.render());
    }
}
