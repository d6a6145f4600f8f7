//! End to end on the docker provider (issue 14): a suite of two small labs
//! split over two "CI runners" with `labctl test --partition count:K/2`,
//! each runner's JUnit report merged by `labctl report merge`, and the merged
//! report read by an independent JUnit consumer (Debian's python3-junitparser)
//! with the right totals. Broken case: one lab has a check that fails; its
//! runner exits 1 and the failure is in the merged totals.

mod common;
use common::*;
use std::path::Path;

/// What junitparser reads: the document's own totals, then per suite its
/// name and the cases it counts itself from their results.
const READ: &str = r#"
import sys, junitparser
from junitparser import Failure, Error, Skipped
doc = junitparser.JUnitXml.fromfile(sys.argv[1])
print("total", doc.tests, doc.failures, doc.errors, doc.skipped)
for suite in doc:
    cases = list(suite)
    res = [type(r) for c in cases for r in c.result]
    print("suite", suite.name, len(cases), res.count(Failure), res.count(Error), res.count(Skipped))
"#;

/// The fixture labs of tests/e2e_jobs.rs, under names, subnets and ports of
/// this test's own, so the two tests never meet on the host.
fn own_labs(dir: &Path) {
    for f in ["one.toml", "two.toml"] {
        let p = dir.join(f);
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("jobs-", "shard-")
            .replace("192.168.181.", "192.168.183.")
            .replace("192.168.182.", "192.168.184.")
            .replace("18181", "18183")
            .replace("18182", "18184");
        std::fs::write(&p, t).unwrap();
    }
}

#[test]
fn two_shards_merge_into_one_report_that_junitparser_reads() {
    let _g = serial();
    let (tmp, _) = fixture_lab("jobs");
    let dir = tmp.path();
    own_labs(dir);
    let _down1 = DownGuard::new(dir, &["one.toml"]);
    let _down2 = DownGuard::new(dir, &["two.toml"]);
    // The broken case: shard-two has a check that fails (quickly).
    add_failing_file_check(&dir.join("two.toml"), "/etc/labctl-shard-no-such-file");

    // Each runner is given the same list, in its own order.
    let runners = [
        (1, ["one.toml", "two.toml"], "one.toml", 0),
        (2, ["two.toml", "one.toml"], "two.toml", 1),
    ];
    let mut reports = Vec::new();
    for (k, list, mine, exit) in runners {
        let spec = format!("count:{k}/2");
        let report = dir.join(format!("shard-{k}.xml"));
        let arg = format!("junit:{}", report.display());
        let mut args = vec!["test", "--partition", &spec];
        args.extend(list);
        args.extend([
            "--provider",
            "docker",
            "--destroy",
            "always",
            "--report",
            &arg,
        ]);
        let out = labctl(dir, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(exit), "{}", tail(&err, 60));
        assert_eq!(
            err.lines().next(),
            Some(format!("partition count:{k}/2: 1 of 2 labs: {mine}").as_str()),
            "the share is said first"
        );
        reports.push(report.to_str().unwrap().to_string());
    }
    // --destroy always: both labs are gone.
    assert_eq!(sh("docker ps -aq --filter label=labctl.lab=shard-one"), "");
    assert_eq!(sh("docker ps -aq --filter label=labctl.lab=shard-two"), "");

    let merged = dir.join("nightly.xml");
    let mut args = vec!["report", "merge", merged.to_str().unwrap()];
    args.extend(reports.iter().map(String::as_str));
    let out = labctl(dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A lost shard (its runner died, its report never came) is named by the
    // lab it held, and nothing is written.
    let partial = dir.join("partial.xml");
    let out = labctl(
        dir,
        &["report", "merge", partial.to_str().unwrap(), &reports[0]],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lab two.toml of the suite split over 2 shards is in no input"),
        "{}",
        stderr(&out)
    );
    assert!(!partial.exists());

    let read = std::process::Command::new("/usr/bin/python3")
        .args(["-c", READ])
        .arg(&merged)
        .output()
        .expect("run /usr/bin/python3 (python3-junitparser: .ci/run installs it)");
    let said = String::from_utf8_lossy(&read.stdout).into_owned();
    assert!(
        read.status.success(),
        "junitparser: {}",
        String::from_utf8_lossy(&read.stderr)
    );
    eprintln!(
        "merged report:\n{}\njunitparser read:\n{said}",
        std::fs::read_to_string(&merged).unwrap()
    );
    // shard-one: 2 checks passed; shard-two: 2 passed, 1 failed.
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        [
            "total 5 1 0 0",
            "suite shard-one 2 0 0 0",
            "suite shard-two 3 1 0 0",
        ],
        "{}",
        std::fs::read_to_string(&merged).unwrap()
    );
}
