//! Graphviz DOT: the lab network as a cluster, each node a table (name and
//! address, one row per role with a port the barriers attach to, forwarded
//! ports, the checks that stay on the node), the host outside it, and one edge
//! per forwarded port, barrier and crossing check or bench path. Every edge
//! carries a `class` (forward, barrier, check, bench) so tools and the tests
//! can tell them apart; Graphviz copies it into its own SVG.

use super::model::{End, Graph, PathKind};
use std::fmt::Write;

/// Text inside a DOT double-quoted string.
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Text inside an HTML-like label.
fn h(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The port of a role's row (role names are `[a-z0-9-]`).
pub fn role_port(role: &str) -> String {
    format!("r_{role}")
}

pub fn render(g: &Graph) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "digraph {} {{", q(&g.lab));
    let _ = writeln!(
        o,
        "  graph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, label={}];",
        q(&format!("lab {}", g.lab))
    );
    o.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    o.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    if g.uses_host() {
        o.push_str("  \"host\" [shape=box, style=\"rounded,filled\", fillcolor=\"#eeeeee\", label=\"host\\n(labctl)\"];\n");
    }
    let _ = writeln!(
        o,
        "  subgraph \"cluster_network\" {{\n    label={};\n    style=\"rounded,dashed\"; color=\"#4c78a8\";",
        q(&g.network_label())
    );
    for n in &g.nodes {
        let mut rows = format!(
            "<TR><TD BGCOLOR=\"#dbe9f6\"><B>{}</B><BR/>{}</TD></TR>",
            h(&n.name),
            n.ip
        );
        for r in &n.roles {
            let _ = write!(
                rows,
                "<TR><TD PORT=\"{}\" ALIGN=\"LEFT\">role {}</TD></TR>",
                role_port(r),
                h(r)
            );
        }
        for f in g.forwards_of(&n.name) {
            let _ = write!(
                rows,
                "<TR><TD PORT=\"f_{}\" ALIGN=\"LEFT\" BGCOLOR=\"#fdf2d0\">forward {}</TD></TR>",
                f.host,
                h(&f.label())
            );
        }
        for p in g.local_paths(&n.name) {
            let what = match p.kind {
                PathKind::Check(k) => format!("check ({k}) {}", p.name),
                PathKind::Bench => format!("bench {}", p.name),
            };
            let _ = write!(
                rows,
                "<TR><TD ALIGN=\"LEFT\" BGCOLOR=\"#e6f4e6\">{}</TD></TR>",
                h(&what)
            );
        }
        let _ = writeln!(
            o,
            "    {} [shape=plaintext, label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"4\">{rows}</TABLE>>];",
            q(&n.name)
        );
    }
    o.push_str("  }\n");
    for f in &g.forwards {
        let _ = writeln!(
            o,
            "  \"host\" -> {}:{} [class=\"forward\", label={}, color=\"#b8860b\", fontcolor=\"#b8860b\"];",
            q(&f.node),
            q(&format!("f_{}", f.host)),
            q(&f.label())
        );
    }
    for b in &g.barriers {
        let _ = writeln!(
            o,
            "  {}:{} -> {}:{} [class=\"barrier\", style=dashed, color=\"#888888\", tooltip={}];",
            q(&b.first.node),
            q(&role_port(&b.first.role)),
            q(&b.waits.node),
            q(&role_port(&b.waits.role)),
            q(&format!("{} waits for {}", b.waits, b.first))
        );
    }
    for p in g.crossing_paths() {
        let (class, color, label) = match p.kind {
            PathKind::Check(k) => ("check", "#2e7d32", format!("{} ({k})", p.name)),
            PathKind::Bench => ("bench", "#c62828", format!("iperf3 {}", p.name)),
        };
        let end = |e: &End| q(e.name());
        let _ = writeln!(
            o,
            "  {} -> {} [class=\"{class}\", color=\"{color}\", fontcolor=\"{color}\", penwidth=1.5, label={}];",
            end(&p.from),
            end(&p.to),
            q(&label)
        );
    }
    o.push_str("}\n");
    o
}
