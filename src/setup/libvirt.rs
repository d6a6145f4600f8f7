//! Host setup for the libvirt provider (`labctl setup --provider libvirt`,
//! also run by `up`). Six steps, each probing first whether it is already
//! done and printing one line: `setup: ok: ...` (in place) or
//! `setup: change: ...` (what it changed on the host). A second run changes
//! nothing and says so.
//!
//! 1. packages: every one of [`PACKAGES`] installed (`dpkg-query`), and
//!    qemu-utils at qemu-system-x86's version. The base system may carry
//!    qemu-utils 10.x from bookworm-backports, which `Breaks:
//!    qemu-system-common (<8.0)`: it is installed at qemu-system-x86's
//!    candidate version (`--allow-downgrades`), and the downgrade printed.
//! 2. the KVM probe ([`crate::provider::kvm`]): cached; decides the mode.
//! 3. TCG only: `namespaces = []` appended to /etc/libvirt/qemu.conf
//!    (libvirtd sees /dev/kvm as a bind mount in its own namespace and could
//!    not move it into a per-domain /dev).
//! 4. virtlogd running (without an init system: `virtlogd -d`; with systemd:
//!    its socket unit).
//! 5. libvirtd running in the probe's mode. TCG with a /dev/kvm present:
//!    started in a private mount namespace with /dev/kvm hidden behind an
//!    empty 0600 file. Without it, libvirt's capability probe sees KVM while
//!    its "usable" check fails and re-probes QEMU on every API call (4-8 s
//!    each; a 2-node `vagrant up` took 6 min); masked, calls take ~20 ms.
//!    With systemd, the same through a drop-in (`InaccessiblePaths=-/dev/kvm`).
//!    A libvirtd in the wrong mode is stopped and started again.
//! 6. the storage pool `default` (a dir pool at /var/lib/libvirt/images),
//!    which vagrant-libvirt uploads boxes to.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::provider::kvm::{self, Host, Mode};
use std::time::Duration;

/// What libvirt labs need, and what building the box needs.
pub const PACKAGES: &[&str] = &[
    "vagrant",
    "vagrant-libvirt",
    "libvirt-daemon-system",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    "dnsmasq-base",
    "debootstrap",
    "extlinux",
    "syslinux-common",
    "fdisk",
    "e2fsprogs",
];

const QEMU_CONF: &str = "/etc/libvirt/qemu.conf";
const MASK: &str = "/run/labctl-nokvm-mask";
const DROPIN: &str = "/etc/systemd/system/libvirtd.service.d/labctl-nokvm.conf";

/// What a run found and did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Host changes, in order, as printed.
    pub changes: Vec<String>,
    pub mode: Option<Mode>,
}

impl Outcome {
    fn ok(&self, what: impl AsRef<str>) {
        eprintln!("setup: ok: {}", what.as_ref());
    }
    fn change(&mut self, what: impl Into<String>) {
        let w = what.into();
        eprintln!("setup: change: {w}");
        self.changes.push(w);
    }
}

/// Is the host ready without changing anything? (`up --no-setup`): the
/// programs are there and libvirtd answers.
pub fn check(r: &dyn Runner) -> Result<()> {
    let missing: Vec<&str> = ["vagrant", "virsh", "qemu-system-x86_64", "qemu-img"]
        .into_iter()
        .filter(|p| r.which(p).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Error::env(
            format!(
                "the host is not ready for the libvirt provider (missing: {})",
                missing.join(", ")
            ),
            Some("run `labctl setup --provider libvirt`".into()),
        ));
    }
    if !virsh_answers(r) {
        return Err(Error::env(
            "libvirtd does not answer on qemu:///system",
            Some("run `labctl setup --provider libvirt` (it starts virtlogd and libvirtd)".into()),
        ));
    }
    Ok(())
}

