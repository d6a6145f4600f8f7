//! The one test binary that boots real VMs: labs on the libvirt provider under
//! QEMU (TCG here, where KVM guests hang), one VM lab at a time. Its tests
//! hold the binary's mutex and the host-wide lock `/tmp/labctl-vm.lock` (take
//! it too when you boot VMs by hand: `flock /tmp/labctl-vm.lock ...`), so two
//! VM labs never share this machine's cores.
//!
//! - testnodes, brought up once: `labctl test testnodes --provider libvirt`
//!   green (8 GiB extra disks as /dev/vdb, the signed offline repository, no
//!   way out of the isolated management network), status (BOX: the box
//!   labctl built), restart (a real reboot: each guest's boot_id changes;
//!   services back without provisioning; host keys read again from the
//!   consoles), `labctl ssh` on the rebooted guest, provision again
//!   changing nothing, reset to libvirt's own snapshot (a drift gone, the
//!   snapshot's boot resumed), down (domains with snapshots) leaving the
//!   host as the baseline taken before.
//! - the 1-node fixture tests/fixtures/libvirt-one: SIGKILL during `up` then
//!   `down`, Ctrl-C during `up`, then a whole up whose role installs a package
//!   that is not in the box with apt over the VM's NAT; a wrong pinned host
//!   key refuses the connection; halt (domain shut off) then up (a new boot,
//!   checks green); a domain Vagrant lost is swept by `down`.
//!
//! A missing prerequisite (libvirtd not answering) fails, never skips: run
//! `labctl setup --provider libvirt` first. The box is built by `up` itself
//! when it is missing (`labctl image build --provider libvirt` ahead saves
//! that time).

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VIRSH: &str = "virsh -c qemu:///system";

const LOCK: &str = "/tmp/labctl-vm.lock";

/// Does a process above this one (flock(1) running cargo) hold `path` open?
fn ancestor_holds(path: &str) -> bool {
    let mut pid = std::process::id();
    while pid > 1 {
        let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == Path::new(path)))
            })
            .unwrap_or(false);
        if open && pid != std::process::id() {
            return true;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Field 4 (ppid) follows the command name in parentheses.
        pid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
    }
    false
}

/// The binary's mutex, then the host-wide VM lock (held until dropped).
struct VmLock {
    _serial: std::sync::MutexGuard<'static, ()>,
    _file: Option<nix::fcntl::Flock<std::fs::File>>,
}

