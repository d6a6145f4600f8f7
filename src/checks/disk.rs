//! `disk`: a node's extra disk, at the device node its provider gives that node
//! (docker: /dev/sdb, ...; libvirt: /dev/vdb, ...; see
//! [`Kind::disk_device`](crate::state::Kind::disk_device)) or at the check's
//! `device`, with the size the node itself reports for it. Never sysfs: inside
//! a container /sys/block is the host's, where every node's disk looks alike.

use super::engine::*;
use crate::lab::{CheckKind, Lab};
use crate::remote::NodeShell;
use crate::shell::sh_root_args;
use crate::state::Kind;
use crate::text::*;
use std::time::Duration;

/// The disk command: `NAME BYTES` of `device`, read as root on the node.
pub(super) fn disk_script(device: &str) -> String {
    sh_root_args(include_str!("scripts/disk.sh"), "labctl-disk", &[device])
}

/// `NAME BYTES` to `(name, bytes)`.
pub(super) fn parse_disk(out: &str) -> Option<(String, u64)> {
    let (n, b) = out.trim().split_once(' ')?;
    Some((n.to_string(), b.trim().parse().ok()?))
}

/// Give every `disk` check without `device` the device node the provider
/// maps that node's disk of that size to (the first such disk in the lab
/// file's order). A check whose node declares no disk of its size keeps none
/// and fails, naming the node.
pub fn bind_devices(lab: &mut Lab, kind: Kind) {
    let nodes = lab.nodes.clone();
    for c in &mut lab.checks {
        if let CheckKind::Disk {
            node,
            size_bytes,
            device: device @ None,
        } = &mut c.kind
        {
            *device = nodes
                .iter()
                .find(|n| n.name == node.value)
                .and_then(|n| n.disks.iter().position(|d| d.size_bytes == *size_bytes))
                .map(|i| kind.disk_device(i));
        }
    }
}

pub(super) fn attempt(
    lab: &Lab,
    node: &str,
    size: u64,
    device: Option<&str>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let want = format!("{size} bytes ({})", human_bytes(size));
    let Some(dev) = device else {
        return Attempt::fatal(format!(
            "no device to check on {node}: it declares no disk of {want} in the lab file, or the lab's provider is not known"
        ));
    };
    let r = match run_on(shell, node, &disk_script(dev), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if r.code == MISSING {
        return Attempt::fail(
            format!("{node} has no disk at {dev} (not a block device on {node})"),
            r.stderr,
        );
    }
    if r.code != 0 {
        return Attempt::fail(
            format!(
                "cannot read the size of {dev} on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    let output = r.stdout.clone();
    match parse_disk(&r.stdout) {
        Some((n, b)) if b == size => {
            Attempt::pass(format!("{dev} ({n}) on {node} is {want}"), output)
        }
        Some((n, b)) => Attempt::fail(
            format!(
                "{dev} ({n}) on {node} is {b} bytes ({}), expected {want}",
                human_bytes(b)
            ),
            output,
        ),
        None => Attempt::fail(
            format!("cannot read the size of {dev} on {node}"),
            output + &r.stderr,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::*;

    const GIB: u64 = 1 << 30;

    fn disk(node: &str, size: u64, device: Option<&str>) -> Check {
        check(CheckKind::Disk {
            node: sp(node),
            size_bytes: size,
            device: device.map(String::from),
        })
    }

    #[test]
    fn disk_at_its_device_with_the_size_the_node_reports() {
        let shell = Fake::new().on(
            "lb",
            "labctl-disk '/dev/sdb'",
            vec![ok(0, &format!("sdb {}\n", 8 * GIB))],
        );
        let (r, _) = run(&disk("lb", 8 * GIB, Some("/dev/sdb")), &shell, &NoHttp);
        assert!(r.passed, "{r:?}");
        assert_eq!(
            r.message,
            "/dev/sdb (sdb) on lb is 8589934592 bytes (8.0 GiB)"
        );
        assert!(
            shell.calls()[0]
                .1
                .contains("size=$(blockdev --getsize64 \"$d\")"),
            "the node's own view of the device: {}",
            shell.calls()[0].1
        );

        let shell = Fake::new().on(
            "lb",
            "labctl-disk '/dev/sdb'",
            vec![ok(MISSING, ""), ok(0, &format!("sdb {}\n", 4 * GIB))],
        );
        let c = Check {
            interval: ms(1),
            ..disk("lb", 8 * GIB, Some("/dev/sdb"))
        };
        let (r, seen) = run(&c, &shell, &NoHttp);
        assert!(!r.passed);
        assert_eq!(
            seen[0],
            "lb has no disk at /dev/sdb (not a block device on lb)"
        );
        assert_eq!(
            r.message,
            "/dev/sdb (sdb) on lb is 4294967296 bytes (4.0 GiB), expected 8589934592 bytes (8.0 GiB)"
        );

        let (r, _) = run(&disk("lb", 8 * GIB, None), &Fake::new(), &NoHttp);
        assert!(
            !r.passed && r.message.starts_with("no device to check on lb"),
            "{r:?}"
        );
    }

    #[test]
    fn each_node_is_checked_at_the_device_its_provider_gives_it() {
        let mut lab = crate::lab::parse::parse_lab(
            r#"
name = "t"
[defaults]
box = "debian/bookworm64"
[network]
subnet = "192.168.57.0/24"
[[node]]
name = "n"
count = 2
ip = "192.168.57.21"
disks = [{ name = "a", size = "1G" }, { name = "b", size = "8G" }]
[[check]]
kind = "disk"
node = "n2"
size = "8G"
[[check]]
kind = "disk"
node = "n1"
size = "2G"
"#,
            &mut crate::lab::reader::Ctx::new(),
        )
        .unwrap();
        let devices = |lab: &Lab| -> Vec<Option<String>> {
            lab.checks
                .iter()
                .map(|c| match &c.kind {
                    CheckKind::Disk { device, .. } => device.clone(),
                    _ => unreachable!(),
                })
                .collect()
        };
        let mut docker = lab.clone();
        bind_devices(&mut docker, Kind::Docker);
        assert_eq!(devices(&docker), [Some("/dev/sdc".to_string()), None]);
        bind_devices(&mut lab, Kind::Libvirt);
        assert_eq!(devices(&lab), [Some("/dev/vdc".to_string()), None]);
    }
}
