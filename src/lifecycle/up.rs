//! `labctl up`: check, record, create, boot and provision a lab; remove what a
//! failed first `up` created.

use super::down::clean_up_failed_up;
use super::provision::{provision_error, provision_locked, secrets};
use super::*;
use crate::state::runtime::Runtime;

/// Bring a lab up (create what is missing) and provision it.
pub fn up(a: &LabArgs, o: &UpOptions) -> Result<Exit> {
    up_with(a, o, runner())
}

/// `up` with the runner given: tests record the commands a VM provider would run.
pub fn up_with(a: &LabArgs, o: &UpOptions, r: Arc<dyn Runner>) -> Result<Exit> {
    let op = open(a)?;
    if op.lab().on_hosts() {
        return Err(Error::usage(format!(
            "lab {}: labctl cannot bring up a lab of existing machines ([provider] kind = \"hosts\") yet",
            op.lab().name.value
        )));
    }
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
    let (kind, why) = provider_for(&op.lab().name.value, o.provider, recorded, r.as_ref())?;
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

/// Every provider's last steps: write the Vagrantfile and the runtime file,
/// `vagrant up --no-provision`, read `vagrant ssh-config` once, provision.
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
        "vagrant: bringing up {} node(s) with the {kind} provider ({})",
        nodes.len(),
        if parallel {
            "in parallel"
        } else {
            "one at a time, as VirtualBox requires"
        }
    );
    let t = Instant::now();
    // One `vagrant up` brings every machine up: the phase is the lab's.
    timings.time("machines", || {
        vagrant::up(r, &dir.root, kind, &nodes, parallel)
    })?;
    let t_up = t.elapsed().as_secs_f64();
    let t = Instant::now();
    timings.time("ssh-config", || refresh_ssh(op, r, state))?;
    eprintln!(
        "vagrant: machines up in {t_up:.1}s, SSH addresses read in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    state.phase = Phase::Up;
    dir.save(state)?;
    crate::exec::set_spawn_hook(None);
    provision_after_up(op, o, state, r, timings)
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

fn provision_after_up(
    op: &Opened,
    o: &UpOptions,
    state: &mut State,
    r: &dyn Runner,
    t: &mut Timings,
) -> Result<Exit> {
    if !o.provision {
        return Ok(Exit::Ok);
    }
    crate::interrupt::set_phase("provisioning");
    crate::interrupt::check()?;
    let report = provision_locked(op, state, None, None, r, t, o.snapshot)?;
    crate::interrupt::check()?;
    if report.ok() {
        Ok(Exit::Ok)
    } else {
        Err(provision_error(op, &report))
    }
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
