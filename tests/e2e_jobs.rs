//! End to end on the docker provider: `labctl test --jobs 2` runs two small
//! labs side by side (each its own name, subnet and forwarded port). Both
//! come up and pass, every line of their runs (vagrant's included) reaches
//! the terminal prefixed with its lab, the summary table and the JUnit report
//! hold both, one testsuite each. Broken case: a failing check in one lab
//! makes the whole run exit 1 while the other lab still passes.

mod common;
use common::*;

/// Lines of the parent's stderr that no lab printed: anything else must
/// carry a lab's prefix.
fn unprefixed(err: &str) -> Vec<&str> {
    let own = [
        "setup: ",
        "testing 2 labs",
        "report: ",
        "LAB ",
        "jobs-one ",
        "jobs-two ",
    ];
    err.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("[jobs-one] ") && !l.starts_with("[jobs-two] "))
        .filter(|l| !own.iter().any(|o| l.starts_with(o)))
        .collect()
}

/// The `<testsuite ...>` opening lines of a JUnit document.
fn suites(xml: &str) -> Vec<String> {
    xml.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("<testsuite "))
        .map(String::from)
        .collect()
}

#[test]
fn two_labs_run_side_by_side_with_prefixed_output_and_one_suite_each() {
    let _g = serial();
    let (tmp, _) = fixture_lab("jobs");
    let dir = tmp.path();
    let _down1 = DownGuard::new(dir, &["one.toml"]);
    let _down2 = DownGuard::new(dir, &["two.toml"]);
    let junit = dir.join("junit.xml");
    let junit_arg = format!("junit:{}", junit.display());
    // Both labs side by side; `destroy`: when each is brought down after.
    let test_both = |destroy: &str| {
        labctl(
            dir,
            &[
                "test",
                "one.toml",
                "two.toml",
                "--jobs",
                "2",
                "--provider",
                "docker",
                "--destroy",
                destroy,
                "--report",
                &junit_arg,
            ],
        )
    };

    let out = test_both("never");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{}", tail(&err, 60));
    // Side by side: the second lab started while the first ran.
    assert!(
        err.contains("[jobs-two] started beside jobs-one"),
        "{}",
        tail(&err, 60)
    );
    // Every line a lab's run printed carries its prefix, vagrant's own
    // output (streamed by the child labctl) included.
    for lab in ["jobs-one", "jobs-two"] {
        let p = format!("[{lab}] ");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&p) && l.contains("vagrant: bringing up")),
            "no prefixed vagrant line for {lab}"
        );
        assert!(
            err.lines()
                .any(|l| l.starts_with(&p) && l.contains("PASS  web1 serves its page")),
            "no prefixed check line for {lab}"
        );
    }
    assert_eq!(
        unprefixed(&err),
        Vec::<&str>::new(),
        "lab output without a prefix"
    );
    // The summary table names both labs, ok.
    for lab in ["jobs-one", "jobs-two"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(lab) && l.trim_end().ends_with("ok")),
            "summary row of {lab}: {}",
            tail(&err, 10)
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    let s = suites(&xml);
    assert_eq!(s.len(), 2, "{xml}");
    assert!(s[0].contains("name=\"jobs-one\"") && s[0].contains("tests=\"2\" failures=\"0\""));
    assert!(s[1].contains("name=\"jobs-two\"") && s[1].contains("tests=\"2\" failures=\"0\""));

    // Broken case: a check of jobs-two fails; the run's exit is the worst lab's.
    add_failing_file_check(&dir.join("two.toml"), "/etc/labctl-jobs-no-such-file");
    let out = test_both("always");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", tail(&err, 60));
    assert!(err.contains("[jobs-two]   FAIL  a file that is not there"));
    assert_eq!(
        unprefixed(&err),
        Vec::<&str>::new(),
        "lab output without a prefix"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let s = suites(&xml);
    assert!(s[0].contains("name=\"jobs-one\"") && s[0].contains("failures=\"0\""));
    assert!(s[1].contains("name=\"jobs-two\"") && s[1].contains("tests=\"3\" failures=\"1\""));
    // --destroy always: both labs are gone.
    assert_eq!(sh("docker ps -aq --filter label=labctl.lab=jobs-one"), "");
    assert_eq!(sh("docker ps -aq --filter label=labctl.lab=jobs-two"), "");
}

/// Whether process `pid` still runs (a zombie waiting for a reaper does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z'))
}

/// The processes whose parent is `ppid`.
fn children_of(ppid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit(')')
                        .next()?
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(ppid)
        })
        .collect()
}

/// The parent killed outright while both labs come up (SIGKILL: no handler
/// runs, nothing is forwarded). Each lab's own labctl hears SIGHUP from the
/// kernel and unwinds as on Ctrl-C: it ends, and the machines and network
/// its first `up` made are removed, with no `down` run by anyone. Broken
/// case (no parent-death signal): the labs' runs go on unwatched, or die on
/// their first write into the closed pipe, and leave their containers.
#[test]
fn killing_the_parent_stops_each_lab_and_leaves_nothing() {
    let _g = serial();
    let (tmp, _) = fixture_lab("jobs");
    let dir = tmp.path();
    let mut parent = std::process::Command::new(bin())
        .args([
            "test",
            "one.toml",
            "two.toml",
            "--jobs",
            "2",
            "--provider",
            "docker",
            "--destroy",
            "always",
        ])
        .current_dir(dir)
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start labctl");
    let t0 = std::time::Instant::now();
    let mut labs = Vec::new();
    while labs.len() < 2 && t0.elapsed().as_secs() < 60 {
        labs = children_of(parent.id());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(labs.len(), 2, "two labs' runs under the parent: {labs:?}");
    // Into their `vagrant up`: containers are being made.
    let containers = |lab: &str| sh(&format!("docker ps -aq --filter label=labctl.lab={lab}"));
    let t1 = std::time::Instant::now();
    while t1.elapsed().as_secs() < 60
        && containers("jobs-one").trim().is_empty()
        && containers("jobs-two").trim().is_empty()
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    parent.kill().unwrap();
    parent.wait().unwrap();
    let t2 = std::time::Instant::now();
    while labs.iter().any(|p| alive(*p)) && t2.elapsed().as_secs() < 180 {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let left_running: Vec<_> = labs.iter().filter(|p| alive(**p)).collect();
    let left = (containers("jobs-one"), containers("jobs-two"));
    let nets = sh("docker network ls -q --filter name=labctl-jobs-");
    // Whatever happened, leave the host clean for the next test.
    for lab in ["one.toml", "two.toml"] {
        labctl(dir, &["down", lab]);
    }
    assert!(
        left_running.is_empty(),
        "lab runs still going: {left_running:?}"
    );
    assert_eq!(left, (String::new(), String::new()), "containers left");
    assert_eq!(nets.trim(), "", "networks left");
}
