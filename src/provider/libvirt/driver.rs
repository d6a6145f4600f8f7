//! The domain type the lab's VMs boot with.

use super::virsh::virsh;
use crate::error::Result;
use crate::exec::Runner;

/// `kvm` when libvirt offers KVM domains (setup leaves KVM visible to
/// libvirtd only where a guest really boots under it), `qemu` (TCG) otherwise.
pub fn driver(r: &dyn Runner) -> Result<&'static str> {
    let out = r.run(&virsh(["capabilities"]))?;
    Ok(if out.stdout.contains("<domain type='kvm'") {
        "kvm"
    } else {
        "qemu"
    })
}
