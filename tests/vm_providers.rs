//! Command-sequence tests of the VirtualBox provider, which shares
//! `up`/`status`/`down` with docker but cannot run on the test host (VirtualBox
//! is not in Debian). They run the real lifecycle code with a recording runner
//! and check the exact commands labctl would run, and what it leaves in the
//! state dir. The docker path of the same code is tested for real in e2e_*.rs,
//! the libvirt one with real VMs in e2e_libvirt.rs.

use labctl::exec::{Cmd, Output, Recorder, Runner};
use labctl::lifecycle::{self, LabArgs, UpOptions};
use labctl::provider::Choice;
use std::path::Path;
use std::sync::Arc;

const LAB: &str = r#"
name = "vmlab"
[network]
subnet = "192.168.60.0/24"
[[node]]
name = "web"
count = 2
ip = "192.168.60.11"
box = "debian/bookworm64"
disks = [{ name = "data", size = "1G" }]
"#;

const ROUTES: &str =
    "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n";

/// `vagrant ssh-config` as Vagrant prints it for two machines.
const SSH_CONFIG: &str = "Host web1\n  HostName 127.0.0.1\n  User vagrant\n  Port 2222\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  IdentityFile /x/.vagrant/machines/web1/virtualbox/private_key\n\nHost web2\n  HostName 127.0.0.1\n  User vagrant\n  Port 2200\n  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  IdentityFile /x/.vagrant/machines/web2/virtualbox/private_key\n";

/// A recorder that also makes `.vagrant/` when `vagrant up` "runs", as Vagrant would.
struct FakeVagrant {
    rec: Recorder,
    dir: std::path::PathBuf,
}

impl Runner for FakeVagrant {
    fn which(&self, program: &str) -> Option<std::path::PathBuf> {
        self.rec.which(program)
    }
    fn output(&self, cmd: &Cmd) -> labctl::Result<Output> {
        if cmd.display().starts_with("vagrant up") {
            std::fs::create_dir_all(self.dir.join(".vagrant")).unwrap();
        }
        self.rec.output(cmd)
    }
}

fn setup(dir: &Path) -> (LabArgs, Arc<FakeVagrant>) {
    let lab = dir.join("vmlab.toml");
    std::fs::write(&lab, LAB).unwrap();
    let state = dir.join("state");
    let rec = Recorder::default();
    rec.answer("ip -o -4 route show", 0, ROUTES);
    rec.answer("vagrant ssh-config", 0, SSH_CONFIG);
    (
        LabArgs {
            lab: lab.display().to_string(),
            state_dir: Some(state.clone()),
            ..Default::default()
        },
        Arc::new(FakeVagrant { rec, dir: state }),
    )
}

fn opts(provider: Choice) -> UpOptions {
    UpOptions {
        provider,
        // Never install anything from a test; the recorder says every tool is there.
        no_setup: true,
        rebuild_image: false,
        provision: false,
        keep_on_failure: false,
        recreate: Vec::new(),
        timings: false,
        snapshot: false,
    }
}

fn lines(f: &FakeVagrant) -> Vec<String> {
    f.rec.lines()
}

fn take(f: &FakeVagrant) -> Vec<String> {
    std::mem::take(&mut *f.rec.calls.lock().unwrap())
        .iter()
        .map(|c| c.display())
        .collect()
}

fn no_docker(calls: &[String]) {
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("docker") || c.starts_with("losetup")),
        "a VM lab must not touch Docker or loop devices: {calls:#?}"
    );
}

