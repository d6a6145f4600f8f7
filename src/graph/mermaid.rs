//! Mermaid flowchart (for Markdown pages on GitHub and GitLab): the lab
//! network as a subgraph holding one subgraph per node (address in its title,
//! one box per role, forwarded ports and the checks that stay on the node),
//! barriers as dotted arrows between role boxes, forwarded ports and crossing
//! checks and bench paths as labelled arrows.

use super::model::{End, Graph, PathKind};
use std::fmt::Write;

/// A Mermaid id: letters, digits and `_` only.
fn id(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("__")
}

/// A quoted Mermaid label (quotes and angle brackets as entity codes).
fn label(s: &str) -> String {
    let esc = s
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;");
    format!("\"{esc}\"")
}

fn end_id(e: &End) -> String {
    match e {
        End::Host => "host".into(),
        End::Node(n) => id(&["n", n]),
    }
}

pub fn render(g: &Graph) -> String {
    let mut o = String::new();
    o.push_str("flowchart LR\n");
    if g.uses_host() {
        o.push_str("  host([\"host (labctl)\"])\n");
    }
    let _ = writeln!(o, "  subgraph network[{}]", label(&g.network_label()));
    for n in &g.nodes {
        let nid = id(&["n", &n.name]);
        let _ = writeln!(
            o,
            "    subgraph {nid}[{}]",
            label(&format!("{} {}", n.name, n.ip))
        );
        o.push_str("      direction TB\n");
        for r in &n.roles {
            let _ = writeln!(
                o,
                "      {}[{}]",
                id(&["r", &n.name, r]),
                label(&format!("role {r}"))
            );
        }
        for f in g.forwards_of(&n.name) {
            let _ = writeln!(
                o,
                "      {}[/{}/]",
                id(&["f", &n.name, &f.host.to_string()]),
                label(&format!("forward {}", f.label()))
            );
        }
        let local: Vec<String> = g
            .local_paths(&n.name)
            .map(|p| match p.kind {
                PathKind::Check(k) => format!("check ({k}) {}", p.name),
                PathKind::Bench => format!("bench {}", p.name),
            })
            .collect();
        if !local.is_empty() {
            let _ = writeln!(
                o,
                "      {}[{}]",
                id(&["c", &n.name]),
                label(&local.join("<br/>")).replace("#lt;br/#gt;", "<br/>")
            );
        }
        if n.roles.is_empty() && local.is_empty() && g.forwards_of(&n.name).next().is_none() {
            let _ = writeln!(o, "      {}[\"no roles\"]", id(&["e", &n.name]));
        }
        o.push_str("    end\n");
    }
    o.push_str("  end\n");
    for f in &g.forwards {
        let _ = writeln!(
            o,
            "  host -->|{}| {}",
            label(&f.label()),
            id(&["f", &f.node, &f.host.to_string()])
        );
    }
    for b in &g.barriers {
        let _ = writeln!(
            o,
            "  {} -.-> {}",
            id(&["r", &b.first.node, &b.first.role]),
            id(&["r", &b.waits.node, &b.waits.role])
        );
    }
    for p in g.crossing_paths() {
        let text = match p.kind {
            PathKind::Check(k) => format!("{} ({k})", p.name),
            PathKind::Bench => format!("iperf3 {}", p.name),
        };
        let _ = writeln!(
            o,
            "  {} ==>|{}| {}",
            end_id(&p.from),
            label(&text),
            end_id(&p.to)
        );
    }
    o
}
