//! Labs of existing machines (`[provider] kind = "hosts"`): every node says how
//! it is reached over SSH, nothing asks labctl to make something it could not
//! remove again (forwarded ports, disks, link shaping), and every role can be
//! undone (the undo contract, docs/hosts.md: the role ships `undo.sh`).
//! Other labs must not carry `ssh`.

use super::*;

pub(super) fn hosts(lab: &Lab, roles: &RoleSet, cx: &mut Ctx) {
    // A `[provider]` or `ssh` written but refused while parsing is reported
    // there once, not again as missing.
    let reported = |cx: &Ctx, key: &str| cx.diags.iter().any(|d| d.key.starts_with(key));
    if !lab.on_hosts() {
        if reported(cx, "provider") {
            return;
        }
        for n in &lab.nodes {
            if let Some(s) = &n.ssh {
                cx.push(
                    Diagnostic::error(
                        format!("node[{}].ssh", n.decl_index),
                        Some(s.span),
                        "`ssh` is for existing machines",
                    )
                    .expected("[provider] kind = \"hosts\", or no `ssh` (labctl reaches the machines it makes by itself)"),
                );
            }
        }
        return;
    }
    let made = "labctl makes nothing on existing machines it could not remove again";
    if let Some(bw) = &lab.network.bandwidth {
        cx.push(
            Diagnostic::error(
                "network.bandwidth",
                Some(bw.span),
                "link shaping is not built for hosts labs yet",
            )
            .expected("no `bandwidth` on a hosts lab")
            .hint(made),
        );
    }
    let mut undoable_reported = BTreeSet::new();
    for n in &lab.nodes {
        let key = format!("node[{}]", n.decl_index);
        if n.ssh.is_none() && !reported(cx, &format!("{key}.ssh")) {
            cx.push(
                Diagnostic::error(
                    key.clone(),
                    Some(n.name_span),
                    format!("node `{}` of a hosts lab needs `ssh`", n.name),
                )
                .expected(
                    "ssh = { address = \"10.0.0.89\", user = \"admin\", key = \"~/.ssh/lab\" }",
                ),
            );
        }
        for (what, span) in n
            .forward
            .iter()
            .map(|f| ("forwarded ports", f.span))
            .chain(n.disks.iter().map(|d| ("extra disks", d.span)))
            .chain(n.bandwidth.iter().map(|b| ("link shaping", b.span)))
        {
            cx.push(
                Diagnostic::error(
                    key.clone(),
                    Some(span),
                    format!("{what} are not made on existing machines"),
                )
                .expected(format!("no {what} on a hosts lab"))
                .hint(made),
            );
        }
        for r in &n.roles {
            let Some(role) = roles.get(&r.value) else {
                continue; // unknown roles are reported by roles.rs
            };
            if role.undo_script().is_none() && undoable_reported.insert(r.span) {
                cx.push(
                    Diagnostic::error(
                        format!("{key}.roles"),
                        Some(r.span),
                        format!(
                            "role `{}` cannot be undone: it has no undo.sh",
                            r.value
                        ),
                    )
                    .expected("roles that ship undo.sh beside provision.sh on a hosts lab")
                    .hint("`labctl down` must leave existing machines as they were (docs/hosts.md: the undo contract)"),
                );
            }
        }
    }
}
