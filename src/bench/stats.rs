//! From interleaved rounds of measurements to per-scenario figures and ratio
//! verdicts.
//!
//! Unshaped paths vary a lot between rounds (loopback and veth moved 0.74-1.30
//! here), and the baseline drifts with them, so a scenario's ratio to the baseline
//! is the median of per-round ratios (scenario in round i / the baseline run next
//! to it), not a ratio of medians taken minutes apart.

use super::iperf::{IperfError, IperfResult};
use crate::lab::model::{Lab, Ratio, RatioOf};
use serde::{Deserialize, Serialize};

/// One successful measurement: the receiver's figure and both ends' CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub bits_per_second: f64,
    /// The client's CPU, percent (iperf3 `host_total`).
    pub cpu_host: Option<f64>,
    /// The server's CPU, percent (iperf3 `remote_total`).
    pub cpu_remote: Option<f64>,
}

impl From<&IperfResult> for Sample {
    fn from(r: &IperfResult) -> Self {
        Sample {
            bits_per_second: r.receiver_bits_per_second,
            cpu_host: r.cpu_host_total,
            cpu_remote: r.cpu_remote_total,
        }
    }
}

/// What one iperf3 run gave. Failures keep their class so that a report can say
/// "could not measure" rather than "below bound".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Measured(Sample),
    /// iperf3 did not do the test (connect failure, busy server, ...).
    CouldNotRun {
        message: String,
    },
    /// iperf3 ran but its output holds no usable figure.
    Unusable {
        message: String,
    },
}

impl From<Result<IperfResult, IperfError>> for Outcome {
    fn from(r: Result<IperfResult, IperfError>) -> Self {
        match r {
            Ok(res) => Outcome::Measured(Sample::from(&res)),
            Err(e @ IperfError::CouldNotRun { .. }) => Outcome::CouldNotRun {
                message: e.to_string(),
            },
            Err(e @ IperfError::Unusable(_)) => Outcome::Unusable {
                message: e.to_string(),
            },
        }
    }
}

impl Outcome {
    /// The sample, if it is a real (finite, positive) figure.
    pub fn sample(&self) -> Option<&Sample> {
        match self {
            Outcome::Measured(s) if s.bits_per_second.is_finite() && s.bits_per_second > 0.0 => {
                Some(s)
            }
            _ => None,
        }
    }

    fn failure(&self) -> String {
        match self {
            Outcome::Measured(s) => format!("not a usable figure: {} bit/s", s.bits_per_second),
            Outcome::CouldNotRun { message } | Outcome::Unusable { message } => message.clone(),
        }
    }
}

/// One iperf3 run of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub scenario: String,
    pub outcome: Outcome,
}

/// One round: the runs in the order they were made.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Round {
    pub runs: Vec<Run>,
}

/// What the statistics need to know about a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub baseline: bool,
    /// The configured link cap on this path, bits/s, for `of = "rate"` ratios.
    pub link_rate_bps: Option<u64>,
}

impl ScenarioInfo {
    /// The lab's scenarios in file order. A path's rate is the lowest cap of its
    /// two nodes (a node's own `bandwidth`, else `[network] bandwidth`).
    pub fn from_lab(lab: &Lab) -> Vec<ScenarioInfo> {
        let cap = |node: &str| {
            lab.node(node)
                .and_then(|n| n.bandwidth.as_ref().map(|b| b.value))
                .or(lab.network.bandwidth.as_ref().map(|b| b.value))
        };
        lab.scenarios
            .iter()
            .map(|s| {
                let rates = [cap(&s.client.node.value), cap(&s.server.node.value)];
                ScenarioInfo {
                    name: s.name.value.clone(),
                    baseline: s.baseline,
                    link_rate_bps: rates.into_iter().flatten().min(),
                }
            })
            .collect()
    }
}

/// The order of runs in one round, as indices into `scenarios`: the baseline
/// right before every other scenario (baseline, A, baseline, B, ...), so each
/// per-round ratio compares runs made seconds apart. Without a baseline, the
/// scenarios in order; with only a baseline, the baseline once.
pub fn round_plan(scenarios: &[ScenarioInfo]) -> Vec<usize> {
    let base = scenarios.iter().position(|s| s.baseline);
    let others: Vec<usize> = (0..scenarios.len()).filter(|&i| Some(i) != base).collect();
    match base {
        None => others,
        Some(b) if others.is_empty() => vec![b],
        Some(b) => others.into_iter().flat_map(|i| [b, i]).collect(),
    }
}

