//! `disk`: a block device of a given size on a node (optionally at a device path).

use super::engine::*;
use crate::lab::Lab;
use crate::remote::NodeShell;
use crate::shell::sh_args;
use crate::text::*;
use std::time::Duration;

/// The disk command: every block device, or only `device`.
pub(super) fn disk_script(device: Option<&str>) -> String {
    sh_args(
        include_str!("scripts/disk.sh"),
        "labctl-disk",
        &[device.unwrap_or("")],
    )
}

/// `NAME SECTORS` lines to `(name, bytes)`.
pub(super) fn parse_disks(out: &str) -> Vec<(String, u64)> {
    out.lines()
        .filter_map(|l| {
            let (n, s) = l.trim().split_once(' ')?;
            Some((
                n.to_string(),
                s.trim().parse::<u64>().ok()?.checked_mul(512)?,
            ))
        })
        .collect()
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
    let r = match run_on(shell, node, &disk_script(device), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let want = format!("{size} bytes ({})", human_bytes(size));
    if let Some(dev) = device {
        if r.code == MISSING {
            return Attempt::fail(format!("{dev} is not a block device on {node}"), r.stderr);
        }
    }
    if r.code != 0 {
        return Attempt::fail(
            format!(
                "cannot list block devices on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    let disks = parse_disks(&r.stdout);
    let output = disks
        .iter()
        .map(|(n, b)| format!("{n} {b}\n"))
        .collect::<String>();
    match device {
        Some(dev) => match disks.first() {
            Some((n, b)) if *b == size => {
                Attempt::pass(format!("{dev} ({n}) on {node} is {want}"), output)
            }
            Some((n, b)) => Attempt::fail(
                format!(
                    "{dev} ({n}) on {node} is {b} bytes ({}), expected {want}",
                    human_bytes(*b)
                ),
                output,
            ),
            None => Attempt::fail(
                format!("cannot read the size of {dev} on {node}"),
                output + &r.stderr,
            ),
        },
        None => match disks.iter().find(|(_, b)| *b == size) {
            Some((n, _)) => Attempt::pass(format!("{n} on {node} is {want}"), output),
            None => {
                let seen: Vec<String> = disks
                    .iter()
                    .filter(|(_, b)| *b > 0)
                    .map(|(n, b)| format!("{n} {}", human_bytes(*b)))
                    .collect();
                Attempt::fail(
                    format!(
                        "no block device of {want} on {node} (seen: {})",
                        if seen.is_empty() {
                            "none".into()
                        } else {
                            seen.join(", ")
                        }
                    ),
                    output,
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::*;

    #[test]
    fn disk_by_size_and_device() {
        let gib = 1u64 << 30;
        let sys = format!("loop0 0\nsda {}\nsdb {}\n", 64 * gib / 512, 8 * gib / 512);
        let shell = Fake::new().on("lb", "/sys/block", vec![ok(0, &sys)]);
        let (r, _) = run(
            &check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 8 * gib,
                device: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.message, "sdb on lb is 8589934592 bytes (8.0 GiB)");

        let shell = Fake::new().on("lb", "/sys/block", vec![ok(0, &sys)]);
        let (r, _) = run(
            &check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 4 * gib,
                device: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "no block device of 4294967296 bytes (4.0 GiB) on lb (seen: sda 64.0 GiB, sdb 8.0 GiB)"
        );

        let shell = Fake::new().on(
            "lb",
            "labctl-disk '/dev/sdb'",
            vec![ok(MISSING, ""), ok(0, &format!("sdb {}\n", 4 * gib / 512))],
        );
        let c = Check {
            interval: ms(1),
            ..check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 8 * gib,
                device: Some("/dev/sdb".into()),
            })
        };
        let (r, seen) = run(&c, &shell, &NoHttp);
        assert!(!r.passed);
        assert_eq!(seen[0], "/dev/sdb is not a block device on lb");
        assert_eq!(r.message, "/dev/sdb (sdb) on lb is 4294967296 bytes (4.0 GiB), expected 8589934592 bytes (8.0 GiB)");

        let shell = Fake::new().on(
            "lb",
            "readlink",
            vec![ok(0, &format!("vdb {}\n", 8 * gib / 512))],
        );
        let (r, _) = run(
            &check(CheckKind::Disk {
                node: sp("lb"),
                size_bytes: 8 * gib,
                device: Some("/dev/disk/by-id/x".into()),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
    }
}
