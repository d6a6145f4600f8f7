//! Host resources a docker lab takes that labctl chooses for it: SSH ports on
//! 127.0.0.1, loop devices for extra disks, and file descriptors (labctl's
//! and Vagrant's, which inherits labctl's limit). A big lab is checked
//! against them before anything is created, and refused with an error naming
//! the limit, instead of failing halfway through `vagrant up` (or, for
//! ports, silently reusing the range's last port).

use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::lab::Lab;
use std::collections::BTreeMap;
use std::path::Path;

/// Where labctl's search for SSH ports ends (exclusive): see `pick_ssh_ports`.
pub const SSH_PORT_END: u16 = 2999;

/// File descriptors a lab needs beyond a fixed base, per node: labctl's SSH
/// session and the pipes of the tools it runs for the node, and Vagrant's
/// threads, each driving `docker` with pipes of its own, in the parallel
/// `vagrant up` (an estimate with room to spare, not a count).
const FDS_PER_NODE: u64 = 16;
const FDS_BASE: u64 = 256;

/// What a lab will take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Nodes without an SSH port yet.
    pub ssh_ports: usize,
    pub loop_devices: usize,
    pub fds: u64,
}

/// What the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Have {
    /// Where the SSH port search runs: `from..SSH_PORT_END`.
    pub ssh_from: u16,
    /// Free ports found there, counted up to what is needed.
    pub ssh_free: usize,
    /// The loop driver's device limit (`max_loop` on a host without
    /// /dev/loop-control; `None`: devices are made on demand)
    /// and how many devices are attached now.
    pub loop_max: Option<usize>,
    pub loop_used: usize,
    /// RLIMIT_NOFILE (soft, hard).
    pub fd_soft: u64,
    pub fd_hard: u64,
}

/// What [`judge`] asks for when the lab fits: the soft file descriptor limit
/// to raise to (up to the hard limit, which any process may do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fits {
    pub raise_fd_soft_to: Option<u64>,
}

/// What the lab needs: a port for every node that has none recorded, a loop
/// device per extra disk, descriptors by node count.
pub fn needs(lab: &Lab, existing_ports: &BTreeMap<String, u16>) -> Needs {
    Needs {
        ssh_ports: lab
            .nodes
            .iter()
            .filter(|n| !existing_ports.contains_key(&n.name))
            .count(),
        loop_devices: lab.nodes.iter().map(|n| n.disks.len()).sum(),
        fds: FDS_BASE + FDS_PER_NODE * lab.nodes.len() as u64,
    }
}

/// Does the lab fit? An error naming the first limit it would exceed.
pub fn judge(lab: &str, need: &Needs, have: &Have) -> Result<Fits> {
    if need.ssh_ports > have.ssh_free {
        return Err(Error::env(
            format!(
                "lab {lab} needs {} SSH port(s) on 127.0.0.1, but only {} are free in the range labctl picks from ({}-{})",
                need.ssh_ports,
                have.ssh_free,
                have.ssh_from,
                SSH_PORT_END - 1
            ),
            Some(format!(
                "free ports in that range (other labs: `labctl down`), or start the range lower with {}=PORT (1024 or above)",
                super::ports::SSH_PORT_FROM_ENV
            )),
        ));
    }
    if let Some(max) = have.loop_max {
        let free = max.saturating_sub(have.loop_used);
        if need.loop_devices > free {
            return Err(Error::env(
                format!(
                    "lab {lab} needs {} loop device(s) for its disks, but the loop driver allows {max} (max_loop) and {} are in use",
                    need.loop_devices, have.loop_used
                ),
                Some("detach unused ones (`losetup -l`, `losetup -d DEV`), give fewer nodes extra disks, or load the loop module with a higher max_loop".into()),
            ));
        }
    }
    if need.fds > have.fd_hard {
        return Err(Error::env(
            format!(
                "lab {lab} needs about {} open files for labctl and Vagrant, above this shell's hard limit of {} (ulimit -Hn)",
                need.fds, have.fd_hard
            ),
            Some(format!(
                "raise the limit (e.g. `ulimit -n {}` as root, or LimitNOFILE= in a service) or split the lab",
                need.fds
            )),
        ));
    }
    Ok(Fits {
        raise_fd_soft_to: (need.fds > have.fd_soft).then_some(need.fds),
    })
}

