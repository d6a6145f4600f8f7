//! Healing: `up` on a lab that lost machines brings back exactly those.
//!
//! A machine can vanish behind labctl's back (`docker rm -f`, a VM deleted in
//! a GUI, the OOM killer). `vagrant up` re-creates it, but the new machine has
//! new SSH host keys, which labctl (and any role that pinned the old ones)
//! would rightly refuse as a possible interception. labctl tells the two
//! apart by what it did itself: a node it found gone and re-created (or was
//! asked to re-create with `--recreate`) is a new machine, so its old key is
//! forgotten and recorded again on first contact, and every role learns the
//! list through `LABCTL_RECREATED`. A key that changes on a machine labctl did
//! not re-create is still refused.

use super::*;

/// States in which a provider reports a machine that does not exist.
/// `vagrant status` says `not_created`; Docker lists no container at all.
fn is_gone(state: Option<&String>) -> bool {
    match state {
        None => true,
        Some(s) => matches!(s.as_str(), "not_created" | "not created"),
    }
}

/// Nodes of the lab whose machine the provider does not have.
pub(super) fn lost_nodes(lab: &Lab, states: &BTreeMap<String, String>) -> Vec<String> {
    lab.nodes
        .iter()
        .filter(|n| is_gone(states.get(&n.name)))
        .map(|n| n.name.clone())
        .collect()
}

/// Before `vagrant up` on a lab that was up: find the machines that are gone,
/// remove those asked for with `--recreate`, and mark all of them as new
/// machines (their old host keys forgotten). A lab that is not up yet is
/// created whole by `up`, so nothing is healed there.
pub(super) fn prepare(
    op: &Opened,
    r: &dyn Runner,
    p: &dyn provider::Provider,
    state: &mut State,
    recreate: &[String],
) -> Result<()> {
    let lab = op.lab();
    for n in recreate {
        if lab.node(n).is_none() {
            return Err(Error::usage(format!(
                "--recreate {n}: lab {} has no node `{n}` (nodes: {})",
                lab.name.value,
                lab.node_list()
            )));
        }
    }
    if !matches!(state.phase, Phase::Up | Phase::Halted) {
        if !recreate.is_empty() {
            return Err(Error::usage(format!(
                "--recreate: lab {} is not up, so `labctl up {0}` creates every node anyway",
                lab.name.value
            )));
        }
        return Ok(());
    }
    crate::interrupt::set_phase("finding lost machines");
    let states = p.states(r, lab, &op.dir.root)?;
    let mut renew: Vec<(String, String)> = lost_nodes(lab, &states)
        .into_iter()
        .map(|n| (n, format!("its machine is gone from {}", p.kind())))
        .collect();
    let asked: Vec<String> = recreate
        .iter()
        .filter(|n| !renew.iter().any(|(x, _)| x == *n))
        .cloned()
        .collect();
    if !asked.is_empty() {
        vagrant::destroy_nodes(r, &op.dir.root, &asked)?;
        renew.extend(asked.into_iter().map(|n| (n, "--recreate".to_string())));
    }
    for (node, why) in &renew {
        eprintln!("node {node}: {why}; re-creating it as a new machine (new host keys)");
        crate::remote::forget_host(&op.dir.known_hosts(), &lab.machine_name(node))?;
        state.recreated.insert(node.clone());
    }
    if !renew.is_empty() {
        op.dir.save(state)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        let text = r#"name = "h"
[network]
subnet = "192.168.90.0/24"
[[node]]
name = "a"
ip = "192.168.90.10"
[[node]]
name = "web"
count = 2
ip = "192.168.90.21"
"#;
        let roles = crate::roles::RoleSet::load(None).unwrap();
        crate::load::load_source(crate::diag::SourceFile::new("h.toml", text), None, roles)
            .unwrap()
            .lab
    }

    #[test]
    fn a_machine_missing_or_not_created_is_lost_a_stopped_one_is_not() {
        let states: BTreeMap<String, String> = [("a", "exited"), ("web1", "not_created")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(lost_nodes(&lab(), &states), vec!["web1", "web2"]);
        let all: BTreeMap<String, String> = ["a", "web1", "web2"]
            .into_iter()
            .map(|k| (k.to_string(), "running".to_string()))
            .collect();
        assert!(lost_nodes(&lab(), &all).is_empty());
    }
}
