//! How long checks may take on the machine the lab runs on. A lab file's
//! `timeout`s are sized for nodes that run at the host's speed (docker
//! containers, VMs under KVM). Under QEMU's software emulation (TCG, libvirt's
//! driver `qemu`) every guest instruction is translated, and a check whose
//! command does real work on the node (ansible-pull: Python, git, a playbook)
//! takes several times longer; a fixed timeout would turn "slow" into FAIL.
//! So `labctl test` multiplies each check's timeout by the lab's [`factor`],
//! printed with the run. What a check proves does not change: a broken node
//! still fails it (measured failures are final once the lab has settled, and
//! a command that exits non-zero fails at once, not at the timeout); only the
//! wait for a slow one is longer.

use crate::lab::Lab;
use crate::state::runtime::Runtime;
use crate::state::Kind;

/// Check timeouts on libvirt under TCG: `workflow` on 5 emulated VMs (2 host
/// cores, shared) ran its ansible-pull checks for 155-181 s before their
/// docker-sized timeouts (160-180 s) cut them; docs/libvirt-notes.md has the
/// measured run times with this factor.
pub const EMULATED: u32 = 4;

/// The lab's timeout factor: [`EMULATED`] when its nodes are libvirt domains
/// of type `qemu` (the runtime file records the driver `up` chose), else 1.
pub fn factor(provider: Option<Kind>, runtime: Option<&Runtime>) -> u32 {
    let emulated = provider == Some(Kind::Libvirt)
        && runtime
            .and_then(|r| r.libvirt.as_ref())
            .is_some_and(|l| l.driver == "qemu");
    if emulated {
        EMULATED
    } else {
        1
    }
}

/// Multiply every check's timeout by `factor` (the interval stays: it paces
/// retries, and a slower node needs no fewer of them).
pub fn scale_timeouts(lab: &mut Lab, factor: u32) {
    for c in &mut lab.checks {
        c.timeout *= factor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::runtime::{LibvirtRuntime, ManagementNetwork};
    use rstest::rstest;

    fn runtime(driver: &str) -> Runtime {
        Runtime {
            image: None,
            libvirt: Some(LibvirtRuntime {
                box_name: "labctl/node-0".into(),
                driver: driver.into(),
                console_dir: "/tmp".into(),
                management_network: ManagementNetwork {
                    name: "labctl-mgmt-x".into(),
                    address: "192.168.121.0/24".parse().unwrap(),
                },
                owner: String::new(),
            }),
            nodes: Default::default(),
            provider: Kind::Libvirt,
        }
    }

    #[rstest]
    #[case::tcg(Some(Kind::Libvirt), Some("qemu"), EMULATED)]
    #[case::kvm(Some(Kind::Libvirt), Some("kvm"), 1)]
    #[case::no_runtime_file(Some(Kind::Libvirt), None, 1)]
    #[case::docker(Some(Kind::Docker), None, 1)]
    #[case::unknown(None, None, 1)]
    fn factor_is_emulated_only_under_tcg(
        #[case] provider: Option<Kind>,
        #[case] driver: Option<&str>,
        #[case] want: u32,
    ) {
        let rt = driver.map(runtime);
        assert_eq!(factor(provider, rt.as_ref()), want);
    }
}
