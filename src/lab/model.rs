//! The lab model: what a lab file means once parsed, with `count` expanded and
//! defaults applied. Spans are kept where semantic validation needs to point at a
//! value.

use crate::diag::Span;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// A value together with where it came from in the lab file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

#[derive(Debug, Clone)]
pub struct Lab {
    pub name: Sp<String>,
    pub description: String,
    /// The lab file this came from (or `<builtin>/NAME.toml` for shipped labs).
    pub file: PathBuf,
    /// Folder holding the lab file; user roles live in `DIR/provision/`.
    /// `None` for shipped labs.
    pub dir: Option<PathBuf>,
    pub network: Network,
    pub nodes: Vec<Node>,
    pub checks: Vec<Check>,
    pub scenarios: Vec<Scenario>,
    pub ratios: Vec<Ratio>,
    pub bench: BenchSettings,
    pub insecure: bool,
    pub allow_public_addresses: bool,
    /// Role variable name -> name of the host environment variable holding the
    /// secret. Values are read at provisioning time and never stored.
    pub secret_vars: BTreeMap<String, Sp<String>>,
    /// `[provider] kind`, when the lab file names where its machines come
    /// from: only existing machines (`hosts`) are written there; labctl's
    /// own machines get their provider on the command line.
    pub provider: Option<Sp<LabProvider>>,
}

/// The providers a lab file may name in `[provider] kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabProvider {
    /// Existing machines reached over SSH: nothing is created or destroyed.
    Hosts,
}

impl Lab {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The node names, comma-separated: what a message about an unknown node
    /// offers instead.
    pub fn node_list(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Nodes that carry `role`, in file order.
    pub fn nodes_with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.roles.iter().any(|r| r.value == role))
    }

    /// Every role named by some node, in first-seen order.
    pub fn roles(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in &self.nodes {
            for r in &n.roles {
                if !out.contains(&r.value) {
                    out.push(r.value.clone());
                }
            }
        }
        out
    }

    /// The name of a node's machine (container or VM), and the alias its SSH
    /// host key is recorded under: `labctl-LAB-NODE`.
    pub fn machine_name(&self, node: &str) -> String {
        format!("labctl-{}-{}", self.name.value, node)
    }

    /// The lab's nodes are existing machines (`[provider] kind = "hosts"`).
    pub fn on_hosts(&self) -> bool {
        self.provider.as_ref().map(|p| p.value) == Some(LabProvider::Hosts)
    }

    /// The Docker network (and libvirt/VirtualBox network name) labctl owns.
    pub fn network_name(&self) -> String {
        format!("labctl-{}", self.name.value)
    }
}

#[derive(Debug, Clone)]
pub struct Network {
    pub subnet: Sp<ipnet::Ipv4Net>,
    /// Link cap applied with tc on each node's lab interface, bits per second.
    pub bandwidth: Option<Sp<u64>>,
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Final name after `count` expansion (`web1`).
    pub name: String,
    /// The `[[node]]` table index in the file, and the index within its count.
    pub decl_index: usize,
    pub name_span: Span,
    pub ip: Ipv4Addr,
    pub ip_span: Span,
    pub box_name: String,
    pub memory_mib: u32,
    pub cpus: u32,
    pub boot_timeout_s: u32,
    pub roles: Vec<Sp<String>>,
    pub forward: Vec<Forward>,
    pub vars: BTreeMap<String, Sp<String>>,
    pub disks: Vec<Disk>,
    pub nested_containers: bool,
    pub bandwidth: Option<Sp<u64>>,
    /// How labctl reaches an existing machine (hosts labs only): its SSH
    /// address may differ from the lab address `ip` that traffic goes to.
    pub ssh: Option<NodeSsh>,
}

