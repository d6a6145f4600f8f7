//! End to end: the workflow lab on the docker provider. `labctl test workflow`
//! brings it up (git server, Ansible push from mgmt, haproxy + nginx,
//! ansible-pull from cron) and every check passes, including cron firing the
//! pull line and a pushed commit reaching both web nodes. Then idempotence and
//! drift, then a broken backend the spread check must name, then `down`.

mod common;
use common::*;

fn results(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["results"].as_array().cloned().unwrap_or_default()
}

#[test]
fn workflow_lab_end_to_end() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-wf-");
    let dir = tmp.path();
    let _down = DownGuard::new(dir, &["workflow"]);
    let before = snapshot(&["labctl-workflow", dir.to_str().unwrap()]);
    let junit = dir.join("wf.xml");
    let report = dir.join("wf.json");

    let out = labctl(
        dir,
        &[
            "test",
            "workflow",
            "--provider",
            "docker",
            "--report",
            &format!("junit:{}", junit.display()),
            "--report",
            &format!("json:{}", report.display()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "labctl test workflow did not pass"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit parses");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert!(cases.len() >= 15, "one testcase per check: {xml}");
    assert!(
        cases.iter().all(|c| !c
            .children()
            .any(|x| x.has_tag_name("failure") || x.has_tag_name("error"))),
        "{xml}"
    );
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(results(&rep).iter().all(|r| r["passed"] == true), "{rep}");

    // Forwarded ports (lb's 8080 -> 18080, and Vagrant's SSH ports) listen on
    // 127.0.0.1 only.
    for node in ["lb", "web1"] {
        let ports = sh(&format!("docker port labctl-workflow-{node}"));
        assert!(!ports.trim().is_empty(), "{node} has forwarded ports");
        for l in ports.lines() {
            assert!(
                l.contains("-> 127.0.0.1:"),
                "{node}: {l} is not bound to 127.0.0.1"
            );
        }
    }
    assert!(sh("docker port labctl-workflow-lb").contains("8080/tcp -> 127.0.0.1:18080"));

    // Idempotence: a second provision changes nothing, and says so.
    let p = json(&labctl(dir, &["provision", "workflow", "--json"]));
    let tasks = p["tasks"].as_array().unwrap();
    assert!(tasks.len() >= 9);
    let changed: Vec<String> = tasks
        .iter()
        .filter(|t| t["outcome"]["status"] != "unchanged")
        .map(|t| format!("{}:{}", t["node"], t["role"]))
        .collect();
    assert!(changed.is_empty(), "second provision changed {changed:?}");

    // Drift: web2's site removed. Exactly the role that owns it (the push from
    // mgmt deploys the page) reports changed and repairs it.
    ok(&labctl(
        dir,
        &[
            "exec",
            "workflow",
            "web2",
            "--",
            "sudo",
            "rm",
            "-f",
            "/var/www/workflow/index.html",
        ],
    ));
    let p = json(&labctl(dir, &["provision", "workflow", "--json"]));
    let changed: Vec<String> = p["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"]["status"] == "changed")
        .map(|t| {
            format!(
                "{}:{}",
                t["node"].as_str().unwrap(),
                t["role"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(changed, vec!["mgmt:ansible-push".to_string()], "{p}");
    let page = ok(&labctl(
        dir,
        &[
            "exec",
            "workflow",
            "mgmt",
            "--",
            "curl",
            "-s",
            "http://192.168.57.22/",
        ],
    ));
    assert!(
        page.contains("web2") && page.contains("revision:"),
        "{page}"
    );

    // Break the lab: nginx stopped on web2. The spread check fails naming web2,
    // and the run exits 1 (a check failed), not 2 or 3.
    ok(&labctl(
        dir,
        &[
            "exec", "workflow", "web2", "--", "sudo", "service", "nginx", "stop",
        ],
    ));
    let broken = dir.join("broken.json");
    let out = labctl(
        dir,
        &[
            "test",
            "workflow",
            "--report",
            &format!("json:{}", broken.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&broken).unwrap()).unwrap();
    let spread = results(&rep)
        .into_iter()
        .find(|r| r["name"] == "lb spreads over web1 and web2")
        .expect("spread check ran");
    assert_eq!(spread["passed"], false);
    assert!(
        spread["message"].as_str().unwrap().contains("web2"),
        "{spread}"
    );

    ok(&labctl(dir, &["down", "workflow"]));
    assert_clean(
        &before,
        &snapshot(&["labctl-workflow", dir.to_str().unwrap()]),
    );
}
