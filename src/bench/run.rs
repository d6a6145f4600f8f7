//! The half of `labctl bench` that touches the lab: an iperf3 image moved to
//! container nodes offline, servers started and stopped on free ports, clients
//! run with JSON output, rounds interleaved with the baseline, raw JSON kept.

use super::iperf;
use super::output::{RecordMeta, RunRecord};
use super::stats::{round_plan, Outcome, Round, Run, ScenarioInfo, StatsConfig};
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::{AddressMode, BenchEndpoint, ContainerMode, Lab, Scenario};
use crate::remote::NodeShell;
use crate::shell::sh_args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Image with iperf3 that container endpoints run, made from the node image.
pub const IPERF_IMAGE: &str = "labctl-iperf3";

pub struct BenchOptions {
    pub rounds: u32,
    /// Override every scenario's duration (seconds), for quick runs.
    pub duration: Option<u32>,
    pub raw_dir: PathBuf,
}

/// One bench at a time per host: two would measure each other.
pub struct HostBenchLock {
    _f: std::fs::File,
}

impl HostBenchLock {
    pub fn acquire() -> Result<Self> {
        let path = Path::new("/tmp/labctl-bench.lock");
        match crate::state::lock_file(path, crate::state::LockMode::ExclusiveNow) {
            Ok(f) => Ok(HostBenchLock { _f: f }),
            Err(_) => Err(Error::env("another labctl bench is running on this host; two benches would measure each other", Some("wait for it to finish".into()))),
        }
    }
}

/// Build (once per node image) a tiny iperf3 image on the host: the iperf3
/// binary and the libraries it links, taken from the node image.
pub fn ensure_iperf_image(r: &dyn Runner, node_image: &str) -> Result<String> {
    let id = r
        .run(&Cmd::new("docker").args(["image", "inspect", "--format", "{{.Id}}", node_image]))?
        .stdout;
    let id = id.trim().trim_start_matches("sha256:");
    // v2: the image gained /tmp (iperf3 makes its stream buffers there).
    let tag = format!("{IPERF_IMAGE}:v2-{}", &id[..12.min(id.len())]);
    if r.output(&Cmd::new("docker").args(["image", "inspect", &tag]))?
        .success()
    {
        return Ok(tag);
    }
    let script = include_str!("scripts/collect-iperf3.sh");
    let tar = crate::provider::docker::image::export_from_node_image(
        node_image,
        script,
        "collect iperf3",
    )?;
    r.run(
        &Cmd::new("docker")
            .args([
                "import",
                "--change",
                "ENTRYPOINT [\"/usr/bin/iperf3\"]",
                "-",
                &tag,
            ])
            .stdin(tar),
    )?;
    Ok(tag)
}

