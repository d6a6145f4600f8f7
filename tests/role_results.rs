//! What a role reports is what it measured (issue 10.10): the role wrapper and
//! `lib.sh` run on this host in a scratch folder (the node's `/var/lib/labctl`
//! replaced by it). A role that neither changes nor compares anything is
//! `unreported`, never `unchanged`; a helper that compared and found the node
//! as wanted says `unchanged`; `changed` is never overridden.

use std::path::Path;
use std::process::Command;

/// Run `body` as role `probe` through the real wrapper; returns (exit, the
/// result file's content).
fn run_role(body: &str, setup: impl FnOnce(&Path)) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let roles = tmp.path().join("roles");
    let var = tmp.path().join("var");
    std::fs::create_dir_all(roles.join("_labctl")).unwrap();
    std::fs::create_dir_all(roles.join("probe")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let swap = |text: String| text.replace("/var/lib/labctl", &var.display().to_string());
    // Every support file, as labctl uploads the whole folder (the wrapper
    // sources its prologue beside it).
    for e in std::fs::read_dir(repo.join("provision/_labctl")).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        std::fs::write(roles.join("_labctl").join(e.file_name()), swap(text)).unwrap();
    }
    std::fs::write(roles.join("probe/provision.sh"), body).unwrap();
    setup(tmp.path());
    let out = Command::new("sh")
        .arg(roles.join("_labctl/wrapper.sh"))
        .current_dir(tmp.path())
        .env("LABCTL_ROLE", "probe")
        .env("SCRATCH", tmp.path())
        .output()
        .unwrap();
    let result = std::fs::read_to_string(var.join("roles/probe.result")).unwrap_or_default();
    (out.status.code().unwrap_or(-1), result.trim().to_string())
}

#[test]
fn a_role_that_reports_nothing_is_unreported() {
    let (code, result) = run_role("step \"does nothing it could measure\"\ntrue\n", |_| {});
    assert_eq!((code, result.as_str()), (0, "unreported"));
}

#[test]
fn a_helper_that_compared_says_unchanged_and_never_overrides_changed() {
    let setup = |d: &Path| {
        std::fs::write(d.join("src.conf"), "x=1\n").unwrap();
        std::fs::write(d.join("dest.conf"), "x=1\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("dest.conf"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    };
    let same = "install_file \"$SCRATCH/src.conf\" \"$SCRATCH/dest.conf\" 0644\n";
    let (code, result) = run_role(same, setup);
    assert_eq!((code, result.as_str()), (0, "unchanged"));
    // `changed` first, then a comparison that finds nothing to do: still changed.
    let (code, result) = run_role(&format!("changed\n{same}"), setup);
    assert_eq!((code, result.as_str()), (0, "changed"));
    // Drift: the destination differs, the helper repairs it and says changed.
    let drift = |d: &Path| {
        setup(d);
        std::fs::write(d.join("dest.conf"), "x=2\n").unwrap();
    };
    let (code, result) = run_role(
        &format!("{same}cmp -s \"$SCRATCH/src.conf\" \"$SCRATCH/dest.conf\"\n"),
        drift,
    );
    assert_eq!((code, result.as_str()), (0, "changed"));
    // An explicit `unchanged` after `skip` is never reached; after changed it is ignored.
    let (code, result) = run_role("changed\nunchanged\n", |_| {});
    assert_eq!((code, result.as_str()), (0, "changed"));
}

/// netshape, the one shipped role that keeps its own record instead of using
/// the comparing helpers, run on this host with stand-in `ip` and `tc`: the
/// first run shapes (`changed`), the second finds it shaped and says
/// `unchanged` (not `unreported`), and a drifted record is put back (`changed`).
#[test]
fn netshape_reports_unchanged_when_shaped_and_changed_after_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let stub = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    stub(
        "ip",
        "echo '2: eth1    inet 192.168.59.5/24 brd 192.168.59.255 scope global eth1'",
    );
    stub(
        "tc",
        "[ \"$1 $2\" = 'qdisc show' ] && echo 'qdisc tbf 8001: root refcnt 2 rate 2Gbit burst 1000000b lat 50ms' || true",
    );
    let etc = tmp.path().join("etc");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(repo.join("provision/netshape/provision.sh"))
        .unwrap()
        .replace("/etc/labctl", &etc.display().to_string());
    std::fs::write(tmp.path().join("provision.sh"), script).unwrap();
    let result = tmp.path().join("result");
    let run = || {
        let _ = std::fs::remove_file(&result);
        let out = Command::new("bash")
            .arg("-c")
            .arg("set -euo pipefail; . \"$LIB\"; . \"$ROLE\"")
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("LIB", repo.join("provision/_labctl/lib.sh"))
            .env("ROLE", tmp.path().join("provision.sh"))
            .env("LABCTL_RESULT", &result)
            .env("LABCTL_NODE_IP", "192.168.59.5")
            .env("LABCTL_BANDWIDTH", "2000mbit")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&result)
            .unwrap_or_else(|_| "(no result file)".into())
            .trim()
            .to_string()
    };
    assert_eq!(run(), "changed");
    let record = std::fs::read_to_string(etc.join("netshape")).unwrap();
    assert_eq!(run(), "unchanged");
    std::fs::write(etc.join("netshape"), "eth1 drifted\n").unwrap();
    assert_eq!(run(), "changed");
    assert_eq!(
        std::fs::read_to_string(etc.join("netshape")).unwrap(),
        record
    );
}
