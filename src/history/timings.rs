//! Phase timings: what each run of `up`, `provision`, `test` and `down` spent
//! its time on (per node where a phase runs per node), kept in the run record
//! and printed with `--timings`. Bench scripts read them from the record
//! instead of guessing from wall clocks around the command.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// One measured phase of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseTime {
    /// `machines`, `ssh-config`, `provisioning`, `checks`, ...
    pub phase: String,
    /// The node it ran on; `None` for a phase of the lab as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub seconds: f64,
}

/// The phases of one run, in the order they ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    pub phases: Vec<PhaseTime>,
}

impl Timings {
    pub fn add(&mut self, phase: &str, node: Option<&str>, took: Duration) {
        self.add_seconds(phase, node, took.as_secs_f64());
    }

    pub fn add_seconds(&mut self, phase: &str, node: Option<&str>, seconds: f64) {
        self.phases.push(PhaseTime {
            phase: phase.into(),
            node: node.map(String::from),
            seconds: crate::report::millis(seconds),
        });
    }

    /// Run `f` as phase `phase` of the whole lab. A phase that fails is
    /// recorded too: the time it took before failing was spent.
    pub fn time<T>(&mut self, phase: &str, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        self.add(phase, None, started.elapsed());
        out
    }
}

/// The `--timings` table: one row per phase, lab-wide phases with node `-`.
pub fn table(phases: &[PhaseTime]) -> String {
    use crate::text::Align;
    let mut rows = vec![["PHASE", "NODE", "TIME"].map(String::from).to_vec()];
    for p in phases {
        rows.push(vec![
            p.phase.clone(),
            p.node.clone().unwrap_or_else(|| "-".into()),
            format!("{:.1}s", p.seconds),
        ]);
    }
    crate::text::table_aligned(&rows, &[Align::Left, Align::Left, Align::Right])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Timings {
        let mut t = Timings::default();
        t.add("machines", None, Duration::from_millis(17_512));
        t.add_seconds("ssh-config", None, 3.1);
        t.add_seconds("provisioning", Some("web1"), 4.4);
        t.add_seconds("provisioning", Some("gitlab"), 7.8);
        t
    }

    #[test]
    fn table_has_one_row_per_phase_and_node() {
        insta::assert_snapshot!(table(&sample().phases), @r###"
        PHASE         NODE     TIME
        machines      -       17.5s
        ssh-config    -        3.1s
        provisioning  web1     4.4s
        provisioning  gitlab   7.8s
        "###);
    }

    #[test]
    fn phases_keep_their_node_in_the_record_and_read_back() {
        let t = sample();
        let text = serde_json::to_string(&t.phases).unwrap();
        // A lab-wide phase has no node key at all; a node's phase names it.
        assert!(
            text.contains(r#"{"phase":"machines","seconds":17.512}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"{"phase":"provisioning","node":"web1","seconds":4.4}"#),
            "{text}"
        );
        let back: Vec<PhaseTime> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, t.phases);
    }

    #[test]
    fn a_failed_phase_is_timed_too() {
        let mut t = Timings::default();
        let r: Result<(), &str> = t.time("machines", || Err("vagrant up failed"));
        assert!(r.is_err());
        assert_eq!(t.phases.len(), 1);
        assert_eq!(t.phases[0].phase, "machines");
    }
}
