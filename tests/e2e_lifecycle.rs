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
    let before = snapshot(&["labctl-e2e", "labctl-e2e2", dir.to_str().unwrap()]);

    ok(&labctl(dir, &["up", lab, "--provider", "docker"]));

    // status --json: both nodes running, at their lab addresses.
    let st = json(&labctl(dir, &["status", lab, "--json"]));
    let nodes = st["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for (n, ip) in nodes.iter().zip(["192.168.62.11", "192.168.62.12"]) {
        assert_eq!(n["state"], "running", "{st}");
        assert_eq!(n["ip"], ip);
        assert_eq!(n["provider"], "docker");
    }

    // exec passes the exit code through and shows the role's work.
    let out = labctl(dir, &["exec", lab, "node1", "--", "cat", "/var/www/html/index.html"]);
    assert!(ok(&out).contains("<h1>node1</h1>"));
    let out = labctl(dir, &["exec", lab, "node2", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));

    // A second provision changes nothing, and says so.
    let rep = json(&labctl(dir, &["provision", lab, "--json"]));
    let tasks = rep["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t["outcome"]["status"] == "unchanged"), "{rep}");

    // Drift: remove the page on node2; exactly that role on that node changes.
    ok(&labctl(dir, &["exec", lab, "node2", "--", "sudo", "rm", "/var/www/html/index.html"]));
    let rep = json(&labctl(dir, &["provision", lab, "--json"]));
    for t in rep["tasks"].as_array().unwrap() {
        let want = if t["node"] == "node2" { "changed" } else { "unchanged" };
        assert_eq!(t["outcome"]["status"], want, "{rep}");
    }
    let out = labctl(dir, &["exec", lab, "node1", "--", "curl", "-s", "http://192.168.62.12/"]);
    assert!(ok(&out).contains("<h1>node2</h1>"));

    // Restart without provisioning: nginx comes back through the node's init.
    ok(&labctl(dir, &["restart", lab]));
    let out = labctl(dir, &["exec", lab, "node2", "--", "curl", "-s", "--retry", "10", "--retry-connrefused", "--retry-delay", "1", "http://192.168.62.11/"]);
    assert!(ok(&out).contains("<h1>node1</h1>"));

    // Each node made its own host key; Vagrant's insecure key is gone.
    let k1 = ok(&labctl(dir, &["exec", lab, "node1", "--", "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]));
    let k2 = ok(&labctl(dir, &["exec", lab, "node2", "--", "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]));
    let key = |s: &str| s.split_whitespace().nth(1).unwrap_or("").to_string();
    assert!(!key(&k1).is_empty());
    assert_ne!(key(&k1), key(&k2), "nodes share a host key");
    let ak = ok(&labctl(dir, &["exec", lab, "node1", "--", "cat", "/home/vagrant/.ssh/authorized_keys"]));
    assert!(!ak.contains("vagrant insecure public key"), "insecure key still authorized: {ak}");

    // A second copy beside the first.
    ok(&labctl(dir, &["up", lab, "--name", "e2e2", "--subnet", "192.168.63.0/24"]));
    let st2 = json(&labctl(dir, &["status", lab, "--name", "e2e2", "--subnet", "192.168.63.0/24", "--json"]));
    assert_eq!(st2["nodes"][0]["ip"], "192.168.63.11");
    assert_eq!(st2["nodes"][0]["state"], "running");
    let out = labctl(dir, &["exec", lab, "--name", "e2e2", "--subnet", "192.168.63.0/24", "node1", "--", "curl", "-s", "http://192.168.63.12/"]);
    assert!(ok(&out).contains("<h1>node2</h1>"));

    // A third copy on the first one's subnet is refused before anything exists.
    let mid = snapshot(&["labctl-e2e3"]);
    let out = labctl(dir, &["up", lab, "--name", "e2e3"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("overlaps") && err.contains("e2e"), "{err}");
    assert_clean(&mid, &snapshot(&["labctl-e2e3"]));

    ok(&labctl(dir, &["down", lab, "--name", "e2e2", "--subnet", "192.168.63.0/24"]));
    let out = ok(&labctl(dir, &["down", lab]));
    let _ = out;
    // down twice: succeeds and says the lab is already gone.
    let out = labctl(dir, &["down", lab]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already down"));

    assert_clean(&before, &snapshot(&["labctl-e2e", "labctl-e2e2", dir.to_str().unwrap()]));
}