/// Make the host ready for libvirt labs; see the module comment.
/// `restart_libvirtd`: a libvirtd in the wrong mode may be restarted even
/// while it runs domains that are not labctl's (`labctl setup
/// --restart-libvirtd`); without it that is refused.
pub fn ensure(r: &dyn Runner, host: &Host, restart_libvirtd: bool) -> Result<Outcome> {
    let mut o = Outcome::default();
    packages(r, &mut o)?;
    let (probe, was_cached) = kvm::probe(r, host, false)?;
    if was_cached {
        o.ok(format!(
            "KVM probe cached in {}: {} ({})",
            host.cache_file().display(),
            probe.mode,
            probe.why
        ));
    } else {
        o.change(format!(
            "KVM probe: {} ({}); cached in {}",
            probe.mode,
            probe.why,
            host.cache_file().display()
        ));
    }
    let mode = probe.mode;
    o.mode = Some(mode);
    let masked = mode == Mode::Tcg && host.p("/dev/kvm").exists();
    if masked {
        qemu_conf(host, &mut o)?;
    }
    if host.p("/run/systemd/system").is_dir() {
        systemd_units(r, host, masked, &mut o)?;
    } else {
        virtlogd(r, host, &mut o)?;
        libvirtd(r, host, mode, masked, restart_libvirtd, &mut o)?;
    }
    pool(r, &mut o)?;
    // The first capabilities call after a start (re)probes QEMU (4-8 s); warm it now.
    let _ = r.output(&virsh().arg("capabilities"));
    if o.changes.is_empty() {
        eprintln!("setup: libvirt ready (mode {mode}); nothing changed");
    } else {
        eprintln!(
            "setup: libvirt ready (mode {mode}); {} change{} made",
            o.changes.len(),
            if o.changes.len() == 1 { "" } else { "s" }
        );
    }
    Ok(o)
}

fn virsh() -> Cmd {
    crate::provider::libvirt::virsh([])
}

fn virsh_answers(r: &dyn Runner) -> bool {
    r.output(&virsh().arg("version")).is_ok_and(|o| o.success())
}

/// Installed versions of `pkgs` (those not installed are left out).
fn installed(r: &dyn Runner, pkgs: &[&str]) -> Result<Vec<(String, String)>> {
    let out = r.output(
        &Cmd::new("dpkg-query")
            .args(["-W", "-f", "${Package} ${db:Status-Abbrev}${Version}\\n"])
            .args(pkgs.iter().copied()),
    )?;
    Ok(parse_installed(&out.stdout))
}

fn parse_installed(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(' ')?;
            let v = rest.strip_prefix("ii ")?.trim();
            (!v.is_empty()).then(|| (name.to_string(), v.to_string()))
        })
        .collect()
}

fn packages(r: &dyn Runner, o: &mut Outcome) -> Result<()> {
    let have = installed(r, PACKAGES)?;
    let version = |p: &str| have.iter().find(|(n, _)| n == p).map(|(_, v)| v.clone());
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|p| version(p).is_none())
        .collect();
    let qsys = version("qemu-system-x86");
    let qutl = version("qemu-utils");
    let clash = qutl.is_some() && qutl != qsys;
    if missing.is_empty() && !clash {
        o.ok(format!(
            "packages installed (qemu-system-x86 and qemu-utils at {})",
            qsys.unwrap_or_default()
        ));
        return Ok(());
    }
    super::require_root_debian(&format!(
        "apt-get install --allow-downgrades {} (qemu-utils at qemu-system-x86's version)",
        PACKAGES.join(" ")
    ))?;
    let apt = |c: Cmd| c.env("DEBIAN_FRONTEND", "noninteractive");
    r.run(&apt(Cmd::new("apt-get").args(["update", "-q"])))?;
    let policy = r.run(&Cmd::new("apt-cache").args(["policy", "qemu-system-x86"]))?;
    let Some(qv) = policy
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(|v| v.trim().to_string())
        .filter(|v| v != "(none)")
    else {
        return Err(Error::env(
            "no installable qemu-system-x86 in the host's apt sources",
            Some(
                "check `apt-cache policy qemu-system-x86` and the host's apt sources (Debian main)"
                    .into(),
            ),
        ));
    };
    if let Some(u) = qutl.as_ref().filter(|u| **u != qv) {
        o.change(format!(
            "qemu-utils {u} -> {qv} (qemu-utils must match qemu-system-x86: newer ones Break qemu-system-common of older versions)"
        ));
    }
    let pkgs: Vec<String> = PACKAGES
        .iter()
        .map(|p| {
            if *p == "qemu-utils" {
                format!("qemu-utils={qv}")
            } else {
                p.to_string()
            }
        })
        .collect();
    r.run(&apt(Cmd::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "--allow-downgrades",
            "--",
        ])
        .args(pkgs)))?;
    o.change(format!(
        "installed {} (were missing: {}); libvirt-daemon-system brings libvirt's own `default` network (virbr0, 192.168.122.0/24, autostarted), which labctl never uses or removes",
        PACKAGES.join(" "),
        if missing.is_empty() {
            "none".to_string()
        } else {
            missing.join(" ")
        }
    ));
    // Debian ships vagrant-libvirt as a system plugin: nothing to `vagrant plugin install`.
    let plugins = r.run(
        &Cmd::new("vagrant")
            .args(["plugin", "list"])
            .env("VAGRANT_CHECKPOINT_DISABLE", "1"),
    )?;
    if !plugins
        .stdout
        .lines()
        .any(|l| l.starts_with("vagrant-libvirt "))
    {
        return Err(Error::env(
            "vagrant does not list the vagrant-libvirt plugin after installing it",
            Some("check `vagrant plugin list`".into()),
        ));
    }
    Ok(())
}