/// Move the iperf3 image to a node offline (docker save on the host, docker load
/// on the node), unless the node has it.
pub fn load_on_node(
    shell: &dyn NodeShell,
    node: &str,
    tag: &str,
    load: &dyn Fn(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    let have = shell.run(node, &step(&["have-image", tag]), Duration::from_secs(30))?;
    if have.stdout.trim() == "yes" {
        return Ok(());
    }
    let saved = duct::cmd("docker", ["save", tag])
        .stdout_capture()
        .run()
        .map_err(|e| Error::io("run", "docker save", e))?;
    load(node, &saved.stdout)
}

/// The iperf3 image's tag on a hosts lab's nodes: each node makes its own
/// from its own iperf3 ([`import_on_node`]); no node image is involved.
pub const HOSTS_IPERF_TAG: &str = "labctl-iperf3:v2-own";

/// docker-host's record on a hosts lab's node, where the bench notes the
/// images it makes so that `down` removes them (provision/docker-host/undo.sh).
const DOCKER_HOST_RECORD: &str = "/var/lib/labctl/docker-host";

/// On a hosts lab: make the iperf3 image `tag` in the node's own Docker from
/// the node's own iperf3 (scripts/import-iperf3.sh), unless the node has it.
/// The raw baseline runs that same binary on the node, so a ratio compares
/// networking paths, not two builds of iperf3.
pub fn import_on_node(shell: &dyn NodeShell, node: &str, tag: &str) -> Result<()> {
    let have = shell.run(node, &step(&["have-image", tag]), Duration::from_secs(30))?;
    if have.stdout.trim() == "yes" {
        return Ok(());
    }
    eprintln!("bench: making {tag} on {node} from its own iperf3");
    // collect-iperf3.sh, the same file the host side runs in the node image,
    // becomes a function of the import script: one list of what the image holds.
    let script = format!(
        "collect() {{\n{}\n}}\n{}",
        include_str!("scripts/collect-iperf3.sh"),
        include_str!("scripts/import-iperf3.sh")
    );
    let out = shell.run(
        node,
        &sh_args(&script, "labctl-iperf-import", &[tag, DOCKER_HOST_RECORD]),
        Duration::from_secs(300),
    )?;
    if out.code != 0 {
        let hint = match out.code {
            3 => "install iperf3 on the machine (the raw baseline runs it there too)",
            4 | 5 => "give the node the docker-host role and run `labctl up` again",
            _ => {
                "see the message above; `labctl exec LAB NODE -- sudo docker info` shows the engine"
            }
        };
        return Err(Error::env(
            format!(
                "node {node}: cannot make the bench's iperf3 image {tag} there: {}",
                out.stderr.trim()
            ),
            Some(hint.into()),
        ));
    }
    Ok(())
}

/// One step of a scenario on a node: scripts/iperf.sh with its arguments.
fn step(args: &[&str]) -> String {
    sh_args(include_str!("scripts/iperf.sh"), "labctl-iperf", args)
}

/// How an endpoint runs iperf3, as iperf.sh names it.
fn mode(c: ContainerMode) -> &'static str {
    match c {
        ContainerMode::None => "none",
        ContainerMode::Host => "host",
        ContainerMode::Bridge => "bridge",
    }
}

fn ep_desc(e: &BenchEndpoint) -> String {
    match e.container {
        ContainerMode::None => e.node.value.clone(),
        ContainerMode::Host => format!("{} (host-mode container)", e.node.value),
        ContainerMode::Bridge => format!("{} (bridge container)", e.node.value),
    }
}

/// Run one scenario once: start the server, run the client, stop the server.
/// Returns iperf3's JSON text (client side; it carries `end.sum_received`).
fn run_once(
    lab: &Lab,
    shell: &dyn NodeShell,
    s: &Scenario,
    tag: &str,
    port: u16,
    duration: u32,
) -> Result<String> {
    let srv = &s.server;
    let node_ip = lab
        .node(&srv.node.value)
        .map(|n| n.ip.to_string())
        .unwrap_or_default();
    let name = format!("labctl-iperf-s-{port}");
    let t = Duration::from_secs(30);
    let p = port.to_string();
    let mode = mode(srv.container);
    // Server side.
    let out = shell.run(&srv.node.value, &step(&["server", mode, &p, &name, tag]), t)?;
    if out.code != 0 {
        return Err(Error::env(
            format!(
                "scenario {}: iperf3 server could not start on {}: {}",
                s.name.value,
                ep_desc(srv),
                out.stderr.trim()
            ),
            None,
        ));
    }
    let addr = match (srv.container, srv.address) {
        (ContainerMode::Bridge, AddressMode::Container) => {
            let o = shell.run(&srv.node.value, &step(&["address", &name]), t)?;
            o.stdout.trim().to_string()
        }
        _ => node_ip,
    };
    // Wait until the server listens (bounded).
    let _ = shell.run(&srv.node.value, &step(&["wait", mode, &p, &name]), t);
    // Client side.
    let cl = &s.client;
    let run = step(&[
        "client",
        self::mode(cl.container),
        tag,
        &addr,
        &p,
        &duration.to_string(),
        &s.omit_s.to_string(),
        &s.parallel.to_string(),
    ]);
    let res = shell.run(
        &cl.node.value,
        &run,
        Duration::from_secs(duration as u64 + 60),
    );
    // Stop the server whatever happened (a -1 server exits by itself after one test).
    let _ = shell.run(&srv.node.value, &step(&["stop", mode, &p, &name]), t);
    let res = res?;
    Ok(res.stdout)
}

