//! End to end: the docker-deploy lab on the docker provider. Docker and Docker
//! Compose inside a node, haproxy in front of three nginx on 8080, images moved
//! to the node offline, ansible-pull from the lab's git server applying a pushed
//! change, and the project back after `labctl restart` without re-provisioning.

mod common;
use common::*;

#[test]
fn docker_deploy_lab_end_to_end() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-dd-");
    let dir = tmp.path();
    let _down = DownGuard::new(dir, &["docker-deploy"]);
    let before = snapshot(&["labctl-docker-deploy", dir.to_str().unwrap()]);
    let report = dir.join("dd.json");
    let out = labctl(
        dir,
        &[
            "test",
            "docker-deploy",
            "--provider",
            "docker",
            "--report",
            &format!("json:{}", report.display()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "labctl test docker-deploy did not pass"
    );
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let results = rep["results"].as_array().unwrap();
    assert!(results.len() >= 8, "{rep}");
    assert!(results.iter().all(|r| r["passed"] == true), "{rep}");

    // Restart without provisioning: the compose project comes back by itself.
    ok(&labctl(dir, &["restart", "docker-deploy"]));
    let out = labctl(dir, &["test", "docker-deploy", "--skip", "propagat"]);
    assert_eq!(out.status.code(), Some(0), "checks after restart");

    // Idempotence, then drift of the file-writing roles not covered by the
    // workflow lab (issue 10.10): docker-host's block in /etc/default/docker
    // (no restart of the engine needed) and compose-deploy's propagate script.
    assert_idempotent(dir, "docker-deploy");
    drift_is_repaired(
        dir,
        "docker-deploy",
        &[
            Drift {
                node: "node",
                role: "docker-host",
                path: "/etc/default/docker",
                edit: "sed -i 's/keeping the current limit/labctl drift/' \"$1\"",
            },
            Drift {
                node: "node",
                role: "compose-deploy",
                path: "/usr/local/sbin/compose-propagate",
                edit: "echo '# labctl drift' >>\"$1\"",
            },
        ],
    );

    ok(&labctl(dir, &["down", "docker-deploy"]));
    assert_clean(
        &before,
        &snapshot(&["labctl-docker-deploy", dir.to_str().unwrap()]),
    );
}