#[test]
fn virtualbox_up_and_down_run_vagrant_one_machine_at_a_time_and_sweep_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, r) = setup(tmp.path());
    lifecycle::up_with(&args, &opts(Choice::Virtualbox), r.clone()).unwrap();
    let calls = take(&r);
    assert_eq!(
        calls,
        vec![
            "ip -o -4 route show".to_string(),
            "vagrant up --no-provision --provider virtualbox --no-parallel web1 web2".into(),
            "vagrant ssh-config web1 web2".into(),
        ]
    );
    let state_dir = tmp.path().join("state");
    // The disks are VirtualBox's, made from the Vagrantfile into the state dir.
    let vf = std::fs::read_to_string(state_dir.join("Vagrantfile")).unwrap();
    assert!(vf.contains("'createhd'"), "{vf}");
    let runtime = std::fs::read_to_string(state_dir.join("labctl-runtime.json")).unwrap();
    let runtime: serde_json::Value = serde_json::from_str(&runtime).unwrap();
    assert_eq!(runtime["provider"], "virtualbox");
    assert!(runtime.get("image").is_none());
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state_dir.join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["provider"], "virtualbox");
    assert_eq!(state["phase"], "up");
    assert_eq!(state["nodes"]["web2"]["ssh_port"], 2200);
    // Vagrant's "StrictHostKeyChecking no" is not copied.
    let ssh = std::fs::read_to_string(state_dir.join("ssh_config")).unwrap();
    assert!(ssh.contains("StrictHostKeyChecking yes") && !ssh.contains("StrictHostKeyChecking no"));
    assert!(ssh.contains("HostKeyAlias labctl-vmlab-web1"));

    // status asks Vagrant (no docker ps for a VM lab).
    r.rec.answer(
        "vagrant status --machine-readable",
        0,
        "1,web1,state,running\n1,web2,state,poweroff\n",
    );
    let op = lifecycle::open(&args).unwrap();
    let st = lifecycle::node_status(&op, r.as_ref()).unwrap();
    assert_eq!(st[0].state, "running");
    assert_eq!(st[1].state, "poweroff");
    assert_eq!(st[0].provider, "virtualbox");
    assert_eq!(
        st[0].box_name, "debian/bookworm64",
        "VirtualBox boots the lab's box"
    );
    let calls = take(&r);
    assert_eq!(calls, vec!["vagrant status --machine-readable".to_string()]);

    // down: vagrant destroy, then a sweep by the lab's machine names; a
    // foreign VM with a similar name stays.
    r.rec.answer(
        "VBoxManage list vms",
        0,
        "\"labctl-vmlab-web2\" {aa}\n\"labctl-vmlab-web20\" {bb}\n\"someone-else\" {cc}\n",
    );
    r.rec.answer(
        "VBoxManage list hostonlyifs",
        0,
        "Name:            vboxnet0\nIPAddress:       192.168.56.1\n\nName:            vboxnet1\nIPAddress:       192.168.60.1\n",
    );
    lifecycle::down_with(&args, false, false, r.clone()).unwrap();
    let calls = take(&r);
    assert_eq!(
        calls,
        vec![
            "vagrant destroy -f".to_string(),
            // The host is read first (the inventory a failed `up` re-reads
            // after its cleanup), then what it lists is removed.
            "VBoxManage list vms".into(),
            "VBoxManage list hostonlyifs".into(),
            "VBoxManage controlvm labctl-vmlab-web2 poweroff".into(),
            "VBoxManage unregistervm labctl-vmlab-web2 --delete".into(),
            "VBoxManage hostonlyif remove vboxnet1".into(),
        ]
    );
    assert!(!state_dir.join("state.json").exists());
    assert!(!state_dir.join(".vagrant").exists());
    assert!(!state_dir.join("ssh_config").exists());
}

