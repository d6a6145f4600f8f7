//! End to end: a lab heals. The workflow lab on the docker provider loses
//! machines behind labctl's back (`docker rm -f`, as a VM deleted in a GUI or
//! killed by the OOM killer would be lost); `labctl up` brings back exactly
//! those, provisions them and what depends on them (mgmt's pinned host keys,
//! the managed nodes' trust in a new mgmt key), and leaves the other machines
//! untouched. A host key that changes on a machine labctl did not re-create is
//! still refused, until `up --recreate` makes it one labctl re-created.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

const NODES: [&str; 5] = ["gitlab", "mgmt", "lb", "web1", "web2"];

/// Container id of every node, by node name.
fn ids() -> BTreeMap<String, String> {
    NODES
        .iter()
        .map(|n| {
            let id = sh(&format!(
                "docker inspect -f '{{{{.Id}}}}' labctl-workflow-{n} 2>/dev/null"
            ));
            (n.to_string(), id.trim().to_string())
        })
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `labctl up workflow`, which must succeed; its stderr.
fn up(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["up", "workflow", "--provider", "docker"];
    args.extend_from_slice(extra);
    let out = labctl(dir, &args);
    assert_eq!(out.status.code(), Some(0), "labctl up {extra:?} failed");
    stderr(&out)
}

/// Assert that exactly `renewed` got new machines between `a` and `b`.
fn assert_only_renewed(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    renewed: &[&str],
) {
    for n in NODES {
        assert!(!b[n].is_empty(), "{n} has a container after up");
        if renewed.contains(&n) {
            assert_ne!(a[n], b[n], "{n} was re-created");
        } else {
            assert_eq!(a[n], b[n], "{n} was left untouched");
        }
    }
}

#[test]
fn a_lab_that_lost_machines_heals_with_up() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-heal-");
    let dir = tmp.path();
    let _down = DownGuard::new(dir, &["workflow"]);
    let before = snapshot(&["labctl-workflow", dir.to_str().unwrap()]);
    up(dir, &[]);
    let fresh = ids();

    // A web node is lost: status says so and names the way out.
    sh("docker rm -f labctl-workflow-web1");
    let st = ok(&labctl(dir, &["status", "workflow"]));
    assert!(
        st.lines()
            .any(|l| l.starts_with("web1") && l.contains("gone")),
        "status marks web1 gone: {st}"
    );
    assert!(st.contains("`labctl up workflow` re-creates it"), "{st}");
    let err = up(dir, &[]);
    assert!(
        err.contains("node web1: its machine is gone from docker; re-creating it"),
        "up says which node it re-creates and why: {err}"
    );
    assert!(
        !err.contains("node mgmt:"),
        "only web1 is re-created: {err}"
    );
    let healed = ids();
    assert_only_renewed(&fresh, &healed, &["web1"]);
    // mgmt's push learned web1's new host key (pinned in its known_hosts).
    let log = std::fs::read_to_string(dir.join(".labctl/workflow/logs/mgmt.log")).unwrap();
    assert!(
        log.contains("web1 (192.168.57.21) was re-created; forgot its old host keys"),
        "ansible-push renewed web1's key on mgmt: {}",
        tail(&log, 40)
    );

    // The Ansible controller itself is lost: a new mgmt with a new key pair,
    // which every managed node must trust again, and a fresh known_hosts.
    sh("docker rm -f labctl-workflow-mgmt");
    let err = up(dir, &[]);
    assert!(err.contains("node mgmt: its machine is gone"), "{err}");
    let after_mgmt = ids();
    assert_only_renewed(&healed, &after_mgmt, &["mgmt"]);
    ok(&labctl(
        dir,
        &[
            "exec",
            "workflow",
            "mgmt",
            "--",
            "sudo",
            "-n",
            "sh",
            "-c",
            "cd /etc/ansible/lab && ansible all -m ping -o",
        ],
    ));

    // A host key that changes on a machine labctl did not re-create is refused.
    ok(&labctl(
        dir,
        &[
            "exec",
            "workflow",
            "web2",
            "--",
            "sudo",
            "-n",
            "sh",
            "-c",
            "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP $(cat /run/sshd.pid)",
        ],
    ));
    std::thread::sleep(std::time::Duration::from_secs(1));
    let out = labctl(dir, &["exec", "workflow", "web2", "--", "true"]);
    assert_eq!(out.status.code(), Some(3), "a changed key is refused");
    let err = stderr(&out);
    assert!(err.contains("node web2: its SSH host key changed"), "{err}");
    assert!(err.contains("--recreate web2"), "names the way out: {err}");
    // ... until the user asks labctl to replace that machine.
    let err = up(dir, &["--recreate", "web2"]);
    assert!(
        err.contains("node web2: --recreate; re-creating it"),
        "{err}"
    );
    let recreated = ids();
    assert_only_renewed(&after_mgmt, &recreated, &["web2"]);

    // A second up changes nothing: no machine re-created, no role changed.
    let err = up(dir, &[]);
    assert!(!err.contains("re-creating"), "{err}");
    assert!(
        err.contains(": 0 changed"),
        "second up changes nothing: {err}"
    );
    assert_eq!(ids(), recreated);

    // Every check green, as on a fresh lab.
    let report = dir.join("heal.json");
    let out = labctl(
        dir,
        &[
            "test",
            "workflow",
            "--provider",
            "docker",
            "--report",
            &format!("json:{}", report.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "labctl test after healing");
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let results = rep["results"].as_array().cloned().unwrap_or_default();
    assert!(results.len() >= 15, "{rep}");
    assert!(results.iter().all(|r| r["passed"] == true), "{rep}");

    ok(&labctl(dir, &["down", "workflow"]));
    assert_clean(
        &before,
        &snapshot(&["labctl-workflow", dir.to_str().unwrap()]),
    );
}
