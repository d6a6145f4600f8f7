//! Provisioning over SSH: nodes in parallel, each node's roles in order, barriers
//! across nodes (`NODE:ROLE`, `*:ROLE`), values published by a role handed to
//! later roles, output streamed with a node prefix and logged, failures named
//! as `node web2, role nginx, step 3/5: exit 1` with the tail of stderr.

mod arrivals;
mod report;
mod undo;
mod upload;

pub use arrivals::Arrivals;
pub use report::{Outcome, Report, TaskReport};
pub use undo::{give_back, Undo};

use crate::error::{Error, Result};
use crate::lab::Lab;
use crate::plan::{Plan, TaskId};
use crate::remote::marker::{self, Piece};
use crate::remote::Conn;
use crate::render::{env_name, role_env};
use crate::roles::{RoleSet, SUPPORT_DIR};
use crate::shell::{sh_args, shell_quote};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use upload::Content;

/// Where role folders live on a node (owned by the SSH user).
const REMOTE_DIR: &str = ".labctl";

pub struct Options {
    pub only_nodes: Option<BTreeSet<String>>,
    pub only_roles: Option<BTreeSet<String>>,
    pub log_dir: PathBuf,
    /// Secret role variables: env name -> value; masked in output and logs.
    pub secrets: Vec<(String, String)>,
    /// Values published by earlier runs (kept in the state file).
    pub published: BTreeMap<String, String>,
    pub role_timeout: Duration,
    pub connect_wait: Duration,
    pub quiet: bool,
    /// The lab's offline repository folder (`.labctl/LAB/repo`), if it has one.
    pub repo_dir: Option<PathBuf>,
    /// The base image tarball for roles that run containers (`compose-deploy`).
    pub base_image_tar: Option<PathBuf>,
    /// Nodes labctl re-created as new machines (new host keys), given to every
    /// role as `LABCTL_RECREATED` so roles that pinned their keys renew them.
    pub recreated: BTreeSet<String>,
}

/// The role that receives `base-image.tar` in its folder.
pub const BASE_IMAGE_ROLE: &str = "compose-deploy";

#[derive(Clone, PartialEq)]
enum Status {
    Pending,
    Done(bool),
}

struct Shared {
    status: Mutex<(BTreeMap<TaskId, Status>, BTreeMap<String, String>)>,
    cv: Condvar,
}

pub fn run(
    lab: &Lab,
    roles: &RoleSet,
    plan: &Plan,
    arrivals: &Arrivals,
    opts: &Options,
) -> Result<Report> {
    std::fs::create_dir_all(&opts.log_dir).map_err(|e| Error::io("create", &opts.log_dir, e))?;
    let selected = |t: &TaskId| {
        opts.only_nodes.as_ref().is_none_or(|n| n.contains(&t.node))
            && opts.only_roles.as_ref().is_none_or(|r| r.contains(&t.role))
    };
    // Tasks not selected count as done: a re-run of one role relies on the rest
    // having been provisioned before.
    let mut status = BTreeMap::new();
    for t in &plan.tasks {
        status.insert(
            t.clone(),
            if selected(t) {
                Status::Pending
            } else {
                Status::Done(true)
            },
        );
    }
    let shared = Arc::new(Shared {
        status: Mutex::new((status, opts.published.clone())),
        cv: Condvar::new(),
    });
    let results: Arc<Mutex<Vec<TaskReport>>> = Arc::new(Mutex::new(Vec::new()));
    let print_lock = Arc::new(Mutex::new(()));

    std::thread::scope(|s| {
        for node in &lab.nodes {
            let tasks: Vec<TaskId> = plan
                .node_tasks(&node.name)
                .filter(|t| selected(t))
                .cloned()
                .collect();
            if tasks.is_empty() {
                continue;
            }
            let shared = shared.clone();
            let results = results.clone();
            let print_lock = print_lock.clone();
            s.spawn(move || {
                let ctx = NodeRun {
                    lab,
                    roles,
                    plan,
                    opts,
                    shared: &shared,
                    print_lock: &print_lock,
                };
                let reports = ctx.run_node(&node.name, &tasks, arrivals);
                results.lock().unwrap().extend(reports);
            });
        }
    });

    let mut tasks = Arc::try_unwrap(results)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default();
    let order: BTreeMap<&TaskId, usize> =
        plan.tasks.iter().enumerate().map(|(i, t)| (t, i)).collect();
    tasks.sort_by_key(|t| {
        order
            .get(&TaskId {
                node: t.node.clone(),
                role: t.role.clone(),
            })
            .copied()
            .unwrap_or(usize::MAX)
    });
    let published = shared.status.lock().unwrap().1.clone();
    Ok(Report { tasks, published })
}