/// Read the host, judge, and raise the soft descriptor limit when that is
/// enough. Run before anything of the lab is created.
pub fn check(r: &dyn Runner, lab: &Lab, existing_ports: &BTreeMap<String, u16>) -> Result<()> {
    let need = needs(lab, existing_ports);
    let have = read_host(r, &need);
    let fits = judge(&lab.name.value, &need, &have)?;
    if let Some(n) = fits.raise_fd_soft_to {
        let lim = nix::libc::rlimit {
            rlim_cur: n,
            rlim_max: have.fd_hard,
        };
        // SAFETY: setrlimit reads the struct we pass and nothing else.
        if unsafe { nix::libc::setrlimit(nix::libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(Error::env(
                format!(
                    "lab {} needs about {n} open files; raising the soft limit from {} failed: {}",
                    lab.name.value,
                    have.fd_soft,
                    std::io::Error::last_os_error()
                ),
                Some(format!("run `ulimit -n {n}` first")),
            ));
        }
    }
    Ok(())
}

fn read_host(r: &dyn Runner, need: &Needs) -> Have {
    let from = super::ports::ssh_port_from();
    let unavailable = if need.ssh_ports > 0 {
        super::ports::vagrant_unavailable_ports(r)
    } else {
        Default::default()
    };
    // Counted until enough are found: a bind per port, most of them free.
    let ssh_free = (from..SSH_PORT_END)
        .filter(|p| {
            !unavailable.contains(p) && std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
        })
        .take(need.ssh_ports)
        .count();
    // `losetup -f` asks /dev/loop-control for a free device, which makes a
    // new one past `max_loop` (that parameter only bounds the devices made
    // when /dev/loopN is opened; 6.x kernels report 8 even when unset, and
    // this host attached 10 with it at 8). So it is a limit only where there
    // is no loop-control.
    let loop_max = if Path::new("/dev/loop-control").exists() {
        None
    } else {
        std::fs::read_to_string("/sys/module/loop/parameters/max_loop")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|m| *m > 0)
    };
    // A loop device has a `loop` folder in sysfs while it is attached.
    let loop_used = std::fs::read_dir("/sys/block")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("loop"))
                .filter(|e| e.path().join("loop").is_dir())
                .count()
        })
        .unwrap_or(0);
    let mut lim = nix::libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    let (fd_soft, fd_hard) =
        if unsafe { nix::libc::getrlimit(nix::libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            (lim.rlim_cur, lim.rlim_max)
        } else {
            (u64::MAX, u64::MAX)
        };
    Have {
        ssh_from: from,
        ssh_free,
        loop_max,
        loop_used,
        fd_soft,
        fd_hard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const ROOMY: Have = Have {
        ssh_from: 2200,
        ssh_free: 50,
        loop_max: Some(8),
        loop_used: 2,
        fd_soft: 1024,
        fd_hard: 4096,
    };

    fn need(ssh_ports: usize, loop_devices: usize, fds: u64) -> Needs {
        Needs {
            ssh_ports,
            loop_devices,
            fds,
        }
    }

    /// Refused up front, the error naming the limit the lab would exceed.
    #[rstest]
    #[case::ports_exhausted(need(50, 0, 1056), Have { ssh_free: 12, ..ROOMY }, "only 12 are free in the range labctl picks from (2200-2998)")]
    #[case::ports_from_env(need(2, 0, 300), Have { ssh_from: 2997, ssh_free: 1, ..ROOMY }, "(2997-2998)")]
    #[case::loop_devices(need(3, 7, 300), ROOMY, "needs 7 loop device(s) for its disks, but the loop driver allows 8 (max_loop) and 2 are in use")]
    #[case::loop_all_used(need(3, 1, 300), Have { loop_used: 8, ..ROOMY }, "allows 8 (max_loop) and 8 are in use")]
    #[case::fd_hard_limit(
        need(50, 0, 5056),
        ROOMY,
        "above this shell's hard limit of 4096 (ulimit -Hn)"
    )]
    fn a_lab_beyond_a_host_limit_is_refused(
        #[case] n: Needs,
        #[case] have: Have,
        #[case] says: &str,
    ) {
        let e = judge("big", &n, &have).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
        assert!(e.to_string().starts_with("lab big needs"), "{e}");
        assert!(e.render().contains("hint"), "{}", e.render());
    }

    #[rstest]
    #[case::fits(need(50, 6, 1000), ROOMY, None)]
    #[case::loop_made_on_demand(need(3, 100, 300), Have { loop_max: None, loop_used: 40, ..ROOMY }, None)]
    #[case::soft_limit_raised(need(50, 0, 1056), ROOMY, Some(1056))]
    #[case::ports_already_held(need(0, 0, 300), Have { ssh_free: 0, ..ROOMY }, None)]
    fn a_lab_within_the_limits_fits(
        #[case] n: Needs,
        #[case] have: Have,
        #[case] raise: Option<u64>,
    ) {
        assert_eq!(
            judge("big", &n, &have).unwrap(),
            Fits {
                raise_fd_soft_to: raise
            }
        );
    }

    /// A 50-node lab needs 50 ports and a few hundred descriptors; nodes that
    /// already have a port (a second `up`) need none.
    #[test]
    fn needs_count_nodes_without_a_port_and_disks() {
        let l = crate::load::load("testnodes").unwrap().lab;
        let n = needs(&l, &BTreeMap::new());
        assert_eq!(n.ssh_ports, l.nodes.len());
        assert_eq!(
            n.loop_devices,
            l.nodes.iter().map(|x| x.disks.len()).sum::<usize>()
        );
        assert_eq!(n.fds, FDS_BASE + FDS_PER_NODE * l.nodes.len() as u64);
        let all: BTreeMap<String, u16> = l.nodes.iter().map(|x| (x.name.clone(), 2200)).collect();
        assert_eq!(needs(&l, &all).ssh_ports, 0);
    }
}
