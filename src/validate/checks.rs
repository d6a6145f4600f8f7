//! References from checks: nodes that exist, unique names, and HTTP targets
//! that are the lab's own addresses.

use super::*;
use crate::lab::target::{self, Url};

/// Every check's references.
pub(super) fn checks(lab: &Lab, cx: &mut Ctx) {
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
                    node_exists(lab, s, format!("{key}.spread[{j}]"), cx);
                }
                check_url_target(lab, from, url, &key, c.span, cx);
            }
            CheckKind::Port { node, from, .. } => {
                node_exists(lab, node, format!("{key}.node"), cx);
                if let Some(f) = from {
                    node_exists(lab, f, format!("{key}.from"), cx);
                }
            }
            CheckKind::Command { node, undo, .. } => {
                node_exists(lab, node, format!("{key}.node"), cx);
                if undo.is_some() && !c.disruptive {
                    cx.push(
                        Diagnostic::error(
                            format!("{key}.undo"),
                            Some(c.span),
                            "a check with `undo` changes its node, so it must run apart from the checks that observe it",
                        )
                        .expected("disruptive = true"),
                    );
                }
            }
            CheckKind::File { node, .. }
            | CheckKind::Cron { node, .. }
            | CheckKind::Service { node, .. } => node_exists(lab, node, format!("{key}.node"), cx),
            CheckKind::Disk {
                node, size_bytes, ..
            } => {
                node_exists(lab, node, format!("{key}.node"), cx);
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
                node_exists(lab, from, format!("{key}.from"), cx);
                node_exists(lab, to, format!("{key}.to"), cx);
            }
        }
    }
}

/// Checks may only target lab addresses (or loopback ports the lab forwards), so
/// no test traffic ever leaves for an address outside the lab.
fn check_url_target(lab: &Lab, from: &CheckFrom, url: &str, key: &str, span: Span, cx: &mut Ctx) {
    let (ok, host) = match Url::parse(url) {
        Some(u) => (target::allowed(lab, from, &u).is_ok(), u.host),
        // Not a URL the policy understands: named by its authority.
        None => {
            let rest = url.split_once("://").map(|x| x.1).unwrap_or("");
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            (false, authority.to_string())
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
