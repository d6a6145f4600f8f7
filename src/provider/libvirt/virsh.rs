//! `virsh` on libvirt's system connection (vagrant-libvirt's default, and
//! where labctl's networks live).

use crate::exec::Cmd;

/// libvirt's system connection.
pub const URI: &str = "qemu:///system";

pub(super) fn virsh<'a>(args: impl IntoIterator<Item = &'a str>) -> Cmd {
    Cmd::new("virsh").args(["-c", URI]).args(args)
}
