//! `down` on a hosts lab, per machine (docs/hosts.md): run `undo.sh` of every
//! role that started there, in the reverse of the lab file's role order,
//! through the same upload, variables and wrapper as provisioning, then
//! remove labctl's own folders. A failing undo stops that machine's give-back
//! with node, role and exit code named.

use super::{send_env, upload_folders, Content, REMOTE_DIR};
use crate::error::{Error, Result};
use crate::lab::Lab;
use crate::provider::hosts::OWNER_PROBE;
use crate::remote::{marker, Conn, Target};
use crate::roles::{RoleSet, SUPPORT_DIR};
use crate::shell::{sh_args, sh_root_args, shell_quote};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

const LIST: &str = include_str!("scripts/undo-list.sh");
const GIVE_BACK: &str = include_str!("scripts/give-back.sh");

/// What undoing a lab's roles needs besides the machine.
pub struct Undo<'a> {
    pub lab: &'a Lab,
    pub roles: &'a RoleSet,
    /// Values the roles published when they ran (the state file's).
    pub published: &'a BTreeMap<String, String>,
    pub secrets: &'a [(String, String)],
    pub log_dir: PathBuf,
    pub role_timeout: Duration,
    pub connect_wait: Duration,
}

/// The roles to undo on `node`, in order: those that started there, the lab
/// file's last role first; a started role the lab file no longer lists
/// comes after them.
fn undo_order(lab_roles: &[String], started: &BTreeSet<String>) -> Vec<String> {
    let mut order: Vec<String> = lab_roles
        .iter()
        .rev()
        .filter(|r| started.contains(*r))
        .cloned()
        .collect();
    order.extend(started.iter().filter(|r| !lab_roles.contains(r)).cloned());
    order
}

/// Give machine `t` back: undo its started roles, then remove
/// `/var/lib/labctl` and `~/.labctl`. Returns what was done, one line each.
pub fn give_back(u: &Undo, t: &Target) -> Result<Vec<String>> {
    let lab = &u.lab.name.value;
    let node_name = &t.node;
    let conn = Conn::connect(t, u.connect_wait)?;
    let listed = conn.run(
        &sh_args(&format!("{OWNER_PROBE}{LIST}"), "labctl-undo-list", &[lab]),
        Duration::from_secs(30),
    )?;
    let mut owner = None;
    let mut started = BTreeSet::new();
    for m in listed.stdout.lines().filter_map(marker::parse) {
        match m.kind {
            "owner" => owner = Some(m.args.trim().to_string()),
            "started" => {
                started.insert(m.args.trim().to_string());
            }
            _ => {}
        }
    }
    let refuse = |why: String| {
        Error::env(
            format!("node {node_name}: {why}; labctl changed nothing there"),
            Some(format!(
                "the lab's state is kept; `labctl down {lab}` can be run again"
            )),
        )
    };
    match owner.as_deref() {
        Some("-") => return Ok(Vec::new()),
        Some(o) if o == lab => {}
        Some("?") => {
            return Err(refuse(
                "/var/lib/labctl or ~/.labctl is there without this lab's marker".into(),
            ))
        }
        Some(o) => return Err(refuse(format!("/var/lib/labctl belongs to lab `{o}`"))),
        None => return Err(refuse("the node listed nothing".into())),
    }
    let node = u.lab.node(node_name);
    let lab_roles: Vec<String> = node
        .map(|n| n.roles.iter().map(|r| r.value.clone()).collect())
        .unwrap_or_default();
    let order = undo_order(&lab_roles, &started);
    let mut done = Vec::new();
    if !order.is_empty() {
        let Some(node) = node else {
            return Err(refuse(format!(
                "roles {} started there, and the lab file no longer has the node",
                order.join(", ")
            )));
        };
        let mut files: BTreeMap<String, Content> = BTreeMap::new();
        for (rel, b) in &u.roles.support {
            files.insert(format!("{SUPPORT_DIR}/{rel}"), Content::Bytes(b));
        }
        for r in &order {
            match u.roles.get(r) {
                Some(role) if role.undo_script().is_some() => {
                    for (rel, b) in &role.files {
                        files.insert(format!("{r}/{rel}"), Content::Bytes(b));
                    }
                }
                _ => {
                    return Err(refuse(format!(
                        "role {r} started there and labctl has no undo.sh for it"
                    )))
                }
            }
        }
        upload_folders(&conn, &files)?;
        std::fs::create_dir_all(&u.log_dir).map_err(|e| Error::io("create", &u.log_dir, e))?;
        let log_path = u.log_dir.join(format!("{node_name}.log"));
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .ok();
        for r in &order {
            let env_path = send_env(
                &conn,
                u.lab,
                node,
                r,
                &BTreeSet::new(),
                u.published,
                u.secrets,
            )?;
            let prefix = format!("[{node_name} {r} undo]");
            let mut tail: Vec<String> = Vec::new();
            let cmd = format!(
                "sudo -n /bin/sh {REMOTE_DIR}/roles/{SUPPORT_DIR}/undo-wrapper.sh \"$HOME\"/{}",
                shell_quote(&env_path)
            );
            let res = conn.exec(&cmd, None, u.role_timeout, &mut |is_err, line| {
                let mut line = line.to_string();
                for (_, v) in u.secrets {
                    if v.len() >= 3 {
                        line = line.replace(v.as_str(), "***");
                    }
                }
                if is_err {
                    tail.push(line.clone());
                    if tail.len() > 12 {
                        tail.remove(0);
                    }
                }
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{prefix} {line}");
                }
                eprintln!("{prefix} {line}");
            })?;
            if res.code != 0 {
                return Err(Error::env(
                    format!(
                        "node {node_name}, role {r}, undo.sh: exit {}{}",
                        res.code,
                        if tail.is_empty() {
                            String::new()
                        } else {
                            format!("\n{}", tail.join("\n"))
                        }
                    ),
                    Some(format!(
                        "the roles after it were not undone on {node_name}, and the lab's state (with its known_hosts) is kept: fix the cause, then `labctl down {lab}` runs the undo again"
                    )),
                ));
            }
            eprintln!("down: node {node_name}: undid role {r}");
            done.push(format!("role {r} on {node_name}"));
        }
    }
    let home = conn.run("printf '%s' \"$HOME\"", Duration::from_secs(30))?;
    let out = conn.run(
        &sh_root_args(GIVE_BACK, "labctl-give-back", &[lab, home.stdout.trim()]),
        Duration::from_secs(60),
    )?;
    if out.code != 0 {
        return Err(Error::env(
            format!(
                "node {node_name}: labctl's folders could not be removed (exit {}): {}",
                out.code,
                out.stderr.trim()
            ),
            Some(format!(
                "the lab's state is kept; `labctl down {lab}` can be run again"
            )),
        ));
    }
    for m in out.stdout.lines().filter_map(marker::parse) {
        if m.kind == "removed" {
            done.push(format!("{} on {node_name}", m.args.trim()));
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_runs_started_roles_last_first() {
        let lab: Vec<String> = ["base", "web", "shape"].map(String::from).to_vec();
        let started: BTreeSet<String> = ["base", "web", "gone"].map(String::from).into();
        assert_eq!(undo_order(&lab, &started), ["web", "base", "gone"]);
        assert!(undo_order(&lab, &BTreeSet::new()).is_empty());
    }
}
