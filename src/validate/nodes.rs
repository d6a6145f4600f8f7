//! Node names and addresses after `count` expansion: unique, valid, host
//! addresses inside the subnet, not the host side's first address.

use super::*;

/// Node names and addresses.
pub(super) fn names_and_addresses(lab: &Lab, cx: &mut Ctx) {
    let subnet = lab.network.subnet.value;
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
        // Alike on purpose (duplicates): each address rule reports once per
        // declaration, in its own words.
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
}
