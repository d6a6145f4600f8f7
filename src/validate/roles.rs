//! Roles: each exists and is listed once per node, `after` constraints can be
//! met, and the ordering has no cycle.

use super::*;

/// Roles and their ordering.
pub(super) fn roles(lab: &Lab, roles: &RoleSet, cx: &mut Ctx) {
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
}