/// Recorded test (command sequence): each machine's SSH address is read as
/// soon as Vagrant says it finished that machine, one `vagrant ssh-config
/// NODE` each in the order they finished, while `vagrant up` still runs
/// (here: while its output is read); both end up in the state.
#[test]
fn recorded_each_machine_is_read_as_vagrant_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, r) = setup(tmp.path());
    r.rec.answer(
        "vagrant up",
        0,
        "==> web2: Machine booted and ready!\n\
         ==> web2: Machine not provisioned because `--no-provision` is specified.\n\
         ==> web1: Setting hostname...\n\
         ==> web1: Machine not provisioned because `--no-provision` is specified.\n",
    );
    lifecycle::up_with(&args, &opts(Choice::Virtualbox), r.clone()).unwrap();
    assert_eq!(
        take(&r),
        vec![
            "ip -o -4 route show".to_string(),
            "vagrant up --no-provision --provider virtualbox --no-parallel web1 web2".into(),
            "vagrant ssh-config web2".into(),
            "vagrant ssh-config web1".into(),
        ]
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("state/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["phase"], "up");
    assert_eq!(state["nodes"]["web1"]["ssh_port"], 2222);
    assert_eq!(state["nodes"]["web2"]["ssh_port"], 2200);
    let ssh = std::fs::read_to_string(tmp.path().join("state/ssh_config")).unwrap();
    assert!(
        ssh.contains("Host web1") && ssh.contains("Host web2"),
        "{ssh}"
    );
}

/// Recorded test: a `vagrant up` that fails after finishing one machine
/// fails the run with Vagrant's error, as before, and what the run made is
/// removed.
#[test]
fn recorded_a_vagrant_up_failing_after_one_machine_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, r) = setup(tmp.path());
    r.rec.answers.lock().unwrap().insert(
        0,
        (
            "vagrant up".into(),
            Output {
                code: Some(1),
                stdout:
                    "==> web2: Machine not provisioned because `--no-provision` is specified.\n"
                        .into(),
                stderr: "web1: The machine failed to boot".into(),
            },
        ),
    );
    r.rec.answer("VBoxManage list vms", 0, "");
    let err = lifecycle::up_with(&args, &opts(Choice::Virtualbox), r.clone()).unwrap_err();
    let text = err.render();
    assert!(text.contains("could not be brought up"), "{text}");
    let calls = take(&r);
    assert!(
        calls.contains(&"vagrant ssh-config web2".to_string()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"vagrant destroy -f".to_string()),
        "{calls:?}"
    );
    assert!(!tmp.path().join("state/state.json").exists());
}

#[test]
fn a_vm_lab_on_a_routed_subnet_is_refused_before_vagrant_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, r) = setup(tmp.path());
    r.rec.answers.lock().unwrap().insert(
        0,
        (
            "ip -o -4 route show".into(),
            Output {
                code: Some(0),
                stdout: format!("{ROUTES}192.168.60.0/22 dev vboxnet3 proto kernel scope link\n"),
                stderr: String::new(),
            },
        ),
    );
    let err = lifecycle::up_with(&args, &opts(Choice::Virtualbox), r.clone()).unwrap_err();
    let text = err.render();
    assert!(
        text.contains("overlaps 192.168.60.0/22, routed on this host via vboxnet3"),
        "{text}"
    );
    let calls = lines(&r);
    assert_eq!(calls, vec!["ip -o -4 route show".to_string()]);
    assert!(!tmp.path().join("state/Vagrantfile").exists());
}

#[test]
fn a_failing_vagrant_up_removes_what_the_run_made() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, r) = setup(tmp.path());
    r.rec.answers.lock().unwrap().insert(
        0,
        (
            "vagrant up".into(),
            Output {
                code: Some(1),
                stdout: String::new(),
                stderr: "The box 'debian/bookworm64' could not be found".into(),
            },
        ),
    );
    r.rec.answer("VBoxManage list vms", 0, "");
    let err = lifecycle::up_with(&args, &opts(Choice::Virtualbox), r.clone()).unwrap_err();
    // "Nothing left" is a measurement: after the teardown the host is read
    // again (the inventory `down` sweeps by) and found empty.
    let text = err.render();
    assert!(
        text.contains("nothing of it is left on this host"),
        "{text}"
    );
    let calls = take(&r);
    assert_eq!(
        &calls[calls.len() - 6..],
        &[
            "vagrant up --no-provision --provider virtualbox --no-parallel web1 web2".to_string(),
            "vagrant destroy -f".into(),
            "VBoxManage list vms".into(),
            "VBoxManage list hostonlyifs".into(),
            "VBoxManage list vms".into(),
            "VBoxManage list hostonlyifs".into(),
        ]
    );
    no_docker(&calls);
    assert!(!tmp.path().join("state/state.json").exists());
}

