//! Rendering: insta snapshots of every rendered text file of every shipped lab,
//! determinism (two renders are byte-identical), and a generated 200-node lab.
//!
//! Review snapshot changes with `cargo insta review` (or `INSTA_UPDATE=always
//! cargo test --test render` and `git diff tests/snapshots/`).

use labctl::diag::SourceFile;
use labctl::load as lab;
use labctl::render::{render, Rendered};
use labctl::roles::RoleSet;
use rstest::rstest;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const SHIPPED: [&str; 4] = ["bench", "docker-deploy", "testnodes", "workflow"];

fn render_lab(name: &str) -> Rendered {
    let loaded = lab::load(name).unwrap_or_else(|e| panic!("{name}: {}", e.render()));
    render(&loaded).unwrap_or_else(|e| panic!("{name}: {}", e.render()))
}

#[rstest]
#[case::bench("bench")]
#[case::docker_deploy("docker-deploy")]
#[case::testnodes("testnodes")]
#[case::workflow("workflow")]
fn snapshots(#[case] name: &str) {
    let r = render_lab(name);
    insta::assert_snapshot!(format!("{name}__Vagrantfile"), r.text("Vagrantfile"));
    insta::assert_snapshot!(format!("{name}__inventory.ini"), r.text("inventory.ini"));
    insta::assert_snapshot!(format!("{name}__summary.txt"), r.text("summary.txt"));

    // The role folders the standalone Vagrantfile uploads are all there.
    let loaded = lab::load(name).unwrap();
    for role in loaded.lab.roles() {
        assert!(
            r.files.contains_key(&format!("roles/{role}/provision.sh")),
            "{name}: roles/{role}/provision.sh missing"
        );
    }
    assert!(
        r.files.contains_key("roles/_labctl/wrapper.sh"),
        "{name}: the provisioning wrapper is missing"
    );
}

#[test]
fn every_shipped_lab_has_snapshots() {
    assert_eq!(
        labctl::assets::lab_names(),
        SHIPPED,
        "add the new lab to SHIPPED and to the snapshot cases"
    );
}

/// The same lab renders to the same bytes, in memory and on disk.
#[test]
fn two_renders_are_byte_identical() {
    for name in SHIPPED {
        assert_eq!(render_lab(name).files, render_lab(name).files, "{name}");
    }

    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [a.path(), b.path()] {
        let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
            .args(["render", "workflow", "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (fa, fb) = (read_tree(a.path()), read_tree(b.path()));
    assert!(
        fa.contains_key("Vagrantfile") && fa.len() > 3,
        "{:?}",
        fa.keys()
    );
    assert_eq!(fa, fb);
    // Rendering again into the same folder changes nothing.
    let again = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .args(["render", "workflow", "--out"])
        .arg(a.path())
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(read_tree(a.path()), fb);
}

fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(base).unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A lab of `n` nodes on 10.77.0.0/16 using the shipped roles, with their
/// ordering constraints satisfied. (bench/render.sh generates the same shape.)
pub fn generated_lab(n: usize) -> String {
    let mut s = String::from(
        "name = \"big\"\ndescription = \"generated lab\"\n\n[defaults]\nmemory = 256\n\n[network]\nsubnet = \"10.77.0.0/16\"\n",
    );
    for i in 0..n {
        let roles = match i {
            0 => r#"["gitserver"]"#,
            1 => r#"["ansible-mgmt", "ansible-push"]"#,
            _ if i % 10 == 0 => r#"["docker-host", "compose-deploy"]"#,
            _ if i % 10 == 5 => r#"["netshape"]"#,
            _ => r#"["managed", "ansible-pull"]"#,
        };
        let ip =
            std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 77, 0, 10)) + i as u32);
        s.push_str(&format!(
            "\n[[node]]\nname = \"n{i}\"\nip = \"{ip}\"\nroles = {roles}\n"
        ));
        if i % 10 == 0 {
            s.push_str("nested_containers = true\n");
        }
        if i % 25 == 3 {
            s.push_str(&format!("forward = [{{ guest = 80, host = {} }}]\ndisks = [{{ name = \"data\", size = \"2G\" }}]\n", 20000 + i));
        }
    }
    s
}

#[test]
fn renders_a_200_node_lab() {
    let text = generated_lab(200);
    let loaded = lab::load_source(
        SourceFile::new("big.toml", text),
        None,
        RoleSet::load(None).unwrap(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(loaded.lab.nodes.len(), 200);
    // 10.77.0.0/16 is outside VirtualBox's default range: a warning, not an error.
    assert_eq!(loaded.warnings.len(), 1, "{}", loaded.render_warnings());
    let r = render(&loaded).unwrap();
    let vf = r.text("Vagrantfile");
    assert_eq!(vf.matches("config.vm.define ").count(), 200);
    assert!(vf.contains("config.vm.define 'n199' do |node|"));
    assert!(vf.contains("ip: '10.77.0.209'"));
    let inv = r.text("inventory.ini");
    assert!(inv.contains("n199 ansible_host=10.77.0.209\n"), "{inv}");
    assert_eq!(
        inv.lines().filter(|l| l.contains("ansible_host=")).count(),
        200
    );
    assert_eq!(
        r.text("summary.txt")
            .lines()
            .filter(|l| l.starts_with('n'))
            .count(),
        200 + 1 /* "network ..." */
    );
    // Deterministic at this size too.
    assert_eq!(render(&loaded).unwrap().files, r.files);
}
