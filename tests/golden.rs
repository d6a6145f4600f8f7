//! What the binary prints, byte for byte, against expected output captured
//! from the binary before the crate was restructured (issue 11): `--help` of
//! every command, `labctl list`, `validate` and `lint` of the shipped labs,
//! `validate` (stdout, stderr, exit) of every fixture lab, and `render` of each
//! shipped lab (its message and a manifest of every rendered file with the full
//! text of the Vagrantfile, inventory and summary).
//!
//! The expected files live in tests/golden/. `LABCTL_GOLDEN_WRITE=1` writes
//! them instead of comparing: that is how they were captured with the binary
//! before the restructuring, which never needed it. Since then, a deliberate
//! change of what labctl prints is recorded with it, and the diff of
//! tests/golden/ in the same commit is the review of that change. The live
//! `status` and `test` tables of a running lab are compared by
//! tests/golden/live.sh.

use sha2::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHIPPED: [&str; 4] = ["bench", "docker-deploy", "testnodes", "workflow"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the binary in the repository; stdout, stderr and exit code as one text.
fn run(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("COLUMNS")
        .output()
        .expect("run labctl");
    format!(
        "$ labctl {}\n--- exit {:?}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every command and subcommand, as argument lists for `--help`.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["list"],
    &["validate"],
    &["lint"],
    &["render"],
    &["setup"],
    &["image"],
    &["image", "build"],
    &["repo"],
    &["repo", "build"],
    &["up"],
    &["provision"],
    &["status"],
    &["ssh"],
    &["exec"],
    &["halt"],
    &["restart"],
    &["test"],
    &["bench"],
    &["down"],
];

/// Fixture lab files, relative to the repository, sorted.
fn fixture_labs() -> Vec<String> {
    let mut out = Vec::new();
    let base = repo().join("tests/fixtures");
    let mut dirs = vec![base.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                // Role folders hold no lab files.
                if p.file_name().is_some_and(|n| n != "provision") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(
                    p.strip_prefix(repo())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

/// `labctl render LAB --out DIR`: its output (the folder masked) and every
/// rendered file: path, size and SHA-256, then the full text of the three
/// files labctl writes itself.
fn render(lab: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut text = run(&["render", lab, "--out", out.to_str().unwrap()]);
    let real = out.canonicalize().unwrap();
    text = text.replace(real.to_str().unwrap(), "<OUT>");
    text = text.replace(out.to_str().unwrap(), "<OUT>");
    let mut files = BTreeMap::new();
    walk(&real, &real, &mut files);
    text.push_str("--- files\n");
    for (rel, bytes) in &files {
        text.push_str(&format!(
            "{rel} {} {}\n",
            bytes.len(),
            hex::encode(sha2::Sha256::digest(bytes))
        ));
    }
    for name in ["Vagrantfile", "inventory.ini", "summary.txt"] {
        text.push_str(&format!("--- {name}\n"));
        text.push_str(&String::from_utf8_lossy(&files[name]));
    }
    text
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

/// Every expected output by file name under tests/golden/.
fn outputs() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in COMMANDS {
        let mut args: Vec<&str> = c.to_vec();
        args.push("--help");
        let name = if c.is_empty() {
            "help/labctl.txt".to_string()
        } else {
            format!("help/{}.txt", c.join("-"))
        };
        out.insert(name, run(&args));
    }
    out.insert("version.txt".into(), run(&["--version"]));
    out.insert("list.txt".into(), run(&["list"]));
    out.insert("validate-shipped.txt".into(), run(&["validate"]));
    out.insert("lint-shipped.txt".into(), run(&["lint"]));
    for lab in SHIPPED {
        out.insert(format!("render/{lab}.txt"), render(lab));
    }
    for f in fixture_labs() {
        let name = f
            .trim_start_matches("tests/fixtures/")
            .trim_end_matches(".toml")
            .replace('/', "-");
        out.insert(format!("validate/{name}.txt"), run(&["validate", &f]));
    }
    // Usage errors of the command line itself.
    out.insert("usage/test-nothing.txt".into(), run(&["test"]));
    out.insert(
        "usage/test-two-labs-one-name.txt".into(),
        run(&["test", "workflow", "bench", "--name", "x"]),
    );
    out.insert(
        "usage/unknown-lab.txt".into(),
        run(&["status", "nosuchlab"]),
    );
    out.insert(
        "usage/bench-junit.txt".into(),
        run(&["bench", "bench", "--report", "junit:x.xml"]),
    );
    out
}

#[test]
fn the_binary_prints_what_it_printed_before() {
    let dir = repo().join("tests/golden");
    let write = std::env::var_os("LABCTL_GOLDEN_WRITE").is_some();
    let mut differ = Vec::new();
    for (name, text) in outputs() {
        let path = dir.join(&name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != text {
            differ.push(format!("{name}\n--- expected\n{want}\n--- got\n{text}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} output(s) differ from tests/golden/:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
