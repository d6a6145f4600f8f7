//! `labctl graph` of every shipped lab: each node (address, roles), the lab
//! network and subnet, every forwarded port, every barrier across nodes and
//! every check and bench path appears. The DOT is read back through
//! Graphviz's own `dot -Tjson` (what Graphviz lays out and draws, not our
//! text), the SVG as XML; the expectations come from the lab file and the
//! provisioning plan, not from the picture's own model. Snapshots pin each
//! format, and the pictures in docs/ must be the current ones.

mod common;

use labctl::graph::{self, Format, Graph};
use labctl::lab::{CheckFrom, CheckKind, Lab};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

fn loaded(name: &str) -> labctl::load::Loaded {
    labctl::load::load(name).unwrap()
}

fn render(name: &str, f: Format) -> String {
    let l = loaded(name);
    graph::render(&Graph::build(&l.lab, &l.roles), f)
}

/// Where a check runs, read from the lab file alone.
fn check_from(c: &CheckKind) -> String {
    match c {
        CheckKind::Http {
            from: CheckFrom::Host,
            ..
        } => "host".into(),
        CheckKind::Http {
            from: CheckFrom::Node(n),
            ..
        } => n.clone(),
        CheckKind::Port { node, from, .. } => from.as_ref().unwrap_or(node).value.clone(),
        CheckKind::Reach { from, .. } => from.value.clone(),
        CheckKind::Command { node, .. }
        | CheckKind::File { node, .. }
        | CheckKind::Cron { node, .. }
        | CheckKind::Service { node, .. }
        | CheckKind::Disk { node, .. } => node.value.clone(),
    }
}

/// What a check probes where the lab file says it outright (None: an URL or
/// a command, resolved by the picture; the unit tests pin those).
fn check_to(c: &CheckKind) -> Option<String> {
    match c {
        CheckKind::Port { node, .. }
        | CheckKind::File { node, .. }
        | CheckKind::Cron { node, .. }
        | CheckKind::Service { node, .. }
        | CheckKind::Disk { node, .. } => Some(node.value.clone()),
        CheckKind::Reach { to, .. } => Some(to.value.clone()),
        CheckKind::Http { .. } | CheckKind::Command { .. } => None,
    }
}

/// Cross-node barriers of the plan `up` runs: (first node, role, waiting node, role).
fn barriers(l: &labctl::load::Loaded) -> BTreeSet<(String, String, String, String)> {
    let p = labctl::plan::build(&l.lab, &l.roles);
    let mut out = BTreeSet::new();
    for (t, deps) in &p.deps {
        for d in deps.iter().filter(|d| d.node != t.node) {
            out.insert((
                d.node.clone(),
                d.role.clone(),
                t.node.clone(),
                t.role.clone(),
            ));
        }
    }
    out
}

fn lab_names() -> Vec<String> {
    labctl::assets::lab_names()
}

/// Graphviz's reading of our DOT: nodes with the texts Graphviz draws for
/// them, edges with their ends, ports, class and label.
struct Dot {
    clusters: Vec<String>,
    nodes: Vec<(String, Vec<String>)>,
    edges: Vec<DotEdge>,
}

#[derive(Debug)]
struct DotEdge {
    tail: String,
    head: String,
    tailport: String,
    headport: String,
    class: String,
    label: String,
}

