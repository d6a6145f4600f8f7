//! The netshape role run on this host with stand-in `ip` and `tc`: the rate the
//! renderer hands it (`tc_rate`, kbit when the bandwidth is not a whole number
//! of Mbit) becomes the `tc` command's rate and burst.

mod common;

use labctl::diag::SourceFile;
use labctl::load::load_source;
use labctl::roles::RoleSet;
use std::path::Path;
use std::process::Command;

const LAB: &str = r#"
name = "shaped"
[defaults]
box = "debian/bookworm64"
[network]
subnet = "192.168.59.0/24"
bandwidth = "BW"
[[node]]
name = "n1"
ip = "192.168.59.5"
roles = ["netshape"]
"#;

/// Runs provision.sh as the wrapper does (`set -euo pipefail`, lib.sh sourced)
/// with the role's environment for `bandwidth`; returns (exit, the tc command
/// lines it ran, stderr).
fn shape(bandwidth: &str) -> (i32, String, String) {
    let text = LAB.replace("BW", bandwidth);
    let loaded = load_source(
        SourceFile::new("shaped.toml", text),
        None,
        RoleSet::load(None).unwrap(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let lab = &loaded.lab;
    let env = labctl::render::role_env(lab, &lab.nodes[0], "netshape");
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = tmp.path().join("tc.log");
    let stub = |name: &str, body: &str| common::write_stub(&bin, name, body);
    stub(
        "ip",
        "echo '2: eth1    inet 192.168.59.5/24 brd 192.168.59.255 scope global eth1'",
    );
    stub("tc", &format!("echo \"tc $*\" >>'{}'", log.display()));
    // The role writes /etc/labctl/netshape: run it in a scratch root.
    let script = std::fs::read_to_string(Path::new("provision/netshape/provision.sh"))
        .unwrap()
        .replace("/etc/labctl", &tmp.path().join("etc").display().to_string());
    std::fs::write(tmp.path().join("provision.sh"), script).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg("set -euo pipefail; . provision/_labctl/lib.sh; . \"$ROLE\"")
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("ROLE", tmp.path().join("provision.sh"))
        .env("LABCTL_RESULT", tmp.path().join("result"))
        .envs(env)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        std::fs::read_to_string(&log).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_rate_in_kbit_is_shaped() {
    let (code, tc, err) = shape("1500kbit");
    // bash reports an arithmetic error on a sourced script and goes on, so
    // the exit code alone would not show it.
    assert_eq!((code, err.as_str()), (0, ""), "stderr: {err}");
    assert!(
        tc.contains("tc qdisc replace dev eth1 root tbf rate 1500kbit burst 32768b latency 50ms"),
        "{tc}"
    );
}

#[test]
fn a_rate_in_whole_mbit_is_shaped() {
    let (code, tc, err) = shape("2Gbit");
    assert_eq!((code, err.as_str()), (0, ""), "stderr: {err}");
    assert!(
        tc.contains("tc qdisc replace dev eth1 root tbf rate 2000mbit burst 1000000b latency 50ms"),
        "{tc}"
    );
}
