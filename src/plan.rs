//! The provisioning plan: one task per (node, role), with the dependencies that
//! role metadata and the node's role order impose. Nodes run in parallel; a task
//! starts when everything it waits for has finished.

use crate::lab::Lab;
use crate::roles::{After, RoleSet};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    pub node: String,
    pub role: String,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.node, self.role)
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// Tasks in a stable order (nodes in file order, roles in node order).
    pub tasks: Vec<TaskId>,
    pub deps: BTreeMap<TaskId, BTreeSet<TaskId>>,
}

pub fn build(lab: &Lab, roles: &RoleSet) -> Plan {
    let mut tasks = Vec::new();
    let mut deps: BTreeMap<TaskId, BTreeSet<TaskId>> = BTreeMap::new();
    for n in &lab.nodes {
        let mut prev: Option<TaskId> = None;
        for r in &n.roles {
            let id = TaskId {
                node: n.name.clone(),
                role: r.value.clone(),
            };
            let mut d = BTreeSet::new();
            // A node's roles run in the order listed, so later roles may rely on
            // earlier ones without declaring it.
            if let Some(p) = &prev {
                d.insert(p.clone());
            }
            if let Some(role) = roles.get(&r.value) {
                for (a, _) in &role.meta.after {
                    match a {
                        After::Local(x) => {
                            if n.roles.iter().any(|y| &y.value == x) {
                                d.insert(TaskId {
                                    node: n.name.clone(),
                                    role: x.clone(),
                                });
                            }
                        }
                        After::Node(node, x) => {
                            if node != &n.name || x != &r.value {
                                d.insert(TaskId {
                                    node: node.clone(),
                                    role: x.clone(),
                                });
                            }
                        }
                        After::All(x) => {
                            for m in lab.nodes_with_role(x) {
                                if !(m.name == n.name && x == &r.value) {
                                    d.insert(TaskId {
                                        node: m.name.clone(),
                                        role: x.clone(),
                                    });
                                }
                            }
                        }
                    }
                }
            }
            prev = Some(id.clone());
            deps.insert(id.clone(), d);
            tasks.push(id);
        }
    }
    // Drop dependencies on tasks that do not exist (validation reports them).
    let known: BTreeSet<TaskId> = tasks.iter().cloned().collect();
    for d in deps.values_mut() {
        d.retain(|t| known.contains(t));
    }
    Plan { tasks, deps }
}

impl Plan {
    /// Tasks of one node, in order.
    pub fn node_tasks<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a TaskId> + 'a {
        self.tasks.iter().filter(move |t| t.node == node)
    }
}

/// A dependency cycle, printed as `a:x -> b:y -> a:x`, if any.
pub fn find_cycle(lab: &Lab, roles: &RoleSet) -> Option<String> {
    let plan = build(lab, roles);
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: BTreeMap<&TaskId, Mark> = plan.tasks.iter().map(|t| (t, Mark::New)).collect();
    fn visit<'a>(
        t: &'a TaskId,
        plan: &'a Plan,
        marks: &mut BTreeMap<&'a TaskId, Mark>,
        stack: &mut Vec<&'a TaskId>,
    ) -> Option<String> {
        match marks[t] {
            Mark::Done => return None,
            Mark::Active => {
                let start = stack.iter().position(|x| *x == t).unwrap_or(0);
                let mut parts: Vec<String> = stack[start..].iter().map(|x| x.to_string()).collect();
                parts.push(t.to_string());
                return Some(parts.join(" -> "));
            }
            Mark::New => {}
        }
        marks.insert(t, Mark::Active);
        stack.push(t);
        for d in &plan.deps[t] {
            if let Some(c) = visit(d, plan, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(t, Mark::Done);
        None
    }
    for t in &plan.tasks {
        let mut stack = Vec::new();
        if let Some(c) = visit(t, &plan, &mut marks, &mut stack) {
            return Some(c);
        }
    }
    None
}
