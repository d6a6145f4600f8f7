//! The bench's SVG bar chart: one bar per scenario at its median Gbit/s, a
//! min-max whisker, a dashed line at the baseline's median, and each bar's % of
//! the baseline above it, so the write-up's picture (cross-host at 100%,
//! same-host above) reads at a glance.
//!
//! Drawn with plotters' SVG backend (no font files: SVG text is laid out by the
//! viewer, plotters only estimates widths).

use super::stats::ScenarioSummary;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Bar fill of a scenario. Public within the crate so tests can count bars.
pub(crate) const BAR: RGBColor = RGBColor(0x4c, 0x78, 0xa8);
/// Bar fill of the baseline scenario.
pub(crate) const BASELINE_BAR: RGBColor = RGBColor(0x9d, 0x9d, 0x9d);
const WHISKER: RGBColor = RGBColor(0x22, 0x22, 0x22);
const BASELINE_LINE: RGBColor = RGBColor(0xd6, 0x27, 0x28);

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the bench chart: {0}")]
pub struct ChartError(String);

fn err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError(e.to_string())
}

/// Renders the chart as an SVG document. Scenarios without a figure keep their
/// slot, labelled "not measured", instead of showing a zero bar.
pub fn svg(title: &str, summaries: &[ScenarioSummary]) -> Result<String, ChartError> {
    let n = summaries.len();
    // Wide enough slots that scenario names do not run into each other.
    let longest = summaries
        .iter()
        .map(|s| s.scenario.chars().count())
        .max()
        .unwrap_or(0);
    let slot = (longest as u32 * 7 + 24).clamp(110, 300);
    let width = (100 + slot * n.max(1) as u32).max(480);
    let height = 480;

    let base = summaries
        .iter()
        .find(|s| s.baseline)
        .and_then(|s| s.median_gbps);
    let top = summaries
        .iter()
        .filter_map(|s| s.max_gbps.or(s.median_gbps))
        .chain(base)
        .fold(0.0f64, f64::max);
    let y_max = if top > 0.0 { top * 1.18 } else { 1.0 };

    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let last = n.max(1) as i32 - 1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((0..last).into_segmented(), 0f64..y_max)
            .map_err(err)?;
        let name_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => summaries
                .get(*i as usize)
                .map(|s| s.scenario.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(1))
            .x_label_formatter(&name_of)
            .x_label_style(("sans-serif", 13))
            .y_desc("Gbit/s (median of rounds)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(err)?;

        let bars = summaries.iter().enumerate().filter_map(|(i, s)| {
            let m = s.median_gbps?;
            let color = if s.baseline { BASELINE_BAR } else { BAR };
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i as i32), 0.0),
                    (SegmentValue::Exact(i as i32 + 1), m),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, slot / 5, slot / 5);
            Some(bar)
        });
        chart.draw_series(bars).map_err(err)?;

        whiskers(&mut chart, summaries)?;
        if let Some(b) = base {
            let line = DashedPathElement::new(
                vec![
                    (SegmentValue::Exact(0), b),
                    (SegmentValue::Exact(last + 1), b),
                ],
                6,
                4,
                ShapeStyle::from(&BASELINE_LINE).stroke_width(2),
            );
            chart.draw_series(std::iter::once(line)).map_err(err)?;
            // In the top-left corner, where no bar label can sit under it.
            let label = EmptyElement::at((SegmentValue::Exact(0), y_max))
                + Text::new(
                    format!("- - baseline {b:.2} Gbit/s"),
                    (8, 6),
                    ("sans-serif", 12)
                        .into_font()
                        .color(&BASELINE_LINE)
                        .pos(Pos::new(HPos::Left, VPos::Top)),
                );
            chart.draw_series(std::iter::once(label)).map_err(err)?;
        }

        bar_labels(&mut chart, summaries)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// The chart's coordinates: one segment per scenario, Gbit/s upward.
type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<SegmentedCoord<RangedCoordi32>, RangedCoordf64>>;

/// min-max whiskers: a vertical line with caps 16 px wide.
fn whiskers(chart: &mut Chart<'_, '_>, summaries: &[ScenarioSummary]) -> Result<(), ChartError> {
    for (i, s) in summaries.iter().enumerate() {
        let (Some(lo), Some(hi)) = (s.min_gbps, s.max_gbps) else {
            continue;
        };
        let x = SegmentValue::CenterOf(i as i32);
        let style = ShapeStyle::from(&WHISKER).stroke_width(2);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x.clone(), lo), (x.clone(), hi)],
                style,
            )))
            .map_err(err)?;
        for y in [lo, hi] {
            let cap =
                EmptyElement::at((x.clone(), y)) + PathElement::new(vec![(-8, 0), (8, 0)], style);
            chart.draw_series(std::iter::once(cap)).map_err(err)?;
        }
    }

    Ok(())
}

