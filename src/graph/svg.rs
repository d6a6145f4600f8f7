//! SVG drawn by labctl itself, so a picture needs no Graphviz: the host box
//! above the lab network, the nodes as cards in a grid inside it (name and
//! address, a row per role, forwarded ports, the checks that stay on the
//! node), dashed arrows from role row to role row for barriers, numbered
//! arrows for crossing checks and bench paths with a legend that names them.
//! Every part is a `<g>` with a class and data- attributes (what it stands
//! for), so the picture can be read back as XML.

use super::model::{End, Graph, Path, PathKind};
use std::collections::BTreeMap;
use std::fmt::Write;

const MARGIN: f64 = 20.0;
const CARD_W: f64 = 290.0;
const GAP_X: f64 = 110.0;
const GAP_Y: f64 = 50.0;
const HEAD_H: f64 = 38.0;
const ROW_H: f64 = 20.0;
const MAX_COLS: usize = 3;
/// Characters of a row before it is cut (full text in the row's `<title>`).
const ROW_CHARS: usize = 40;

fn x(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn right(&self) -> f64 {
        self.x + self.w
    }
}

/// A card's layout: its box and the y of each row's middle, by row key.
struct Card {
    rect: Rect,
    rows: BTreeMap<String, f64>,
}

fn path_text(p: &Path) -> String {
    match p.kind {
        PathKind::Check(k) => format!("check ({k}) {}", p.name),
        PathKind::Bench => format!("bench {}", p.name),
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// A cubic curve from `a` to `b` leaving and entering horizontally; returns
/// the path data and its middle point.
fn curve(a: (f64, f64), b: (f64, f64), out_dir: f64, in_dir: f64) -> (String, (f64, f64)) {
    let bend = ((b.0 - a.0).abs() / 2.0).max(50.0);
    let (mut c1, mut c2) = ((a.0 + out_dir * bend, a.1), (b.0 - in_dir * bend, b.1));
    // Past a card in between (two columns apart): arc over the row instead
    // of through the card.
    if (b.0 - a.0).abs() > CARD_W + GAP_X + 1.0 && out_dir == in_dir {
        let lift = a.1.min(b.1) - 110.0;
        c1 = (a.0 + out_dir * 40.0, lift);
        c2 = (b.0 - in_dir * 40.0, lift);
    }
    let mid = (
        (a.0 + 3.0 * c1.0 + 3.0 * c2.0 + b.0) / 8.0,
        (a.1 + 3.0 * c1.1 + 3.0 * c2.1 + b.1) / 8.0,
    );
    (
        format!(
            "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
            a.0, a.1, c1.0, c1.1, c2.0, c2.1, b.0, b.1
        ),
        mid,
    )
}

pub fn render(g: &Graph) -> String {
    let cols = g.nodes.len().clamp(1, MAX_COLS);
    let top = if g.uses_host() { 110.0 } else { 50.0 };
    let net_x = MARGIN;
    let inner_x = net_x + GAP_X / 2.0;
    let inner_y = top + 34.0;

    // Cards: heights first, then rows of the grid at the tallest card's height.
    let mut cards: BTreeMap<&str, Card> = BTreeMap::new();
    let heights: Vec<f64> = g
        .nodes
        .iter()
        .map(|n| {
            let rows =
                n.roles.len() + g.forwards_of(&n.name).count() + g.local_paths(&n.name).count();
            HEAD_H + ROW_H * rows as f64 + 6.0
        })
        .collect();
    let mut y = inner_y;
    for (row, chunk) in g.nodes.chunks(cols).enumerate() {
        let row_h = heights[row * cols..row * cols + chunk.len()]
            .iter()
            .cloned()
            .fold(0.0, f64::max);
        for (i, n) in chunk.iter().enumerate() {
            let rect = Rect {
                x: inner_x + i as f64 * (CARD_W + GAP_X),
                y,
                w: CARD_W,
                h: heights[row * cols + i],
            };
            let mut rows = BTreeMap::new();
            let mut ry = y + HEAD_H + ROW_H / 2.0;
            for r in &n.roles {
                rows.insert(format!("r_{r}"), ry);
                ry += ROW_H;
            }
            for f in g.forwards_of(&n.name) {
                rows.insert(format!("f_{}", f.host), ry);
                ry += ROW_H;
            }
            cards.insert(&n.name, Card { rect, rows });
        }
        y += row_h + GAP_Y;
    }
    let net = Rect {
        x: net_x,
        y: top,
        w: cols as f64 * (CARD_W + GAP_X),
        h: (y - GAP_Y + 24.0) - top,
    };
    let width = net.right() + MARGIN;
    let host = Rect {
        x: net.x + net.w / 2.0 - 80.0,
        y: 46.0,
        w: 160.0,
        h: 40.0,
    };

    let crossing: Vec<&Path> = g.crossing_paths().collect();
    let legend_y = net.y + net.h + 30.0;
    let legend_lines = crossing.len() + g.barriers.len() + 4;
    let height = legend_y + legend_lines as f64 * 17.0 + MARGIN;

    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\" data-lab=\"{}\">",
        x(&g.lab)
    );
    let _ = writeln!(o, "<title>lab {}</title>", x(&g.lab));
    o.push_str(concat!(
        "<defs>",
        "<marker id=\"arrow-grey\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#888888\"/></marker>",
        "<marker id=\"arrow-green\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#2e7d32\"/></marker>",
        "<marker id=\"arrow-red\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#c62828\"/></marker>",
        "<marker id=\"arrow-gold\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#b8860b\"/></marker>",
        "</defs>\n"
    ));
    let _ = writeln!(
        o,
        "<rect x=\"0\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        o,
        "<text x=\"{MARGIN}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">lab {}</text>",
        x(&g.lab)
    );
    let _ = writeln!(
        o,
        "<g class=\"network\" data-name=\"{}\" data-subnet=\"{}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"10\" fill=\"#f5f9fd\" stroke=\"#4c78a8\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#4c78a8\" font-weight=\"bold\">{}</text></g>",
        x(&g.network),
        g.subnet,
        net.x,
        net.y,
        net.w,
        net.h,
        net.x + 12.0,
        net.y + 20.0,
        x(&g.network_label())
    );
    if g.uses_host() {
        let _ = writeln!(
            o,
            "<g class=\"host\" data-name=\"host\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\" fill=\"#eeeeee\" stroke=\"#555555\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">host (labctl)</text></g>",
            host.x, host.y, host.w, host.h, host.x + host.w / 2.0, host.y + 25.0
        );
    }
    for n in &g.nodes {
        let c = &cards[n.name.as_str()];
        let r = c.rect;
        let _ = writeln!(
            o,
            "<g class=\"node\" data-name=\"{}\" data-ip=\"{}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" fill=\"#ffffff\" stroke=\"#4c78a8\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{HEAD_H}\" rx=\"6\" fill=\"#dbe9f6\"/><text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\" font-size=\"13\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333333\">{}</text>",
            x(&n.name), n.ip, r.x, r.y, r.w, r.h, r.x, r.y, r.w,
            r.x + 8.0, r.y + 16.0, x(&n.name), r.x + 8.0, r.y + 31.0, n.ip
        );
        let mut ry = r.y + HEAD_H + ROW_H / 2.0;
        let mut row = |o: &mut String, class: &str, data: String, fill: &str, text: &str| {
            let _ = writeln!(
                o,
                "  <g class=\"{class}\" {data}><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text><title>{}</title></g>",
                r.x + 1.0, ry - ROW_H / 2.0 + 1.0, r.w - 2.0, ROW_H - 2.0,
                r.x + 8.0, ry + 4.0, x(&cut(text, ROW_CHARS)), x(text)
            );
            ry += ROW_H;
        };
        for role in &n.roles {
            row(
                &mut o,
                "role",
                format!("data-role=\"{}\"", x(role)),
                "#ffffff",
                &format!("role {role}"),
            );
        }
        for f in g.forwards_of(&n.name) {
            row(
                &mut o,
                "forward-port",
                format!(
                    "data-host=\"{}:{}\" data-guest=\"{}\"",
                    f.host_ip, f.host, f.guest
                ),
                "#fdf2d0",
                &format!("forward {}", f.label()),
            );
        }
        for p in g.local_paths(&n.name) {
            let class = match p.kind {
                PathKind::Check(_) => "check local",
                PathKind::Bench => "bench local",
            };
            row(
                &mut o,
                class,
                format!(
                    "data-name=\"{}\" data-from=\"{}\" data-to=\"{}\"",
                    x(&p.name),
                    x(p.from.name()),
                    x(p.to.name())
                ),
                "#e6f4e6",
                &path_text(p),
            );
        }
        o.push_str("</g>\n");
    }
    for f in &g.forwards {
        let c = &cards[f.node.as_str()];
        let a = (host.x + host.w / 2.0, host.y + host.h);
        let b = (c.rect.x, c.rows[&format!("f_{}", f.host)]);
        let (d, _) = curve(a, b, 0.0, 1.0);
        let _ = writeln!(
            o,
            "<g class=\"forward\" data-node=\"{}\" data-host=\"{}:{}\" data-guest=\"{}\"><path d=\"{d}\" fill=\"none\" stroke=\"#b8860b\" stroke-width=\"1.5\" marker-end=\"url(#arrow-gold)\"/><title>{}</title></g>",
            x(&f.node), f.host_ip, f.host, f.guest, x(&format!("host {} forwarded to {}", f.label(), f.node))
        );
    }
    for b in &g.barriers {
        let from = &cards[b.first.node.as_str()];
        let to = &cards[b.waits.node.as_str()];
        let ay = from.rows[&format!("r_{}", b.first.role)];
        let by = to.rows[&format!("r_{}", b.waits.role)];
        // Leave from the side facing the other card; a card in the same
        // column is reached around its right side.
        let (a, bp, od, id) = if to.rect.x > from.rect.x {
            ((from.rect.right(), ay), (to.rect.x, by), 1.0, 1.0)
        } else if to.rect.x < from.rect.x {
            ((from.rect.x, ay), (to.rect.right(), by), -1.0, -1.0)
        } else {
            ((from.rect.right(), ay), (to.rect.right(), by), 1.0, -1.0)
        };
        let (d, _) = curve(a, bp, od, id);
        let _ = writeln!(
            o,
            "<g class=\"barrier\" data-first=\"{}\" data-waits=\"{}\"><path d=\"{d}\" fill=\"none\" stroke=\"#888888\" stroke-dasharray=\"5 3\" marker-end=\"url(#arrow-grey)\"/><title>{}</title></g>",
            x(&b.first.to_string()), x(&b.waits.to_string()), x(&format!("{} waits for {}", b.waits, b.first))
        );
    }
    let anchor = |e: &End, leaving: bool, other: &End| -> ((f64, f64), f64) {
        match e {
            End::Host => (
                (
                    host.x + host.w / 2.0 + if leaving { 20.0 } else { -20.0 },
                    host.y + host.h,
                ),
                0.0,
            ),
            End::Node(n) => {
                let r = cards[n.as_str()].rect;
                let ox = match other {
                    End::Host => host.x,
                    End::Node(m) => cards[m.as_str()].rect.x,
                };
                let y = r.y + if leaving { 12.0 } else { 26.0 };
                if ox > r.x || (ox == r.x && leaving) {
                    ((r.right(), y), 1.0)
                } else {
                    ((r.x, y), -1.0)
                }
            }
        }
    };
    for (i, p) in crossing.iter().enumerate() {
        let (a, od) = anchor(&p.from, true, &p.to);
        let (b, side) = anchor(&p.to, false, &p.from);
        let (d, mid) = curve(a, b, od, -side);
        let (class, color, marker) = match p.kind {
            PathKind::Check(_) => ("check", "#2e7d32", "arrow-green"),
            PathKind::Bench => ("bench", "#c62828", "arrow-red"),
        };
        let _ = writeln!(
            o,
            "<g class=\"{class}\" data-name=\"{}\" data-from=\"{}\" data-to=\"{}\"><path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" marker-end=\"url(#{marker})\"/><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"9\" fill=\"#ffffff\" stroke=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{color}\">{}</text><title>{}</title></g>",
            x(&p.name), x(p.from.name()), x(p.to.name()),
            mid.0, mid.1, mid.0, mid.1 + 3.5, i + 1,
            x(&format!("{}: {} -> {}", path_text(p), p.from, p.to))
        );
    }
    // The legend: what each numbered arrow is, and each barrier in words.
    let mut ly = legend_y;
    let mut line = |o: &mut String, text: &str, color: &str, bold: bool| {
        let _ = writeln!(
            o,
            "<text x=\"{MARGIN}\" y=\"{ly:.1}\" fill=\"{color}\"{}>{}</text>",
            if bold { " font-weight=\"bold\"" } else { "" },
            x(text)
        );
        ly += 17.0;
    };
    o.push_str("<g class=\"legend\">\n");
    if !crossing.is_empty() {
        line(
            &mut o,
            "Checks and bench paths (numbered arrows, from -> to)",
            "#000000",
            true,
        );
        for (i, p) in crossing.iter().enumerate() {
            let color = if p.kind == PathKind::Bench {
                "#c62828"
            } else {
                "#2e7d32"
            };
            line(
                &mut o,
                &format!("{}. {}: {} -> {}", i + 1, path_text(p), p.from, p.to),
                color,
                false,
            );
        }
    }
    if !g.barriers.is_empty() {
        line(
            &mut o,
            "Order across nodes (dashed arrows)",
            "#000000",
            true,
        );
        for b in &g.barriers {
            line(
                &mut o,
                &format!("{} waits for {}", b.waits, b.first),
                "#555555",
                false,
            );
        }
    }
    o.push_str("</g>\n</svg>\n");
    o
}
