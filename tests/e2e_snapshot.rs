//! End to end on the docker provider: snapshots and `labctl reset`. A lab is
//! brought up (which takes the `provisioned` snapshot), drifted (page
//! rewritten, a config file removed, the extra disk overwritten) so its checks
//! fail, then reset: every check passes again, the drift is gone, the disk's
//! contents are the snapshot's, the host key is the same one (the verified
//! SSH connection would refuse another) and `vagrant status` agrees. `down`
//! leaves no snapshot image. Bad input: a snapshot that does not exist is
//! named, with exit 2.

mod common;
use common::*;
use std::path::Path;

const LABEL: &str = "label=labctl.lab=snap";

fn code(o: &std::process::Output) -> Option<i32> {
    o.status.code()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run `script` as root on web1; its stdout.
fn on_web1(dir: &Path, lab: &str, script: &str) -> String {
    ok(&labctl(
        dir,
        &["exec", lab, "web1", "--", "sudo", "sh", "-c", script],
    ))
}

/// The first bytes of web1's extra disk (`exec` ends its output with a newline).
fn disk_head(dir: &Path, lab: &str) -> String {
    on_web1(dir, lab, "head -c 8 /dev/sdb")
        .trim_end_matches('\n')
        .to_string()
}

#[test]
fn a_drifted_lab_is_reset_to_its_provisioned_snapshot() {
    let _g = serial();
    let (tmp, lab) = fixture_lab("snap");
    let dir = tmp.path();
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab]);

    ok(&labctl(dir, &["up", lab, "--provider", "docker"]));
    let list = ok(&labctl(dir, &["snapshot", "list", lab, "--json"]));
    assert!(
        list.contains("\"provisioned\""),
        "up took no snapshot: {list}"
    );
    assert_eq!(
        sh(&format!(
            "docker images -q --filter {LABEL} --filter label=labctl.snapshot=provisioned"
        ))
        .lines()
        .count(),
        1
    );
    ok(&labctl(dir, &["test", lab]));

    // A named snapshot holds the disk's contents as they were when taken.
    on_web1(
        dir,
        lab,
        "printf MARKER-A | dd of=/dev/sdb conv=notrunc status=none; sync",
    );
    ok(&labctl(dir, &["snapshot", "save", lab, "marked"]));

    // Drift: every check that looks at it fails.
    on_web1(
        dir,
        lab,
        "echo drifted > /var/www/html/index.html; rm /etc/nginx/sites-available/default; \
         printf MARKER-B | dd of=/dev/sdb conv=notrunc status=none; sync",
    );
    let broken = labctl(dir, &["test", lab]);
    assert_eq!(code(&broken), Some(1), "the drifted lab's checks must fail");
    let table = String::from_utf8_lossy(&broken.stdout).to_string() + &stderr(&broken);
    for check in [
        "web1 serves its page",
        "the page is forwarded to the host",
        "the site config is in place",
    ] {
        let line = table.lines().find(|l| l.starts_with(check)).unwrap_or("");
        assert!(line.contains("FAIL"), "{check} should fail: {table}");
    }

    // Back to right after provisioning: all green, the drift gone.
    let reset = labctl(dir, &["reset", lab]);
    assert_eq!(code(&reset), Some(0));
    assert!(
        stderr(&reset).contains("restored to snapshot provisioned"),
        "{}",
        stderr(&reset)
    );
    ok(&labctl(dir, &["test", lab]));
    assert!(on_web1(dir, lab, "cat /var/www/html/index.html").contains("<h1>web1</h1>"));
    assert_eq!(
        disk_head(dir, lab),
        "\0".repeat(8),
        "the disk is as provisioned"
    );

    // The named snapshot brings back its disk contents.
    on_web1(
        dir,
        lab,
        "printf MARKER-B | dd of=/dev/sdb conv=notrunc status=none; sync",
    );
    ok(&labctl(dir, &["snapshot", "restore", lab, "marked"]));
    assert_eq!(disk_head(dir, lab), "MARKER-A");

    // Vagrant's view is true: it knows the new container as web1, running.
    let state_dir = dir.join(".labctl/snap");
    let status = std::process::Command::new("vagrant")
        .args(["status", "--machine-readable"])
        .current_dir(&state_dir)
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains(",web1,state,running"), "{status}");
    let id = std::fs::read_to_string(state_dir.join(".vagrant/machines/web1/docker/id")).unwrap();
    let running = sh("docker inspect -f '{{.Id}}' labctl-snap-web1");
    assert_eq!(id.trim(), running.trim());

    // Bad input: a snapshot the lab does not have is named; nothing changes.
    let bad = labctl(dir, &["snapshot", "restore", lab, "nosuch"]);
    assert_eq!(code(&bad), Some(2), "usage error exit code");
    let e = stderr(&bad);
    assert!(
        e.contains("no snapshot nosuch") && e.contains("marked") && e.contains("provisioned"),
        "{e}"
    );
    let bad = labctl(dir, &["snapshot", "save", lab, "Not/A-Name"]);
    assert_eq!(code(&bad), Some(2));

    // Deleting the snapshot web1 now runs from: its name goes, and Docker
    // keeps the image (labelled with the lab) until `down`.
    let del = labctl(dir, &["snapshot", "delete", lab, "marked"]);
    assert!(stderr(&del).contains("untagged"), "{}", stderr(&del));
    assert!(!ok(&labctl(dir, &["snapshot", "list", lab])).contains("marked"));
    assert!(sh("docker images -q labctl-snapshot:snap.web1.marked")
        .trim()
        .is_empty());

    // A user's own name for a snapshot image makes it theirs: `down`
    // removes the lab's tags and leaves that image.
    sh("docker tag labctl-snapshot:snap.web1.provisioned labctl-e2e-keep:snap");
    let kept_id = sh("docker image inspect -f '{{.Id}}' labctl-e2e-keep:snap");
    assert!(kept_id.starts_with("sha256:"), "{kept_id}");
    ok(&labctl(dir, &["down", lab]));
    let after_down = sh("docker image inspect -f '{{.Id}}' labctl-e2e-keep:snap");
    let _ = sh("docker rmi labctl-e2e-keep:snap");
    assert_eq!(
        after_down.trim(),
        kept_id.trim(),
        "down removed a user's image"
    );
    assert!(
        sh(&format!("docker images -q --filter {LABEL}"))
            .trim()
            .is_empty(),
        "down left a snapshot image"
    );
    assert!(!state_dir.join("snapshots").exists());
    assert!(state_dir.join("history").exists(), "down keeps the history");
}