/// Tunables of the statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsConfig {
    /// A scenario whose mean CPU at either end is above this (percent) is flagged
    /// CPU-bound: its figure measures the CPU, not the path.
    pub cpu_bound_percent: f64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            cpu_bound_percent: 90.0,
        }
    }
}

/// Per-scenario result over all rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub baseline: bool,
    /// Runs of this scenario that were made, and that gave a figure.
    pub runs: usize,
    pub measured: usize,
    /// Median, min and max of the measured runs, Gbit/s (1e9 bit/s).
    pub median_gbps: Option<f64>,
    pub min_gbps: Option<f64>,
    pub max_gbps: Option<f64>,
    /// Mean CPU percent of the client (`host`) and server (`remote`) ends.
    pub cpu_host_mean: Option<f64>,
    pub cpu_remote_mean: Option<f64>,
    pub cpu_bound: bool,
    /// Median of the per-round ratios to the baseline (1.0 for the baseline).
    pub ratio_to_baseline: Option<f64>,
    /// The per-round ratios, in round order.
    pub round_ratios: Vec<f64>,
    /// Median bit/s over the configured link rate.
    pub ratio_to_rate: Option<f64>,
    pub link_rate_bps: Option<u64>,
    /// This scenario's failed runs: "round 2: iperf3 could not run: ...".
    pub failures: Vec<String>,
    /// Rounds where this scenario had a figure but its baseline run did not.
    pub unpaired: Vec<String>,
}

/// Summarises every scenario in `scenarios` (in that order) over `rounds`.
///
/// In each round a scenario's run is paired with the nearest baseline run before
/// it (or, if none, after it) in the same round.
pub fn summarize(
    scenarios: &[ScenarioInfo],
    rounds: &[Round],
    cfg: &StatsConfig,
) -> Vec<ScenarioSummary> {
    let baseline = scenarios
        .iter()
        .find(|s| s.baseline)
        .map(|s| s.name.as_str());
    scenarios
        .iter()
        .map(|s| summarize_one(s, baseline, rounds, cfg))
        .collect()
}

fn summarize_one(
    info: &ScenarioInfo,
    baseline: Option<&str>,
    rounds: &[Round],
    cfg: &StatsConfig,
) -> ScenarioSummary {
    let mut samples: Vec<&Sample> = Vec::new();
    let mut ratios = Vec::new();
    let mut failures = Vec::new();
    let mut unpaired = Vec::new();
    let mut runs = 0;
    for (ri, round) in rounds.iter().enumerate() {
        let rn = ri + 1;
        for (pos, run) in round
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.scenario == info.name)
        {
            runs += 1;
            let Some(sample) = run.outcome.sample() else {
                failures.push(format!("round {rn}: {}", run.outcome.failure()));
                continue;
            };
            samples.push(sample);
            if info.baseline {
                ratios.push(1.0);
                continue;
            }
            let Some(base_name) = baseline else { continue };
            let is_base = |r: &&Run| r.scenario == base_name;
            let partner = round.runs[..pos]
                .iter()
                .rev()
                .find(is_base)
                .or_else(|| round.runs[pos + 1..].iter().find(is_base));
            match partner.map(|p| p.outcome.sample()) {
                Some(Some(b)) => ratios.push(sample.bits_per_second / b.bits_per_second),
                Some(None) => unpaired.push(format!("round {rn}: the baseline run failed")),
                None => unpaired.push(format!("round {rn}: no baseline run")),
            }
        }
    }
    let bps: Vec<f64> = samples.iter().map(|s| s.bits_per_second).collect();
    let median_bps = median(&bps);
    let cpu_host_mean = mean(samples.iter().filter_map(|s| s.cpu_host));
    let cpu_remote_mean = mean(samples.iter().filter_map(|s| s.cpu_remote));
    let over = |c: Option<f64>| c.is_some_and(|c| c > cfg.cpu_bound_percent);
    ScenarioSummary {
        scenario: info.name.clone(),
        baseline: info.baseline,
        runs,
        measured: samples.len(),
        median_gbps: median_bps.map(|b| b / 1e9),
        min_gbps: bps.iter().copied().reduce(f64::min).map(|b| b / 1e9),
        max_gbps: bps.iter().copied().reduce(f64::max).map(|b| b / 1e9),
        cpu_host_mean,
        cpu_remote_mean,
        cpu_bound: over(cpu_host_mean) || over(cpu_remote_mean),
        ratio_to_baseline: if baseline.is_some() {
            median(&ratios)
        } else {
            None
        },
        round_ratios: ratios,
        ratio_to_rate: match (median_bps, info.link_rate_bps) {
            (Some(m), Some(rate)) if rate > 0 => Some(m / rate as f64),
            _ => None,
        },
        link_rate_bps: info.link_rate_bps,
        failures,
        unpaired,
    }
}

