//! `down` deletes only what labctl recorded creating, inside the lab's own
//! state dir, and asks no provider about a lab that is not up. These tests need
//! no Docker engine: where `down` would call a tool, a fake one on the PATH
//! answers (and fails, where the case is "a provider that does not answer").

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn labctl(cwd: &Path, path_prefix: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_labctl"));
    c.args(args).current_dir(cwd).env("NO_COLOR", "1");
    if let Some(p) = path_prefix {
        c.env(
            "PATH",
            format!("{}:{}", p.display(), std::env::var("PATH").unwrap()),
        );
    }
    c.output().expect("run labctl")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A folder of fake tools: each named program logs its arguments and exits
/// with the code given; a fake `docker` that succeeds answers with empty
/// lists and knows no network (`network inspect` fails, as for a missing one).
fn fake_tools(dir: &Path, tools: &[(&str, i32)]) -> PathBuf {
    let bin = dir.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, code) in tools {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> {}/calls.log\n{}echo '{name}: cannot connect' >&2\nexit {code}\n",
                bin.display(),
                if *name == "docker" {
                    "[ \"$1 $2\" = 'network inspect' ] && exit 1\n"
                } else {
                    ""
                }
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn calls(bin: &Path) -> String {
    std::fs::read_to_string(bin.join("calls.log")).unwrap_or_default()
}

/// Files a careless `down` would delete: a home-like folder with `.vagrant`,
/// `disks/` and a state file naming a disk elsewhere.
fn home_like(dir: &Path, victim: &Path) {
    std::fs::create_dir_all(dir.join(".vagrant/machines")).unwrap();
    std::fs::write(dir.join(".vagrant/machines/keep"), "x").unwrap();
    std::fs::create_dir_all(dir.join("disks")).unwrap();
    std::fs::write(dir.join("disks/data.img"), "x").unwrap();
    std::fs::write(dir.join("known_hosts"), "x").unwrap();
    std::fs::write(
        dir.join("state.json"),
        format!(
            r#"{{"lab":"workflow","lab_file":"","provider":"docker","subnet":"192.168.57.0/24",
               "disks":[{{"node":"web1","disk":"d","file":"{}","size_bytes":1}}]}}"#,
            victim.display()
        ),
    )
    .unwrap();
}

fn assert_untouched(dir: &Path, victim: &Path) {
    for p in [
        ".vagrant/machines/keep",
        "disks/data.img",
        "known_hosts",
        "state.json",
    ] {
        assert!(dir.join(p).exists(), "{p} was removed");
    }
    assert!(victim.exists(), "the disk named outside was removed");
}

#[test]
fn down_refuses_a_state_dir_without_labctl_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let victim = tmp.path().join("victim.img");
    std::fs::write(&victim, "precious").unwrap();
    home_like(&home, &victim);
    let bin = fake_tools(tmp.path(), &[("docker", 0), ("virsh", 1), ("losetup", 0)]);
    let o = labctl(
        tmp.path(),
        Some(&bin),
        &["down", "workflow", "--state-dir", home.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is not the state dir of lab `workflow`") && err.contains(".labctl-state-dir"),
        "{}",
        show(&o)
    );
    assert_untouched(&home, &victim);
    assert_eq!(calls(&bin), "", "no tool was run");
    // --force does not override the marker either: it is for a lost state
    // file, not for a folder that is not labctl's.
    let o = labctl(
        tmp.path(),
        Some(&bin),
        &[
            "down",
            "workflow",
            "--force",
            "--state-dir",
            home.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert_untouched(&home, &victim);
}

#[test]
fn down_refuses_a_state_dir_marked_for_another_lab() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("st");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".labctl-state-dir"),
        "labctl state dir\nlab = bench\n",
    )
    .unwrap();
    std::fs::write(dir.join("known_hosts"), "x").unwrap();
    let o = labctl(
        tmp.path(),
        None,
        &["down", "workflow", "--state-dir", dir.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("belongs to lab `bench`"));
    assert!(dir.join("known_hosts").exists());
}

