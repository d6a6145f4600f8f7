//! Does KVM really work on this host? Measured, never assumed: `/dev/kvm`
//! may exist and KVM_CREATE_VM succeed while every guest hangs (this kind of
//! machine), and even a boot sector printing to COM1 runs there. So the probe
//! boots a real Linux kernel (no root file system, `panic=-1`) under
//! `qemu-system-x86_64 -accel kvm`: reaching "Kernel panic - not syncing: VFS"
//! on the serial port means real mode, long mode, timers and interrupts all
//! worked, and QEMU exits by itself. The same kernel must then boot under TCG,
//! or the probe itself is broken here. The result is cached in
//! `/var/lib/labctl/kvm-probe`, keyed by what changes it (the host's kernel,
//! QEMU's version, the /dev/kvm device): `labctl setup --provider libvirt`
//! probes, `--provider auto` reads it.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use std::path::{Path, PathBuf};

/// How libvirt domains run on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A guest kernel booted under KVM: vagrant-libvirt's driver `kvm`.
    Kvm,
    /// QEMU's software emulation: driver `qemu`.
    Tcg,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Kvm => "kvm",
            Mode::Tcg => "tcg",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host's files labctl reads and writes for libvirt, under `root` (`/`;
/// a temporary folder in command-sequence tests).
#[derive(Debug, Clone)]
pub struct Host {
    pub root: PathBuf,
}

impl Host {
    pub fn system() -> Host {
        Host {
            root: PathBuf::from("/"),
        }
    }
    /// An absolute host path under this host's root.
    pub fn p(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
    /// For tests: a pretended host under a temporary root holding `files`
    /// (absolute path, contents).
    #[cfg(test)]
    pub(crate) fn fake(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let t = tempfile::tempdir().unwrap();
        let host = Host {
            root: t.path().to_path_buf(),
        };
        for (f, text) in files {
            let p = host.p(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        (t, host)
    }
    pub fn cache_file(&self) -> PathBuf {
        self.p("/var/lib/labctl/kvm-probe")
    }
}

/// A probe result as cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub key: String,
    pub mode: Mode,
    pub why: String,
}

/// Seconds each boot probe may take (TCG reaches the panic in ~8 s here).
pub const TIMEOUT_S: u32 = 30;
const PANIC_LINE: &str = "Kernel panic - not syncing: VFS";
const KERNEL_CACHE: &str = "/var/cache/labctl/probe-kernel";

/// What the cached result depends on: `kernel=R qemu=V kvm=MAJ:MIN` (hex
/// device numbers, as `stat -c %t:%T` prints them), or `None` without QEMU.
pub fn key(r: &dyn Runner, host: &Host) -> Option<String> {
    let kernel = std::fs::read_to_string(host.p("/proc/sys/kernel/osrelease")).ok()?;
    let q = r
        .output(&Cmd::new("dpkg-query").args(["-W", "-f", "${Version}", "qemu-system-x86"]))
        .ok()
        .filter(|o| o.success() && !o.stdout.trim().is_empty())?;
    let dev = match std::fs::metadata(host.p("/dev/kvm")) {
        Ok(m) => {
            use std::os::unix::fs::MetadataExt;
            let rdev = m.rdev();
            format!(
                "{:x}:{:x}",
                nix::sys::stat::major(rdev),
                nix::sys::stat::minor(rdev)
            )
        }
        Err(_) => "none".into(),
    };
    Some(format!(
        "kernel={} qemu={} kvm={dev}",
        kernel.trim(),
        q.stdout.trim()
    ))
}

/// The cached result, when it was made for this host as it is now.
pub fn cached(r: &dyn Runner, host: &Host) -> Option<Probe> {
    let text = std::fs::read_to_string(host.cache_file()).ok()?;
    let p = parse_cache(&text)?;
    (Some(&p.key) == key(r, host).as_ref()).then_some(p)
}

fn parse_cache(text: &str) -> Option<Probe> {
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_string)
    };
    let mode = match field("mode")?.as_str() {
        "kvm" => Mode::Kvm,
        "tcg" => Mode::Tcg,
        _ => return None,
    };
    Some(Probe {
        key: field("key")?,
        mode,
        why: field("why").unwrap_or_default(),
    })
}

