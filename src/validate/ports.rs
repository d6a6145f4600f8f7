//! Forwarded ports (host ports once in the lab, guest ports once per node)
//! and disk names per node.

use super::*;

/// Forwards and disks, node by node.
pub(super) fn forwards_and_disks(lab: &Lab, cx: &mut Ctx) {
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
}
