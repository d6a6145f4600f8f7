//! Every import points down: the rooms of `src/` (its top-level modules) and
//! their order are written in docs/architecture.md (the `layers` block, top to
//! bottom); a room may use only rooms below it. This reads every `crate::`
//! path in `src/` (in `use` lines, brace groups and paths written inline,
//! comments left out) and fails on an edge that points up, or on a room the
//! document does not place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The rooms in docs/architecture.md's `layers` block, top first.
fn layers() -> Vec<String> {
    let doc = std::fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let block = doc
        .split("```layers\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/architecture.md has a ```layers block");
    block
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// The rooms that exist: `src/NAME.rs` and `src/NAME/`.
fn rooms() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("src"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            let name = p.file_stem()?.to_string_lossy().into_owned();
            (p.is_dir() || p.extension().is_some_and(|x| x == "rs")).then_some(name)
        })
        .filter(|n| n != "lib" && n != "main")
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text without `//` comments (doc comments included) and without the
/// contents of string literals, so a path in prose or a message is not an edge.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if b[i] == '"' {
            // Raw strings (r"..", r#".."#) are rare in paths; a plain scan
            // that honours backslash escapes is enough for this crate.
            out.push('"');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if b[i] == '\'' && b.get(i + 2) == Some(&'\'') {
            // A char literal such as '"' must not open a string.
            i += 3;
        } else if b[i] == '\'' && b.get(i + 1) == Some(&'\\') {
            // An escaped char literal: '\'' or '\n'.
            i += 2;
            while i < b.len() && b[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The first path segment of every `crate::` path: `crate::x::y` gives `x`,
/// `use crate::{a::b, c::{d, e}}` gives `a` and `c`; the crate root's
/// re-exports of the error type (`crate::Result`) count as `error`.
fn crate_edges(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `labctl_crate::` or similar, not this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            // A brace group: the first segment of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            let mut word = String::new();
            for c in group.chars() {
                if !(c.is_alphanumeric() || c == '_' || word.is_empty()) {
                    out.insert(std::mem::take(&mut word));
                }
                match c {
                    '{' => {
                        depth += 1;
                        item_start = false;
                    }
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if (c.is_alphanumeric() || c == '_') && item_start => word.push(c),
                    c if c.is_alphanumeric() || c == '_' => {}
                    c if !c.is_whitespace() => item_start = false,
                    _ => {}
                }
            }
        } else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                out.insert(word);
            }
        }
    }
    out.into_iter()
        .map(|w| match w.as_str() {
            "Result" | "Error" | "Exit" => "error".to_string(),
            _ => w,
        })
        .collect()
}

#[test]
fn every_import_points_down_the_documented_order() {
    let order = layers();
    let rooms = rooms();
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let unplaced: Vec<&String> = rooms
        .iter()
        .filter(|r| !rank.contains_key(r.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "rooms of src/ missing from docs/architecture.md's layers: {unplaced:?}"
    );
    let gone: Vec<&String> = order.iter().filter(|m| !rooms.contains(*m)).collect();
    assert!(
        gone.is_empty(),
        "docs/architecture.md places rooms that src/ does not have: {gone:?}"
    );

    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut bad = Vec::new();
    let mut edges = 0;
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let room = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if room == "lib" || room == "main" {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(&f).unwrap());
        for to in crate_edges(&code) {
            if to == room || !rooms.contains(&to) {
                continue;
            }
            edges += 1;
            if rank[to.as_str()] <= rank[room.as_str()] {
                bad.push(format!(
                    "{} uses crate::{to} ({room} is below {to})",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        edges > 50,
        "the scan found only {edges} edges; is it reading src/?"
    );
    assert!(
        bad.is_empty(),
        "imports that point up the order of docs/architecture.md:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn the_scan_sees_use_lines_brace_groups_and_inline_paths() {
    let code = code_only(
        "use crate::{a::b, c::{d, e}, Result};\n\
         // crate::commented\n\
         let x = crate::f::g(\"crate::in_a_string\");\n\
         let q = '\"'; let y = crate::h::i;\n",
    );
    let got: Vec<String> = crate_edges(&code).into_iter().collect();
    assert_eq!(got, ["a", "c", "error", "f", "h"]);
}