fn qemu_conf(host: &Host, o: &mut Outcome) -> Result<()> {
    let path = host.p(QEMU_CONF);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let re = regex::Regex::new(r"(?m)^\s*namespaces\s*=\s*\[\s*\]").unwrap();
    if re.is_match(&text) {
        o.ok(format!("{QEMU_CONF} has namespaces = []"));
        return Ok(());
    }
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    f.write_all(b"\n# added by labctl setup: libvirtd runs with /dev/kvm masked in its own\n# mount namespace; a per-domain /dev namespace would fail to move that mount.\nnamespaces = []\n")
        .map_err(|e| Error::io("write", &path, e))?;
    o.change(format!(
        "appended 'namespaces = []' to {QEMU_CONF} (no per-domain /dev namespace: /dev/kvm is a bind mount in libvirtd's namespace)"
    ));
    Ok(())
}

/// The pid in `pidfile` when it names a live process called `comm`.
fn live_pid(host: &Host, pidfile: &str, comm: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(host.p(pidfile))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let c = std::fs::read_to_string(host.p(&format!("/proc/{pid}/comm"))).ok()?;
    (c.trim() == comm).then_some(pid)
}

fn virtlogd(r: &dyn Runner, host: &Host, o: &mut Outcome) -> Result<()> {
    if let Some(pid) = live_pid(host, "/run/virtlogd.pid", "virtlogd") {
        o.ok(format!("virtlogd running (pid {pid})"));
        return Ok(());
    }
    for d in ["/run/libvirt", "/var/log/libvirt"] {
        let _ = std::fs::create_dir_all(host.p(d));
    }
    r.run(&Cmd::new("virtlogd").arg("-d"))?;
    if !super::wait_for(Duration::from_secs(10), || {
        live_pid(host, "/run/virtlogd.pid", "virtlogd").is_some()
    }) {
        return Err(Error::env(
            "virtlogd -d did not leave a running virtlogd within 10 s",
            Some("run `virtlogd` in a terminal to see why".into()),
        ));
    }
    o.change("started virtlogd -d (no init system)");
    Ok(())
}

/// The mode the running libvirtd is in.
#[derive(Debug, PartialEq, Eq)]
enum Running {
    Down,
    In(Mode),
    /// No mask and no KVM offered: libvirt answers from a capabilities cache
    /// written while it was masked; the next cache invalidation brings back
    /// the 8 s re-probe per call. Not the TCG mode setup makes.
    TcgUnmasked,
}