fn vm_lock() -> VmLock {
    let serial = serial();
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK)
            .unwrap()
    };
    use nix::fcntl::{Flock, FlockArg};
    // Run by hand as `flock /tmp/labctl-vm.lock cargo test --test e2e_libvirt`,
    // an ancestor already holds it: waiting for it here would wait forever.
    let file = match Flock::lock(open(), FlockArg::LockExclusiveNonblock) {
        Ok(f) => Some(f),
        Err(_) if ancestor_holds(LOCK) => None,
        Err(_) => Some(
            Flock::lock(open(), FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .unwrap(),
        ),
    };
    let ok = Command::new("virsh")
        .args(["-c", "qemu:///system", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "libvirtd does not answer on qemu:///system: run `labctl setup --provider libvirt` (a VM test never skips)"
    );
    VmLock {
        _serial: serial,
        _file: file,
    }
}

/// What libvirt holds, and what its networks leave on the host.
#[derive(Debug, PartialEq, Eq)]
struct LibvirtSnapshot {
    domains: BTreeSet<String>,
    volumes: BTreeSet<String>,
    networks: BTreeSet<String>,
    /// dnsmasq processes (zombies aside: libvirtd reaps them a moment later).
    dnsmasq: BTreeSet<String>,
    /// libvirt's dnsmasq config, lease and status files.
    dnsmasq_files: BTreeSet<String>,
}

fn set(s: String) -> BTreeSet<String> {
    s.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn libvirt_snapshot() -> LibvirtSnapshot {
    LibvirtSnapshot {
        domains: set(sh(&format!("{VIRSH} list --all --name"))),
        // A labctl box's base volume is left out: vagrant-libvirt uploads it
        // at the first `up` after a new box (on a fresh machine: after the
        // baseline), and it is meant to stay (`labctl image build` prunes
        // stale ones, `down` never touches it: held.rs's unit test).
        volumes: set(sh(&format!(
            "{VIRSH} vol-list --pool default | awk 'NR>2{{print $1}}'"
        )))
        .into_iter()
        .filter(|v| {
            !(v.starts_with("labctl-VAGRANTSLASH-node-") && v.contains("_vagrant_box_image_"))
        })
        .collect(),
        networks: set(sh(&format!("{VIRSH} net-list --all --name"))),
        dnsmasq: set(sh(
            "ps -eo stat=,args= | awk '$1 !~ /^Z/ && $2 ~ /dnsmasq/'",
        )),
        dnsmasq_files: set(sh("ls /var/lib/libvirt/dnsmasq/ 2>/dev/null")),
    }
}

/// Everything `down` must leave as it was: the common host snapshot (processes
/// naming the lab, e.g. qemu and dnsmasq; Vagrant's port leases) and
/// libvirt's own listing. dnsmasq is reaped by libvirtd shortly after
/// `net-destroy`: allow it a few seconds.
fn assert_host_as_before(before: &(HostSnapshot, LibvirtSnapshot), needles: &[&str]) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let now = (snapshot(needles), libvirt_snapshot());
        if now == *before || Instant::now() > end {
            assert_clean(&before.0, &now.0);
            assert_eq!(before.1, now.1, "libvirt left differs from the baseline");
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn baseline(needles: &[&str]) -> (HostSnapshot, LibvirtSnapshot) {
    (snapshot(needles), libvirt_snapshot())
}

/// testnodes on three real VMs, one `up` for all of it.
#[test]
fn testnodes_on_libvirt_test_restart_provision_again_and_down() {
    let _l = vm_lock();
    let tmp = workdir("labctl-e2e-lv-tn-");
    let dir = tmp.path();
    let _down = DownGuard::new(dir, &["testnodes"]);
    let needles = ["labctl-testnodes", dir.to_str().unwrap()];
    // The box is made (or found) before the baseline: it and its base volume
    // are expected to stay, like setup's packages and daemons.
    ok(&labctl(dir, &["image", "build", "--provider", "libvirt"]));
    let before = baseline(&needles);

    let junit = dir.join("tn.xml");
    let out = labctl(
        dir,
        &[
            "test",
            "testnodes",
            "--provider",
            "libvirt",
            "--report",
            &format!("junit:{}", junit.display()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "labctl test testnodes --provider libvirt did not pass"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    for disk in ["testnode1 has its 8G disk", "testnode2 has its 8G disk"] {
        assert!(xml.contains(&format!("name=\"{disk}\"")), "{xml}");
    }
    assert!(
        !xml.contains("<failure") && !xml.contains("<error"),
        "{xml}"
    );
    let st = dir.join(".labctl/testnodes");
    // Real VMs: the disk is a virtio disk, the runtime file names the box.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/dev/vdb"), "the disk check names /dev/vdb");
    let rt = std::fs::read_to_string(st.join("labctl-runtime.json")).unwrap();
    assert!(rt.contains("\"box\": \"labctl/node-"), "{rt}");
    // Host keys were pinned from the consoles before labctl's first contact.
    let kh = std::fs::read_to_string(st.join("known_hosts")).unwrap();
    for n in ["repo", "testnode1", "testnode2"] {
        let console = std::fs::read_to_string(st.join(format!("console/{n}.log"))).unwrap();
        let key = console
            .lines()
            .find_map(|l| l.split("labctl-hostkey ssh-ed25519 ").nth(1))
            .unwrap_or_else(|| panic!("no host key in {n}'s console"))
            .trim();
        assert!(
            kh.contains(&format!("labctl-testnodes-{n} ssh-ed25519 {key}")),
            "{n}: {kh}"
        );
    }
    // Offline on VMs: the management network is isolated (no <forward>).
    let mgmt = sh(&format!("{VIRSH} net-dumpxml labctl-testnodes_mgmt"));
    assert!(
        mgmt.contains("<name>labctl-testnodes_mgmt</name>"),
        "{mgmt}"
    );
    assert!(
        !mgmt.contains("<forward"),
        "offline lab's management network forwards: {mgmt}"
    );

    // status: every node running, booted from the box labctl built.
    assert_status(dir, "running");

    // Restart is a real reboot (each guest's boot_id changes), without
    // provisioning; nginx on repo serves again (checks pass).
    let booted = boot_ids(dir);
    // Provisioning appends to logs/NODE.log: the same lengths after the
    // restart mean no role ran.
    let logs = || -> Vec<u64> {
        TESTNODES
            .iter()
            .map(|n| std::fs::metadata(st.join(format!("logs/{n}.log"))).map_or(0, |m| m.len()))
            .collect()
    };
    let provisioned = logs();
    assert!(provisioned.iter().all(|&l| l > 0), "{provisioned:?}");
    let out = labctl(dir, &["restart", "testnodes"]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no re-provisioning"), "{err}");
    assert_eq!(logs(), provisioned, "restart ran provisioning");
    assert!(
        err.contains("SSH host key(s) pinned from its console"),
        "{err}"
    );
    let rebooted = boot_ids(dir);
    assert_all_differ(&booted, &rebooted, "restart");
    let out = labctl(dir, &["test", "testnodes"]);
    assert_eq!(out.status.code(), Some(0), "checks after restart");
    // `labctl ssh` (OpenSSH with the lab's ssh_config) reaches the guest the
    // restart booted; commands come on stdin, as from a pipe.
    let out = labctl_stdin(
        dir,
        &["ssh", "testnodes", "testnode1"],
        "cat /proc/sys/kernel/random/boot_id\n",
    );
    ok(&out);
    // Without a terminal sshd still prints the guest's message of the day
    // first; the command's answer is the last line.
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        said.trim().lines().last(),
        Some(rebooted["testnode1"].as_str()),
        "labctl ssh: {said}"
    );

    // Provision again: every role says unchanged. It also takes the
    // `provisioned` snapshot again, now of the guests the restart booted.
    assert_idempotent(dir, "testnodes");

    // Reset: libvirt's own snapshot (disks and memory) brings the guests back
    // as they were when it was taken: a drift is gone, and each guest runs the
    // boot it was in then (the restart's boot id), not a new one.
    let list = labctl(dir, &["snapshot", "list", "testnodes"]);
    ok(&list);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(listed.contains("provisioned"), "{listed}");
    let drift = |cmd: &str| {
        labctl(
            dir,
            &[
                "exec",
                "testnodes",
                "testnode1",
                "--",
                "sudo",
                "sh",
                "-c",
                cmd,
            ],
        )
    };
    ok(&drift("echo drifted > /etc/labctl-drift && sync"));
    let out = labctl(dir, &["reset", "testnodes"]);
    ok(&out);
    let gone = drift("test ! -e /etc/labctl-drift");
    assert_eq!(gone.status.code(), Some(0), "the drift survived reset");
    assert_eq!(boot_ids(dir), rebooted, "reset booted the guests anew");

    // `down` removes domains that have snapshots (their metadata first) and
    // leaves the host as before (compared below).
    let out = labctl(dir, &["down", "testnodes"]);
    assert!(out.status.success());
    assert_host_as_before(&before, &needles);
}

const TESTNODES: [&str; 3] = ["repo", "testnode1", "testnode2"];

/// Each testnodes guest's kernel boot id (new on every boot), read with
/// `labctl exec`.
fn boot_ids(dir: &Path) -> std::collections::BTreeMap<&'static str, String> {
    TESTNODES
        .iter()
        .map(|&n| {
            let out = labctl(
                dir,
                &[
                    "exec",
                    "testnodes",
                    n,
                    "--",
                    "cat",
                    "/proc/sys/kernel/random/boot_id",
                ],
            );
            ok(&out);
            let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert_eq!(id.len(), 36, "{n}: boot_id {id:?}");
            (n, id)
        })
        .collect()
}

fn assert_all_differ(
    before: &std::collections::BTreeMap<&'static str, String>,
    after: &std::collections::BTreeMap<&'static str, String>,
    what: &str,
) {
    for n in TESTNODES {
        assert_ne!(before[n], after[n], "{n} did not boot again on {what}");
    }
}

/// `labctl status testnodes`: every node in `state`, its BOX the box labctl
/// built (`labctl/node-HASH`), not the lab's public box.
fn assert_status(dir: &Path, state: &str) {
    let out = labctl(dir, &["status", "testnodes"]);
    ok(&out);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let head: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let (s, b) = (
        head.iter().position(|&c| c == "STATE").expect(&table),
        head.iter().position(|&c| c == "BOX").expect(&table),
    );
    for n in TESTNODES {
        let row: Vec<&str> = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&n))
            .unwrap_or_else(|| panic!("no row for {n}:\n{table}"));
        assert_eq!(row[s], state, "{n}:\n{table}");
        assert!(row[b].starts_with("labctl/node-"), "{n}:\n{table}");
    }
}

/// labctl with `input` on its stdin.
fn labctl_stdin(dir: &Path, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut c = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("spawned.err")).unwrap())
        .spawn()
        .unwrap()
}

/// `labctl up LAB` in the background, returned once its domain is defined
/// (the moment the fault cases interrupt it).
fn up_until_the_domain_is_defined(dir: &Path, lab: &str) -> Child {
    let mut child = spawn(dir, &["up", lab, "--provider", "libvirt"]);
    wait_for(
        &mut child,
        dir,
        "the domain",
        Duration::from_secs(600),
        domain_defined,
    );
    child
}

fn domain_defined() -> bool {
    sh(&format!("{VIRSH} list --all --name"))
        .lines()
        .any(|l| l.trim() == "labctl-lvone-vm1")
}

/// Wait until `f` holds; fail naming `what` with the spawned run's stderr if
/// the run ends first or it takes longer than `limit`.
fn wait_for(child: &mut Child, dir: &Path, what: &str, limit: Duration, f: impl Fn() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        let err = || std::fs::read_to_string(dir.join("spawned.err")).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            panic!("labctl ended ({status}) before {what}:\n{}", err());
        }
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}:\n{}",
            err()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The 1-node fixture: faults during `up`, then a whole lifecycle whose role