/// Issue 10.9: when the cleanup after a failed `up` fails, the run says what is
/// still on the host (read again after the cleanup) and exits 3; it never
/// claims that nothing was left behind.
#[test]
fn a_failing_cleanup_after_a_failed_up_names_what_is_still_there() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, r) = setup(tmp.path());
    r.rec.answers.lock().unwrap().insert(
        0,
        (
            "vagrant up".into(),
            Output {
                code: Some(1),
                stdout: String::new(),
                stderr: "The box 'debian/bookworm64' could not be found".into(),
            },
        ),
    );
    // One machine was made; its removal fails, so it is still listed after.
    r.rec
        .answer("VBoxManage list vms", 0, "\"labctl-vmlab-web1\" {0b9e}\n");
    r.rec.answer("VBoxManage unregistervm", 1, "");
    let err = lifecycle::up_with(&args, &opts(Choice::Virtualbox), r.clone()).unwrap_err();
    let text = err.render();
    assert!(!text.contains("nothing was left behind"), "{text}");
    assert!(!text.contains("nothing of it is left"), "{text}");
    assert!(
        text.contains("still on this host: VirtualBox VM labctl-vmlab-web1"),
        "{text}"
    );
    assert_eq!(err.exit(), labctl::error::Exit::Environment, "{text}");
    let calls = take(&r);
    assert!(
        calls.ends_with(&[
            "VBoxManage list vms".to_string(),
            "VBoxManage list hostonlyifs".into()
        ]),
        "the host is read again after the cleanup: {calls:?}"
    );
}

/// Recorded test (command sequence): VirtualBox snapshots are Vagrant's own
/// (`vagrant snapshot`). Save replaces one of the same name; a restore first
/// reads `vagrant snapshot list` and refuses, before anything is restored,
/// when a machine lacks the snapshot; delete and down.
#[test]
fn recorded_virtualbox_snapshots_run_vagrant_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, r) = setup(tmp.path());
    lifecycle::up_with(&args, &opts(Choice::Virtualbox), r.clone()).unwrap();
    take(&r);

    lifecycle::snapshot_save_with(&args, Some("base"), r.clone()).unwrap();
    assert_eq!(take(&r), vec!["vagrant snapshot save --force base"]);

    r.rec.answer_once(
        "vagrant snapshot list",
        0,
        "==> web1: \nbase\n==> web2: \nbase\n",
    );
    lifecycle::snapshot_restore_with(&args, Some("base"), r.clone()).unwrap();
    assert_eq!(
        take(&r),
        vec![
            "vagrant snapshot list",
            "vagrant snapshot restore --no-provision base"
        ]
    );

    // A machine without it (deleted in the VirtualBox GUI): refused, named.
    r.rec.answer_once(
        "vagrant snapshot list",
        0,
        "==> web1: \nbase\n==> web2: \nNo snapshots have been taken yet!\n",
    );
    let e = lifecycle::snapshot_restore_with(&args, Some("base"), r.clone()).unwrap_err();
    assert!(e.to_string().contains("none of node web2"), "{e}");
    assert_eq!(take(&r), vec!["vagrant snapshot list"]);

    // A snapshot labctl never took: named with the ones it has, exit 2, no Vagrant call.
    let e = lifecycle::snapshot_restore_with(&args, Some("nosuch"), r.clone()).unwrap_err();
    assert_eq!(e.exit(), labctl::error::Exit::Usage);
    assert!(
        e.to_string()
            .contains("no snapshot nosuch (snapshots: base)"),
        "{e}"
    );
    assert!(take(&r).is_empty());

    r.rec.answer(
        "vagrant status --machine-readable",
        0,
        "1,web1,state,running\n1,web2,state,running\n",
    );
    lifecycle::snapshot_delete_with(&args, "base", r.clone()).unwrap();
    assert_eq!(
        take(&r),
        vec![
            "vagrant status --machine-readable",
            "vagrant snapshot delete base"
        ]
    );
    no_docker(&lines(&r));
}