fn libvirtd_mode(r: &dyn Runner, host: &Host) -> Running {
    if !virsh_answers(r) {
        return Running::Down;
    }
    if !host.p("/dev/kvm").exists() {
        return Running::In(Mode::Tcg);
    }
    if let Some(pid) = live_pid(host, "/run/libvirtd.pid", "libvirtd") {
        let mi =
            std::fs::read_to_string(host.p(&format!("/proc/{pid}/mountinfo"))).unwrap_or_default();
        if mi
            .lines()
            .any(|l| l.split_whitespace().nth(4) == Some("/dev/kvm"))
        {
            return Running::In(Mode::Tcg);
        }
    }
    match r.output(&virsh().arg("capabilities")) {
        Ok(c) if c.stdout.contains("<domain type='kvm'") => Running::In(Mode::Kvm),
        _ => Running::TcgUnmasked,
    }
}

fn libvirtd(
    r: &dyn Runner,
    host: &Host,
    mode: Mode,
    masked: bool,
    restart: bool,
    o: &mut Outcome,
) -> Result<()> {
    let cur = libvirtd_mode(r, host);
    if cur == Running::In(mode) {
        let pid = live_pid(host, "/run/libvirtd.pid", "libvirtd")
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        o.ok(format!("libvirtd running in {mode} mode{pid}"));
        return Ok(());
    }
    if cur != Running::Down {
        let Some(pid) = live_pid(host, "/run/libvirtd.pid", "libvirtd") else {
            return Err(Error::env(
                format!("libvirtd answers in the wrong mode ({cur:?}, the probe says {mode}) and /run/libvirtd.pid names no libvirtd"),
                Some("stop libvirtd by hand, then run `labctl setup --provider libvirt` again".into()),
            ));
        };
        // Someone else's VMs run under this libvirtd: not ours to disturb.
        let running = r.run(&virsh().args(["list", "--name"]))?;
        let foreign: Vec<&str> = running
            .stdout
            .lines()
            .map(str::trim)
            .filter(|d| !d.is_empty() && !d.starts_with("labctl-"))
            .collect();
        if !foreign.is_empty() && !restart {
            return Err(Error::env(
                format!(
                    "libvirtd runs in {cur:?} mode, the KVM probe says {mode}, and it runs domains that are not labctl's ({}); not restarting it",
                    foreign.join(", ")
                ),
                Some("stop those domains first, or run `labctl setup --provider libvirt --restart-libvirtd` (libvirt keeps running domains across a restart)".into()),
            ));
        }
        r.run(&Cmd::new("kill").arg(pid.to_string()))?;
        super::wait_for(Duration::from_secs(10), || {
            live_pid(host, "/run/libvirtd.pid", "libvirtd").is_none()
        });
        o.change(format!(
            "stopped libvirtd (pid {pid}): it ran in {cur:?} mode, the probe says {mode}"
        ));
    }
    if masked {
        let m = host.p(MASK);
        std::fs::write(&m, b"").map_err(|e| Error::io("write", &m, e))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o600));
        r.run(&Cmd::new("unshare").args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            "mount --bind \"$1\" /dev/kvm && exec libvirtd -d",
            "sh",
            MASK,
        ]))?;
        o.change(format!(
            "started libvirtd -d in a private mount namespace with /dev/kvm masked by {MASK} (TCG)"
        ));
    } else {
        if mode == Mode::Kvm {
            // The qemu user (libvirt-qemu, group kvm) must open /dev/kvm.
            let st = r.run(&Cmd::new("stat").args(["-c", "%G %a", "/dev/kvm"]))?;
            if st.stdout.trim() != "kvm 660" {
                r.run(&Cmd::new("chgrp").args(["kvm", "/dev/kvm"]))?;
                r.run(&Cmd::new("chmod").args(["0660", "/dev/kvm"]))?;
                o.change(format!(
                    "chgrp kvm /dev/kvm; chmod 0660 /dev/kvm (was {}; no udev rule applied it)",
                    st.stdout.trim()
                ));
            }
        }
        r.run(&Cmd::new("libvirtd").arg("-d"))?;
        o.change(format!("started libvirtd -d ({mode})"));
    }
    let up = super::wait_for(Duration::from_secs(15), || virsh_answers(r));
    let got = libvirtd_mode(r, host);
    if !up || got != Running::In(mode) {
        return Err(Error::env(
            format!("libvirtd runs in mode {got:?}, wanted {mode}"),
            Some("see /var/log/libvirt/ and `virsh capabilities`".into()),
        ));
    }
    Ok(())
}

