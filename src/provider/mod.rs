//! Providers: where the machines run. labctl drives the real `vagrant` CLI for
//! every provider; what differs is the host preparation (the docker provider's
//! image, network and capabilities) and how `auto` picks one.

pub mod docker;
pub mod vagrant;
pub mod vm;

use crate::exec::{which, Cmd, Runner};
pub use crate::state::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    Auto,
    Virtualbox,
    Libvirt,
    Docker,
}

/// The provider to use and why it was chosen.
pub fn choose(choice: Choice, runner: &dyn Runner) -> (Kind, String) {
    match choice {
        Choice::Virtualbox => (Kind::Virtualbox, "asked for with --provider".into()),
        Choice::Libvirt => (Kind::Libvirt, "asked for with --provider".into()),
        Choice::Docker => (Kind::Docker, "asked for with --provider".into()),
        Choice::Auto => {
            if which("VBoxManage").is_some()
                && runner
                    .output(&Cmd::new("VBoxManage").arg("--version"))
                    .map(|o| o.success())
                    .unwrap_or(false)
            {
                return (Kind::Virtualbox, "VBoxManage works".into());
            }
            let vbox = "VirtualBox: VBoxManage not found or not working";
            match libvirt_probe(runner) {
                Ok(()) => (
                    Kind::Libvirt,
                    format!("{vbox}; libvirt: a test guest booted under KVM"),
                ),
                Err(why) => (
                    Kind::Docker,
                    format!("{vbox}; libvirt: {why}; docker runs anywhere"),
                ),
            }
        }
    }
}

/// libvirt only counts when a guest actually boots under KVM: on some hosts
/// /dev/kvm answers but guests hang. The probe boots a tiny guest (the host's
/// kernel, no disk) and waits for the kernel's first console line.
fn libvirt_probe(runner: &dyn Runner) -> Result<(), String> {
    if which("virsh").is_none() {
        return Err("virsh not found".into());
    }
    if !std::path::Path::new("/dev/kvm").exists() {
        return Err("/dev/kvm missing".into());
    }
    let ok = runner
        .output(&Cmd::new("virsh").args(["-c", "qemu:///system", "version"]))
        .map(|o| o.success())
        .unwrap_or(false);
    if !ok {
        return Err("libvirtd does not answer".into());
    }
    let Some(qemu) = which("qemu-system-x86_64") else {
        return Err("qemu-system-x86_64 not found".into());
    };
    let kernel = std::fs::read_dir("/boot").ok().and_then(|rd| {
        rd.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz"))
        })
    });
    let Some(kernel) = kernel else {
        return Err("no host kernel in /boot to test-boot".into());
    };
    let out = runner.output(
        &Cmd::new("timeout")
            .args(["20", &qemu.to_string_lossy()])
            .args([
                "-accel",
                "kvm",
                "-m",
                "128",
                "-nographic",
                "-no-reboot",
                "-kernel",
            ])
            .arg(kernel.to_string_lossy())
            .args(["-append", "console=ttyS0 panic=-1"]),
    );
    match out {
        Ok(o) if o.stdout.contains("Linux version") => Ok(()),
        _ => {
            Err("a KVM test guest printed nothing within 20 s (KVM answers but guests hang)".into())
        }
    }
}

/// The word after `key` in a line of `ip` output (`dev eth0` → `eth0`).
pub fn word_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace().skip_while(|w| *w != key).nth(1)
}

/// What `ip -o route get` says about the lab's first node address: the
/// network-safety checks of every provider look at it before any traffic.
pub struct RouteToLab {
    pub probe: std::net::Ipv4Addr,
    /// `ip` found a route at all.
    pub found: bool,
    /// The device the route leaves by ("" when none is named).
    pub dev: String,
    /// Through a gateway rather than a directly connected network.
    pub via_gateway: bool,
    pub text: String,
}

pub fn route_to_lab(runner: &dyn Runner, lab: &crate::lab::Lab) -> crate::Result<RouteToLab> {
    let probe = lab
        .nodes
        .first()
        .map(|n| n.ip)
        .unwrap_or(lab.network.subnet.value.network());
    let out = runner.output(&Cmd::new("ip").args(["-o", "route", "get", &probe.to_string()]))?;
    Ok(RouteToLab {
        probe,
        found: out.success(),
        dev: word_after(&out.stdout, "dev").unwrap_or("").to_string(),
        via_gateway: out.stdout.split_whitespace().any(|w| w == "via"),
        text: out.stdout.trim().to_string(),
    })
}
