//! What provisioning reports: each role run's outcome on its node, measured by
//! the role itself (its result file), and the report's table, counts and
//! failures as `labctl up` and `labctl provision` print them.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Changed,
    /// The role compared and found the node as wanted (it said so itself).
    Unchanged,
    Skipped,
    /// The role ran to the end and said nothing about what it did: neither
    /// changed nor unchanged, and never counted as unchanged.
    Unreported,
    /// The role's result file is missing or holds something else than a
    /// result word: labctl cannot tell what the role did.
    NoResult {
        message: String,
    },
    Failed {
        step: usize,
        steps: usize,
        step_name: String,
        code: i32,
        stderr_tail: String,
    },
    /// Not run because something it waits for failed, or the node was unreachable.
    NotRun {
        reason: String,
    },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Unreported => "unreported",
            Outcome::NoResult { .. } => "FAILED",
            Outcome::Failed { .. } => "FAILED",
            Outcome::NotRun { .. } => "not run",
        }
    }
    pub fn ok(&self) -> bool {
        matches!(
            self,
            Outcome::Changed | Outcome::Unchanged | Outcome::Skipped | Outcome::Unreported
        )
    }

    /// What a role's result file said (`text`), or `None` when the node
    /// reported no result file. Only the four words the wrapper and `lib.sh`
    /// write are results; anything else is an error naming node and role.
    pub fn from_result(node: &str, role: &str, text: Option<&str>) -> Outcome {
        let file = format!("/var/lib/labctl/roles/{role}.result");
        let Some(text) = text else {
            return Outcome::NoResult {
                message: format!(
                    "node {node}, role {role}: no result file {file} after the role ran"
                ),
            };
        };
        match text.trim() {
            "changed" => Outcome::Changed,
            "unchanged" => Outcome::Unchanged,
            "skipped" => Outcome::Skipped,
            "unreported" => Outcome::Unreported,
            other => Outcome::NoResult {
                message: format!(
                    "node {node}, role {role}: garbled result file {file}: {:?} (expected changed, unchanged, skipped or unreported)",
                    crate::text::one_line(other, 80)
                ),
            },
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskReport {
    pub node: String,
    pub role: String,
    pub outcome: Outcome,
    pub seconds: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub tasks: Vec<TaskReport>,
    pub published: BTreeMap<String, String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.tasks.iter().all(|t| t.outcome.ok())
    }

    /// One line per failure, in the documented form.
    pub fn failures(&self) -> Vec<String> {
        self.tasks
            .iter()
            .filter_map(|t| match &t.outcome {
                Outcome::Failed {
                    step,
                    steps,
                    step_name,
                    code,
                    stderr_tail,
                } => {
                    let mut s = format!(
                        "node {}, role {}, step {step}/{steps}: exit {code}",
                        t.node, t.role
                    );
                    if !step_name.is_empty() {
                        s.push_str(&format!(" ({step_name})"));
                    }
                    if !stderr_tail.trim().is_empty() {
                        s.push_str("\n    stderr (last lines):");
                        for l in stderr_tail.lines() {
                            s.push_str(&format!("\n      {l}"));
                        }
                    }
                    Some(s)
                }
                Outcome::NotRun { reason } => Some(format!(
                    "node {}, role {}: not run: {reason}",
                    t.node, t.role
                )),
                Outcome::NoResult { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// `3 changed, 5 unchanged, 1 unreported, 0 skipped[, 1 failed]`: each
    /// word counted on its own, so a role that said nothing is never counted
    /// as unchanged.
    pub fn counts(&self) -> String {
        let n = |f: &dyn Fn(&Outcome) -> bool| self.tasks.iter().filter(|t| f(&t.outcome)).count();
        let mut s = format!(
            "{} changed, {} unchanged, {} unreported, {} skipped",
            n(&|o| *o == Outcome::Changed),
            n(&|o| *o == Outcome::Unchanged),
            n(&|o| *o == Outcome::Unreported),
            n(&|o| *o == Outcome::Skipped),
        );
        let failed = n(&|o| !o.ok());
        if failed > 0 {
            s.push_str(&format!(", {failed} failed or not run"));
        }
        s
    }

    pub fn table(&self) -> String {
        let mut rows = vec![vec![
            "NODE".to_string(),
            "ROLE".into(),
            "RESULT".into(),
            "TIME".into(),
        ]];
        for t in &self.tasks {
            rows.push(vec![
                t.node.clone(),
                t.role.clone(),
                t.outcome.label().into(),
                format!("{:.1}s", t.seconds),
            ]);
        }
        crate::text::table(&rows)
    }
}
