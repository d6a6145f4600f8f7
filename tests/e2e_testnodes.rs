//! End to end: the testnodes lab on the docker provider. Extra 8 GiB disks are
//! loop devices passed to the nodes, the repo node serves a signed offline
//! package repository, the test nodes use it as their only source (no default
//! route) and install from it. Then testnode1's disk is made unavailable
//! inside testnode1 only: its disk check fails naming it while testnode2's
//! still passes (the check asks each node for its own device, never the
//! host's sysfs). Idempotence and drift of both roles are checked
//! first. `down` leaves the host as it was, loop devices included.

mod common;
use common::*;

#[test]
fn testnodes_lab_end_to_end() {
    let _g = serial();
    let tmp = workdir("labctl-e2e-tn-");
    let dir = tmp.path();
    let _down = DownGuard::new(dir, &["testnodes"]);
    let before = snapshot(&["labctl-testnodes", dir.to_str().unwrap()]);
    let junit = dir.join("tn.xml");
    let out = labctl(
        dir,
        &[
            "test",
            "testnodes",
            "--provider",
            "docker",
            "--report",
            &format!("junit:{}", junit.display()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "labctl test testnodes did not pass"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert!(cases.len() >= 10, "{xml}");
    assert!(cases
        .iter()
        .any(|c| c.attribute("name") == Some("testnode1 has its 8G disk")));
    assert!(
        cases.iter().all(|c| !c
            .children()
            .any(|x| x.has_tag_name("failure") || x.has_tag_name("error"))),
        "{xml}"
    );
    // The repository was signed with the lab's own key, kept in the state dir.
    assert!(dir.join(".labctl/testnodes/repo/public/InRelease").exists());
    // Idempotence and drift of both roles (issue 10.10).
    assert_idempotent(dir, "testnodes");
    let append = "echo '# labctl drift' >>\"$1\"";
    drift_is_repaired(
        dir,
        "testnodes",
        &[
            Drift {
                node: "repo",
                role: "aptrepo",
                path: "/etc/nginx/sites-available/labctl-repo",
                edit: append,
            },
            Drift {
                node: "testnode1",
                role: "offline-apt",
                path: "/etc/apt/sources.list.d/lab.sources",
                edit: append,
            },
        ],
    );

    // testnode1's disk gone inside testnode1 only (its /dev is its own); the
    // loop device stays attached on the host and passed to the container. The
    // lab counts as settled (state written 5 minutes ago), so the failing
    // check gives its verdict on its first attempt.
    sh("docker exec labctl-testnodes-testnode1 rm -f /dev/sdb");
    sh(&format!(
        "touch -d '5 minutes ago' {}",
        dir.join(".labctl/testnodes/state.json").display()
    ));
    let report = dir.join("disks.json");
    let out = labctl(
        dir,
        &[
            "test",
            "testnodes",
            "--skip",
            "^the ",
            "--skip",
            r"^testnode\d (?:accepts|apt|runs|has (?:no |the |tree))",
            "--report",
            &format!("json:{}", report.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let by_name = |n: &str| {
        rep["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} ran: {rep}"))
    };
    let one = by_name("testnode1 has its 8G disk");
    assert_eq!(one["passed"], false, "{rep}");
    assert_eq!(one["attempts"], 1, "settled: no retry until healthy: {rep}");
    assert!(
        one["message"]
            .as_str()
            .unwrap()
            .starts_with("testnode1 has no disk at /dev/sdb"),
        "{rep}"
    );
    assert_eq!(
        by_name("testnode2 has its 8G disk")["passed"],
        true,
        "{rep}"
    );

    ok(&labctl(dir, &["down", "testnodes"]));
    assert_clean(
        &before,
        &snapshot(&["labctl-testnodes", dir.to_str().unwrap()]),
    );
}