/// A state dir of labctl's whose state file names files outside it, and whose
/// `disks/` is a symbolic link out: only the lab's own files go.
#[test]
fn down_removes_only_inside_its_own_state_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("st");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("linked.img"), "precious").unwrap();
    let victim = tmp.path().join("victim.img");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".labctl-state-dir"),
        "labctl state dir\nlab = workflow\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("disks")).unwrap();
    let escape = dir.join("disks/linked.img");
    std::fs::write(
        dir.join("state.json"),
        format!(
            r#"{{"lab":"workflow","lab_file":"","provider":"docker","subnet":"192.168.57.0/24",
               "disks":[{{"node":"web1","disk":"d","file":"{}","size_bytes":1}},
                        {{"node":"web2","disk":"d","file":"{}","size_bytes":1}}]}}"#,
            victim.display(),
            escape.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("known_hosts"), "x").unwrap();
    // docker answers with empty lists: the lab has no containers left.
    let bin = fake_tools(tmp.path(), &[("docker", 0), ("losetup", 0)]);
    let o = labctl(
        tmp.path(),
        Some(&bin),
        &["down", "workflow", "--state-dir", dir.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("left alone"), "{}", show(&o));
    assert!(
        victim.exists(),
        "a disk named outside the state dir was removed"
    );
    assert!(
        outside.join("linked.img").exists(),
        "a disk reached through a symbolic link was removed"
    );
    assert!(
        !calls(&bin).contains("losetup"),
        "no loop device was touched: {}",
        calls(&bin)
    );
    // The lab's own files are gone; the marker stays, so a second down is
    // still labctl's and says so.
    assert!(!dir.join("known_hosts").exists() && !dir.join("state.json").exists());
    assert!(!dir.join("disks").exists(), "the link itself is removed");
    assert!(dir.join(".labctl-state-dir").exists());
    let o = labctl(
        tmp.path(),
        Some(&bin),
        &["down", "workflow", "--state-dir", dir.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to remove"));
}

/// `down` of a lab that is not up exits 0 whatever else is installed: a
/// `virsh` (or docker) that fails is not asked at all, and `--force`, which
/// sweeps by label, skips a provider that does not answer and says so.
#[test]
fn down_of_a_lab_that_is_not_up_asks_no_provider() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_tools(
        tmp.path(),
        &[
            ("virsh", 1),
            ("docker", 1),
            ("VBoxManage", 1),
            ("vagrant", 1),
        ],
    );
    let dir = tmp.path().join("st");
    // No state dir at all: nothing to remove, and none is made.
    let o = labctl(
        tmp.path(),
        Some(&bin),
        &["down", "workflow", "--state-dir", dir.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to remove"));
    assert!(!dir.exists(), "down made a state dir");
    assert_eq!(calls(&bin), "");
    // A state dir of labctl's with nothing recorded (after a down): the same.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".labctl-state-dir"),
        "labctl state dir\nlab = workflow\n",
    )
    .unwrap();
    let o = labctl(
        tmp.path(),
        Some(&bin),
        &["down", "workflow", "--state-dir", dir.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to remove"));
    assert_eq!(calls(&bin), "");
    // --force sweeps by label where a provider answers; none does here.
    let o = labctl(
        tmp.path(),
        Some(&bin),
        &[
            "down",
            "workflow",
            "--force",
            "--state-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("libvirt does not answer") && err.contains("docker does not answer"),
        "{}",
        show(&o)
    );
}

/// `up` (and every command that writes state) refuses a folder that is not
/// empty and not labctl's, before writing anything into it.
#[test]
fn commands_that_write_state_refuse_a_foreign_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mine");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "x").unwrap();
    let o = labctl(
        tmp.path(),
        None,
        &[
            "provision",
            "workflow",
            "--state-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("notes.txt")]);
}