fn systemd_units(r: &dyn Runner, host: &Host, masked: bool, o: &mut Outcome) -> Result<()> {
    let dropin = host.p(DROPIN);
    if masked && !dropin.exists() {
        std::fs::create_dir_all(dropin.parent().unwrap())
            .map_err(|e| Error::io("create", dropin.parent().unwrap(), e))?;
        std::fs::write(&dropin, "# labctl: KVM guests do not boot on this host; hide /dev/kvm from libvirtd so it offers TCG only\n[Service]\nInaccessiblePaths=-/dev/kvm\n")
            .map_err(|e| Error::io("write", &dropin, e))?;
        r.run(&Cmd::new("systemctl").arg("daemon-reload"))?;
        let _ = r.output(&Cmd::new("systemctl").args(["restart", "libvirtd.service"]));
        o.change(format!(
            "wrote {DROPIN} (InaccessiblePaths=-/dev/kvm), restarted libvirtd"
        ));
    }
    for u in ["virtlogd.socket", "libvirtd.service"] {
        if r.output(&Cmd::new("systemctl").args(["is-active", "-q", u]))?
            .success()
        {
            o.ok(format!("{u} active"));
        } else {
            r.run(&Cmd::new("systemctl").args(["start", u]))?;
            o.change(format!("systemctl start {u}"));
        }
    }
    Ok(())
}

