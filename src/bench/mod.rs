//! `labctl bench`: iperf3 scenarios on a lab's nodes, with the write-up's
//! table and ratio verdicts.
//!
//! Two halves. [`iperf`], [`stats`], [`output`] and [`chart`] are pure: they
//! read iperf3's JSON, turn interleaved rounds into per-scenario figures and
//! ratio verdicts, and write the table, CSV, JSON run record and SVG chart;
//! nothing in them runs a process or touches the network, so all of it is
//! unit-tested on fixtures and known numbers. [`run`] (iperf3 servers and
//! clients on the nodes) and [`cmd`] (the command itself) run processes and
//! feed their outputs in through [`iperf::parse`] and [`stats::Round`].

pub mod chart;
pub mod cmd;
pub mod iperf;
pub mod output;
pub mod run;
pub mod stats;

pub use chart::ChartError;
pub use iperf::{IperfError, IperfResult, RunFailure, Unusable};
pub use output::{Comparison, RunRecord};
pub use stats::{
    Outcome, RatioCheck, Round, Run, Sample, ScenarioInfo, ScenarioSummary, StatsConfig, Verdict,
};
