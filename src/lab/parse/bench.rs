//! `[[scenario]]` and `[[ratio]]`: iperf3 endpoints, durations, ratio bounds.

use super::*;

pub(super) const SCENARIO_KEYS: &[&str] = &[
    "name",
    "description",
    "baseline",
    "client",
    "server",
    "duration",
    "omit",
    "parallel",
];

pub(super) const ENDPOINT_KEYS: &[&str] = &["node", "container", "address"];

pub(super) const RATIO_KEYS: &[&str] = &["name", "scenario", "of", "min", "max"];

pub(super) const BENCH_KEYS: &[&str] = &["rounds"];

pub(super) fn parse_endpoint(o: &mut Obj<'_>, key: &str, cx: &mut Ctx) -> Option<BenchEndpoint> {
    let v = o.take(key)?;
    let mut e = Obj::from_value(v, &o.key_path(key), ENDPOINT_KEYS, cx)?;
    let span = e.span;
    let node = node_ref(&mut e, "node", cx);
    let container = match e.string("container", cx) {
        None => ContainerMode::None,
        Some(c) => match c.value.as_str() {
            "none" => ContainerMode::None,
            "host" => ContainerMode::Host,
            "bridge" => ContainerMode::Bridge,
            _ => {
                cx.err(
                    &e.key_path("container"),
                    c.span,
                    format!("unknown container mode {:?}", truncate(&c.value)),
                    "one of: none, host, bridge",
                );
                ContainerMode::None
            }
        },
    };
    let address = match e.string("address", cx) {
        None => AddressMode::Node,
        Some(a) => match a.value.as_str() {
            "node" => AddressMode::Node,
            "container" => {
                if container != ContainerMode::Bridge {
                    cx.err(
                        &e.key_path("address"),
                        a.span,
                        "address = \"container\" needs a bridge container",
                        "container = \"bridge\"",
                    );
                }
                AddressMode::Container
            }
            _ => {
                cx.err(
                    &e.key_path("address"),
                    a.span,
                    format!("unknown address mode {:?}", truncate(&a.value)),
                    "one of: node, container",
                );
                AddressMode::Node
            }
        },
    };
    let path = e.path.clone();
    e.finish(cx);
    match node {
        Some(n) => Some(BenchEndpoint {
            node: n,
            container,
            address,
        }),
        None => {
            cx.err(
                &path,
                span,
                "endpoint needs a `node`",
                "{ node = \"server\" }",
            );
            None
        }
    }
}

pub(super) fn parse_scenario(mut o: Obj<'_>, cx: &mut Ctx) -> Option<Scenario> {
    let present = o.has("name");
    let name = require(
        o.string("name", cx),
        &o,
        "name",
        "name = \"raw\"",
        present,
        cx,
    );
    if let Some(n) = &name {
        check_re(
            &o.key_path("name"),
            n,
            &ROLE_NAME,
            "a scenario name: a-z first, then a-z, 0-9, _, -",
            cx,
        );
    }
    let description = o.string("description", cx);
    if let Some(d) = &description {
        check_text(&o.key_path("description"), d, MAX_TEXT, cx);
    }
    let baseline = o.bool("baseline", cx).map(|b| b.value).unwrap_or(false);
    let has_c = o.has("client");
    let client = require(
        parse_endpoint(&mut o, "client", cx),
        &o,
        "client",
        "client = { node = \"client\" }",
        has_c,
        cx,
    );
    let has_s = o.has("server");
    let server = require(
        parse_endpoint(&mut o, "server", cx),
        &o,
        "server",
        "server = { node = \"server\" }",
        has_s,
        cx,
    );
    let (has_duration, has_omit) = (o.has("duration"), o.has("omit"));
    let duration_sp = o.int_in("duration", 1, 600, "seconds", cx);
    let omit_sp = o.int_in("omit", 0, 60, "seconds", cx);
    let duration = duration_sp.as_ref().map(|d| d.value as u32).unwrap_or(10);
    let omit = omit_sp.as_ref().map(|d| d.value as u32).unwrap_or(1);
    // Checked here, where the values' spans are known; a bad value is reported already.
    if (duration_sp.is_some() || !has_duration)
        && (omit_sp.is_some() || !has_omit)
        && omit >= duration
    {
        let (key, span) = match (&omit_sp, &duration_sp) {
            (Some(om), _) => ("omit", om.span),
            (None, Some(d)) => ("duration", d.span),
            (None, None) => ("omit", o.span),
        };
        cx.err(
            &o.key_path(key),
            span,
            format!("omit ({omit}s) is not below duration ({duration}s)"),
            "omit < duration",
        );
    }
    let parallel = o
        .int_in("parallel", 1, 128, "a stream count", cx)
        .map(|d| d.value as u32)
        .unwrap_or(1);
    o.finish(cx);
    Some(Scenario {
        name: name?,
        description: description.map(|d| d.value).unwrap_or_default(),
        baseline,
        client: client?,
        server: server?,
        duration_s: duration,
        omit_s: omit,
        parallel,
    })
}

