//! `labctl down`: end what a dead labctl left running, destroy the machines,
//! sweep by label or name, remove disks, leases and the state files.

use super::*;

/// `labctl down`: destroy machines, then everything the lab owns.
pub fn down(a: &LabArgs, force: bool, timings: bool) -> Result<Exit> {
    down_with(a, force, timings, runner())
}

/// `down` with the runner given (tests record a VM provider's commands).
pub fn down_with(a: &LabArgs, force: bool, timings: bool, r: Arc<dyn Runner>) -> Result<Exit> {
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
    if state.provider.is_none() && !force {
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
    let started = Instant::now();
    let mut t = Timings::default();
    // Existing machines are given back first; the local state (and its
    // known_hosts) goes only when every one is.
    if state.provider == Some(Kind::Hosts) {
        let given = t.time("undo on the machines", || give_back_hosts(&op, &state));
        if let Err(e) = given {
            record_phases(
                &op,
                "down",
                started,
                Some(&e),
                &t,
                Stream::for_timings(timings, false),
            );
            return Err(e);
        }
    }
    let removed = teardown(op.lab(), &op.dir, r.as_ref(), &mut state, false, &mut t);
    record_phases(
        &op,
        "down",
        started,
        removed.as_ref().err(),
        &t,
        Stream::for_timings(timings, false),
    );
    let removed = removed?;
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

/// Give every machine of a hosts lab that labctl recorded back
/// (docs/hosts.md): undo the roles that started there, then remove labctl's
/// folders. Stops at the first machine that cannot be given back, naming
/// it; nothing local is removed here.
pub(super) fn give_back_hosts(op: &Opened, state: &State) -> Result<Vec<String>> {
    let lab = op.lab();
    // An undo that needs a secret must not run with an empty one: stop
    // before touching any machine, as `up` does.
    let secrets = super::provision::secrets(lab)?;
    let undo = crate::provision::Undo {
        lab,
        roles: &op.loaded.roles,
        published: &state.published,
        secrets: &secrets,
        log_dir: op.dir.logs(),
        role_timeout: Duration::from_secs(900),
        connect_wait: provider::hosts::CONNECT_WAIT,
    };
    let mut done = Vec::new();
    for (node, target) in targets(op, state) {
        let given = crate::provision::give_back(&undo, &target)?;
        if given.is_empty() {
            eprintln!("down: node {node}: nothing of lab {} there", lab.name.value);
        }
        for x in &given {
            eprintln!("down: gave back {x}");
        }
        done.extend(given);
    }
    if state.nodes.is_empty() {
        // `up` stopped before it recorded any machine (a refused preflight):
        // "0 given back" would read as if some were skipped.
        eprintln!(
            "down: lab {} recorded no machine, so none was touched",
            lab.name.value
        );
    } else {
        eprintln!(
            "down: {} machine(s) given back; none was rebooted, wiped or removed",
            state.nodes.len()
        );
    }
    Ok(done)
}

/// Remove every trace of a lab; idempotent. Returns what was removed.
pub(super) fn teardown(
    lab: &Lab,
    dir: &StateDir,
    r: &dyn Runner,
    state: &mut State,
    quiet: bool,
    t: &mut Timings,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let started = Instant::now();
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
        for pg in crate::exec::procs::groups_working_in(&dir.root) {
            if !groups.contains(&pg) {
                groups.push(pg);
            }
        }
        for pg in groups {
            let pgid = nix::unistd::Pid::from_raw(pg);
            // PIDs are reused: only a group whose leader is still a tool labctl ran.
            if !crate::exec::procs::group_is_ours(pg) {
                continue;
            }
            if nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM).is_ok() {
                std::thread::sleep(Duration::from_millis(500));
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                removed.push(format!("process group {pg}"));
            }
        }
    }
    t.add("stop processes", None, started.elapsed());
    let p = provider::of(state_kind(state));
    removed.extend(t.time("machines", || p.destroy(r, lab, &dir.root)));
    // The snapshots recorded, once no machine uses them (Docker keeps an
    // image a container still runs from); the sweep below removes any
    // labelled ones the state did not record.
    removed.extend(t.time("snapshots", || {
        super::snapshot::remove_all(lab, dir, r, state)
    }));
    let started = Instant::now();
    // A lab whose state file was lost (`down --force`) is swept on each
    // provider that answers here (by label on docker, by machine name on the
    // VM providers); one that does not answer (no engine, no libvirtd) cannot
    // hold the lab's machines and is skipped, said so.
    let unknown = state.provider.is_none();
    let stopped_children =
        crate::interrupt::interrupted() || removed.iter().any(|x| x.starts_with("process group"));
    if !unknown || provider::answers(p, r) {
        removed.extend(p.sweep(r, lab, stopped_children)?);
    }
    if unknown {
        for vm in [Kind::Virtualbox, Kind::Libvirt] {
            let p = provider::of(vm);
            if provider::answers(p, r) {
                removed.extend(p.sweep(r, lab, stopped_children)?);
            }
        }
    }
    t.add("sweep", None, started.elapsed());
    let started = Instant::now();
    removed.extend(remove_disks(dir, r, state));
    // Vagrant leases a port for the whole boot of a machine and releases it
    // when done; a killed or interrupted `vagrant up` leaves the lease, which
    // would refuse that port to the next lab for a minute. The ports are the
    // lab's own (labctl picked them), so their leases are too.
    let mut ports: Vec<u16> = state.host_ports.clone();
    if let Some(rt) = crate::state::runtime::Runtime::read(&dir.runtime_file()) {
        ports.extend(rt.nodes.values().filter_map(|n| n.ssh_port));
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
    // The docker nodes' key pairs labctl made there (their machines are gone).
    let _ = std::fs::remove_dir_all(dir.keys());
    // libvirt's console logs (the VMs are gone; the folder is the state dir's own).
    let _ = std::fs::remove_dir_all(dir.root.join("console"));
    t.add("disks, leases and state files", None, started.elapsed());
    if !quiet {
        for x in &removed {
            eprintln!("down: removed {x}");
        }
    }
    *state = State::default();
    Ok(removed)
}

/// What of the lab is still on the host, read again from it: the provider's
/// inventory (the listing `down` sweeps by), tools still working in the state
/// dir, and disk files in its `disks/`. Empty means nothing is left; this is
/// what a failed `up` says after its cleanup, instead of assuming it worked.
pub(super) fn left_on_host(
    lab: &Lab,
    dir: &StateDir,
    r: &dyn Runner,
    kind: Kind,
) -> Result<Vec<String>> {
    let mut left = provider::of(kind).inventory(r, lab)?;
    for pg in crate::exec::procs::groups_working_in(&dir.root) {
        if crate::exec::procs::group_is_ours(pg) {
            left.push(format!(
                "process group {pg} working in {}",
                dir.root.display()
            ));
        }
    }
    let disks = dir.disks();
    if std::fs::symlink_metadata(&disks).is_ok_and(|m| m.is_dir()) {
        if let Ok(rd) = std::fs::read_dir(&disks) {
            for e in rd.filter_map(|e| e.ok()) {
                left.push(format!("disk file {}", e.path().display()));
            }
        }
    }
    Ok(left)
}

/// After a failed or interrupted `up`: remove what this run created, say what
/// was removed, then read the host again and say what is still there. `Ok`
/// only when the re-read found nothing; otherwise an error naming what is left
/// (exit 3), whatever the teardown itself reported.
pub(super) fn clean_up_failed_up(
    lab: &Lab,
    dir: &StateDir,
    r: &dyn Runner,
    state: &mut State,
    kind: Kind,
) -> Result<Vec<String>> {
    let torn = teardown(lab, dir, r, state, true, &mut Timings::default());
    let removed = match &torn {
        Ok(v) => v.clone(),
        Err(e) => {
            eprint!("cleanup failed: {}", e.render());
            Vec::new()
        }
    };
    if removed.is_empty() {
        eprintln!("cleanup: removed nothing");
    } else {
        eprintln!("cleanup: removed {}", removed.join(", "));
    }
    let name = &lab.name.value;
    let hint = Some(format!(
        "`labctl down {name} --force` removes everything labelled as lab {name}; then `labctl up {name}`"
    ));
    match left_on_host(lab, dir, r, kind) {
        Ok(left) if left.is_empty() => Ok(removed),
        Ok(left) => Err(Error::env(
            format!(
                "lab {name} could not be brought up, and its cleanup left things behind; still on this host: {}",
                left.join(", ")
            ),
            hint,
        )),
        Err(e) => Err(Error::env(
            format!(
                "lab {name} could not be brought up, and what its cleanup left could not be read: {}",
                e.to_string().lines().next().unwrap_or("")
            ),
            hint,
        )),
    }
}

/// The lab's disk files and their loop devices. Disk files are removed only
/// from the state dir's own `disks/` folder, whatever the state file lists (a
/// hand-edited or corrupt one could name any file), and never through a
/// symbolic link.
fn remove_disks(dir: &StateDir, r: &dyn Runner, state: &State) -> Vec<String> {
    let mut removed = Vec::new();
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
            removed.extend(crate::provider::docker::disks::remove(r, d));
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
                    removed.extend(crate::provider::docker::disks::remove(
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
    removed
}