/// A port that is free on the server node (and its containers' published ports).
fn free_port(shell: &dyn NodeShell, node: &str, start: u16) -> Result<u16> {
    let o = shell.run(node, &step(&["ports"]), Duration::from_secs(20))?;
    let used: Vec<u16> = o
        .stdout
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.parse().ok())
        .collect();
    (start..start + 200)
        .find(|p| !used.contains(p))
        .ok_or_else(|| Error::env(format!("no free port on {node} from {start}"), None))
}

/// Run every scenario for `rounds` interleaved rounds and build the run record.
pub fn run(
    lab: &Lab,
    lab_bytes: &[u8],
    shell: &dyn NodeShell,
    tag: &str,
    o: &BenchOptions,
    on_run: &mut dyn FnMut(usize, &str, &Outcome),
) -> Result<RunRecord> {
    std::fs::create_dir_all(&o.raw_dir).map_err(|e| Error::io("create", &o.raw_dir, e))?;
    let infos = ScenarioInfo::from_lab(lab);
    let plan = round_plan(&infos);
    let mut rounds = Vec::new();
    for round in 0..o.rounds as usize {
        let mut runs = Vec::new();
        for (k, &si) in plan.iter().enumerate() {
            let s = &lab.scenarios[si];
            let duration = o.duration.unwrap_or(s.duration_s).max(s.omit_s + 1);
            let port = free_port(shell, &s.server.node.value, 5201)?;
            let mut outcome = None;
            // A busy server is retried a few times; anything else is reported.
            for _attempt in 0..3 {
                let text = match run_once(lab, shell, s, tag, port, duration) {
                    Ok(t) => t,
                    Err(e) => {
                        outcome = Some(Outcome::CouldNotRun {
                            message: format!("scenario {}: {e}", s.name.value),
                        });
                        break;
                    }
                };
                let raw = o.raw_dir.join(format!(
                    "round{}-{:02}-{}.json",
                    round + 1,
                    k + 1,
                    s.name.value
                ));
                let _ = std::fs::write(&raw, &text);
                let parsed = iperf::parse(&text);
                let retry = matches!(&parsed, Err(e) if e.is_retryable());
                let oc: Outcome = parsed.into();
                let oc = match oc {
                    Outcome::CouldNotRun { message } => Outcome::CouldNotRun {
                        message: format!("scenario {}: {message}", s.name.value),
                    },
                    Outcome::Unusable { message } => Outcome::Unusable {
                        message: format!("scenario {}: {message}", s.name.value),
                    },
                    m => m,
                };
                outcome = Some(oc);
                if !retry {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            let outcome = outcome.unwrap();
            on_run(round + 1, &s.name.value, &outcome);
            runs.push(Run {
                scenario: s.name.value.clone(),
                outcome,
            });
        }
        rounds.push(Round { runs });
    }
    let mut tools = BTreeMap::new();
    tools.insert("labctl".into(), env!("CARGO_PKG_VERSION").into());
    if let Some(n) = lab.scenarios.first() {
        if let Ok(v) = shell.run(
            &n.client.node.value,
            &step(&["version"]),
            Duration::from_secs(10),
        ) {
            tools.insert("iperf3".into(), v.stdout.trim().to_string());
        }
    }
    let meta = RecordMeta {
        lab: lab.name.value.clone(),
        lab_sha256: super::output::lab_file_sha256(lab_bytes),
        started_at: Some(
            time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        ),
        tools,
        host_cpu: super::output::host_cpu_model(),
    };
    Ok(RunRecord::new(
        meta,
        infos,
        rounds,
        &lab.ratios,
        StatsConfig::default(),
    ))
}
