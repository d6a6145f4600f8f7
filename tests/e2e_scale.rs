//! End to end on the docker provider with a lab bigger than the shipped ones:
//! 12 plain nodes (no roles). A lab the host's SSH port range cannot hold is
//! refused before anything exists; the lab comes up (SSH addresses from the
//! ports labctl chose, no `vagrant ssh-config`), every node reaches every
//! other on the lab network (and not an address no node has), and `down`
//! (one `docker rm` for every machine) leaves nothing: no container, network
//! or process of the lab. Figures for big labs are bench/scale.sh's, not here.

mod common;
use common::*;

const NODES: usize = 12;
const NET: &str = "192.168.183";

#[test]
fn twelve_nodes_up_reach_each_other_and_down_leaves_nothing() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-scale");
    let dir = tmp.path();
    std::fs::write(
        dir.join("lab.toml"),
        format!(
            "name = \"scale12\"\n\n[network]\nsubnet = \"{NET}.0/24\"\n\n\
             [[node]]\nname = \"node\"\ncount = {NODES}\nip = \"{NET}.11\"\n"
        ),
    )
    .unwrap();
    let _down = DownGuard::new(dir, &["lab.toml"]);
    let needles = ["labctl-scale12", dir.to_str().unwrap()];
    let before = snapshot(&needles);

    // Nine ports left in the range labctl picks from: refused up front,
    // naming the limit, with nothing of the lab made.
    let out = labctl_env(
        dir,
        &["up", "lab.toml", "--provider", "docker", "--no-setup"],
        &[("LABCTL_SSH_PORT_FROM", "2990")],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs 12 SSH port(s)") && err.contains("(2990-2998)"),
        "{err}"
    );
    assert_clean(&before, &snapshot(&needles));

    let up = labctl(
        dir,
        &["up", "lab.toml", "--provider", "docker", "--no-setup"],
    );
    ok(&up);
    let st = json(&labctl(dir, &["status", "lab.toml", "--json"]));
    let running = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["state"] == "running")
        .count();
    assert_eq!(running, NODES, "{st}");

    // Each node opens a TCP connection to every other node's sshd on the lab
    // network; the list printed is the addresses it reached.
    let all: Vec<String> = (0..NODES).map(|i| format!("{NET}.{}", 11 + i)).collect();
    let probe = |targets: &[String]| {
        format!(
            "for ip in {}; do timeout 3 bash -c \"exec 3<>/dev/tcp/$ip/22\" 2>/dev/null && echo $ip; done; true",
            targets.join(" ")
        )
    };
    for i in 0..NODES {
        let node = format!("node{}", i + 1);
        let others: Vec<String> = all.iter().filter(|ip| **ip != all[i]).cloned().collect();
        let reached = ok(&labctl(
            dir,
            &["exec", "lab.toml", &node, "--", "sh", "-c", &probe(&others)],
        ));
        let reached: Vec<String> = reached.lines().map(|l| l.trim().to_string()).collect();
        assert_eq!(reached, others, "{node} reached only these");
    }
    // The probe can fail: an address on the lab subnet that no node has.
    let none = ok(&labctl(
        dir,
        &[
            "exec",
            "lab.toml",
            "node1",
            "--",
            "sh",
            "-c",
            &probe(&[format!("{NET}.250")]),
        ],
    ));
    assert_eq!(none.trim(), "", "reached an address no node has");

    let down = ok(&labctl(dir, &["down", "lab.toml"]));
    let _ = down;
    assert_eq!(sh("docker ps -aq --filter label=labctl.lab=scale12"), "");
    assert_clean(&before, &snapshot(&needles));
}
