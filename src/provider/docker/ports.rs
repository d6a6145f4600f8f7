//! Host ports of the docker provider's SSH forwards: picked by labctl (Vagrant's
//! own choice races when machines start in parallel), avoiding what Vagrant
//! refuses, and Vagrant's port leases released by `down`.

use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use std::collections::BTreeMap;

/// Host ports for the nodes' SSH forwards, chosen by labctl: Vagrant's own
/// auto-correction races when several machines start in parallel (two nodes
/// were seen picking the same port). A node keeps the port it already has.
/// `unavailable` are ports Vagrant would refuse although nothing listens on
/// them ([`vagrant_unavailable_ports`]). The search starts at `from`
/// ([`ssh_port_from`]).
pub fn pick_ssh_ports(
    lab: &Lab,
    existing: &BTreeMap<String, u16>,
    unavailable: &std::collections::BTreeSet<u16>,
    from: u16,
) -> crate::error::Result<BTreeMap<String, u16>> {
    let mut out = BTreeMap::new();
    let mut taken: Vec<u16> = existing.values().copied().collect();
    let mut next = from;
    for n in &lab.nodes {
        if let Some(p) = existing.get(&n.name) {
            out.insert(n.name.clone(), *p);
            continue;
        }
        while next < super::limits::SSH_PORT_END
            && (taken.contains(&next)
                || unavailable.contains(&next)
                || std::net::TcpListener::bind(("127.0.0.1", next)).is_err())
        {
            next += 1;
        }
        // Past the range every port would be handed out unchecked (the
        // preflight counts free ports for a new lab only; a lab that grew or
        // came back, or labs starting together, get here without it).
        if next >= super::limits::SSH_PORT_END {
            return Err(crate::error::Error::env(
                format!(
                    "lab {}: no free SSH port left for node {} in {from}..{} (labctl's range for forwarded SSH ports)",
                    lab.name.value,
                    n.name,
                    super::limits::SSH_PORT_END
                ),
                Some(format!(
                    "bring down labs you do not need, or start the range lower: {}=PORT (1024 or more)",
                    SSH_PORT_FROM_ENV
                )),
            ));
        }
        out.insert(n.name.clone(), next);
        taken.push(next);
        next += 1;
    }
    Ok(out)
}

/// The environment variable naming the first SSH port to try (default 2200).
/// `labctl test --jobs` gives each lab it runs at once a band of its own:
/// two labs starting together would both find 2200 free, as neither has
/// bound it yet, and the second `vagrant up` would fail on it.
pub const SSH_PORT_FROM_ENV: &str = "LABCTL_SSH_PORT_FROM";

/// Where [`pick_ssh_ports`] starts: [`SSH_PORT_FROM_ENV`] when it holds a
/// port in 1024..2999, else 2200.
pub fn ssh_port_from() -> u16 {
    std::env::var(SSH_PORT_FROM_ENV)
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|p| (1024..super::limits::SSH_PORT_END).contains(p))
        .unwrap_or(2200)
}

/// Ports Vagrant's docker provider refuses to forward although nothing may
/// listen on them: those bound by any container, running or stopped (it reads
/// every container's port bindings), and those with a fresh lease in
/// Vagrant's global `data/fp-leases` (a lease lives 60 s and is left behind
/// when a `vagrant up` is killed, so the next lab on that port would fail).
pub fn vagrant_unavailable_ports(runner: &dyn Runner) -> std::collections::BTreeSet<u16> {
    let mut ports = std::collections::BTreeSet::new();
    let ids = runner
        .output(&Cmd::new("docker").args(["ps", "-aq"]))
        .map(|o| o.stdout)
        .unwrap_or_default();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let out = runner
            .output(
                &Cmd::new("docker")
                    .args(["inspect", "--format", "{{json .HostConfig.PortBindings}}"])
                    .args(ids.iter().copied()),
            )
            .map(|o| o.stdout)
            .unwrap_or_default();
        ports.extend(parse_port_bindings(&out));
    }
    if let Some(dir) = vagrant_lease_dir() {
        ports.extend(fresh_leases(&dir, std::time::SystemTime::now()));
    }
    ports
}

/// The host port each of the lab's containers (running or not) forwards to
/// its SSH port, by node: read from Docker, as bound at `docker run`.
pub fn container_ssh_ports(
    runner: &dyn Runner,
    lab: &str,
) -> crate::error::Result<BTreeMap<String, u16>> {
    let ids = super::lab_containers(runner, lab)?;
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = runner.run(
        &Cmd::new("docker")
            .args([
                "inspect",
                "--format",
                "{{index .Config.Labels \"labctl.node\"}} {{json .HostConfig.PortBindings}}",
            ])
            .args(ids),
    )?;
    Ok(parse_node_ssh_ports(&out.stdout))
}

/// `NODE {"22/tcp":[{"HostIp":"127.0.0.1","HostPort":"2201"}],...}` lines:
/// each node's host port for 22/tcp.
fn parse_node_ssh_ports(text: &str) -> BTreeMap<String, u16> {
    text.lines()
        .filter_map(|l| {
            let (node, json) = l.split_once(' ')?;
            let v: serde_json::Value = serde_json::from_str(json).ok()?;
            let port = v["22/tcp"][0]["HostPort"].as_str()?.parse().ok()?;
            (!node.is_empty()).then(|| (node.to_string(), port))
        })
        .collect()
}

