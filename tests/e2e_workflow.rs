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

    // The cron probe (a full pull at cron's next minute) was armed only on
    // web1, the node of "cron fires the pull line" (cron_probe_nodes): lb and
    // web2 have neither a probe nor its record.
    for (node, armed) in [("web1", true), ("lb", false), ("web2", false)] {
        let o = labctl(
            dir,
            &[
                "exec",
                "workflow",
                node,
                "--",
                "sudo",
                "-n",
                "sh",
                "-c",
                "ls /etc/cron.d/labctl-cron-probe /var/lib/labctl/cron-probe-status 2>/dev/null; true",
            ],
        );
        let seen = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(
            seen.contains("/var/lib/labctl/cron-probe-status"),
            armed,
            "{node}: {seen}"
        );
        if !armed {
            assert!(!seen.contains("labctl-cron-probe"), "{node}: {seen}");
        }
    }

    // Idempotence: a second provision changes nothing, and says so: every
    // role `unchanged` (not `unreported`, not skipped).
    assert_idempotent(dir, "workflow");

    // Drift of a file of every role of this lab that writes files, one
    // provision for all: exactly those roles on those nodes say changed and
    // put the files back (issue 10.10).
    let append = "echo '# labctl drift' >>\"$1\"";
    drift_is_repaired(
        dir,
        "workflow",
        &[
            Drift {
                node: "gitlab",
                role: "gitserver",
                path: "/etc/nginx/sites-available/git",
                edit: append,
            },
            Drift {
                node: "web2",
                role: "managed",
                path: "/root/.ssh/authorized_keys",
                edit: "sed -i '/labctl lab/d' \"$1\"",
            },
            Drift {
                node: "mgmt",
                role: "ansible-mgmt",
                path: "/etc/ansible/lab/ansible.cfg",
                edit: append,
            },
            Drift {
                node: "mgmt",
                role: "ansible-push",
                path: "/usr/local/sbin/workflow-propagate",
                edit: append,
            },
            Drift {
                node: "web1",
                role: "ansible-pull",
                path: "/etc/cron.d/ansible-pull",
                edit: append,
            },
        ],
    );

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

    // Break the lab: nginx stopped on web2, and its pull checkout removed, as
    // on a fresh lab, so that any pull on web2 is a full run that starts nginx
    // again. Cron is stopped on web2 for this run only: its own */3 pull would
    // heal web2 on its own schedule, which is not what this run tests. The pull
    // of "the pull cron line works" must not run alongside the HTTP checks
    // (it used to, and the run passed); the run exits 1 naming web2.
    for cmd in [
        "service nginx stop",
        "service cron stop",
        "rm -rf /var/lib/ansible/local",
    ] {
        let mut args = vec!["exec", "workflow", "web2", "--", "sudo"];
        args.extend(cmd.split(' '));
        ok(&labctl(dir, &args));
    }
    let broken = dir.join("broken.json");
    let out = labctl(
        dir,
        &[
            "test",
            "workflow",
            "--skip",
            "cron fires",
            "--skip",
            "a pushed commit",
            "--report",
            &format!("json:{}", broken.display()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a stopped nginx on web2 fails the run"
    );
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&broken).unwrap()).unwrap();
    let by_name = |n: &str| {
        results(&rep)
            .into_iter()
            .find(|r| r["name"] == n)
            .unwrap_or_else(|| panic!("{n} ran: {rep}"))
    };
    let spread = by_name("lb spreads over web1 and web2");
    assert_eq!(spread["passed"], false);
    assert!(
        spread["message"].as_str().unwrap().contains("web2"),
        "{spread}"
    );
    assert_eq!(
        by_name("web2 names the revision it was deployed from")["passed"],
        false,
        "{rep}"
    );
    // The pull did run, after the observers: it started nginx again.
    assert_eq!(by_name("the pull cron line works")["passed"], true, "{rep}");
    ok(&labctl(
        dir,
        &[
            "exec", "workflow", "web2", "--", "sudo", "service", "cron", "start",
        ],
    ));

    // Ctrl-C while "cron fires the pull line" waits for cron: the probe it
    // installed on web1 is removed before labctl exits, and the message names
    // the check it was in. Cron restarted on web1 first: the firing the role
    // armed was by the daemon that ended, so the check arms again and waits.
    ok(&labctl(
        dir,
        &[
            "exec", "workflow", "web1", "--", "sudo", "service", "cron", "restart",
        ],
    ));
    let probe = || {
        std::process::Command::new("docker")
            .args([
                "exec",
                "labctl-workflow-web1",
                "test",
                "-e",
                "/etc/cron.d/labctl-cron-probe",
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    let err_file = dir.join("interrupted.err");
    let mut child = std::process::Command::new(bin())
        // Every check but "cron fires the pull line" skipped.
        .args(["test", "workflow", "--skip", "^[^c]", "--skip", "^c[^r]"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !probe() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "labctl ended before installing the probe: {}",
            std::fs::read_to_string(&err_file).unwrap_or_default()
        );
        assert!(
            start.elapsed().as_secs() < 60,
            "no probe on web1 after 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(&err_file).unwrap();
    eprintln!("--- interrupted run\n{err}");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted during check `cron fires the pull line`"),
        "{err}"
    );
    assert!(!probe(), "the cron probe is left on web1 after Ctrl-C");

    ok(&labctl(dir, &["down", "workflow"]));
    assert_clean(
        &before,
        &snapshot(&["labctl-workflow", dir.to_str().unwrap()]),
    );
}
