//! The libvirt provider: real VMs under QEMU (KVM where it works, TCG
//! otherwise) through Vagrant's libvirt plugin. labctl owns the lab's two
//! libvirt networks (made before `vagrant up`, removed by `down`), writes the
//! runtime file the Vagrantfile's libvirt block reads, pins each VM's SSH host
//! keys from its console log before its first SSH contact, and sweeps by exact
//! name what Vagrant leaves or lost. The box is labctl's own
//! ([`boxes`](crate::provider::boxes)), made from the node image's root file system. docs/libvirt-notes.md says what was
//! measured and why.
//!
//! - `provider.rs`: the [`Provider`](super::Provider) impl.
//! - `network.rs`: `labctl-LAB` and `labctl-LAB_mgmt` (allocation, XML, create, remove).
//! - `held.rs`: what libvirt holds of a lab by name, and the sweep.
//! - `snapshots.rs`: taking a snapshot of every domain at once (virsh).
//! - `console.rs`: host keys from a VM's console log into the lab's known_hosts.
//! - `address.rs`: a machine's SSH address from its DHCP lease (no `vagrant ssh-config`).
//! - `driver.rs`: KVM or QEMU's emulation (TCG), as libvirt offers.
//! - `virsh.rs`: the `virsh` command on libvirt's system connection.

mod address;
mod console;
mod driver;
mod held;
mod network;
mod provider;
mod snapshots;
mod virsh;

pub use console::host_keys;
pub use held::{owner, Held};
pub use network::{management_name, offline_lab};
pub use provider::Libvirt;
pub use virsh::URI;
pub(crate) use virsh::{pool_volumes, virsh};
