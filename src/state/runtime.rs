//! The runtime file (`labctl-runtime.json` beside the Vagrantfile): the
//! host-dependent values the Vagrantfile reads at `vagrant up` time, so the
//! rendered Vagrantfile itself stays deterministic.

use super::Kind;
use std::collections::BTreeMap;

/// The whole file. Fields are declared in the order they are written
/// (alphabetical, as the file has always been written).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Runtime {
    /// The docker provider's node image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The libvirt provider's host facts (box, KVM or TCG, console logs,
    /// management network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libvirt: Option<LibvirtRuntime>,
    #[serde(default)]
    pub nodes: BTreeMap<String, RuntimeNode>,
    pub provider: Kind,
}

/// What the Vagrantfile's libvirt block reads: the box labctl built, the
/// domain type, where each node's serial console is written, and labctl's
/// per-lab management network.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LibvirtRuntime {
    #[serde(rename = "box")]
    pub box_name: String,
    /// `qemu` (TCG, software emulation) or `kvm`.
    pub driver: String,
    /// Folder of the per-node console logs (`NODE.log`).
    pub console_dir: std::path::PathBuf,
    pub management_network: ManagementNetwork,
    /// The description every domain of the lab gets (`labctl lab=LAB`):
    /// `down` removes a domain named like one of the lab's machines only when
    /// it carries this, as names alone can collide (lab `a` node `b-c` and
    /// lab `a-b` node `c` are both `labctl-a-b-c`).
    #[serde(default)]
    pub owner: String,
}

/// The management network vagrant-libvirt reaches the guests' SSH through.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManagementNetwork {
    pub name: String,
    /// Its subnet, as vagrant-libvirt's `management_network_address` wants it.
    #[serde(with = "super::typed::as_string")]
    pub address: ipnet::Ipv4Net,
}

/// One node's host-dependent values.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeNode {
    /// Extra `docker create` arguments (capabilities, devices).
    #[serde(default)]
    pub create_args: Vec<String>,
    /// The host port of the node's SSH forward, when labctl picked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
}

impl Runtime {
    /// The file's text: pretty JSON and a final newline.
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("runtime file serializes") + "\n"
    }

    /// Read a runtime file; `None` when it is missing or not one.
    pub fn read(path: &std::path::Path) -> Option<Runtime> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }
}