fn graphviz(dot: &str) -> Dot {
    use std::io::Write;
    let mut child = Command::new("dot")
        .arg("-Tjson")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("Graphviz's `dot` (Debian package graphviz; .ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No warning either: an unknown attribute or a bad port is a warning.
    assert!(
        out.stderr.is_empty(),
        "dot warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = |v: &Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let objects = v["objects"].as_array().unwrap();
    let mut clusters = Vec::new();
    let mut nodes = Vec::new();
    for o in objects {
        let name = s(o, "name");
        if name.starts_with("cluster") {
            clusters.push(s(o, "label"));
            continue;
        }
        let texts = o
            .get("_ldraw_")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter(|op| op["op"] == "T")
            .map(|op| s(op, "text"))
            .collect();
        nodes.push((name, texts));
    }
    let name_of = |gvid: &Value| s(&objects[gvid.as_u64().unwrap() as usize], "name");
    let edges = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| DotEdge {
            tail: name_of(&e["tail"]),
            head: name_of(&e["head"]),
            tailport: s(e, "tailport"),
            headport: s(e, "headport"),
            class: s(e, "class"),
            label: s(e, "label"),
        })
        .collect();
    Dot {
        clusters,
        nodes,
        edges,
    }
}

#[test]
fn dot_of_every_shipped_lab_shows_every_part_as_graphviz_reads_it() {
    for name in lab_names() {
        let l = loaded(&name);
        let lab: &Lab = &l.lab;
        let d = graphviz(&render(&name, Format::Dot));
        let subnet = lab.network.subnet.value.to_string();
        assert!(
            d.clusters
                .iter()
                .any(|c| c.contains(&lab.network_name()) && c.contains(&subnet)),
            "{name}: no cluster for the network {} {subnet}: {:?}",
            lab.network_name(),
            d.clusters
        );
        for n in &lab.nodes {
            let texts = &d
                .nodes
                .iter()
                .find(|(x, _)| x == &n.name)
                .unwrap_or_else(|| panic!("{name}: node {} missing", n.name))
                .1;
            assert!(
                texts.contains(&n.ip.to_string()),
                "{name}: {} drawn without {}: {texts:?}",
                n.name,
                n.ip
            );
            for r in &n.roles {
                assert!(
                    texts.contains(&format!("role {}", r.value)),
                    "{name}: {} without role {}",
                    n.name,
                    r.value
                );
            }
            for f in &n.forward {
                let e = d.edges.iter().find(|e| {
                    e.class == "forward"
                        && e.head == n.name
                        && e.headport == format!("f_{}", f.host)
                });
                let e =
                    e.unwrap_or_else(|| panic!("{name}: no forward edge to {}:{}", n.name, f.host));
                assert_eq!(e.tail, "host");
                assert!(
                    e.label.contains(&format!("{}:{}", f.host_ip, f.host))
                        && e.label.ends_with(&f.guest.to_string()),
                    "{e:?}"
                );
            }
        }
        let want = barriers(&l);
        let got: BTreeSet<_> = d
            .edges
            .iter()
            .filter(|e| e.class == "barrier")
            .map(|e| {
                (
                    e.tail.clone(),
                    e.tailport.trim_start_matches("r_").to_string(),
                    e.head.clone(),
                    e.headport.trim_start_matches("r_").to_string(),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}: barriers");
        for c in &lab.checks {
            let from = check_from(&c.kind);
            let edge = d
                .edges
                .iter()
                .find(|e| e.class == "check" && e.label.starts_with(&format!("{} (", c.name)));
            match edge {
                Some(e) => {
                    assert_eq!(
                        e.tail, from,
                        "{name}: check {:?} drawn from the wrong end",
                        c.name
                    );
                    if let Some(to) = check_to(&c.kind) {
                        assert_eq!(
                            e.head, to,
                            "{name}: check {:?} drawn to the wrong end",
                            c.name
                        );
                    }
                    assert!(
                        lab.node(&e.head).is_some(),
                        "{name}: check {:?} ends off the lab",
                        c.name
                    );
                }
                // Staying on its node: listed in that node's box.
                None => {
                    let texts = &d.nodes.iter().find(|(x, _)| x == &from).unwrap().1;
                    assert!(
                        texts
                            .iter()
                            .any(|t| t.starts_with("check (") && t.ends_with(&c.name)),
                        "{name}: check {:?} appears nowhere: {texts:?}",
                        c.name
                    );
                    if let Some(to) = check_to(&c.kind) {
                        assert_eq!(
                            to, from,
                            "{name}: check {:?} crosses nodes but has no edge",
                            c.name
                        );
                    }
                }
            }
        }
        for s in &lab.scenarios {
            let (c, sv) = (&s.client.node.value, &s.server.node.value);
            if c == sv {
                let texts = &d.nodes.iter().find(|(x, _)| x == c).unwrap().1;
                assert!(
                    texts.contains(&format!("bench {}", s.name.value)),
                    "{name}: scenario {}",
                    s.name.value
                );
            } else {
                assert!(
                    d.edges.iter().any(|e| e.class == "bench"
                        && &e.tail == c
                        && &e.head == sv
                        && e.label == format!("iperf3 {}", s.name.value)),
                    "{name}: no bench edge for {}",
                    s.name.value
                );
            }
        }
    }
}

fn attr<'a>(n: &roxmltree::Node<'a, 'a>, k: &str) -> &'a str {
    n.attribute(k).unwrap_or("")
}

/// The start and end points of an SVG path `M x y C ..., ..., x y`.
fn ends(d: &str) -> ((f64, f64), (f64, f64)) {
    let nums: Vec<f64> = d
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let n = nums.len();
    ((nums[0], nums[1]), (nums[n - 2], nums[n - 1]))
}

/// The node card's (or host box's) rectangle.
fn rect_of(doc: &roxmltree::Document, class: &str, name: &str) -> (f64, f64, f64, f64) {
    let g = doc
        .descendants()
        .find(|n| attr(n, "class") == class && attr(n, "data-name") == name)
        .unwrap_or_else(|| panic!("no {class} {name}"));
    let r = g.children().find(|c| c.has_tag_name("rect")).unwrap();
    let f = |k| attr(&r, k).parse::<f64>().unwrap();
    (f("x"), f("y"), f("width"), f("height"))
}

fn on_border(p: (f64, f64), r: (f64, f64, f64, f64)) -> bool {
    let inside_x = p.0 >= r.0 - 0.1 && p.0 <= r.0 + r.2 + 0.1;
    let inside_y = p.1 >= r.1 - 0.1 && p.1 <= r.1 + r.3 + 0.1;
    inside_x
        && inside_y
        && ((p.0 - r.0).abs() < 0.2
            || (p.0 - r.0 - r.2).abs() < 0.2
            || (p.1 - r.1 - r.3).abs() < 0.2)
}

#[test]
fn svg_of_every_shipped_lab_shows_every_part_where_it_belongs() {
    for name in lab_names() {
        let l = loaded(&name);
        let lab = &l.lab;
        let text = render(&name, Format::Svg);
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{name}: SVG is not XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let groups = |class: &'static str| {
            doc.descendants()
                .filter(move |n| n.has_tag_name("g") && attr(n, "class") == class)
        };
        let net = groups("network")
            .next()
            .unwrap_or_else(|| panic!("{name}: no network"));
        assert_eq!(attr(&net, "data-name"), lab.network_name());
        assert_eq!(
            attr(&net, "data-subnet"),
            lab.network.subnet.value.to_string()
        );
        let all_text = |g: &roxmltree::Node| {
            g.descendants()
                .filter_map(|t| {
                    if t.has_tag_name("text") {
                        t.text()
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        for n in &lab.nodes {
            let g = groups("node")
                .find(|g| attr(g, "data-name") == n.name)
                .unwrap_or_else(|| panic!("{name}: node {}", n.name));
            assert_eq!(attr(&g, "data-ip"), n.ip.to_string());
            let t = all_text(&g);
            assert!(
                t.contains(&n.name) && t.contains(&n.ip.to_string()),
                "{name}: {t}"
            );
            for r in &n.roles {
                assert!(
                    t.contains(&format!("role {}", r.value)),
                    "{name}: {} lacks role {}",
                    n.name,
                    r.value
                );
            }
            for f in &n.forward {
                let host = format!("{}:{}", f.host_ip, f.host);
                assert!(
                    groups("forward-port")
                        .any(|p| attr(&p, "data-host") == host && p.ancestors().any(|a| a == g)),
                    "{name}: port row {host}"
                );
                let e = groups("forward").find(|e| {
                    attr(e, "data-node") == n.name
                        && attr(e, "data-host") == host
                        && attr(e, "data-guest") == f.guest.to_string()
                });
                let e = e.unwrap_or_else(|| panic!("{name}: forward arrow {host}"));
                let d =
                    attr(&e.children().find(|c| c.has_tag_name("path")).unwrap(), "d").to_string();
                let (a, b) = ends(&d);
                assert!(
                    on_border(a, rect_of(&doc, "host", "host")),
                    "{name}: forward leaves the host box"
                );
                assert!(
                    on_border(b, rect_of(&doc, "node", &n.name)),
                    "{name}: forward reaches {}",
                    n.name
                );
            }
        }
        let got: BTreeSet<_> = groups("barrier")
            .map(|b| {
                let (f, w) = (attr(&b, "data-first"), attr(&b, "data-waits"));
                let (fn_, fr) = f.split_once(':').unwrap();
                let (wn, wr) = w.split_once(':').unwrap();
                let d =
                    attr(&b.children().find(|c| c.has_tag_name("path")).unwrap(), "d").to_string();
                let (a, e) = ends(&d);
                assert!(
                    on_border(a, rect_of(&doc, "node", fn_))
                        && on_border(e, rect_of(&doc, "node", wn)),
                    "{name}: barrier {f} -> {w} drawn elsewhere"
                );
                (
                    fn_.to_string(),
                    fr.to_string(),
                    wn.to_string(),
                    wr.to_string(),
                )
            })
            .collect();
        assert_eq!(got, barriers(&l), "{name}: barriers");
        for c in &lab.checks {
            let from = check_from(&c.kind);
            let g = doc
                .descendants()
                .find(|g| {
                    g.has_tag_name("g")
                        && attr(g, "class").starts_with("check")
                        && attr(g, "data-name") == c.name
                })
                .unwrap_or_else(|| panic!("{name}: check {:?} appears nowhere", c.name));
            assert_eq!(attr(&g, "data-from"), from, "{name}: {:?}", c.name);
            if let Some(to) = check_to(&c.kind) {
                assert_eq!(attr(&g, "data-to"), to, "{name}: {:?}", c.name);
            }
            let to = attr(&g, "data-to");
            if attr(&g, "class") == "check local" {
                assert_eq!(to, from);
                let card = groups("node")
                    .find(|n| attr(n, "data-name") == from)
                    .unwrap();
                assert!(
                    g.ancestors().any(|a| a == card),
                    "{name}: {:?} not in {from}'s card",
                    c.name
                );
            } else {
                assert_ne!(to, from);
                let d =
                    attr(&g.children().find(|c| c.has_tag_name("path")).unwrap(), "d").to_string();
                let (a, b) = ends(&d);
                let rect = |e: &str| {
                    if e == "host" {
                        rect_of(&doc, "host", "host")
                    } else {
                        rect_of(&doc, "node", e)
                    }
                };
                assert!(
                    on_border(a, rect(&from)),
                    "{name}: {:?} does not leave {from}",
                    c.name
                );
                assert!(
                    on_border(b, rect(to)),
                    "{name}: {:?} does not reach {to}",
                    c.name
                );
                let legend = all_text(&groups("legend").next().unwrap());
                assert!(
                    legend.contains(&format!("{}: {from} -> {to}", c.name)),
                    "{name}: legend lacks {:?}",
                    c.name
                );
            }
        }
        for s in &lab.scenarios {
            assert!(
                doc.descendants()
                    .any(|g| attr(&g, "class").starts_with("bench")
                        && attr(&g, "data-name") == s.name.value
                        && attr(&g, "data-from") == s.client.node.value
                        && attr(&g, "data-to") == s.server.node.value),
                "{name}: scenario {}",
                s.name.value
            );
        }
    }
}

#[test]
fn snapshots_of_every_shipped_lab_in_every_format() {
    for name in lab_names() {
        for (f, ext) in [
            (Format::Mermaid, "mmd"),
            (Format::Dot, "dot"),
            (Format::Svg, "svg"),
        ] {
            insta::assert_snapshot!(format!("graph_{name}.{ext}"), render(&name, f));
        }
    }
}

/// docs/img/graph-LAB.svg is what `labctl graph LAB --out` writes today, and
/// the lab's page shows it.
#[test]
fn docs_show_the_current_picture_of_every_shipped_lab() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in lab_names() {
        let img = root.join(format!("docs/img/graph-{name}.svg"));
        let have = std::fs::read_to_string(&img).unwrap_or_default();
        assert!(
            have == render(&name, Format::Svg),
            "{} is missing or stale: run `cargo run -- graph {name} --out {}`",
            img.display(),
            img.strip_prefix(root).unwrap().display()
        );
        let page = if name == "bench" {
            "docs/bench.md".to_string()
        } else {
            format!("docs/labs/{name}.md")
        };
        let text = std::fs::read_to_string(root.join(&page)).unwrap();
        let link = if name == "bench" {
            format!("img/graph-{name}.svg")
        } else {
            format!("../img/graph-{name}.svg")
        };
        assert!(
            text.contains(&format!("({link})")),
            "{page} does not show {link}"
        );
    }
}

#[test]
fn graph_command_picks_the_format_from_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| common::ok(&common::labctl(dir.path(), args));
    run(&["graph", "workflow", "--out", "wf.svg"]);
    let svg = std::fs::read_to_string(dir.path().join("wf.svg")).unwrap();
    assert_eq!(svg, render("workflow", Format::Svg));
    assert!(run(&["graph", "workflow"]).starts_with("flowchart LR\n"));
    assert!(run(&["graph", "workflow", "--format", "dot"]).starts_with("digraph \"workflow\""));
    // A copy is drawn on its own name and subnet.
    let copy = run(&[
        "graph",
        "workflow",
        "--name",
        "wf2",
        "--subnet",
        "192.168.70.0/24",
        "--format",
        "dot",
    ]);
    assert!(
        copy.contains("labctl-wf2 192.168.70.0/24")
            && copy.contains("192.168.70.21")
            && !copy.contains("192.168.57."),
        "{copy}"
    );
}
