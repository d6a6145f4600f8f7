//! Semantic validation: rules that relate values to each other. Each problem is a
//! diagnostic pointing at the offending value; nothing stops at the first one.

use crate::diag::{Diagnostic, Span};
use crate::lab::model::*;
use crate::lab::reader::Ctx;
use crate::roles::{After, RoleSet};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// VirtualBox's default allowed host-only range (VirtualBox 6.1.28+ refuses others
/// unless /etc/vbox/networks.conf says so).
pub fn virtualbox_range() -> Ipv4Net {
    "192.168.56.0/21".parse().unwrap()
}

fn is_private(net: &Ipv4Net) -> bool {
    let private: [Ipv4Net; 4] = [
        "10.0.0.0/8".parse().unwrap(),
        "172.16.0.0/12".parse().unwrap(),
        "192.168.0.0/16".parse().unwrap(),
        "100.64.0.0/10".parse().unwrap(),
    ];
    private.iter().any(|p| p.contains(net))
}

pub fn validate(lab: &Lab, roles: &RoleSet, cx: &mut Ctx) {
    let first_new = cx.diags.len();
    validate_all(lab, roles, cx);
    // The copies of a `count` node, and nodes sharing a [defaults] value, would
    // report one mistake once per node: keep one diagnostic per place and message.
    let mut seen = BTreeSet::new();
    let found = cx.diags.split_off(first_new);
    cx.diags.extend(
        found
            .into_iter()
            .filter(|d| seen.insert((d.span, d.message.clone(), d.is_error()))),
    );
}

