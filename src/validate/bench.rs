//! Bench scenarios and ratios: unique names, nodes that exist and can run
//! containers, exactly one baseline, ratios of known scenarios.

use super::*;

/// Scenarios and ratios.
pub(super) fn scenarios_and_ratios(lab: &Lab, cx: &mut Ctx) {
    // Bench scenarios and ratios.
    let mut scen_names = BTreeSet::new();
    let baselines: Vec<&Scenario> = lab.scenarios.iter().filter(|s| s.baseline).collect();
    for (i, s) in lab.scenarios.iter().enumerate() {
        let key = format!("scenario[{i}]");
        if !scen_names.insert(s.name.value.as_str()) {
            cx.push(
                Diagnostic::error(
                    format!("{key}.name"),
                    Some(s.name.span),
                    format!("duplicate scenario `{}`", s.name.value),
                )
                .expected("unique scenario names"),
            );
        }
        node_exists(lab, &s.client.node, format!("{key}.client.node"), cx);
        node_exists(lab, &s.server.node, format!("{key}.server.node"), cx);
        for (ep, which) in [(&s.client, "client"), (&s.server, "server")] {
            if ep.container != ContainerMode::None {
                if let Some(n) = lab.node(&ep.node.value) {
                    // An existing machine is no container: it runs the
                    // bench's containers in the engine docker-host installs,
                    // and that role's record is how `down` removes the
                    // bench's image (docs/hosts.md).
                    let (runs, expected) = if lab.on_hosts() {
                        (
                            n.roles.iter().any(|r| r.value == "docker-host"),
                            "a node with the docker-host role (a hosts lab's containers run in its engine)",
                        )
                    } else {
                        (n.nested_containers, "a node with nested_containers = true")
                    };
                    if !runs {
                        cx.push(
                            Diagnostic::error(
                                format!("{key}.{which}.node"),
                                Some(ep.node.span),
                                format!("node `{}` runs no containers", n.name),
                            )
                            .expected(expected),
                        );
                    }
                }
            }
        }
        // omit < duration is checked while parsing, where both values' spans are known.
    }
    if !lab.scenarios.is_empty() && baselines.len() != 1 {
        let span = baselines
            .get(1)
            .map(|b| b.name.span)
            .or(lab.scenarios.first().map(|s| s.name.span));
        cx.push(
            Diagnostic::error(
                "scenario",
                span,
                format!("{} scenarios are marked baseline = true", baselines.len()),
            )
            .expected("exactly one baseline scenario"),
        );
    }
    for (i, r) in lab.ratios.iter().enumerate() {
        let key = format!("ratio[{i}]");
        if !scen_names.contains(r.scenario.value.as_str()) {
            cx.push(
                Diagnostic::error(
                    format!("{key}.scenario"),
                    Some(r.scenario.span),
                    format!("unknown scenario `{}`", r.scenario.value),
                )
                .expected(format!(
                    "one of: {}",
                    lab.scenarios
                        .iter()
                        .map(|s| s.name.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
        // `of = "rate"` without a [network] bandwidth is reported while parsing, at the value.
    }
}