/// `ssh = { address, user, key, port }` of a node on a hosts lab.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSsh {
    /// Host name or address labctl connects to.
    pub address: String,
    pub user: String,
    /// The private key, `~` expanded.
    pub key: PathBuf,
    pub port: u16,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    pub guest: u16,
    pub host: u16,
    /// Host address the forwarded port binds to; 127.0.0.1 unless the lab says otherwise.
    pub host_ip: Ipv4Addr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    pub name: String,
    pub size_bytes: u64,
    pub span: Span,
}

impl Disk {
    pub fn size_mib(&self) -> u64 {
        self.size_bytes / (1024 * 1024)
    }
}

/// Where a check runs from (named so that it does not shadow `std::convert::From`
/// where the model is glob-imported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckFrom {
    Host,
    Node(String),
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub span: Span,
    pub timeout: Duration,
    pub interval: Duration,
    /// The check changes the lab (pushes a commit, runs a pull): it runs after
    /// every other check has finished, one at a time, so it cannot mask a fault
    /// the others should see.
    pub disruptive: bool,
    pub kind: CheckKind,
}

#[derive(Debug, Clone)]
pub enum CheckKind {
    /// HTTP GET; `spread` asserts `requests` requests reach every listed backend
    /// (the backend's name must appear in the body).
    Http {
        from: CheckFrom,
        url: String,
        status: u16,
        body: Option<String>,
        spread: Vec<Sp<String>>,
        requests: u32,
    },
    /// `node` listens on `port`; with `from`, the port is reachable from that node.
    Port {
        node: Sp<String>,
        port: u16,
        from: Option<Sp<String>>,
    },
    /// A shell command on a node: exit code and an optional stdout regex.
    Command {
        node: Sp<String>,
        run: String,
        exit: i32,
        stdout: Option<String>,
        /// Undoes what `run` changes on the node; run before and after the
        /// check on every way out (disruptive checks only).
        undo: Option<String>,
    },
    File {
        node: Sp<String>,
        path: String,
        contains: Option<String>,
    },
    Cron {
        node: Sp<String>,
        user: String,
        contains: Option<String>,
    },
    Service {
        node: Sp<String>,
        service: String,
    },
    Reach {
        from: Sp<String>,
        to: Sp<String>,
    },
    /// A block device of `size_bytes` exists on the node (optionally at `device`).
    Disk {
        node: Sp<String>,
        size_bytes: u64,
        device: Option<String>,
    },
}

impl CheckKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            CheckKind::Http { .. } => "http",
            CheckKind::Port { .. } => "port",
            CheckKind::Command { .. } => "command",
            CheckKind::File { .. } => "file",
            CheckKind::Cron { .. } => "cron",
            CheckKind::Service { .. } => "service",
            CheckKind::Reach { .. } => "reach",
            CheckKind::Disk { .. } => "disk",
        }
    }
}

/// How a bench endpoint runs iperf3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerMode {
    /// iperf3 directly on the node.
    None,
    /// In a container with `--net=host`.
    Host,
    /// In a container on the node's Docker bridge.
    Bridge,
}

/// Which address a client uses to reach a server endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressMode {
    /// The node's lab address (a published port for bridge containers).
    Node,
    /// The container's own bridge address.
    Container,
}

#[derive(Debug, Clone)]
pub struct BenchEndpoint {
    pub node: Sp<String>,
    pub container: ContainerMode,
    pub address: AddressMode,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: Sp<String>,
    pub description: String,
    pub baseline: bool,
    pub client: BenchEndpoint,
    pub server: BenchEndpoint,
    pub duration_s: u32,
    pub omit_s: u32,
    pub parallel: u32,
}

/// What a ratio is taken against.
#[derive(Debug, Clone, PartialEq)]
pub enum RatioOf {
    /// The baseline scenario, per round.
    Baseline,
    /// The configured link rate (`[network] bandwidth`).
    Rate,
}

#[derive(Debug, Clone)]
pub struct Ratio {
    pub name: String,
    pub scenario: Sp<String>,
    pub of: RatioOf,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct BenchSettings {
    pub rounds: u32,
}

impl Default for BenchSettings {
    fn default() -> Self {
        BenchSettings { rounds: 5 }
    }
}