/// installs a package that is not in the box over the VM's NAT.
#[test]
fn one_vm_faults_nat_apt_and_pinned_host_keys() {
    let _l = vm_lock();
    let (tmp, lab) = fixture_lab("libvirt-one");
    let dir = tmp.path();
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab]);
    let needles = ["labctl-lvone", dir.to_str().unwrap()];
    ok(&labctl(dir, &["image", "build", "--provider", "libvirt"]));
    let before = baseline(&needles);

    // SIGKILL while the domain boots, then `down`.
    let mut child = up_until_the_domain_is_defined(dir, lab);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = labctl(dir, &["down", lab]);
    assert!(out.status.success(), "down after SIGKILL");
    assert_host_as_before(&before, &needles);

    // Ctrl-C while the domain boots: the run removes what it made.
    let child = up_until_the_domain_is_defined(dir, lab);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = std::fs::read_to_string(dir.join("spawned.err")).unwrap();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted during"), "names the phase: {err}");
    assert!(
        err.contains("nothing of lab lvone is left on this host (read again after the cleanup)"),
        "{err}"
    );
    assert_host_as_before(&before, &needles);

    // The whole way: jq is not in the box; the role installs it over NAT.
    let out = labctl(dir, &["test", lab, "--provider", "libvirt"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "labctl test lvone --provider libvirt"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jq came from the mirror over NAT"), "{err}");
    assert!(
        err.contains("Setting up jq"),
        "jq was installed by the role, not found in the box"
    );
    let mgmt = sh(&format!("{VIRSH} net-dumpxml labctl-lvone_mgmt"));
    assert!(mgmt.contains("<forward mode='nat'"), "{mgmt}");

    // The pinned host key is what labctl checks: a wrong one refuses the node.
    let kh = dir.join(".labctl/lvone/known_hosts");
    let good = std::fs::read_to_string(&kh).unwrap();
    let bad: String = good
        .lines()
        .map(|l| {
            let mut w: Vec<&str> = l.split(' ').collect();
            if w.len() == 3 && w[1] == "ssh-ed25519" {
                // Another valid Ed25519 key (all-zero public point).
                w[2] = "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
            }
            w.join(" ") + "\n"
        })
        .filter(|l| !l.contains("ecdsa"))
        .collect();
    std::fs::write(&kh, bad).unwrap();
    let out = labctl(dir, &["exec", lab, "vm1", "--", "true"]);
    assert!(
        !out.status.success(),
        "a wrong pinned host key must refuse the node"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("host key"), "{err}");
    std::fs::write(&kh, good).unwrap();
    ok(&labctl(dir, &["exec", lab, "vm1", "--", "true"]));

    // halt shuts the domain off; up boots it again (a new boot id, the same
    // machine: its disk and host keys), and its checks pass.
    let boot_id = || {
        let out = labctl(
            dir,
            &[
                "exec",
                lab,
                "vm1",
                "--",
                "cat",
                "/proc/sys/kernel/random/boot_id",
            ],
        );
        ok(&out);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(id.len(), 36, "boot_id {id:?}");
        id
    };
    let first = boot_id();
    ok(&labctl(dir, &["halt", lab]));
    let state = sh(&format!("{VIRSH} domstate labctl-lvone-vm1"));
    assert_eq!(state.trim(), "shut off", "after halt");
    ok(&labctl(dir, &["up", lab]));
    assert_ne!(
        boot_id(),
        first,
        "up after halt did not boot the guest anew"
    );
    let out = labctl(dir, &["test", lab]);
    assert_eq!(out.status.code(), Some(0), "checks after halt and up");

    // Vagrant loses the machine (its folder gone, as seen once after an up):
    // `vagrant destroy` then knows nothing, and the sweep by exact name must
    // still remove the running domain, its volumes and both networks.
    std::fs::remove_dir_all(dir.join(".labctl/lvone/.vagrant/machines/vm1")).unwrap();
    let out = labctl(dir, &["down", lab]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("removed libvirt domain labctl-lvone-vm1"),
        "{err}"
    );
    assert_host_as_before(&before, &needles);
}

/// bench and docker-deploy run Docker engines inside their nodes: refused on
/// libvirt before anything is made (no box build, no network, no domain).
#[test]
fn labs_with_nested_docker_engines_are_refused_on_libvirt_before_anything_is_made() {
    let _l = vm_lock();
    let tmp = workdir("labctl-e2e-lv-nested-");
    let dir = tmp.path();
    let before = libvirt_snapshot();
    for lab in ["bench", "docker-deploy"] {
        let out = labctl(dir, &["up", lab, "--provider", "libvirt", "--no-setup"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("nested_containers = true"), "{err}");
        assert!(
            err.contains(&format!("labctl up {lab} --provider docker")),
            "{err}"
        );
        assert!(!dir.join(format!(".labctl/{lab}/state.json")).exists());
    }
    assert_eq!(before, libvirt_snapshot());
}
