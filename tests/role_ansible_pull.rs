//! The ansible-pull role's cron probe step run on this host with stand-ins for
//! the node's commands: the lab variable `cron_probe_nodes` (through the
//! environment the renderer hands the role) decides on which nodes the role
//! arms the probe; elsewhere it removes one, and a name that is not a node
//! with the role fails the role.

mod common;

use labctl::diag::SourceFile;
use labctl::load::load_source;
use labctl::roles::RoleSet;
use std::path::Path;
use std::process::Command;

/// Runs provision.sh as the wrapper does (`set -euo pipefail`, lib.sh sourced)
/// for `node` of `lab_text`, with the file-writing helpers and the node's
/// commands stood in for; returns (exit, the ansible-pull-check calls, stdout
/// and stderr).
fn provision(lab_text: &str, node: &str) -> (i32, String, String) {
    let loaded = load_source(
        SourceFile::new("workflow.toml", lab_text.to_string()),
        None,
        RoleSet::load(None).unwrap(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let lab = &loaded.lab;
    let n = lab.nodes.iter().find(|n| n.name == node).unwrap();
    let env = labctl::render::role_env(lab, n, "ansible-pull");
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = tmp.path().join("check.log");
    let stub = |name: &str, body: &str| common::write_stub(&bin, name, body);
    stub("hostname", "echo \"$LABCTL_NODE\"");
    stub("git", "echo '0123456789abcdef0123 refs/heads/main'");
    stub("service", "exit 0");
    stub(
        "ansible-pull-check",
        &format!("echo \"ansible-pull-check $*\" >>'{}'", log.display()),
    );
    let script = std::fs::read_to_string(Path::new("provision/ansible-pull/provision.sh"))
        .unwrap()
        .replace(
            "/usr/local/sbin/ansible-pull-check",
            &bin.join("ansible-pull-check").display().to_string(),
        );
    std::fs::write(tmp.path().join("provision.sh"), script).unwrap();
    // The helpers that install packages and files on a node do nothing here.
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "set -euo pipefail; . provision/_labctl/lib.sh; \
             ensure_packages() { :; }; install_file() { :; }; \
             install_pull_cron() { cat >/dev/null; }; . \"$ROLE\"",
        )
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("ROLE", tmp.path().join("provision.sh"))
        .env("LABCTL_RESULT", tmp.path().join("result"))
        .env("GIT_URL", "http://192.168.57.2")
        .envs(env)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        std::fs::read_to_string(&log).unwrap_or_default(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn shipped() -> String {
    std::fs::read_to_string("labs/workflow.toml").unwrap()
}

#[test]
fn the_shipped_workflow_lab_arms_the_cron_probe_on_web1_only() {
    let (code, calls, out) = provision(&shipped(), "web1");
    assert_eq!(
        (code, calls.as_str()),
        (0, "ansible-pull-check arm\n"),
        "{out}"
    );
    for node in ["lb", "web2"] {
        let (code, calls, out) = provision(&shipped(), node);
        // A probe an earlier run left there is removed instead.
        assert_eq!(
            (code, calls.as_str()),
            (0, "ansible-pull-check undo\n"),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "ansible-pull: no cron probe on {node} (cron_probe_nodes: web1)"
            )),
            "{out}"
        );
    }
}

#[test]
fn without_cron_probe_nodes_every_node_with_the_role_arms_it() {
    let lab = shipped().replace("vars = { cron_probe_nodes = \"web1\" }\n", "");
    assert_ne!(lab, shipped(), "the shipped lab sets cron_probe_nodes");
    for node in ["lb", "web1", "web2"] {
        let (code, calls, out) = provision(&lab, node);
        assert_eq!(
            (code, calls.as_str()),
            (0, "ansible-pull-check arm\n"),
            "{out}"
        );
    }
}

#[test]
fn cron_probe_nodes_naming_a_node_without_the_role_fails_the_role() {
    for bad in ["mgmt", "web3", "web1 *"] {
        let lab = shipped().replace(
            "cron_probe_nodes = \"web1\"",
            &format!("cron_probe_nodes = \"{bad}\""),
        );
        let (code, calls, out) = provision(&lab, "web1");
        assert_eq!((code, calls.as_str()), (2, ""), "{bad}: {out}");
        assert!(
            out.contains("which is not a node with the role ansible-pull (lb web1 web2)"),
            "{bad}: {out}"
        );
    }
}
