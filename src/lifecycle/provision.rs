//! `labctl provision`, and the provisioning step of `up`: secrets from the
//! host environment, the offline repository and base image when roles need
//! them, then the roles over SSH.

use super::*;

/// Secret role variables, read from the host environment now and never stored.
pub(super) fn secrets(lab: &Lab) -> Result<Vec<(String, String)>> {
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

pub(super) fn provision_locked(
    op: &Opened,
    state: &mut State,
    nodes: Option<BTreeSet<String>>,
    roles: Option<BTreeSet<String>>,
    r: &dyn Runner,
    t: &mut Timings,
    snapshot: bool,
) -> Result<crate::provision::Report> {
    let prepared = prepare(op, state, nodes, roles, r, t)?;
    let started = Instant::now();
    let arrivals = crate::provision::Arrivals::all(targets(op, state));
    let report = run_roles(op, &prepared, &arrivals, t)?;
    finish(op, state, &prepared, report, r, t, snapshot, started)
}

/// What a provisioning run needs besides the nodes' SSH targets: the plan
/// and the options, with the offline repository and the base image made
/// when roles need them.
pub(super) struct Prepared {
    plan: crate::plan::Plan,
    opts: crate::provision::Options,
}

pub(super) fn prepare(
    op: &Opened,
    state: &State,
    nodes: Option<BTreeSet<String>>,
    roles: Option<BTreeSet<String>>,
    r: &dyn Runner,
    t: &mut Timings,
) -> Result<Prepared> {
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
        recreated: state.recreated.clone(),
    };
    // A lab with an offline repository gets it built (or confirmed current)
    // before its roles run; an unchanged rebuild costs a few seconds.
    if lab
        .nodes
        .iter()
        .any(|n| n.roles.iter().any(|r| r.value == crate::repo::SERVER_ROLE))
    {
        let dir = crate::repo::default_dir(&op.dir);
        let info = t.time("offline repository", || {
            crate::repo::build(lab, &op.loaded.roles, &dir, r)
        })?;
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
                    match state.provider { Some(k) => k.to_string(), None => "an unknown provider".to_string() }
                ),
                Some(format!("bring the lab up with --provider docker: `labctl down {0}` then `labctl up {0} --provider docker`", lab.name.value)),
            )
        })?;
        opts.base_image_tar = Some(t.time("base image", || {
            crate::provider::docker::image::ensure_base_image_tar(
                r,
                &node_image,
                &op.dir.root.join("images"),
            )
        })?);
    }
    Ok(Prepared { plan, opts })
}

/// Run the roles, each node's as soon as `arrivals` hands the node over.
pub(super) fn run_roles(
    op: &Opened,
    p: &Prepared,
    arrivals: &crate::provision::Arrivals,
    t: &mut Timings,
) -> Result<crate::provision::Report> {
    let lab = op.lab();
    let report = t.time("provisioning", || {
        crate::provision::run(lab, &op.loaded.roles, &p.plan, arrivals, &p.opts)
    })?;
    // Per node: the time its role runs took (waits for other nodes'
    // barriers are in the lab-wide phase, not in a node's).
    let mut per_node: BTreeMap<&str, f64> = BTreeMap::new();
    for task in &report.tasks {
        *per_node.entry(task.node.as_str()).or_default() += task.seconds;
    }
    for (node, secs) in per_node {
        t.add_seconds("provisioning", Some(node), secs);
    }
    Ok(report)
}

/// After the roles ran: keep what they published, print the table, and take
/// the snapshot `labctl reset` goes back to after a whole, successful run.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    op: &Opened,
    state: &mut State,
    p: &Prepared,
    report: crate::provision::Report,
    r: &dyn Runner,
    t: &mut Timings,
    snapshot: bool,
    started: Instant,
) -> Result<crate::provision::Report> {
    let opts = &p.opts;
    // Published values are kept (public keys, revisions); secrets never are.
    let secret_values: Vec<&String> = opts.secrets.iter().map(|(_, v)| v).collect();
    state.published = report
        .published
        .iter()
        .filter(|(_, v)| !secret_values.contains(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Every role has now run knowing which machines are new; a partial run
    // (some nodes or roles) or a failed one keeps the list for the next.
    if report.ok() && opts.only_nodes.is_none() && opts.only_roles.is_none() {
        state.recreated.clear();
    }
    op.dir.save(state)?;
    eprint!("{}", report.table());
    eprintln!(
        "provisioned {} role run(s) in {:.1}s: {}",
        report.tasks.len(),
        started.elapsed().as_secs_f64(),
        report.counts()
    );
    // The state `labctl reset` goes back to: right after a whole, successful
    // provisioning (a partial run is not the lab as its file describes it).
    if snapshot && report.ok() && opts.only_nodes.is_none() && opts.only_roles.is_none() {
        auto_snapshot(op, r, state, t)?;
    }
    Ok(report)
}

/// `labctl provision`: re-run roles (all, or some nodes/roles).
pub fn provision(
    a: &LabArgs,
    nodes: Vec<String>,
    roles: Vec<String>,
    json: bool,
    timings: bool,
    snapshot: bool,
) -> Result<Exit> {
    let op = open(a)?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let started = Instant::now();
    let mut t = Timings::default();
    let result = provision_checked(&op, nodes, roles, json, snapshot, &mut t);
    record_phases(
        &op,
        "provision",
        started,
        result.as_ref().err(),
        &t,
        Stream::for_timings(timings, json),
    );
    result
}

fn provision_checked(
    op: &Opened,
    nodes: Vec<String>,
    roles: Vec<String>,
    json: bool,
    snapshot: bool,
    t: &mut Timings,
) -> Result<Exit> {
    let mut state = require_up(op)?;
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
        op,
        &mut state,
        (!nodes.is_empty()).then(|| nodes.into_iter().collect()),
        (!roles.is_empty()).then(|| roles.into_iter().collect()),
        runner().as_ref(),
        t,
        snapshot,
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    }
    if report.ok() {
        Ok(Exit::Ok)
    } else {
        Err(provision_error(op, &report))
    }
}

pub(super) fn provision_error(op: &Opened, report: &crate::provision::Report) -> Error {
    let name = &op.lab().name.value;
    Error::env(
        format!("provisioning failed:\n  {}", report.failures().join("\n  ")),
        Some(format!(
            "each role's output is in {}; fix the cause, then `labctl provision {name}` runs the roles again \
             (`labctl status {name}` shows machines that are gone, which `labctl up {name}` re-creates)",
            op.dir.logs().display()
        )),
    )
}

/// The snapshot `labctl reset` goes back to, taken after a whole, successful
/// provisioning. It is an extra: where the provider or lab has no snapshots,
/// or taking it fails, the lab that came up fine stays up and the command
/// succeeds, saying that reset is not available and why. Only Ctrl-C stops it.
fn auto_snapshot(op: &Opened, r: &dyn Runner, state: &mut State, t: &mut Timings) -> Result<()> {
    let lab = &op.lab().name.value;
    let kind = state_kind(state);
    if let Err(why) = crate::provider::of(kind).snapshot_support(op.lab()) {
        eprintln!("lab {lab}: no snapshot for `labctl reset`: {why}");
        return Ok(());
    }
    let taken = t.time("snapshot", || {
        super::snapshot::save_locked(op, r, state, super::snapshot::PROVISIONED)
    });
    match taken {
        Err(e @ Error::Interrupted { .. }) => Err(e),
        Err(e) => {
            eprintln!("warning: lab {lab}: the snapshot for `labctl reset` was not taken: {e}");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}
