//! The versions of the tools a run used, recorded with it: a check that
//! broke when Vagrant or Docker changed says so in `labctl history`.

use crate::exec::{Cmd, Runner};
use std::collections::BTreeMap;

/// labctl's own version, the provider, and `vagrant --version` and the
/// Docker engine's version as the tools print them (`None` when a tool
/// did not answer: not measured, never a guess).
pub fn tool_versions(r: &dyn Runner, provider: Option<&str>) -> BTreeMap<String, Option<String>> {
    let ask = |cmd: Cmd| -> Option<String> {
        let out = r.output(&cmd).ok()?;
        if !out.success() {
            return None;
        }
        let s = out.stdout.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let mut m = BTreeMap::new();
    m.insert("labctl".into(), Some(env!("CARGO_PKG_VERSION").to_string()));
    m.insert("provider".into(), provider.map(String::from));
    m.insert(
        "vagrant".into(),
        ask(Cmd::new("vagrant").arg("--version"))
            .map(|s| s.trim_start_matches("Vagrant ").to_string()),
    );
    m.insert(
        "docker".into(),
        ask(Cmd::new("docker").args(["version", "--format", "{{.Server.Version}}"])),
    );
    m
}