/// Host ports in `docker inspect --format '{{json .HostConfig.PortBindings}}'` lines.
fn parse_port_bindings(text: &str) -> Vec<u16> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|v| {
            v.as_object()
                .map(|m| m.values().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .flat_map(|b| b.as_array().cloned().unwrap_or_default())
        .filter_map(|h| h["HostPort"].as_str()?.parse().ok())
        .collect()
}

/// Vagrant's port leases: `$VAGRANT_HOME/data/fp-leases` (default ~/.vagrant.d).
pub fn vagrant_lease_dir() -> Option<std::path::PathBuf> {
    Some(
        crate::provider::vagrant_records::home()?
            .join("data")
            .join("fp-leases"),
    )
}

/// Ports with a lease younger than Vagrant's 60 s; files are named `PORT` or
/// `1_2_3_4_PORT` (the host IP with dots as underscores).
fn fresh_leases(dir: &std::path::Path, now: std::time::SystemTime) -> Vec<u16> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_none_or(|age| age.as_secs() < 60)
        })
        .filter_map(|e| e.file_name().to_str()?.rsplit('_').next()?.parse().ok())
        .collect()
}

/// Remove Vagrant's leases on `ports` (for 127.0.0.1): called by `down` after
/// it ended the lab's own `vagrant` processes, which can no longer release them.
pub fn release_leases(ports: &[u16]) -> Vec<String> {
    let Some(dir) = vagrant_lease_dir() else {
        return vec![];
    };
    ports
        .iter()
        .filter_map(|p| {
            let f = dir.join(format!("127_0_0_1_{p}"));
            std::fs::remove_file(&f)
                .ok()
                .map(|_| format!("Vagrant port lease {p}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_bindings_of_stopped_and_running_containers() {
        let text = "{\"22/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"2201\"}]}\nnull\n{}\n{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}],\"443/tcp\":null}\n";
        assert_eq!(parse_port_bindings(text), vec![2201, 8080]);
    }

    #[test]
    fn ssh_ports_are_searched_from_the_band_given() {
        let lab = crate::load::load("workflow").unwrap().lab;
        let (none, free) = (BTreeMap::new(), std::collections::BTreeSet::new());
        let picked = pick_ssh_ports(&lab, &none, &free, 2600).unwrap();
        assert_eq!(picked.len(), lab.nodes.len());
        assert!(
            picked.values().all(|p| (2600..2999).contains(p)),
            "{picked:?}"
        );
        // A node keeps the port it has, whatever the band.
        let have: BTreeMap<String, u16> = [(lab.nodes[0].name.clone(), 2201)].into();
        assert_eq!(
            pick_ssh_ports(&lab, &have, &free, 2600).unwrap()[&lab.nodes[0].name],
            2201
        );
    }

    #[test]
    fn node_ssh_ports_are_read_from_the_bindings() {
        let text = "web1 {\"22/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"2207\"}],\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}\n\
                    lb {\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8081\"}]}\n\
                     {\"22/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"2300\"}]}\n";
        let m = parse_node_ssh_ports(text);
        assert_eq!(m, BTreeMap::from([("web1".to_string(), 2207)]));
    }

    /// Recorded: a container left by a failed `up` keeps its port; `create`
    /// must not pick another for its node (labctl reaches it by that port).
    #[test]
    fn an_existing_container_keeps_its_port() {
        let r = crate::exec::Recorder::default();
        r.answer(
            "docker ps -aq --filter label=labctl.lab=testnodes",
            0,
            "abc\n",
        );
        r.answer(
            "docker inspect --format",
            0,
            "testnode1 {\"22/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"2950\"}]}\n",
        );
        let got = container_ssh_ports(&r, "testnodes").unwrap();
        assert_eq!(got.get("testnode1"), Some(&2950));
        let lab = crate::load::load("testnodes").unwrap().lab;
        let picked = pick_ssh_ports(&lab, &got, &Default::default(), 2200).unwrap();
        assert_eq!(picked["testnode1"], 2950);
    }

    /// Ports past the range are never handed out: the search stops with an
    /// error naming the range (it used to give 2999, 3000, ... unchecked).
    #[test]
    fn no_port_past_the_range() {
        let lab = crate::load::load("testnodes").unwrap().lab;
        let busy: std::collections::BTreeSet<u16> = (2990..3100).collect();
        let e = pick_ssh_ports(&lab, &BTreeMap::new(), &busy, 2990).unwrap_err();
        assert!(e.to_string().contains("no free SSH port left"), "{e}");
        assert!(e.to_string().contains("2990..2999"), "{e}");
    }

    #[test]
    fn fresh_leases_count_and_stale_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("127_0_0_1_2201"), "1\n").unwrap();
        std::fs::write(dir.path().join("2300"), "1\n").unwrap();
        let now = std::time::SystemTime::now();
        let mut fresh = fresh_leases(dir.path(), now);
        fresh.sort();
        assert_eq!(fresh, vec![2201, 2300]);
        let later = now + std::time::Duration::from_secs(61);
        assert!(fresh_leases(dir.path(), later).is_empty());
    }
}