/// The cached result, or a new probe (cached). `Err` when QEMU is missing or
/// the probe kernel boots under neither KVM nor TCG. Says which it was.
pub fn probe(r: &dyn Runner, host: &Host, force: bool) -> Result<(Probe, bool)> {
    let Some(key) = key(r, host) else {
        return Err(Error::env(
            "the KVM probe needs QEMU (qemu-system-x86 is not installed)",
            Some("run `labctl setup --provider libvirt`".into()),
        ));
    };
    if !force {
        if let Some(p) = cached(r, host) {
            return Ok((p, true));
        }
    }
    let (mode, why) = if !host.p("/dev/kvm").exists() {
        (Mode::Tcg, "no /dev/kvm".to_string())
    } else {
        match kernel(r, host)? {
            // Not measured is not TCG: caching a guess would mask /dev/kvm
            // from libvirtd (and every VM on the host) on a host where KVM works.
            None => {
                return Err(Error::env(
                    "could not measure whether KVM works: no kernel to test-boot (no /boot/vmlinuz-*, and `apt-get download` of Debian's linux-image package failed)",
                    Some("make a kernel available (apt sources reachable, or a /boot/vmlinuz-*), then run `labctl setup --provider libvirt` again; nothing was cached".into()),
                ))
            }
            Some(k) => {
                if boots(r, "kvm", &k)? {
                    (Mode::Kvm, "a guest kernel booted under -accel kvm".to_string())
                } else if boots(r, "tcg", &k)? {
                    (
                        Mode::Tcg,
                        format!("a guest kernel under -accel kvm did not boot within {TIMEOUT_S} s"),
                    )
                } else {
                    return Err(Error::env(
                        format!("the KVM probe kernel {} booted under neither KVM nor TCG within {TIMEOUT_S} s: the probe is broken on this host", k.display()),
                        Some("check qemu-system-x86_64 by hand".into()),
                    ));
                }
            }
        }
    };
    let p = Probe { key, mode, why };
    write_cache(host, &p, r)?;
    Ok((p, false))
}

fn write_cache(host: &Host, p: &Probe, r: &dyn Runner) -> Result<()> {
    let f = host.cache_file();
    let dir = f.parent().unwrap();
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let when = r
        .output(&Cmd::new("date").args(["-u", "+%FT%TZ"]))
        .map(|o| o.stdout.trim().to_string())
        .unwrap_or_default();
    let tmp = f.with_extension("tmp");
    std::fs::write(
        &tmp,
        format!(
            "key={}\nmode={}\nwhy={}\nwhen={when}\n",
            p.key, p.mode, p.why
        ),
    )
    .map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &f).map_err(|e| Error::io("write", &f, e))
}

/// Does `kernel` reach its root-mount panic under `accel` within the timeout?
fn boots(r: &dyn Runner, accel: &str, kernel: &Path) -> Result<bool> {
    let out = r.output(
        &Cmd::new("timeout")
            .args([
                &TIMEOUT_S.to_string(),
                "qemu-system-x86_64",
                "-accel",
                accel,
            ])
            .args(["-m", "128", "-display", "none", "-monitor", "none"])
            .args(["-nodefaults", "-no-reboot", "-serial", "stdio", "-kernel"])
            .arg(kernel.to_string_lossy())
            .args(["-append", "console=ttyS0 panic=-1 loglevel=4"]),
    )?;
    Ok(out.stdout.contains(PANIC_LINE))
}

/// The newest `vmlinuz-*` in `dir`.
fn newest_kernel(dir: &Path) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .collect();
    v.sort();
    v.pop()
}

