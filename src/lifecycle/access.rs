//! `labctl exec` and `labctl ssh`: a command or a shell on a running node.

use super::*;

/// `labctl exec LAB NODE -- CMD...`: exit code passed through.
pub fn exec(a: &LabArgs, node: &str, command: &[String]) -> Result<Exit> {
    let op = open(a)?;
    let state = require_up(&op)?;
    let conn = connect(&op, &state, node)?;
    let cmd = command
        .iter()
        .map(|w| crate::shell::shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let res = conn.exec(
        &cmd,
        None,
        Duration::from_secs(24 * 3600),
        &mut |is_err, line| {
            if is_err {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        },
    )?;
    std::process::exit(res.code.clamp(0, 255));
}

/// `labctl ssh LAB NODE`: OpenSSH with the lab's ssh_config (host keys verified).
pub fn ssh(a: &LabArgs, node: &str) -> Result<Exit> {
    use std::os::unix::process::CommandExt;
    let op = open(a)?;
    let state = require_up(&op)?;
    if !state.nodes.contains_key(node) {
        return Err(Error::usage(format!(
            "lab {} has no running node `{node}`",
            op.lab().name.value
        )));
    }
    // Record the host key through our own verified connection first, so OpenSSH
    // (StrictHostKeyChecking yes) finds it.
    connect(&op, &state, node)?;
    let err = std::process::Command::new("ssh")
        .arg("-F")
        .arg(op.dir.ssh_config())
        .arg(node)
        .exec();
    Err(Error::io("run", "ssh", err))
}