/// % of raw above each bar (above its whisker), or why there is no bar.
fn bar_labels(chart: &mut Chart<'_, '_>, summaries: &[ScenarioSummary]) -> Result<(), ChartError> {
    let centered = Pos::new(HPos::Center, VPos::Bottom);
    for (i, s) in summaries.iter().enumerate() {
        let x = SegmentValue::CenterOf(i as i32);
        let (text, y) = match (s.median_gbps, s.ratio_to_baseline) {
            (Some(m), Some(r)) => (
                format!("{:.0}% ({m:.1})", r * 100.0),
                s.max_gbps.unwrap_or(m),
            ),
            (Some(m), None) => (format!("{m:.1}"), s.max_gbps.unwrap_or(m)),
            (None, _) => ("not measured".to_string(), 0.0),
        };
        let label = EmptyElement::at((x, y))
            + Text::new(
                text,
                (0, -6),
                TextStyle::from(("sans-serif", 13).into_font()).pos(centered),
            );
        chart.draw_series(std::iter::once(label)).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(
        name: &str,
        baseline: bool,
        median: Option<f64>,
        ratio: Option<f64>,
    ) -> ScenarioSummary {
        ScenarioSummary {
            scenario: name.into(),
            baseline,
            runs: 3,
            measured: if median.is_some() { 3 } else { 0 },
            median_gbps: median,
            min_gbps: median.map(|m| m * 0.95),
            max_gbps: median.map(|m| m * 1.05),
            cpu_host_mean: None,
            cpu_remote_mean: None,
            cpu_bound: false,
            ratio_to_baseline: ratio,
            round_ratios: vec![],
            ratio_to_rate: None,
            link_rate_bps: None,
            failures: vec![],
            unpaired: vec![],
        }
    }

    fn fill_of(node: &roxmltree::Node) -> Option<String> {
        node.attribute("fill").map(str::to_ascii_lowercase)
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
    }

    fn write_up() -> Vec<ScenarioSummary> {
        vec![
            summary("raw", true, Some(9.40), Some(1.0)),
            summary("cross-host-mode", false, Some(9.40), Some(1.0)),
            summary("cross-bridge", false, Some(9.40), Some(1.0)),
            summary("same-host-bridge", false, Some(23.8), Some(2.5)),
            summary("c2c-external & <proxy>", false, Some(8.0), Some(0.85)),
            summary("c2c-internal", false, Some(21.0), Some(2.2)),
        ]
    }

    #[test]
    fn well_formed_with_one_bar_per_scenario() {
        let sums = write_up();
        let text = svg("bench: Docker network modes", &sums).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let rects: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .collect();
        let bars = rects
            .iter()
            .filter(|r| fill_of(r) == Some(hex(BAR)))
            .count();
        let base = rects
            .iter()
            .filter(|r| fill_of(r) == Some(hex(BASELINE_BAR)))
            .count();
        assert_eq!((base, bars), (1, sums.len() - 1), "{text}");
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(|t| t.trim().to_string()))
            .collect();
        for s in &sums {
            assert!(
                texts.contains(&s.scenario),
                "axis label for {} missing in {texts:?}",
                s.scenario
            );
        }
        assert!(texts.iter().any(|t| t.starts_with("250%")), "{texts:?}");
        assert!(texts.iter().any(|t| t == "bench: Docker network modes"));
        assert!(
            texts.iter().any(|t| t.starts_with("- - baseline 9.40")),
            "{texts:?}"
        );
    }

    #[test]
    fn unmeasured_scenario_has_no_bar_but_a_label() {
        let mut sums = write_up();
        sums[2] = summary("cross-bridge", false, None, None);
        let text = svg("t", &sums).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let bars = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && fill_of(n) == Some(hex(BAR)))
            .count();
        assert_eq!(bars, 4);
        assert!(text.contains("not measured"));
    }

    #[test]
    fn degenerate_inputs_still_give_valid_svg() {
        for sums in [
            vec![],
            vec![summary("only", false, None, None)],
            vec![summary("raw", true, Some(1.0), Some(1.0))],
        ] {
            let text = svg("t", &sums).unwrap();
            roxmltree::Document::parse(&text).expect("well-formed XML");
        }
    }
}