/// A kernel to test-boot: the host's own, one fetched earlier, or Debian's
/// `linux-image-*` package from the host's mirror (`apt-get download`, the
/// kernel alone unpacked into /var/cache/labctl/probe-kernel). Hosts here
/// have an empty /boot.
fn kernel(r: &dyn Runner, host: &Host) -> Result<Option<PathBuf>> {
    if let Some(k) = newest_kernel(&host.p("/boot")) {
        return Ok(Some(k));
    }
    let cache = host.p(KERNEL_CACHE);
    if let Some(k) = newest_kernel(&cache.join("boot")) {
        return Ok(Some(k));
    }
    let deps = r.output(&Cmd::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    let Some(pkg) = deps
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| {
            p.starts_with("linux-image-") && p[12..].starts_with(|c: char| c.is_ascii_digit())
        })
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let dl = tempfile::Builder::new()
        .prefix("labctl-probe-kernel-")
        .tempdir()
        .map_err(|e| Error::io("create a temp dir in", std::env::temp_dir(), e))?;
    if !r
        .output(
            &Cmd::new("apt-get")
                .args(["download", "-q", &pkg])
                .dir(dl.path()),
        )?
        .success()
    {
        return Ok(None);
    }
    let deb = std::fs::read_dir(dl.path())
        .ok()
        .and_then(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "deb"))
        })
        .unwrap_or_else(|| dl.path().join(format!("{pkg}.deb")));
    std::fs::create_dir_all(&cache).map_err(|e| Error::io("create", &cache, e))?;
    r.run(
        &Cmd::new("sh")
            .args([
                "-c",
                "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" --wildcards './boot/vmlinuz-*'",
                "sh",
            ])
            .arg(deb.to_string_lossy())
            .arg(cache.to_string_lossy()),
    )?;
    eprintln!(
        "setup: change: KVM probe kernel: {pkg} unpacked into {} (apt-get download)",
        cache.display()
    );
    Ok(newest_kernel(&cache.join("boot")).or_else(|| Some(cache.join("boot/vmlinuz"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_file_of_the_host_script_is_read() {
        let p = parse_cache("key=kernel=6.1 qemu=1:7.2 kvm=a:e8\nmode=tcg\nwhy=a kernel under -accel kvm did not boot within 30s\nwhen=2026-12-02T05:38:42Z\n").unwrap();
        assert_eq!(p.mode, Mode::Tcg);
        assert_eq!(p.key, "kernel=6.1 qemu=1:7.2 kvm=a:e8");
        assert!(parse_cache("key=x\nmode=maybe\n").is_none());
    }

    fn host_with_kvm() -> (tempfile::TempDir, Host) {
        Host::fake(&[
            ("/proc/sys/kernel/osrelease", "6.1.0-test\n"),
            ("/dev/kvm", ""),
            ("/boot/vmlinuz-6.1.0-test", "kernel"),
        ])
    }

    /// Command-sequence test (recorded): /dev/kvm is there but the guest
    /// kernel prints nothing under KVM (this machine): TCG, once the same
    /// kernel is seen booting under TCG; the result is cached and read back
    /// without booting anything; a forced probe boots again.
    #[test]
    fn a_hanging_kvm_guest_means_tcg_and_the_result_is_cached() {
        let (_t, host) = host_with_kvm();
        let r = crate::exec::Recorder::default();
        r.answer("dpkg-query", 0, "1:7.2+dfsg-7");
        r.answer("timeout 30 qemu-system-x86_64 -accel kvm", 124, "");
        r.answer(
            "timeout 30 qemu-system-x86_64 -accel tcg",
            0,
            "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n",
        );
        let (p, was_cached) = probe(&r, &host, false).unwrap();
        assert_eq!((p.mode, was_cached), (Mode::Tcg, false));
        assert!(p.why.contains("did not boot within 30 s"), "{}", p.why);
        let r2 = crate::exec::Recorder::default();
        r2.answer("dpkg-query", 0, "1:7.2+dfsg-7");
        let (p2, was_cached) = probe(&r2, &host, false).unwrap();
        assert_eq!((p2.mode, was_cached), (Mode::Tcg, true));
        assert!(!r2.lines().iter().any(|l| l.contains("qemu-system-x86_64")));
        // Another QEMU version: the cache no longer answers.
        let r3 = crate::exec::Recorder::default();
        r3.answer("dpkg-query", 0, "1:8.0");
        assert!(cached(&r3, &host).is_none());
    }

    /// The probe kernel boots under neither: the probe is broken, which is
    /// an error, never a silent TCG.
    #[test]
    fn a_probe_that_boots_nothing_is_an_error() {
        let (_t, host) = host_with_kvm();
        let r = crate::exec::Recorder::default();
        r.answer("dpkg-query", 0, "1:7.2+dfsg-7");
        r.answer("timeout", 124, "");
        let e = probe(&r, &host, false).unwrap_err().render();
        assert!(e.contains("booted under neither KVM nor TCG"), "{e}");
        assert!(!host.cache_file().exists());
    }

    /// No kernel to boot (empty /boot, apt-get download failing): KVM was not
    /// measured, which is an error, not a cached TCG.
    #[test]
    fn an_unmeasured_probe_is_an_error_and_not_cached() {
        let (_t, host) = host_with_kvm();
        std::fs::remove_file(host.p("/boot/vmlinuz-6.1.0-test")).unwrap();
        let r = crate::exec::Recorder::default();
        r.answer("dpkg-query", 0, "1:7.2+dfsg-7");
        r.answer(
            "apt-cache depends linux-image-amd64",
            0,
            "linux-image-amd64\n  Depends: linux-image-6.1.0-99-amd64\n",
        );
        r.answer("apt-get download", 100, "");
        let e = probe(&r, &host, false).unwrap_err().render();
        assert!(e.contains("could not measure whether KVM works"), "{e}");
        assert!(!host.cache_file().exists());
        assert!(!r.lines().iter().any(|l| l.contains("qemu-system-x86_64")));
    }
}