struct NodeRun<'a> {
    lab: &'a Lab,
    roles: &'a RoleSet,
    plan: &'a Plan,
    opts: &'a Options,
    shared: &'a Shared,
    print_lock: &'a Mutex<()>,
}

impl NodeRun<'_> {
    fn mask(&self, line: &str) -> String {
        let mut s = line.to_string();
        for (_, v) in &self.opts.secrets {
            if v.len() >= 3 {
                s = s.replace(v.as_str(), "***");
            }
        }
        s
    }

    fn say(&self, log: &mut Option<std::fs::File>, prefix: &str, line: &str) {
        let line = self.mask(line);
        if let Some(f) = log.as_mut() {
            let _ = writeln!(f, "{prefix} {line}");
        }
        if !self.opts.quiet {
            let _g = self.print_lock.lock().unwrap();
            eprintln!("{prefix} {line}");
        }
    }

    fn finish(&self, t: &TaskId, ok: bool) {
        let mut g = self.shared.status.lock().unwrap();
        g.0.insert(t.clone(), Status::Done(ok));
        self.shared.cv.notify_all();
    }

    /// Wait for a task's dependencies; Err(reason) when one of them failed.
    fn wait_deps(&self, t: &TaskId) -> std::result::Result<BTreeMap<String, String>, String> {
        let deps = &self.plan.deps[t];
        let mut g = self.shared.status.lock().unwrap();
        loop {
            let mut pending = false;
            for d in deps {
                match g.0.get(d) {
                    Some(Status::Done(false)) => {
                        return Err(format!("waits for {d}, which did not finish"))
                    }
                    Some(Status::Pending) => pending = true,
                    _ => {}
                }
            }
            if !pending {
                return Ok(g.1.clone());
            }
            g = self.shared.cv.wait(g).unwrap();
        }
    }

    fn run_node(&self, node: &str, tasks: &[TaskId], arrivals: &Arrivals) -> Vec<TaskReport> {
        let log_path = self.opts.log_dir.join(format!("{node}.log"));
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .ok();
        let not_run = |reason: String| -> Vec<TaskReport> {
            tasks
                .iter()
                .map(|t| {
                    self.finish(t, false);
                    TaskReport {
                        node: t.node.clone(),
                        role: t.role.clone(),
                        outcome: Outcome::NotRun {
                            reason: reason.clone(),
                        },
                        seconds: 0.0,
                    }
                })
                .collect()
        };
        // A node's roles start when its machine is up and its SSH address
        // known (`up` hands nodes over as Vagrant finishes each).
        let target = match arrivals.wait(node) {
            Ok(t) => t,
            Err(why) => return not_run(format!("node {node}: {why}")),
        };
        let conn = match Conn::connect(&target, self.opts.connect_wait) {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                self.say(&mut log, &format!("[{node}]"), &msg);
                return not_run(msg);
            }
        };
        if let Err(e) = self.upload_roles(&conn, tasks) {
            return not_run(e.to_string());
        }
        let mut out = Vec::new();
        for t in tasks {
            let published = match self.wait_deps(t) {
                Ok(p) => p,
                Err(reason) => {
                    self.finish(t, false);
                    out.push(TaskReport {
                        node: t.node.clone(),
                        role: t.role.clone(),
                        outcome: Outcome::NotRun { reason },
                        seconds: 0.0,
                    });
                    continue;
                }
            };
            let started = Instant::now();
            let (outcome, new_pub) = match self.run_role(&conn, t, &published, &mut log) {
                Ok(x) => x,
                Err(e) => (
                    Outcome::NotRun {
                        reason: e.to_string(),
                    },
                    BTreeMap::new(),
                ),
            };
            if !new_pub.is_empty() {
                self.shared.status.lock().unwrap().1.extend(new_pub);
            }
            let ok = outcome.ok();
            self.say(
                &mut log,
                &format!("[{} {}]", t.node, t.role),
                &format!(
                    "=> {} ({:.1}s)",
                    outcome.label(),
                    started.elapsed().as_secs_f64()
                ),
            );
            self.finish(t, ok);
            out.push(TaskReport {
                node: t.node.clone(),
                role: t.role.clone(),
                outcome,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        out
    }

    /// Upload the support folder and the node's role folders in one tar stream.
    fn upload_roles(&self, conn: &Conn, tasks: &[TaskId]) -> Result<()> {
        let mut files: BTreeMap<String, Content> = BTreeMap::new();
        // The node serving the lab's offline repository gets the built
        // repository inside its role folder (built by `up` before provisioning).
        if let (Some(dir), true) = (
            &self.opts.repo_dir,
            tasks.iter().any(|t| t.role == crate::repo::SERVER_ROLE),
        ) {
            for (rel, p) in crate::repo::role_files(&crate::repo::public_dir(dir))? {
                files.insert(
                    format!("{}/{rel}", crate::repo::SERVER_ROLE),
                    Content::File(p),
                );
            }
        }
        // Roles that run containers inside the node get the base image tarball.
        if let (Some(p), true) = (
            &self.opts.base_image_tar,
            tasks.iter().any(|t| t.role == BASE_IMAGE_ROLE),
        ) {
            files.insert(
                format!("{BASE_IMAGE_ROLE}/base-image.tar"),
                Content::File(p.clone()),
            );
        }
        for (rel, b) in &self.roles.support {
            files.insert(format!("{SUPPORT_DIR}/{rel}"), Content::Bytes(b));
        }
        for t in tasks {
            if let Some(r) = self.roles.get(&t.role) {
                for (rel, b) in &r.files {
                    files.insert(format!("{}/{rel}", t.role), Content::Bytes(b));
                }
            }
        }
        upload_folders(conn, &files)
    }

    fn run_role(
        &self,
        conn: &Conn,
        t: &TaskId,
        published: &BTreeMap<String, String>,
        log: &mut Option<std::fs::File>,
    ) -> Result<(Outcome, BTreeMap<String, String>)> {
        let node = self.lab.node(&t.node).expect("task node exists");
        let role = self.roles.get(&t.role);
        let steps = role.map(|r| r.step_count()).unwrap_or(0);
        let env_path = send_env(
            conn,
            self.lab,
            node,
            &t.role,
            &self.opts.recreated,
            published,
            &self.opts.secrets,
        )?;

        let prefix = format!("[{} {}]", t.node, t.role);
        let mut step = 0usize;
        let mut step_name = String::new();
        let mut tail: Vec<String> = Vec::new();
        // The wrapper is a file of the role folders; the env file's path is
        // its one argument.
        let cmd = format!(
            "sudo -n /bin/sh {REMOTE_DIR}/roles/{SUPPORT_DIR}/wrapper.sh \"$HOME\"/{}",
            shell_quote(&env_path)
        );
        let res = conn.exec(&cmd, None, self.opts.role_timeout, &mut |is_err, line| {
            if let Some(rest) = marker::parse(line)
                .filter(|m| m.kind == "step")
                .map(|m| m.args)
            {
                let (num, name) = rest.split_once(' ').unwrap_or((rest, ""));
                step = num
                    .split('/')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(step + 1);
                step_name = name.to_string();
                self.say(log, &prefix, &format!("step {num} {name}"));
                return;
            }
            if is_err {
                tail.push(self.mask(line));
                if tail.len() > 12 {
                    tail.remove(0);
                }
            }
            self.say(log, &prefix, line);
        });
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                return Ok((
                    Outcome::Failed {
                        step,
                        steps,
                        step_name,
                        code: -1,
                        stderr_tail: format!("{}\n{}", tail.join("\n"), e),
                    },
                    BTreeMap::new(),
                ))
            }
        };
        if res.code != 0 {
            return Ok((
                Outcome::Failed {
                    step,
                    steps,
                    step_name,
                    code: res.code,
                    stderr_tail: tail.join("\n"),
                },
                BTreeMap::new(),
            ));
        }
        // What the role said about itself, and what it published.
        let q = conn.run(
            &sh_args(
                include_str!("scripts/role-result.sh"),
                "labctl-role-result",
                &[&t.role],
            ),
            Duration::from_secs(30),
        )?;
        let pieces = marker::split(&q.stdout);
        let text = |i: usize| match pieces.get(i) {
            Some(Piece::Text(t)) => *t,
            _ => "",
        };
        let (result, pubs) = match pieces
            .iter()
            .position(|p| matches!(p, Piece::Marker(m) if m.kind == "publish"))
        {
            Some(i) => (text(i - 1), text(i + 1)),
            None => (q.stdout.as_str(), ""),
        };
        let missing = pieces
            .iter()
            .any(|p| matches!(p, Piece::Marker(m) if m.kind == "missing"));
        let outcome = Outcome::from_result(&t.node, &t.role, (!missing).then_some(result));
        let mut new_pub = BTreeMap::new();
        for line in pubs.lines() {
            if let Some((k, v)) = line.split_once('=') {
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    new_pub.insert(k.to_string(), v.to_string());
                }
            }
        }
        Ok((outcome, new_pub))
    }
}