fn pool(r: &dyn Runner, o: &mut Outcome) -> Result<()> {
    let active = |r: &dyn Runner| {
        r.output(&virsh().args(["pool-list", "--name"]))
            .is_ok_and(|out| out.stdout.lines().any(|l| l.trim() == "default"))
    };
    if active(r) {
        o.ok("storage pool default running");
        return Ok(());
    }
    if !r.output(&virsh().args(["pool-info", "default"]))?.success() {
        r.run(&virsh().args([
            "pool-define-as",
            "default",
            "dir",
            "--target",
            "/var/lib/libvirt/images",
        ]))?;
        let _ = r.output(&virsh().args(["pool-build", "default"]));
    }
    let started = r.output(&virsh().args(["pool-start", "default"]))?;
    if !started.success() && !active(r) {
        return Err(Error::Tool {
            command: "virsh pool-start default".into(),
            code: started.code,
            stderr: started.stderr,
            hint: Some("check `virsh -c qemu:///system pool-dumpxml default` and that /var/lib/libvirt/images exists".into()),
        });
    }
    r.run(&virsh().args(["pool-autostart", "default"]))?;
    o.change("defined and started storage pool default (dir /var/lib/libvirt/images), autostart");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_lines() {
        let v = parse_installed(
            "vagrant ii 2.3.4+dfsg-1\nqemu-utils ii 1:10.0.2+ds-2+deb13u1~bpo12+1\nextlinux un \nfdisk rc 2.38\n",
        );
        assert_eq!(
            v,
            vec![
                ("vagrant".to_string(), "2.3.4+dfsg-1".to_string()),
                (
                    "qemu-utils".to_string(),
                    "1:10.0.2+ds-2+deb13u1~bpo12+1".to_string()
                )
            ]
        );
    }

    /// A pretended host under a temporary root: kernel release, /dev/kvm,
    /// a host kernel in /boot, an empty qemu.conf, virtlogd running.
    fn fake_host() -> (tempfile::TempDir, Host) {
        Host::fake(&[
            ("/proc/sys/kernel/osrelease", "6.1.0-test\n"),
            ("/dev/kvm", ""),
            ("/boot/vmlinuz-6.1.0-test", "kernel"),
            ("/etc/libvirt/qemu.conf", "# stock\n"),
            ("/run/virtlogd.pid", "4242"),
            ("/proc/4242/comm", "virtlogd\n"),
        ])
    }

    fn all_installed(r: &crate::exec::Recorder) {
        let lines: String = PACKAGES
            .iter()
            .map(|p| format!("{p} ii 1:7.2+dfsg-7\n"))
            .collect();
        r.answer("dpkg-query -W -f '${Package}", 0, &lines);
        r.answer(
            "dpkg-query -W -f '${Version}' qemu-system-x86",
            0,
            "1:7.2+dfsg-7",
        );
    }

    /// Command-sequence test (recorded): the KVM branch, which cannot run on
    /// this machine (its KVM guests hang). A guest kernel boots under
    /// `-accel kvm`, so: the probe says kvm and is cached; /dev/kvm is opened
    /// to group kvm; libvirtd starts without the mask (no unshare) and
    /// qemu.conf is left alone; the running libvirtd offers KVM.
    #[test]
    fn kvm_branch_command_sequence() {
        let (_t, host) = fake_host();
        let r = crate::exec::Recorder::default();
        all_installed(&r);
        r.answer(
            "timeout 30 qemu-system-x86_64 -accel kvm",
            0,
            "[    0.9] Kernel panic - not syncing: VFS: Unable to mount root fs\n",
        );
        r.answer_once("virsh -c qemu:///system version", 1, "");
        r.answer(
            "virsh -c qemu:///system capabilities",
            0,
            "<guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>",
        );
        r.answer("stat -c '%G %a' /dev/kvm", 0, "root 600\n");
        r.answer("virsh -c qemu:///system pool-list --name", 0, "default\n\n");
        let o = ensure(&r, &host, false).unwrap();
        assert_eq!(o.mode, Some(Mode::Kvm));
        let ran: Vec<String> = r
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("dpkg-query") && !l.starts_with("date"))
            .collect();
        assert_eq!(
            ran,
            vec![
                "timeout 30 qemu-system-x86_64 -accel kvm -m 128 -display none -monitor none -nodefaults -no-reboot -serial stdio -kernel BOOT/vmlinuz-6.1.0-test -append 'console=ttyS0 panic=-1 loglevel=4'".replace("BOOT", &host.p("/boot").display().to_string()),
                "virsh -c qemu:///system version".into(),
                "stat -c '%G %a' /dev/kvm".into(),
                "chgrp kvm /dev/kvm".into(),
                "chmod 0660 /dev/kvm".into(),
                "libvirtd -d".into(),
                "virsh -c qemu:///system version".into(),
                "virsh -c qemu:///system version".into(),
                "virsh -c qemu:///system capabilities".into(),
                "virsh -c qemu:///system pool-list --name".into(),
                "virsh -c qemu:///system capabilities".into(),
            ]
        );
        assert_eq!(
            std::fs::read_to_string(host.p(QEMU_CONF)).unwrap(),
            "# stock\n",
            "KVM mode: qemu.conf untouched"
        );
        let cache = std::fs::read_to_string(host.cache_file()).unwrap();
        assert!(cache.contains("mode=kvm\n"), "{cache}");
        assert!(
            cache.contains("key=kernel=6.1.0-test qemu=1:7.2+dfsg-7 kvm="),
            "{cache}"
        );
        assert_eq!(
            o.changes,
            vec![
                "KVM probe: kvm (a guest kernel booted under -accel kvm); cached in CACHE"
                    .replace("CACHE", &host.cache_file().display().to_string()),
                "chgrp kvm /dev/kvm; chmod 0660 /dev/kvm (was root 600; no udev rule applied it)"
                    .into(),
                "started libvirtd -d (kvm)".into(),
            ]
        );

        // Second run: the probe is read from the cache, libvirtd answers in
        // KVM mode: nothing changes and no qemu boots.
        let r2 = crate::exec::Recorder::default();
        all_installed(&r2);
        r2.answer(
            "virsh -c qemu:///system capabilities",
            0,
            "<domain type='kvm'/>",
        );
        r2.answer("virsh -c qemu:///system pool-list --name", 0, "default\n");
        let o2 = ensure(&r2, &host, false).unwrap();
        assert!(o2.changes.is_empty(), "{:?}", o2.changes);
        assert!(
            !r2.lines().iter().any(|l| l.contains("qemu-system-x86_64")),
            "{:?}",
            r2.lines()
        );
    }

    /// Command-sequence test (recorded): the qemu-utils clash. qemu-utils
    /// 10.x from backports and qemu-system-x86 missing: qemu-utils is
    /// installed at qemu-system-x86's candidate version, downgrades allowed,
    /// and the downgrade is one of the printed changes.
    #[test]
    fn qemu_utils_is_installed_at_qemu_system_x86s_version() {
        if !(super::super::is_root() && super::super::is_debian_family()) {
            panic!("this test pretends a Debian host as root; run it as root on Debian");
        }
        let r = crate::exec::Recorder::default();
        r.answer(
            "dpkg-query -W -f '${Package}",
            0,
            "vagrant ii 2.3.4\nqemu-utils ii 1:10.0.2+ds-2~bpo12+1\n",
        );
        r.answer(
            "apt-cache policy qemu-system-x86",
            0,
            "qemu-system-x86:\n  Installed: (none)\n  Candidate: 1:7.2+dfsg-7+deb12u18\n",
        );
        r.answer(
            "vagrant plugin list",
            0,
            "vagrant-libvirt (0.11.2, system)\n",
        );
        let mut o = Outcome::default();
        packages(&r, &mut o).unwrap();
        let install = r
            .lines()
            .into_iter()
            .find(|l| l.starts_with("apt-get install"))
            .unwrap();
        assert!(install.contains("--allow-downgrades"), "{install}");
        assert!(
            install.contains(" qemu-utils=1:7.2+dfsg-7+deb12u18 "),
            "{install}"
        );
        assert_eq!(
            o.changes[0],
            "qemu-utils 1:10.0.2+ds-2~bpo12+1 -> 1:7.2+dfsg-7+deb12u18 (qemu-utils must match qemu-system-x86: newer ones Break qemu-system-common of older versions)"
        );
    }

    /// A libvirtd in the wrong mode (unmasked, answering from a stale
    /// capabilities cache) that runs a VM labctl did not make is not
    /// restarted: the error names the VM and the flag; nothing is killed.
    #[test]
    fn a_libvirtd_running_foreign_vms_is_not_restarted() {
        let (_t, host) = fake_host();
        for (f, text) in [
            ("/run/libvirtd.pid", "4343"),
            ("/proc/4343/comm", "libvirtd\n"),
            (
                "/proc/4343/mountinfo",
                "22 1 0:5 / /dev rw - devtmpfs udev rw\n",
            ),
            ("/etc/libvirt/qemu.conf", "namespaces = []\n"),
        ] {
            let p = host.p(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let r = crate::exec::Recorder::default();
        all_installed(&r);
        r.answer("timeout 30 qemu-system-x86_64 -accel kvm", 124, "");
        r.answer(
            "timeout 30 qemu-system-x86_64 -accel tcg",
            0,
            "Kernel panic - not syncing: VFS\n",
        );
        r.answer(
            "virsh -c qemu:///system capabilities",
            0,
            "<domain type='qemu'/>",
        );
        r.answer(
            "virsh -c qemu:///system list --name",
            0,
            "labctl-lab-n1\nsomeones-vm\n\n",
        );
        let e = ensure(&r, &host, false).unwrap_err().render();
        assert!(
            e.contains("not labctl's (someones-vm); not restarting it"),
            "{e}"
        );
        assert!(e.contains("--restart-libvirtd"), "{e}");
        assert!(
            !r.lines().iter().any(|l| l.starts_with("kill")),
            "{:?}",
            r.lines()
        );
        // With the flag it is stopped (and started again, masked).
        let r2 = crate::exec::Recorder::default();
        all_installed(&r2);
        r2.answer(
            "virsh -c qemu:///system capabilities",
            0,
            "<domain type='qemu'/>",
        );
        r2.answer("virsh -c qemu:///system list --name", 0, "someones-vm\n");
        let _ = ensure(&r2, &host, true);
        assert!(
            r2.lines().iter().any(|l| l == "kill 4343"),
            "{:?}",
            r2.lines()
        );
        assert!(
            r2.lines().iter().any(|l| l.starts_with("unshare --mount")),
            "{:?}",
            r2.lines()
        );
    }
}
