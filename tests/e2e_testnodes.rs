//! End to end: the testnodes lab on the docker provider. Extra 8 GiB disks are
//! loop devices passed to the nodes, the repo node serves a signed offline
//! package repository, the test nodes use it as their only source (no default
//! route) and install from it. `--destroy always` leaves the host as it was,
//! loop devices included.

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
            "--destroy",
            "always",
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
    assert_clean(
        &before,
        &snapshot(&["labctl-testnodes", dir.to_str().unwrap()]),
    );
}
