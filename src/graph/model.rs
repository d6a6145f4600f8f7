//! What a picture of a lab shows, taken from the lab and its roles once, so
//! the three formats cannot disagree: nodes (address, roles, forwarded host
//! ports), the lab network, the ordering barriers across nodes (from the same
//! provisioning plan `up` runs) and every check and bench scenario as a path
//! from where it runs to what it probes.

use crate::lab::target::{allowed, Allowed, Url};
use crate::lab::{CheckFrom, CheckKind, Lab};
use crate::plan::{self, TaskId};
use crate::roles::RoleSet;
use regex::Regex;
use std::net::Ipv4Addr;
use std::sync::LazyLock;

/// One end of a path: the host labctl runs on, or a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum End {
    Host,
    Node(String),
}

impl End {
    /// The name the formats use for this end (`host` is not a valid node
    /// name clash: node names are hostnames, and the host is drawn apart).
    pub fn name(&self) -> &str {
        match self {
            End::Host => "host",
            End::Node(n) => n,
        }
    }
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    pub name: String,
    pub ip: Ipv4Addr,
    pub roles: Vec<String>,
}

/// A guest port of a node forwarded to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct PortForward {
    pub node: String,
    pub host_ip: Ipv4Addr,
    pub host: u16,
    pub guest: u16,
}

impl PortForward {
    /// `127.0.0.1:18080 -> 8080`
    pub fn label(&self) -> String {
        format!("{}:{} -> {}", self.host_ip, self.host, self.guest)
    }
}

/// `waits` starts only after `first` has finished on another node.
#[derive(Debug, Clone, PartialEq)]
pub struct Barrier {
    pub first: TaskId,
    pub waits: TaskId,
}

/// What a path stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A `[[check]]`; the string is its kind (http, port, ...).
    Check(&'static str),
    /// A bench scenario: iperf3 from its client to its server.
    Bench,
}

/// A check or bench scenario, from where it runs to what it probes. Checks
/// that look only at their own node have `from == to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub name: String,
    pub kind: PathKind,
    pub from: End,
    pub to: End,
}

impl Path {
    pub fn is_local(&self) -> bool {
        self.from == self.to
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub lab: String,
    pub description: String,
    /// The network labctl owns for the lab (`labctl-NAME`).
    pub network: String,
    pub subnet: ipnet::Ipv4Net,
    /// `[network] bandwidth`, bits per second.
    pub bandwidth: Option<u64>,
    pub nodes: Vec<GraphNode>,
    pub forwards: Vec<PortForward>,
    pub barriers: Vec<Barrier>,
    pub paths: Vec<Path>,
}

static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b").unwrap());

impl Graph {
    pub fn build(lab: &Lab, roles: &RoleSet) -> Graph {
        let nodes = lab
            .nodes
            .iter()
            .map(|n| GraphNode {
                name: n.name.clone(),
                ip: n.ip,
                roles: n.roles.iter().map(|r| r.value.clone()).collect(),
            })
            .collect();
        let forwards = lab
            .nodes
            .iter()
            .flat_map(|n| {
                n.forward.iter().map(|f| PortForward {
                    node: n.name.clone(),
                    host_ip: f.host_ip,
                    host: f.host,
                    guest: f.guest,
                })
            })
            .collect();
        // The barriers are the plan's own dependencies that cross nodes: what
        // `up` waits for, not a second reading of role.toml.
        let p = plan::build(lab, roles);
        let barriers = p
            .tasks
            .iter()
            .flat_map(|t| {
                p.deps[t]
                    .iter()
                    .filter(|d| d.node != t.node)
                    .map(|d| Barrier {
                        first: d.clone(),
                        waits: t.clone(),
                    })
            })
            .collect();
        let mut paths: Vec<Path> = lab
            .checks
            .iter()
            .map(|c| {
                let (from, to) = check_ends(lab, &c.kind);
                Path {
                    name: c.name.clone(),
                    kind: PathKind::Check(c.kind.kind_name()),
                    from,
                    to,
                }
            })
            .collect();
        paths.extend(lab.scenarios.iter().map(|s| Path {
            name: s.name.value.clone(),
            kind: PathKind::Bench,
            from: End::Node(s.client.node.value.clone()),
            to: End::Node(s.server.node.value.clone()),
        }));
        Graph {
            lab: lab.name.value.clone(),
            description: lab.description.clone(),
            network: lab.network_name(),
            subnet: lab.network.subnet.value,
            bandwidth: lab.network.bandwidth.as_ref().map(|b| b.value),
            nodes,
            forwards,
            barriers,
            paths,
        }
    }