/// `has_bandwidth`: whether the lab's [network] sets a bandwidth (`None` when the
/// network itself was rejected).
pub(super) fn parse_ratio(
    mut o: Obj<'_>,
    has_bandwidth: Option<bool>,
    cx: &mut Ctx,
) -> Option<Ratio> {
    let span = o.span;
    // Alike on purpose (duplicates): a ratio's name is read like a check's
    // (check.rs), with its own message.
    let name = o.string("name", cx);
    if let Some(n) = &name {
        check_re(
            &o.key_path("name"),
            n,
            &CHECK_NAME,
            "a name: letters, digits, spaces and ._:/()-",
            cx,
        );
    }
    let present = o.has("scenario");
    let scenario = require(
        o.string("scenario", cx),
        &o,
        "scenario",
        "scenario = \"host-mode\"",
        present,
        cx,
    );
    let of = match o.string("of", cx) {
        None => RatioOf::Baseline,
        Some(s) if s.value == "baseline" => RatioOf::Baseline,
        Some(s) if s.value == "rate" => {
            if has_bandwidth == Some(false) {
                cx.err(
                    &o.key_path("of"),
                    s.span,
                    "ratio against the rate, but the lab sets no [network] bandwidth",
                    "[network] bandwidth = \"2Gbit\"",
                );
            }
            RatioOf::Rate
        }
        Some(s) => {
            cx.err(
                &o.key_path("of"),
                s.span,
                format!("unknown ratio base {:?}", truncate(&s.value)),
                "one of: baseline, rate",
            );
            RatioOf::Baseline
        }
    };
    let min = o.float("min", cx);
    let max = o.float("max", cx);
    for (key, b) in [("min", &min), ("max", &max)] {
        let Some(b) = b else { continue };
        if !(b.value.is_finite() && b.value >= 0.0 && b.value <= 100.0) {
            cx.err(
                &o.key_path(key),
                b.span,
                format!("bound {} is out of range", b.value),
                "a ratio between 0 and 100",
            );
        }
    }
    if min.is_none() && max.is_none() {
        cx.err(
            &o.path,
            span,
            "a ratio needs `min`, `max` or both",
            "min = 0.9",
        );
    }
    if let (Some(lo), Some(hi)) = (&min, &max) {
        if lo.value > hi.value {
            cx.err(
                &o.key_path("max"),
                hi.span,
                format!("max {} is below min {}", hi.value, lo.value),
                "max >= min",
            );
        }
    }
    o.finish(cx);
    let scenario = scenario?;
    let of_name = match of {
        RatioOf::Baseline => "baseline",
        RatioOf::Rate => "rate",
    };
    Some(Ratio {
        name: name
            .map(|n| n.value)
            .unwrap_or_else(|| format!("{} vs {of_name}", scenario.value)),
        scenario,
        of,
        min: min.map(|m| m.value),
        max: max.map(|m| m.value),
        span,
    })
}
