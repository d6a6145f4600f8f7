//! `labctl setup --provider libvirt` on this host, for real. The README's
//! test command ran it once already, so every step must find its work done:
//! each prints "setup: ok: ...", none prints "setup: change: ...", and the run
//! says "nothing changed"; libvirtd runs in the mode the cached KVM probe
//! chose. `up --no-setup` on a host without the libvirt tools fails naming them.
//! (A missing prerequisite fails here: nothing skips itself.)

mod common;

#[test]
fn a_second_setup_finds_every_step_done_and_changes_nothing() {
    let dir = common::workdir("setup-libvirt");
    // Once (whatever it has to do), then again: that one must change nothing.
    common::ok(&common::labctl(
        dir.path(),
        &["setup", "--provider", "libvirt"],
    ));
    let out = common::labctl(dir.path(), &["setup", "--provider", "libvirt"]);
    common::ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("setup: change:"), "{err}");
    assert!(err.contains("nothing changed"), "{err}");
    let probe =
        std::fs::read_to_string("/var/lib/labctl/kvm-probe").expect("the KVM probe's cache");
    let mode = probe
        .lines()
        .find_map(|l| l.strip_prefix("mode="))
        .expect("mode= in the cache");
    for step in [
        "setup: ok: packages installed (qemu-system-x86 and qemu-utils at ",
        "setup: ok: KVM probe cached in /var/lib/labctl/kvm-probe: ",
        &format!("libvirtd running in {mode} mode"),
        "setup: ok: storage pool default running",
    ] {
        assert!(err.contains(step), "missing {step:?} in:\n{err}");
    }
    assert!(
        err.contains("setup: ok: virtlogd running")
            || err.contains("setup: ok: virtlogd.socket active"),
        "{err}"
    );
    let answers = common::sh("virsh -c qemu:///system version >/dev/null 2>&1 && echo yes");
    assert_eq!(answers.trim(), "yes", "libvirtd answers after setup");
}

#[test]
fn up_without_setup_names_the_missing_libvirt_tools() {
    let dir = common::workdir("setup-libvirt-missing");
    let empty = dir.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let out = common::labctl_env(
        dir.path(),
        &["up", "testnodes", "--provider", "libvirt", "--no-setup"],
        &[("PATH", empty.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(3), "environment error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not ready for the libvirt provider (missing: vagrant, virsh, qemu-system-x86_64, qemu-img)"),
        "{err}"
    );
    assert!(err.contains("labctl setup --provider libvirt"), "{err}");
}
