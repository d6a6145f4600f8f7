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
    #[serde(default)]
    pub nodes: BTreeMap<String, RuntimeNode>,
    pub provider: Kind,
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
