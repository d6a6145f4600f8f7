//! The host-independent half of `labctl bench`: reading iperf3's JSON, turning
//! interleaved rounds into per-scenario figures and ratio verdicts, and writing the
//! table, CSV, JSON run record and SVG chart.
//!
//! Nothing here runs a process or touches the network, so all of it is unit-tested
//! on fixtures and known numbers; the runner that starts iperf3 on the nodes feeds
//! its outputs in through [`iperf::parse`] and [`stats::Round`].

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
