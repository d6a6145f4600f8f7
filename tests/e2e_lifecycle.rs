//! End to end on the docker provider, through real Vagrant, Docker and sshd:
//! up, status, exec, provision (idempotence and drift), restart, host keys, a
//! second copy beside the first, an overlapping lab refused, and down leaving
//! the host as it found it.

mod common;
use common::*;

#[test]
fn lifecycle_of_a_two_node_lab() {
    let _g = serial();
    let (tmp, lab) = fixture_lab("e2e");
    let dir = tmp.path();
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab]);
    let _down2 = DownGuard::new(dir, &[lab, "--name", "e2e2", "--subnet", "192.168.63.0/24"]);
    let before = snapshot(&["labctl-e2e", "labctl-e2e2", dir.to_str().unwrap()]);

    // Watch every process's arguments while the lab comes up: the secret must
    // never appear in one.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for e in std::fs::read_dir("/proc").unwrap().flatten() {
                    if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
                        if String::from_utf8_lossy(&c).contains(CANARY) {
                            seen.push(String::from_utf8_lossy(&c).replace('\0', " "));
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            seen
        })
    };
    let up = labctl(dir, &["up", lab, "--provider", "docker"]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = watcher.join().unwrap();
    ok(&up);
    assert!(seen.is_empty(), "secret in process arguments: {seen:?}");
    // The role got the secret (its digest matches), output and logs masked it,
    // and no file labctl wrote holds it.
    let digest = ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "node1",
            "--",
            "sudo",
            "cat",
            "/var/lib/labctl/token.sha256",
        ],
    ));
    let want = sh(&format!(
        "printf '%s' '{CANARY}' | sha256sum | cut -d' ' -f1"
    ));
    assert_eq!(digest.trim(), want.trim());
    let up_err = String::from_utf8_lossy(&up.stderr);
    assert!(
        !up_err.contains(CANARY) && up_err.contains("token is ***"),
        "{up_err}"
    );
    let leaked = sh(&format!(
        "grep -rl -a -F '{CANARY}' '{}' 2>/dev/null",
        dir.display()
    ));
    assert!(leaked.trim().is_empty(), "secret written to: {leaked}");

    // status --json: both nodes running, at their lab addresses.
    let st = json(&labctl(dir, &["status", lab, "--json"]));
    let nodes = st["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for (n, ip) in nodes.iter().zip(["192.168.62.11", "192.168.62.12"]) {
        assert_eq!(n["state"], "running", "{st}");
        assert_eq!(n["ip"], ip);
        assert_eq!(n["provider"], "docker");
        let image = n["box"].as_str().unwrap_or_default();
        assert!(
            image.starts_with("labctl-node:"),
            "docker nodes run the node image: {st}"
        );
    }

    // exec passes the exit code through and shows the role's work.
    let out = labctl(
        dir,
        &[
            "exec",
            lab,
            "node1",
            "--",
            "cat",
            "/var/www/html/index.html",
        ],
    );
    assert!(ok(&out).contains("<h1>node1</h1>"));
    let out = labctl(dir, &["exec", lab, "node2", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));

    // A second provision changes nothing, and says so.
    let rep = json(&labctl(dir, &["provision", lab, "--json"]));
    let tasks = rep["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks.iter().all(|t| t["outcome"]["status"] == "unchanged"),
        "{rep}"
    );

    // Drift: remove the page on node2; exactly that role on that node changes.
    ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "node2",
            "--",
            "sudo",
            "rm",
            "/var/www/html/index.html",
        ],
    ));
    let rep = json(&labctl(dir, &["provision", lab, "--json"]));
    for t in rep["tasks"].as_array().unwrap() {
        let want = if t["node"] == "node2" {
            "changed"
        } else {
            "unchanged"
        };
        assert_eq!(t["outcome"]["status"], want, "{rep}");
    }
    let out = labctl(
        dir,
        &[
            "exec",
            lab,
            "node1",
            "--",
            "curl",
            "-s",
            "http://192.168.62.12/",
        ],
    );
    assert!(ok(&out).contains("<h1>node2</h1>"));

    // Restart without provisioning: nginx comes back through the node's init.
    ok(&labctl(dir, &["restart", lab]));
    let out = labctl(
        dir,
        &[
            "exec",
            lab,
            "node2",
            "--",
            "curl",
            "-s",
            "--retry",
            "10",
            "--retry-connrefused",
            "--retry-delay",
            "1",
            "http://192.168.62.11/",
        ],
    );
    assert!(ok(&out).contains("<h1>node1</h1>"));

    // Each node made its own host key; Vagrant's insecure key is gone.
    let k1 = ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "node1",
            "--",
            "cat",
            "/etc/ssh/ssh_host_ed25519_key.pub",
        ],
    ));
    let k2 = ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "node2",
            "--",
            "cat",
            "/etc/ssh/ssh_host_ed25519_key.pub",
        ],
    ));
    let key = |s: &str| s.split_whitespace().nth(1).unwrap_or("").to_string();
    assert!(!key(&k1).is_empty());
    assert_ne!(key(&k1), key(&k2), "nodes share a host key");
    // Vagrant's well-known insecure key is authorized nowhere: each node
    // authorizes exactly its own key, which labctl made in the state dir
    // (0600), and its sshd refuses the well-known private key while labctl's
    // key gets in (same address, port, user and host-key check).
    let insecure = sh("cat $(dpkg -L vagrant | grep 'keys/vagrant.pub$' | head -n1)");
    let insecure_key = insecure
        .split_whitespace()
        .nth(1)
        .unwrap_or("none")
        .to_string();
    assert!(
        insecure_key.len() > 100,
        "found Vagrant's public key: {insecure}"
    );
    let key_dir = tempfile::tempdir().unwrap();
    let insecure_private = key_dir.path().join("vagrant-insecure-key");
    std::fs::copy(
        sh("dpkg -L vagrant | grep '/keys/vagrant$' | head -n1").trim(),
        &insecure_private,
    )
    .expect("Vagrant's well-known private key (dpkg -L vagrant)");
    {
        // ssh ignores a private key others may read, and would then be
        // refused for the wrong reason.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&insecure_private, std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    for node in ["node1", "node2"] {
        let key = dir.join(format!(".labctl/e2e/keys/{node}"));
        let (code, err) = ssh_with_key(dir, "e2e", node, &insecure_private);
        assert!(
            code == Some(255) && err.contains("Permission denied") && !err.contains("UNPROTECTED"),
            "{node}'s sshd must refuse Vagrant's well-known key: exit {code:?}, {err}"
        );
        let (code, err) = ssh_with_key(dir, "e2e", node, &key);
        assert_eq!(code, Some(0), "{node}: labctl's key is accepted: {err}");
        let ak = ok(&labctl(
            dir,
            &[
                "exec",
                lab,
                node,
                "--",
                "cat",
                "/home/vagrant/.ssh/authorized_keys",
            ],
        ));
        assert!(
            !ak.contains(&insecure_key),
            "{node} still authorizes the insecure key: {ak}"
        );
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let public: Vec<&str> = public.split_whitespace().take(2).collect();
        assert_eq!(
            ak.trim(),
            public.join(" "),
            "{node} authorizes exactly its own key"
        );
        let mode = std::fs::metadata(&key).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            mode.mode() & 0o077,
            0,
            "{} is readable by others",
            key.display()
        );
    }

    // A second copy beside the first. `--timings` prints where `up` spent its
    // time, each node's provisioning on its own row, and the run record in
    // the copy's history holds the same phases.
    let timings = ok(&labctl(
        dir,
        &[
            "up",
            lab,
            "--name",
            "e2e2",
            "--subnet",
            "192.168.63.0/24",
            "--timings",
        ],
    ));
    let row = |phase: &str, node: &str| {
        timings.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 3 && f[0] == phase && f[1] == node && f[2].ends_with('s')
        })
    };
    for (phase, node) in [
        ("machines", "-"),
        ("ssh-config", "node1"),
        ("ssh-config", "node2"),
        ("provisioning", "-"),
        ("provisioning", "node1"),
        ("provisioning", "node2"),
    ] {
        assert!(row(phase, node), "no {phase} row for {node} in:\n{timings}");
    }
    let history = dir.join(".labctl/e2e2/history");
    let records: Vec<serde_json::Value> = std::fs::read_dir(&history)
        .unwrap_or_else(|e| panic!("{}: {e}", history.display()))
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    let up_rec = records
        .iter()
        .find(|r| r["command"] == "up")
        .unwrap_or_else(|| panic!("no up record in {}", history.display()));
    assert_eq!(up_rec["ok"], true, "{up_rec}");
    for node in ["node1", "node2"] {
        assert!(
            up_rec["phases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["phase"] == "provisioning"
                    && p["node"] == node
                    && p["seconds"].as_f64().is_some_and(|s| s > 0.0)),
            "{node}'s provisioning not in the record: {up_rec}"
        );
    }
    let st2 = json(&labctl(
        dir,
        &[
            "status",
            lab,
            "--name",
            "e2e2",
            "--subnet",
            "192.168.63.0/24",
            "--json",
        ],
    ));
    assert_eq!(st2["nodes"][0]["ip"], "192.168.63.11");
    assert_eq!(st2["nodes"][0]["state"], "running");
    let out = labctl(
        dir,
        &[
            "exec",
            lab,
            "--name",
            "e2e2",
            "--subnet",
            "192.168.63.0/24",
            "node1",
            "--",
            "curl",
            "-s",
            "http://192.168.63.12/",
        ],
    );
    assert!(ok(&out).contains("<h1>node2</h1>"));

    // A third copy on the first one's subnet is refused before anything exists.
    let mid = snapshot(&["labctl-e2e3"]);
    let out = labctl(dir, &["up", lab, "--name", "e2e3"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("overlaps") && err.contains("e2e"), "{err}");
    assert_clean(&mid, &snapshot(&["labctl-e2e3"]));

    ok(&labctl(
        dir,
        &["down", lab, "--name", "e2e2", "--subnet", "192.168.63.0/24"],
    ));
    let out = ok(&labctl(dir, &["down", lab]));
    let _ = out;
    // down twice: succeeds and says the lab is already gone.
    let out = labctl(dir, &["down", lab]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already down"));

    // The key pairs labctl made went with the lab.
    for copy in ["e2e", "e2e2"] {
        let keys = dir.join(format!(".labctl/{copy}/keys"));
        assert!(!keys.exists(), "{} left after down", keys.display());
    }
    assert_clean(
        &before,
        &snapshot(&["labctl-e2e", "labctl-e2e2", dir.to_str().unwrap()]),
    );
}

/// `ssh` as vagrant to `node` of lab copy `copy` with `key` alone (no agent,
/// no other identity, no password), in batch mode, at the address and port
/// of the lab's ssh_config and with its host-key check (the lab's
/// known_hosts under the node's alias). Returns ssh's exit code and stderr.
fn ssh_with_key(
    dir: &std::path::Path,
    copy: &str,
    node: &str,
    key: &std::path::Path,
) -> (Option<i32>, String) {
    let cfg = std::fs::read_to_string(dir.join(format!(".labctl/{copy}/ssh_config"))).unwrap();
    let block: Vec<&str> = cfg
        .split("\nHost ")
        .find(|b| b.lines().next() == Some(node))
        .unwrap_or_else(|| panic!("no Host {node} in ssh_config:\n{cfg}"))
        .lines()
        .collect();
    let field = |k: &str| {
        block
            .iter()
            .find_map(|l| l.trim().strip_prefix(&format!("{k} ")))
            .unwrap_or_else(|| panic!("no {k} for {node}"))
            .trim_matches('"')
            .to_string()
    };
    let out = std::process::Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .args([
            "-o",
            "IdentityAgent=none",
            "-o",
            "PasswordAuthentication=no",
        ])
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10"])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            field("UserKnownHostsFile")
        ))
        .arg("-o")
        .arg(format!("HostKeyAlias={}", field("HostKeyAlias")))
        .arg("-i")
        .arg(key)
        .args(["-p", &field("Port")])
        .arg(format!("vagrant@{}", field("HostName")))
        .arg("true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
