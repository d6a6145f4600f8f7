//! `labctl halt` and `labctl restart`: stop machines, or restart them without
//! re-provisioning.

use super::*;

pub fn halt(a: &LabArgs) -> Result<Exit> {
    let op = open(a)?;
    refuse_on_hosts(&op, "halt")?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = require_up(&op)?;
    let r = runner();
    vagrant::halt(r.as_ref(), &op.dir.root, &[])?;
    state.phase = Phase::Halted;
    op.dir.save(&state)?;
    eprintln!("lab {} halted", op.lab().name.value);
    Ok(Exit::Ok)
}

/// Restart nodes without re-provisioning: services come back through the node's init.
pub fn restart(a: &LabArgs, node: Option<&str>) -> Result<Exit> {
    let op = open(a)?;
    refuse_on_hosts(&op, "restart")?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = require_up(&op)?;
    let r = runner();
    let nodes: Vec<String> = match node {
        Some(n) if op.lab().node(n).is_some() => vec![n.to_string()],
        Some(n) => {
            return Err(Error::usage(format!(
                "lab {} has no node `{n}`",
                op.lab().name.value
            )))
        }
        None => vec![],
    };
    vagrant::halt(r.as_ref(), &op.dir.root, &nodes)?;
    let up_nodes = if nodes.is_empty() {
        op.lab().nodes.iter().map(|n| n.name.clone()).collect()
    } else {
        nodes
    };
    let kind = state_kind(&state);
    vagrant::up(
        r.as_ref(),
        &op.dir.root,
        kind,
        &up_nodes,
        kind.parallel_up(),
        &|_| {},
    )?;
    refresh_ssh(&op, r.as_ref(), &mut state)?;
    state.phase = Phase::Up;
    op.dir.save(&state)?;
    eprintln!("restarted {} (no re-provisioning)", up_nodes.join(", "));
    Ok(Exit::Ok)
}

/// Existing machines are never stopped or rebooted by labctl (docs/hosts.md).
fn refuse_on_hosts(op: &Opened, verb: &str) -> Result<()> {
    if op.lab().on_hosts() {
        return Err(Error::usage(format!(
            "lab {}: labctl does not {verb} existing machines ([provider] kind = \"hosts\"); they are yours to power",
            op.lab().name.value
        )));
    }
    Ok(())
}