fn validate_all(lab: &Lab, roles: &RoleSet, cx: &mut Ctx) {
    let subnet = lab.network.subnet.value;
    let sspan = lab.network.subnet.span;

    // Not host-to-guest networks at all, whatever allow_public_addresses says.
    let special: [(&str, &str); 5] = [
        ("0.0.0.0/8", "\"this network\""),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    ];
    if let Some((_, what)) = special
        .iter()
        .find(|(net, _)| net.parse::<Ipv4Net>().unwrap().contains(&subnet.network()))
    {
        cx.push(
            Diagnostic::error(
                "network.subnet",
                Some(sspan),
                format!("{subnet} is {what} address space"),
            )
            .expected("a private subnet (10/8, 172.16/12, 192.168/16)"),
        );
    } else if !lab.allow_public_addresses && !is_private(&subnet) {
        cx.push(
            Diagnostic::error(
                "network.subnet",
                Some(sspan),
                format!("{subnet} is public address space"),
            )
            .expected("a private subnet (10/8, 172.16/12, 192.168/16)")
            .hint("set allow_public_addresses = true if you really own this range"),
        );
    } else if is_private(&subnet) && !virtualbox_range().contains(&subnet) {
        cx.push(
            Diagnostic::warning("network.subnet", Some(sspan), format!("{subnet} is outside VirtualBox's default host-only range 192.168.56.0/21"))
                .hint("the virtualbox provider will refuse it unless /etc/vbox/networks.conf allows it; docker and libvirt are fine"),
        );
    }
    if lab.network.bandwidth.is_some() || lab.nodes.iter().any(|n| n.bandwidth.is_some()) {
        // nothing further: shaping is applied per node on its lab interface.
    }

    // Node names and addresses, after `count` expansion.
    let gateway = Ipv4Addr::from(u32::from(subnet.network()) + 1);
    let mut names: BTreeMap<&str, &Node> = BTreeMap::new();
    let mut ips: BTreeMap<Ipv4Addr, &Node> = BTreeMap::new();
    let mut reported_decl_ip: BTreeSet<usize> = BTreeSet::new();
    for (idx, n) in lab.nodes.iter().enumerate() {
        let key = format!("node[{}]", n.decl_index);
        if let Some(prev) = names.get(n.name.as_str()) {
            cx.push(
                Diagnostic::error(
                    format!("{key}.name"),
                    Some(n.name_span),
                    format!("duplicate node name `{}`", n.name),
                )
                .expected("node names unique after count expansion")
                .hint(format!(
                    "`{}` is also defined by node[{}]",
                    n.name, prev.decl_index
                )),
            );
        } else {
            names.insert(&n.name, n);
        }
        // `count` appends digits: a 63-character name is valid, `name12` is not.
        // (A base name that is invalid itself was reported while parsing.)
        if n.name.len() > 63 && !cx.diags.iter().any(|d| d.key == format!("{key}.name")) {
            cx.push(
                Diagnostic::error(format!("{key}.name"), Some(n.name_span), format!("`{}` is {} characters long after count expansion", n.name, n.name.len()))
                    .expected("a hostname label of at most 63 characters, counting the digits `count` appends"),
            );
        }
        let first_of_decl = idx == 0 || lab.nodes[idx - 1].decl_index != n.decl_index;
        if !subnet.contains(&n.ip) {
            if reported_decl_ip.insert(n.decl_index) {
                let msg = if first_of_decl {
                    format!("{} is outside the lab subnet {subnet}", n.ip)
                } else {
                    format!(
                        "count runs past the subnet: `{}` would get {}",
                        n.name, n.ip
                    )
                };
                cx.push(
                    Diagnostic::error(format!("{key}.ip"), Some(n.ip_span), msg)
                        .expected(format!("an address inside {subnet}")),
                );
            }
            continue;
        }
        if n.ip == subnet.network() || n.ip == subnet.broadcast() {
            if reported_decl_ip.insert(n.decl_index) {
                let what = if n.ip == subnet.network() {
                    "network"
                } else {
                    "broadcast"
                };
                let msg = if first_of_decl {
                    format!("{} is the {what} address of {subnet}", n.ip)
                } else {
                    format!(
                        "count runs past the subnet: `{}` would get the {what} address {}",
                        n.name, n.ip
                    )
                };
                cx.push(
                    Diagnostic::error(format!("{key}.ip"), Some(n.ip_span), msg)
                        .expected("a host address"),
                );
            }
            continue;
        }
        if n.ip == gateway && reported_decl_ip.insert(n.decl_index) {
            cx.push(
                Diagnostic::error(format!("{key}.ip"), Some(n.ip_span), format!("{} is the first address of {subnet}, reserved for the host side", n.ip))
                    .expected(format!("an address from {} up", Ipv4Addr::from(u32::from(gateway) + 1)))
                    .hint("Docker networks, VirtualBox host-only adapters and libvirt networks put the host there"),
            );
            continue;
        }
        if let Some(prev) = ips.get(&n.ip) {
            if reported_decl_ip.insert(n.decl_index) {
                cx.push(
                    Diagnostic::error(
                        format!("{key}.ip"),
                        Some(n.ip_span),
                        format!(
                            "duplicate address {} (`{}` and `{}`)",
                            n.ip, prev.name, n.name
                        ),
                    )
                    .expected("one address per node"),
                );
            }
        } else {
            ips.insert(n.ip, n);
        }
    }

    // Host ports must be unique across the lab; guest ports per node.
    let mut host_ports: BTreeMap<(Ipv4Addr, u16), &str> = BTreeMap::new();
    let mut reported_fw: BTreeSet<(usize, Span)> = BTreeSet::new();
    for n in &lab.nodes {
        let mut guests = BTreeSet::new();
        for f in &n.forward {
            let key = format!("node[{}].forward", n.decl_index);
            let clash = host_ports.iter().find(|((ip, p), _)| {
                *p == f.host
                    && (*ip == f.host_ip || ip.is_unspecified() || f.host_ip.is_unspecified())
            });
            if let Some((_, other)) = clash {
                if reported_fw.insert((n.decl_index, f.span)) {
                    cx.push(
                        Diagnostic::error(
                            key.clone(),
                            Some(f.span),
                            format!(
                                "host port {} is forwarded twice (`{other}` and `{}`)",
                                f.host, n.name
                            ),
                        )
                        .expected("a host port used once in the lab")
                        .hint("with `count`, one forwarded host port would be bound by every copy"),
                    );
                }
            } else {
                host_ports.insert((f.host_ip, f.host), &n.name);
            }
            if !guests.insert(f.guest) && reported_fw.insert((n.decl_index, f.span)) {
                cx.push(
                    Diagnostic::error(
                        key.clone(),
                        Some(f.span),
                        format!("guest port {} is forwarded twice", f.guest),
                    )
                    .expected("one forward per guest port"),
                );
            }
            if f.host < 1024 {
                cx.push(Diagnostic::warning(
                    key.clone(),
                    Some(f.span),
                    format!("host port {} needs root to bind", f.host),
                ));
            }
            if !f.host_ip.is_loopback() && !lab.insecure {
                cx.push(
                    Diagnostic::warning(
                        key,
                        Some(f.span),
                        format!(
                            "host port {} is exposed on {}, not only on 127.0.0.1",
                            f.host, f.host_ip
                        ),
                    )
                    .hint("other machines on your network can reach it"),
                );
            }
        }
        let mut disk_names = BTreeSet::new();
        for d in &n.disks {
            if !disk_names.insert(d.name.as_str()) {
                cx.push(
                    Diagnostic::error(
                        format!("node[{}].disks", n.decl_index),
                        Some(d.span),
                        format!("duplicate disk name `{}`", d.name),
                    )
                    .expected("unique disk names per node"),
                );
            }
        }
    }

    // Roles exist, and their `after` constraints can be met.
    let mut seen_role_err = BTreeSet::new();
    let role_errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
    for n in &lab.nodes {
        let mut node_roles = BTreeSet::new();
        for r in &n.roles {
            if !node_roles.insert(r.value.as_str()) {
                cx.push(
                    Diagnostic::error(
                        format!("node[{}].roles", n.decl_index),
                        Some(r.span),
                        format!("role `{}` listed twice", r.value),
                    )
                    .expected("each role once per node"),
                );
                continue;
            }
            let Some(role) = roles.get(&r.value) else {
                if seen_role_err.insert(r.span) {
                    let known: Vec<&str> = roles.roles.keys().map(|s| s.as_str()).collect();
                    cx.push(
                        Diagnostic::error(
                            format!("node[{}].roles", n.decl_index),
                            Some(r.span),
                            format!("unknown role `{}`", r.value),
                        )
                        .expected("a role under provision/ (shipped or beside the lab file)")
                        .hint(format!("known roles: {}", known.join(", "))),
                    );
                }
                continue;
            };
            for (a, _) in &role.meta.after {
                match a {
                    After::Node(node, role_name) => {
                        let ok = lab
                            .node(node)
                            .is_some_and(|other| other.roles.iter().any(|x| &x.value == role_name));
                        if !ok && seen_role_err.insert(r.span) {
                            cx.push(
                                Diagnostic::error(
                                    format!("node[{}].roles", n.decl_index),
                                    Some(r.span),
                                    format!(
                                        "role `{}` waits for `{a}`, which this lab does not have",
                                        r.value
                                    ),
                                )
                                .expected(format!("a node `{node}` with role `{role_name}`")),
                            );
                        }
                    }
                    After::All(role_name) => {
                        if lab.nodes_with_role(role_name).next().is_none()
                            && seen_role_err.insert(r.span)
                        {
                            cx.push(
                                Diagnostic::error(format!("node[{}].roles", n.decl_index), Some(r.span), format!("role `{}` waits for `{a}`, but no node has role `{role_name}`", r.value))
                                    .expected(format!("some node with role `{role_name}`")),
                            );
                        }
                    }
                    After::Local(_) => {}
                }
            }
        }
    }
    // A role listed twice or unknown makes a meaningless plan; report those alone.
    let role_errors = cx.diags.iter().filter(|d| d.is_error()).count() > role_errors_before;
    if let Some(cycle) = (!role_errors)
        .then(|| crate::plan::find_cycle(lab, roles))
        .flatten()
    {
        // Point at the first role of the cycle (`node:role -> ...`).
        let first = cycle.split(" -> ").next().and_then(|t| t.split_once(':'));
        let at = first.and_then(|(node, role)| {
            let n = lab.node(node)?;
            Some((n.decl_index, n.roles.iter().find(|r| r.value == role)?.span))
        });
        let (key, span) = match at {
            Some((i, span)) => (format!("node[{i}].roles"), Some(span)),
            None => ("node".to_string(), None),
        };
        cx.push(
            Diagnostic::error(key, span, format!("role ordering has a cycle: {cycle}"))
                .expected("`after` constraints without cycles")
                .hint("a node runs its roles in the order listed, and each role after the roles its role.toml `after` names"),
        );
    }

    // References from checks.
    let node_exists = |s: &Sp<String>, key: String, cx: &mut Ctx| {
        if lab.node(&s.value).is_none() {
            cx.push(
                Diagnostic::error(key, Some(s.span), format!("unknown node `{}`", s.value))
                    .expected(format!(
                        "one of: {}",
                        lab.nodes
                            .iter()
                            .map(|n| n.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
        }
    };
    let mut check_names = BTreeMap::new();
    for (i, c) in lab.checks.iter().enumerate() {
        let key = format!("check[{i}]");
        if let Some(prev) = check_names.insert(c.name.clone(), i) {
            cx.push(
                Diagnostic::error(
                    format!("{key}.name"),
                    Some(c.span),
                    format!("duplicate check name `{}` (also check[{prev}])", c.name),
                )
                .expected("unique check names"),
            );
        }
        match &c.kind {
            CheckKind::Http {
                from, url, spread, ..
            } => {
                if let CheckFrom::Node(f) = from {
                    if lab.node(f).is_none() {
                        cx.push(
                            Diagnostic::error(
                                format!("{key}.from"),
                                Some(c.span),
                                format!("unknown node `{f}`"),
                            )
                            .expected("\"host\" or a node of this lab"),
                        );
                    }
                }
                for (j, s) in spread.iter().enumerate() {
                    node_exists(s, format!("{key}.spread[{j}]"), cx);
                }
                check_url_target(lab, from, url, &key, c.span, cx);
            }
            CheckKind::Port { node, from, .. } => {
                node_exists(node, format!("{key}.node"), cx);
                if let Some(f) = from {
                    node_exists(f, format!("{key}.from"), cx);
                }
            }
            CheckKind::Command { node, .. }
            | CheckKind::File { node, .. }
            | CheckKind::Cron { node, .. }
            | CheckKind::Service { node, .. } => node_exists(node, format!("{key}.node"), cx),
            CheckKind::Disk {
                node, size_bytes, ..
            } => {
                node_exists(node, format!("{key}.node"), cx);
                if let Some(n) = lab.node(&node.value) {
                    if !n.disks.iter().any(|d| d.size_bytes == *size_bytes) {
                        cx.push(Diagnostic::warning(
                            format!("{key}.size"),
                            Some(c.span),
                            format!("node `{}` declares no disk of this size", n.name),
                        ));
                    }
                }
            }
            CheckKind::Reach { from, to } => {
                node_exists(from, format!("{key}.from"), cx);
                node_exists(to, format!("{key}.to"), cx);
            }
        }
    }

    // Bench scenarios and ratios.
    let mut scen_names = BTreeSet::new();
    let baselines: Vec<&Scenario> = lab.scenarios.iter().filter(|s| s.baseline).collect();
    for (i, s) in lab.scenarios.iter().enumerate() {
        let key = format!("scenario[{i}]");
        if !scen_names.insert(s.name.value.as_str()) {
            cx.push(
                Diagnostic::error(
                    format!("{key}.name"),
                    Some(s.name.span),
                    format!("duplicate scenario `{}`", s.name.value),
                )
                .expected("unique scenario names"),
            );
        }
        node_exists(&s.client.node, format!("{key}.client.node"), cx);
        node_exists(&s.server.node, format!("{key}.server.node"), cx);
        for (ep, which) in [(&s.client, "client"), (&s.server, "server")] {
            if ep.container != ContainerMode::None {
                if let Some(n) = lab.node(&ep.node.value) {
                    if !n.nested_containers {
                        cx.push(
                            Diagnostic::error(
                                format!("{key}.{which}.node"),
                                Some(ep.node.span),
                                format!("node `{}` runs no containers", n.name),
                            )
                            .expected("a node with nested_containers = true"),
                        );
                    }
                }
            }
        }
        // omit < duration is checked while parsing, where both values' spans are known.
    }
    if !lab.scenarios.is_empty() && baselines.len() != 1 {
        let span = baselines
            .get(1)
            .map(|b| b.name.span)
            .or(lab.scenarios.first().map(|s| s.name.span));
        cx.push(
            Diagnostic::error(
                "scenario",
                span,
                format!("{} scenarios are marked baseline = true", baselines.len()),
            )
            .expected("exactly one baseline scenario"),
        );
    }
    for (i, r) in lab.ratios.iter().enumerate() {
        let key = format!("ratio[{i}]");
        if !scen_names.contains(r.scenario.value.as_str()) {
            cx.push(
                Diagnostic::error(
                    format!("{key}.scenario"),
                    Some(r.scenario.span),
                    format!("unknown scenario `{}`", r.scenario.value),
                )
                .expected(format!(
                    "one of: {}",
                    lab.scenarios
                        .iter()
                        .map(|s| s.name.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
        // `of = "rate"` without a [network] bandwidth is reported while parsing, at the value.
    }
}

/// Checks may only target lab addresses (or loopback ports the lab forwards), so
/// no test traffic ever leaves for an address outside the lab.
fn check_url_target(lab: &Lab, from: &CheckFrom, url: &str, key: &str, span: Span, cx: &mut Ctx) {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or("");
    let hostport = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => hostport,
    };
    let ok = match host.parse::<Ipv4Addr>() {
        Ok(ip) if ip.is_loopback() => match from {
            CheckFrom::Host => {
                let port: Option<u16> = hostport.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
                lab.nodes
                    .iter()
                    .any(|n| n.forward.iter().any(|f| Some(f.host) == port))
            }
            CheckFrom::Node(_) => true,
        },
        Ok(ip) => lab.network.subnet.value.contains(&ip),
        Err(_) => {
            host == "localhost" && matches!(from, CheckFrom::Node(_)) || lab.node(host).is_some()
        }
    };
    if !ok {
        cx.push(
            Diagnostic::error(
                format!("{key}.url"),
                Some(span),
                format!("URL host `{host}` is not an address of this lab"),
            )
            .expected(format!(
                "a node name, an address in {}, or 127.0.0.1 with a forwarded port",
                lab.network.subnet.value
            ))
            .hint("checks only send traffic to the lab's own addresses"),
        );
    }
}