/// Replace the node's role folders (`~/.labctl/roles`) with `files`, sent
/// as one tar stream.
fn upload_folders(conn: &Conn, files: &BTreeMap<String, Content>) -> Result<()> {
    let cmd = format!("rm -rf {REMOTE_DIR}/roles && mkdir -p -m 0700 {REMOTE_DIR}/roles {REMOTE_DIR}/run && tar -x -C {REMOTE_DIR}/roles");
    let r = conn.exec(
        &cmd,
        Some(&mut |w: &mut dyn Write| upload::write_tar(w, files)),
        Duration::from_secs(300),
        &mut |_, _| {},
    )?;
    if r.code != 0 {
        return Err(Error::env(
            format!(
                "node {}: cannot upload roles: {}",
                conn.target.node,
                r.stderr.trim()
            ),
            None,
        ));
    }
    Ok(())
}

/// Send role `role`'s variables on `node` to the node: lab values, then
/// published values, then secrets. They travel in a 0600 file over SFTP,
/// which the wrapper sources and deletes; its path (under the login user's
/// home) is returned.
fn send_env(
    conn: &Conn,
    lab: &Lab,
    node: &crate::lab::Node,
    role: &str,
    recreated: &BTreeSet<String>,
    published: &BTreeMap<String, String>,
    secrets: &[(String, String)],
) -> Result<String> {
    let mut env = role_env(lab, node, role);
    env.push((
        "LABCTL_RECREATED".to_string(),
        recreated.iter().cloned().collect::<Vec<_>>().join(" "),
    ));
    for (k, v) in published {
        env.push((k.clone(), v.clone()));
    }
    for (k, v) in secrets {
        env.push((env_name(k), v.clone()));
    }
    let mut text = String::new();
    for (k, v) in &env {
        text.push_str(&format!("{k}={}\n", shell_quote(v)));
    }
    let env_path = format!("{REMOTE_DIR}/run/{role}.env");
    conn.write_file(&env_path, text.as_bytes(), 0o600)?;
    Ok(env_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10.10: only the result words are results; a missing or garbled
    /// result file is an error naming node and role, never `unchanged`.
    #[test]
    fn result_file_is_judged_not_defaulted() {
        assert_eq!(
            Outcome::from_result("web1", "nginx", Some("unchanged\n")),
            Outcome::Unchanged
        );
        assert_eq!(
            Outcome::from_result("web1", "nginx", Some("changed")),
            Outcome::Changed
        );
        assert_eq!(
            Outcome::from_result("web1", "nginx", Some("skipped")),
            Outcome::Skipped
        );
        assert_eq!(
            Outcome::from_result("web1", "nginx", Some("unreported")),
            Outcome::Unreported
        );
        assert_eq!(Outcome::Unreported.label(), "unreported");
        for text in [None, Some(""), Some("chnaged"), Some("\u{0}\u{1}")] {
            let o = Outcome::from_result("web1", "nginx", text);
            let Outcome::NoResult { message } = &o else {
                panic!("{text:?} gave {o:?}")
            };
            assert!(message.starts_with("node web1, role nginx: "), "{message}");
            assert!(
                message.contains("/var/lib/labctl/roles/nginx.result"),
                "{message}"
            );
            assert!(!o.ok());
            let r = Report {
                tasks: vec![TaskReport {
                    node: "web1".into(),
                    role: "nginx".into(),
                    outcome: o.clone(),
                    seconds: 0.1,
                }],
                published: BTreeMap::new(),
            };
            assert!(!r.ok());
            assert_eq!(r.failures(), vec![message.clone()]);
            assert_eq!(
                r.counts(),
                "0 changed, 0 unchanged, 0 unreported, 0 skipped, 1 failed or not run"
            );
        }
    }

    #[test]
    fn failures_name_node_role_step() {
        let r = Report {
            tasks: vec![TaskReport {
                node: "web2".into(),
                role: "nginx".into(),
                outcome: Outcome::Failed {
                    step: 3,
                    steps: 5,
                    step_name: "configure".into(),
                    code: 1,
                    stderr_tail: "boom".into(),
                },
                seconds: 1.0,
            }],
            published: BTreeMap::new(),
        };
        let f = r.failures();
        assert!(
            f[0].starts_with("node web2, role nginx, step 3/5: exit 1"),
            "{}",
            f[0]
        );
        assert!(f[0].contains("boom"));
    }
}