/// The median; the mean of the two middle values for an even count.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .filter(|x| x.is_finite())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// The outcome of one `[[ratio]]` bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Measured, and outside a bound.
    Fail,
    /// Not measured completely: a run failed, the scenario or its reference is
    /// missing. Distinct from a failure, since nothing is known about the bound.
    Unmeasured,
}

/// A checked `[[ratio]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioCheck {
    pub name: String,
    pub scenario: String,
    /// `baseline` or `rate`.
    pub of: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub measured: Option<f64>,
    pub verdict: Verdict,
    /// "measured 0.87, expected >= 0.90", or why it could not be measured.
    pub message: String,
}

/// Checks every ratio against the summaries; see [`check_ratio`].
pub fn check_ratios(ratios: &[Ratio], summaries: &[ScenarioSummary]) -> Vec<RatioCheck> {
    ratios
        .iter()
        .map(|r| check_ratio(r, summaries.iter().find(|s| s.scenario == r.scenario.value)))
        .collect()
}

/// Checks one ratio, each bound one-sided. A ratio is only judged on complete
/// data: any failed run it depends on makes it [`Verdict::Unmeasured`], since a
/// median over the rounds that happened to work is not the figure that was asked
/// for.
pub fn check_ratio(ratio: &Ratio, summary: Option<&ScenarioSummary>) -> RatioCheck {
    let of = match ratio.of {
        RatioOf::Baseline => "baseline",
        RatioOf::Rate => "rate",
    };
    let mut check = RatioCheck {
        name: ratio.name.clone(),
        scenario: ratio.scenario.value.clone(),
        of: of.to_string(),
        min: ratio.min,
        max: ratio.max,
        measured: None,
        verdict: Verdict::Unmeasured,
        message: String::new(),
    };
    let unmeasured = |mut c: RatioCheck, why: String| {
        c.message = format!("could not measure: {why}");
        c
    };
    let Some(s) = summary else {
        return unmeasured(
            check,
            format!("scenario `{}` was not run", ratio.scenario.value),
        );
    };
    let mut problems: Vec<String> = s.failures.clone();
    if ratio.of == RatioOf::Baseline {
        problems.extend(s.unpaired.iter().cloned());
    }
    if let Some(first) = problems.first() {
        let more = if problems.len() > 1 {
            format!(" (and {} more)", problems.len() - 1)
        } else {
            String::new()
        };
        return unmeasured(check, format!("{first}{more}"));
    }
    if s.runs == 0 {
        return unmeasured(check, format!("scenario `{}` was not run", s.scenario));
    }
    let measured = match ratio.of {
        RatioOf::Baseline => s
            .ratio_to_baseline
            .ok_or("no baseline scenario to compare with"),
        RatioOf::Rate => s
            .ratio_to_rate
            .ok_or("no link rate is configured for this path"),
    };
    let m = match measured {
        Ok(m) => m,
        Err(why) => return unmeasured(check, why.to_string()),
    };
    check.measured = Some(m);
    let low = ratio.min.filter(|&min| m < min);
    let high = ratio.max.filter(|&max| m > max);
    check.verdict = if low.is_some() || high.is_some() {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    check.message = match (low, high) {
        (Some(min), _) => format!(
            "measured {}, expected >= {}",
            fmt_near(m, min),
            fmt_ratio(min)
        ),
        (_, Some(max)) => format!(
            "measured {}, expected <= {}",
            fmt_near(m, max),
            fmt_ratio(max)
        ),
        _ => {
            let bounds: Vec<String> = [
                ratio.min.map(|v| format!(">= {}", fmt_ratio(v))),
                ratio.max.map(|v| format!("<= {}", fmt_ratio(v))),
            ]
            .into_iter()
            .flatten()
            .collect();
            if bounds.is_empty() {
                format!("measured {}, no bound", fmt_ratio(m))
            } else {
                let nearest = [ratio.min, ratio.max]
                    .into_iter()
                    .flatten()
                    .min_by(|a, b| (m - a).abs().total_cmp(&(m - b).abs()));
                format!(
                    "measured {}, expected {}",
                    nearest.map_or_else(|| fmt_ratio(m), |n| fmt_near(m, n)),
                    bounds.join(" and ")
                )
            }
        }
    };
    check
}

/// A ratio with two decimals, or three when the bound has them (0.955).
pub fn fmt_ratio(v: f64) -> String {
    let two = format!("{v:.2}");
    if (two.parse::<f64>().unwrap_or(v) - v).abs() < 1e-9 {
        two
    } else {
        format!("{v:.3}")
    }
}

/// Formats `m` with enough decimals that it never prints equal to `bound`
/// when it is not ("measured 0.899, expected >= 0.90", not "0.90 ... >= 0.90").
fn fmt_near(m: f64, bound: f64) -> String {
    for d in 2..=6 {
        let s = format!("{m:.d$}");
        if s.parse::<f64>().map_or(true, |r| (r - bound).abs() > 1e-12) || (m - bound).abs() < 1e-12
        {
            return s;
        }
    }
    format!("{m}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use crate::lab::model::Sp;

    fn info(name: &str, baseline: bool, rate: Option<u64>) -> ScenarioInfo {
        ScenarioInfo {
            name: name.into(),
            baseline,
            link_rate_bps: rate,
        }
    }

    fn ok(name: &str, gbps: f64, cpu: (f64, f64)) -> Run {
        Run {
            scenario: name.into(),
            outcome: Outcome::Measured(Sample {
                bits_per_second: gbps * 1e9,
                cpu_host: Some(cpu.0),
                cpu_remote: Some(cpu.1),
            }),
        }
    }

    fn failed(name: &str) -> Run {
        Run {
            scenario: name.into(),
            outcome: Outcome::CouldNotRun {
                message: "iperf3 could not run: busy".into(),
            },
        }
    }

    fn ratio(scenario: &str, of: RatioOf, min: Option<f64>, max: Option<f64>) -> Ratio {
        Ratio {
            name: format!("{scenario}-{of:?}"),
            scenario: Sp::new(scenario.into(), Span::default()),
            of,
            min,
            max,
            span: Span::default(),
        }
    }

    /// Baseline and one scenario over rounds given as (baseline, scenario) Gbit/s.
    fn pair_rounds(pairs: &[(f64, f64)]) -> Vec<Round> {
        pairs
            .iter()
            .map(|&(b, s)| Round {
                runs: vec![ok("raw", b, (10.0, 10.0)), ok("x", s, (20.0, 30.0))],
            })
            .collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn medians_odd_even_single() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }

    #[test]
    fn ratio_is_median_of_per_round_ratios() {
        // Baseline drifts; the scenario tracks it at 0.5 except one odd round.
        let rounds = pair_rounds(&[
            (10.0, 5.0),
            (20.0, 10.0),
            (10.0, 9.0),
            (8.0, 4.0),
            (12.0, 6.0),
        ]);
        let sc = [
            info("raw", true, Some(10_000_000_000)),
            info("x", false, Some(10_000_000_000)),
        ];
        let s = summarize(&sc, &rounds, &StatsConfig::default());
        let x = &s[1];
        assert_eq!(x.round_ratios.len(), 5);
        assert!(close(x.ratio_to_baseline, 0.5), "{:?}", x.ratio_to_baseline);
        // A ratio of medians would say 6/10 = 0.6: that is why per-round ratios are used.
        assert!(close(x.median_gbps, 6.0));
        assert!(close(x.min_gbps, 4.0) && close(x.max_gbps, 10.0));
        assert!(close(x.ratio_to_rate, 0.6));
        assert!(close(x.cpu_host_mean, 20.0) && close(x.cpu_remote_mean, 30.0));
        assert!(!x.cpu_bound);
        assert_eq!((x.runs, x.measured), (5, 5));
        let raw = &s[0];
        assert!(close(raw.ratio_to_baseline, 1.0));
        assert!(close(raw.median_gbps, 10.0));
    }

    #[test]
    fn even_rounds_and_one_round() {
        let sc = [info("raw", true, None), info("x", false, None)];
        let s = summarize(
            &sc,
            &pair_rounds(&[(10.0, 8.0), (10.0, 9.0), (10.0, 10.0), (10.0, 12.0)]),
            &StatsConfig::default(),
        );
        assert!(close(s[1].ratio_to_baseline, 0.95));
        assert!(close(s[1].median_gbps, 9.5));
        assert_eq!(s[1].ratio_to_rate, None);
        let s = summarize(&sc, &pair_rounds(&[(10.0, 25.0)]), &StatsConfig::default());
        assert!(close(s[1].ratio_to_baseline, 2.5));
        assert!(close(s[1].min_gbps, 25.0) && close(s[1].max_gbps, 25.0));
    }

    #[test]
    fn pairs_with_the_nearest_baseline_in_the_round() {
        // baseline, a, baseline, b: b pairs with the second baseline run.
        let rounds = vec![Round {
            runs: vec![
                ok("raw", 10.0, (0.0, 0.0)),
                ok("a", 5.0, (0.0, 0.0)),
                ok("raw", 20.0, (0.0, 0.0)),
                ok("b", 5.0, (0.0, 0.0)),
            ],
        }];
        let sc = [
            info("raw", true, None),
            info("a", false, None),
            info("b", false, None),
        ];
        let s = summarize(&sc, &rounds, &StatsConfig::default());
        assert!(close(s[1].ratio_to_baseline, 0.5));
        assert!(close(s[2].ratio_to_baseline, 0.25));
        assert_eq!(s[0].measured, 2);
        // A scenario run before any baseline pairs with the one after it.
        let rounds = vec![Round {
            runs: vec![ok("a", 5.0, (0.0, 0.0)), ok("raw", 10.0, (0.0, 0.0))],
        }];
        assert!(close(
            summarize(&sc, &rounds, &StatsConfig::default())[1].ratio_to_baseline,
            0.5
        ));
    }

    #[test]
    fn round_plan_interleaves_the_baseline() {
        let sc = [
            info("a", false, None),
            info("raw", true, None),
            info("b", false, None),
        ];
        assert_eq!(round_plan(&sc), vec![1, 0, 1, 2]);
        assert_eq!(round_plan(&sc[1..2]), vec![0]);
        assert_eq!(
            round_plan(&[info("a", false, None), info("b", false, None)]),
            vec![0, 1]
        );
        assert!(round_plan(&[]).is_empty());
    }

    #[test]
    fn cpu_bound_flag_uses_either_end_and_is_configurable() {
        let rounds = vec![Round {
            runs: vec![ok("raw", 10.0, (95.0, 20.0)), ok("x", 10.0, (50.0, 91.0))],
        }];
        let sc = [info("raw", true, None), info("x", false, None)];
        let s = summarize(&sc, &rounds, &StatsConfig::default());
        assert!(s[0].cpu_bound && s[1].cpu_bound);
        let s = summarize(
            &sc,
            &rounds,
            &StatsConfig {
                cpu_bound_percent: 96.0,
            },
        );
        assert!(!s[0].cpu_bound && !s[1].cpu_bound);
    }

    #[test]
    fn failures_are_kept_apart_from_figures() {
        let mut rounds = pair_rounds(&[(10.0, 9.0), (10.0, 9.0), (10.0, 9.0)]);
        rounds[1].runs[1] = failed("x");
        rounds[2].runs[0] = failed("raw");
        let sc = [
            info("raw", true, Some(10_000_000_000)),
            info("x", false, Some(10_000_000_000)),
        ];
        let s = summarize(&sc, &rounds, &StatsConfig::default());
        let x = &s[1];
        assert_eq!((x.runs, x.measured), (3, 2));
        assert_eq!(x.failures, vec!["round 2: iperf3 could not run: busy"]);
        assert_eq!(x.unpaired, vec!["round 3: the baseline run failed"]);
        assert_eq!(x.round_ratios, vec![0.9]);

        let checks = check_ratios(
            &[
                ratio("x", RatioOf::Baseline, Some(0.5), None),
                ratio("raw", RatioOf::Rate, Some(0.9), Some(1.0)),
            ],
            &s,
        );
        assert_eq!(checks[0].verdict, Verdict::Unmeasured);
        assert_eq!(checks[0].measured, None);
        assert_eq!(
            checks[0].message,
            "could not measure: round 2: iperf3 could not run: busy (and 1 more)"
        );
        assert_eq!(checks[1].verdict, Verdict::Unmeasured);
        assert!(
            checks[1].message.contains("round 3"),
            "{}",
            checks[1].message
        );
    }

    #[test]
    fn zero_or_nan_sample_is_a_failure_not_a_figure() {
        let mut rounds = pair_rounds(&[(10.0, 9.0)]);
        rounds[0].runs[1].outcome = Outcome::Measured(Sample {
            bits_per_second: f64::NAN,
            cpu_host: None,
            cpu_remote: None,
        });
        let s = summarize(
            &[info("raw", true, None), info("x", false, None)],
            &rounds,
            &StatsConfig::default(),
        );
        assert_eq!(s[1].median_gbps, None);
        assert_eq!(s[1].failures.len(), 1);
    }

    #[test]
    fn bounds_are_one_sided_with_measured_vs_expected() {
        let rounds = pair_rounds(&[(10.0, 8.7)]);
        let sc = [
            info("raw", true, Some(10_000_000_000)),
            info("x", false, Some(10_000_000_000)),
        ];
        let s = summarize(&sc, &rounds, &StatsConfig::default());
        let c = check_ratio(&ratio("x", RatioOf::Baseline, Some(0.9), None), Some(&s[1]));
        assert_eq!(
            (c.verdict, c.message.as_str()),
            (Verdict::Fail, "measured 0.87, expected >= 0.90")
        );
        let c = check_ratio(&ratio("x", RatioOf::Baseline, None, Some(0.8)), Some(&s[1]));
        assert_eq!(
            (c.verdict, c.message.as_str()),
            (Verdict::Fail, "measured 0.87, expected <= 0.80")
        );
        let c = check_ratio(
            &ratio("x", RatioOf::Baseline, Some(0.8), Some(1.05)),
            Some(&s[1]),
        );
        assert_eq!(
            (c.verdict, c.message.as_str()),
            (Verdict::Pass, "measured 0.87, expected >= 0.80 and <= 1.05")
        );
        let c = check_ratio(&ratio("x", RatioOf::Rate, Some(0.955), None), Some(&s[1]));
        assert_eq!(
            (c.verdict, c.message.as_str()),
            (Verdict::Fail, "measured 0.87, expected >= 0.955")
        );
        assert_eq!(c.of, "rate");
        // Exactly on a bound passes.
        let c = check_ratio(
            &ratio("x", RatioOf::Rate, Some(0.87), Some(0.87)),
            Some(&s[1]),
        );
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.message);
    }

    #[test]
    fn measured_never_prints_equal_to_the_bound_it_misses() {
        let rounds = pair_rounds(&[(10.0, 8.996)]);
        let s = summarize(
            &[info("raw", true, None), info("x", false, None)],
            &rounds,
            &StatsConfig::default(),
        );
        let c = check_ratio(&ratio("x", RatioOf::Baseline, Some(0.9), None), Some(&s[1]));
        assert_eq!(c.message, "measured 0.8996, expected >= 0.90");
    }

    #[test]
    fn missing_references_are_unmeasured() {
        let rounds = vec![Round {
            runs: vec![ok("x", 5.0, (0.0, 0.0))],
        }];
        let s = summarize(&[info("x", false, None)], &rounds, &StatsConfig::default());
        let c = check_ratio(&ratio("x", RatioOf::Baseline, Some(0.9), None), Some(&s[0]));
        assert_eq!(
            (c.verdict, c.message.as_str()),
            (
                Verdict::Unmeasured,
                "could not measure: no baseline scenario to compare with"
            )
        );
        let c = check_ratio(&ratio("x", RatioOf::Rate, Some(0.9), None), Some(&s[0]));
        assert_eq!(
            c.message,
            "could not measure: no link rate is configured for this path"
        );
        let c = check_ratio(&ratio("y", RatioOf::Rate, Some(0.9), None), None);
        assert_eq!(c.message, "could not measure: scenario `y` was not run");
    }

    #[test]
    fn outcome_from_parse_keeps_the_class() {
        let busy = include_str!("../../tests/fixtures/iperf3/busy.json");
        let o: Outcome = super::super::iperf::parse(busy).into();
        assert!(matches!(o, Outcome::CouldNotRun { .. }));
        let o: Outcome = super::super::iperf::parse("").into();
        assert!(matches!(o, Outcome::Unusable { .. }));
        let o: Outcome =
            super::super::iperf::parse(include_str!("../../tests/fixtures/iperf3/normal.json"))
                .into();
        assert!(o.sample().is_some());
    }
}
