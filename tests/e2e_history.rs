//! Run history on the docker provider, across real runs of lab `viewsh`
//! (tests/fixtures/views renamed, 192.168.172.0/24): a passing run, the
//! marker file removed on alpha (its check breaks), a run with `--since last`
//! that marks it newly failing in the table, the JSON and the JUnit
//! properties, a repair and a run `--since 2` that marks it newly passing;
//! `labctl history` lists the three with what changed, `down` keeps them,
//! `--history-dir` keeps a CI cache's records apart.

mod common;
use common::*;

#[test]
fn history_across_runs_with_a_check_broken_in_between() {
    let _g = serial();
    let (tmp, lab) = fixture_lab("views");
    let text = std::fs::read_to_string(&lab)
        .unwrap()
        .replace("name = \"views\"", "name = \"viewsh\"")
        .replace("192.168.171.", "192.168.172.");
    std::fs::write(&lab, text).unwrap();
    let dir = tmp.path();
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab]);
    let before = snapshot(&["labctl-viewsh", dir.to_str().unwrap()]);
    let hist = dir.join(".labctl/viewsh/history");
    let marker = "alpha has its marker";

    // Run 1: everything passes; no --since, so no SINCE column.
    let r1 = labctl(dir, &["test", lab, "--provider", "docker"]);
    assert_eq!(
        r1.status.code(),
        Some(0),
        "{}",
        tail(&String::from_utf8_lossy(&r1.stderr), 30)
    );
    // `up`, `provision` and `down` record their phases in the same folder
    // and numbering: the test runs are found by their command.
    let tests = test_runs(&hist);
    assert_eq!(tests.len(), 1);
    let (n1, rec) = tests[0].clone();
    let all = records(&hist);
    assert!(
        all.iter()
            .any(|r| r["command"] == "up" && !r["phases"].as_array().unwrap().is_empty()),
        "the test brought the lab up: an up record with its phases"
    );
    assert_eq!(rec["ok"], true);
    assert_eq!(rec["tools"]["provider"], "docker");
    assert!(
        rec["tools"]["vagrant"]
            .as_str()
            .is_some_and(|v| v.starts_with('2')),
        "{rec}"
    );
    assert_eq!(rec["lab_digest"].as_str().unwrap().len(), 64);
    assert_eq!(rec["results"].as_array().unwrap().len(), 2);

    // Break the check between the runs.
    ok(&labctl(
        dir,
        &[
            "exec",
            lab,
            "alpha",
            "--",
            "sudo",
            "rm",
            "/var/lib/views/marker",
        ],
    ));
    let r2 = labctl(
        dir,
        &[
            "test",
            lab,
            "--since",
            "last",
            "--report",
            "json:r2.json",
            "--report",
            "junit:r2.xml",
        ],
    );
    assert_eq!(r2.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r2.stderr);
    assert!(err.contains(&format!("SINCE RUN {n1}")), "{err}");
    let row = err
        .lines()
        .find(|l| l.starts_with(marker) && l.contains("FAIL"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(row.contains("newly failing"), "{row}");
    let other = err
        .lines()
        .find(|l| l.starts_with("beta reaches alpha"))
        .unwrap();
    assert!(!other.contains("newly"), "{other}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r2.json")).unwrap()).unwrap();
    assert_eq!(j["since"]["run"], n1);
    let res = |j: &serde_json::Value, name: &str| {
        j["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    // Failing took its 5 s timeout, so it is also marked slower (>20% and >2 s).
    let marks = res(&j, marker)["since"].clone();
    assert_eq!(marks[0], "newly failing", "{marks}");
    assert!(
        marks[1]
            .as_str()
            .is_some_and(|m| m.starts_with("slower 0.")),
        "{marks}"
    );
    assert_eq!(
        res(&j, "beta reaches alpha")["since"],
        serde_json::json!([])
    );
    let x = std::fs::read_to_string(dir.join("r2.xml")).unwrap();
    let doc = roxmltree::Document::parse(&x).unwrap();
    let prop = |scope: roxmltree::Node, name: &str| {
        scope
            .descendants()
            .find(|p| p.has_tag_name("property") && p.attribute("name") == Some(name))
            .and_then(|p| p.attribute("value").map(String::from))
    };
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(prop(suite, "since_run"), Some(n1.to_string()));
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(marker))
        .unwrap();
    assert!(prop(case, "since").is_some_and(|v| v.starts_with("newly failing, slower")));
    assert!(case.children().any(|c| c.has_tag_name("failure")));

    // Mend it; the third test run against the second by number.
    let n2 = test_runs(&hist)[1].0;
    ok(&labctl(dir, &["provision", lab, "--node", "alpha"]));
    let r3 = labctl(
        dir,
        &[
            "test",
            lab,
            "--since",
            &n2.to_string(),
            "--report",
            "json:r3.json",
        ],
    );
    assert_eq!(
        r3.status.code(),
        Some(0),
        "{}",
        tail(&String::from_utf8_lossy(&r3.stderr), 30)
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r3.json")).unwrap()).unwrap();
    assert_eq!(j["since"]["run"], n2);
    assert_eq!(
        res(&j, marker)["since"],
        serde_json::json!(["newly passing"])
    );

    // A CI cache: records go to DIR/LAB/, the state dir's history is untouched.
    ok(&labctl(dir, &["test", lab, "--history-dir", "cache"]));
    assert!(dir.join("cache/viewsh/run-000001.json").is_file());
    assert_eq!(test_runs(&hist).len(), 3);

    ok(&labctl(dir, &["down", lab]));
    // down keeps the history; `labctl history` reads it with the lab down.
    let h = ok(&labctl(dir, &["history", lab]));
    let rows: Vec<&str> = h
        .lines()
        .filter(|l| l.starts_with("RUN") || l.split_whitespace().nth(2) == Some("test"))
        .collect();
    assert_eq!(rows.len(), 4, "{h}");
    assert!(
        rows[0].starts_with("RUN") && rows[0].contains("CHANGED"),
        "{h}"
    );
    assert!(
        rows[1].contains("first run") && rows[1].contains(" ok "),
        "{h}"
    );
    assert!(
        rows[2].contains("FAILED") && rows[2].contains(&format!("newly failing: {marker}")),
        "{h}"
    );
    assert!(
        rows[3].contains(" ok ") && rows[3].contains(&format!("newly passing: {marker}")),
        "{h}"
    );
    let js: serde_json::Value =
        serde_json::from_str(&ok(&labctl(dir, &["history", lab, "--json"]))).unwrap();
    let js: Vec<&serde_json::Value> = js
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["command"] == "test")
        .collect();
    assert_eq!(js.len(), 3);
    assert_eq!(js[2]["since"], n2);

    // A run number that is not recorded is refused before anything is brought up.
    let bad = labctl(dir, &["test", lab, "--since", "99"]);
    assert_eq!(bad.status.code(), Some(2));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(e.contains("no run 99") && e.contains("runs: 1, 2, "), "{e}");
    // A run number of an `up` is refused too: a test compares with a test.
    let up = records(&hist)
        .into_iter()
        .find(|r| r["command"] == "up")
        .unwrap()["run"]
        .as_u64()
        .unwrap();
    let bad = labctl(dir, &["test", lab, "--since", &up.to_string()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is a `up` run"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert_clean(
        &before,
        &snapshot(&["labctl-viewsh", dir.to_str().unwrap()]),
    );
}

/// Every record in a history folder, in run order.
fn records(hist: &std::path::Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(hist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// The `test` runs of a history folder: (run number, record).
fn test_runs(hist: &std::path::Path) -> Vec<(u64, serde_json::Value)> {
    records(hist)
        .into_iter()
        .filter(|r| r["command"] == "test")
        .map(|r| (r["run"].as_u64().unwrap(), r))
        .collect()
}