    /// `network labctl-NAME 192.168.57.0/24` and the link rate when shaped.
    pub fn network_label(&self) -> String {
        let mut s = format!("network {} {}", self.network, self.subnet);
        if let Some(b) = self.bandwidth {
            s.push_str(&format!(
                ", links shaped to {}",
                crate::lab::units::tc_rate(b)
            ));
        }
        s
    }

    /// Does any path start or end on the host?
    pub fn uses_host(&self) -> bool {
        !self.forwards.is_empty()
            || self
                .paths
                .iter()
                .any(|p| p.from == End::Host || p.to == End::Host)
    }

    pub fn forwards_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a PortForward> + 'a {
        self.forwards.iter().filter(move |f| f.node == node)
    }

    /// Checks and scenarios that stay on `node`.
    pub fn local_paths<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Path> + 'a {
        self.paths
            .iter()
            .filter(move |p| p.is_local() && p.from.name() == node)
    }

    /// Checks and scenarios that go from one place to another.
    pub fn crossing_paths(&self) -> impl Iterator<Item = &Path> + '_ {
        self.paths.iter().filter(|p| !p.is_local())
    }
}

/// Where a check runs and what it probes. An HTTP check probes the node its
/// URL names (by address, name, or a forwarded loopback port); a command
/// check that names another node's address probes that node.
fn check_ends(lab: &Lab, kind: &CheckKind) -> (End, End) {
    let node = |n: &str| End::Node(n.to_string());
    match kind {
        CheckKind::Http { from, url, .. } => {
            let start = match from {
                CheckFrom::Host => End::Host,
                CheckFrom::Node(n) => node(n),
            };
            let to = Url::parse(url)
                .and_then(|u| match allowed(lab, from, &u).ok()? {
                    Allowed::Node(n) => Some(node(&n.name)),
                    Allowed::Localhost => Some(start.clone()),
                    Allowed::Address(ip) if ip.is_loopback() => match from {
                        CheckFrom::Host => lab
                            .nodes
                            .iter()
                            .find(|n| n.forward.iter().any(|f| Some(f.host) == u.port))
                            .map(|n| node(&n.name)),
                        CheckFrom::Node(_) => Some(start.clone()),
                    },
                    Allowed::Address(ip) => {
                        lab.nodes.iter().find(|n| n.ip == ip).map(|n| node(&n.name))
                    }
                })
                .unwrap_or_else(|| start.clone());
            (start, to)
        }
        CheckKind::Port { node: n, from, .. } => (
            node(from.as_ref().map(|f| f.value.as_str()).unwrap_or(n)),
            node(n),
        ),
        CheckKind::Command { node: n, run, .. } => {
            let to = IPV4
                .captures_iter(run)
                .filter_map(|c| c[1].parse::<Ipv4Addr>().ok())
                .find_map(|ip| lab.nodes.iter().find(|m| m.ip == ip && m.name != n.value))
                .map(|m| node(&m.name))
                .unwrap_or_else(|| node(n));
            (node(n), to)
        }
        CheckKind::Reach { from, to } => (node(from), node(to)),
        CheckKind::File { node: n, .. }
        | CheckKind::Cron { node: n, .. }
        | CheckKind::Service { node: n, .. }
        | CheckKind::Disk { node: n, .. } => (node(n), node(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(name: &str) -> Graph {
        let l = crate::load::load(name).unwrap();
        Graph::build(&l.lab, &l.roles)
    }

    #[test]
    fn workflow_paths_name_what_each_check_probes() {
        let g = graph("workflow");
        let ends = |name: &str| {
            let p = g.paths.iter().find(|p| p.name == name).unwrap();
            (p.from.to_string(), p.to.to_string())
        };
        // By address, through the forwarded loopback port, by a command's URL.
        assert_eq!(ends("web1 serves its page"), ("mgmt".into(), "web1".into()));
        assert_eq!(
            ends("lb port forwarded to the host"),
            ("host".into(), "lb".into())
        );
        assert_eq!(
            ends("configuration repositories clone anonymously"),
            ("web1".into(), "gitlab".into())
        );
        assert_eq!(
            ends("haproxy listens on 8080"),
            ("mgmt".into(), "lb".into())
        );
        assert_eq!(ends("haproxy running"), ("lb".into(), "lb".into()));
    }

    #[test]
    fn barriers_are_the_plans_cross_node_dependencies() {
        let g = graph("workflow");
        let has = |first: &str, waits: &str| {
            g.barriers
                .iter()
                .any(|b| b.first.to_string() == first && b.waits.to_string() == waits)
        };
        assert!(has("mgmt:ansible-mgmt", "gitlab:managed"));
        assert!(has("web2:managed", "mgmt:ansible-push"));
        assert!(has("mgmt:ansible-push", "web1:ansible-pull"));
        // A node's own role order is not a barrier.
        assert!(!g.barriers.iter().any(|b| b.first.node == b.waits.node));
    }
}
