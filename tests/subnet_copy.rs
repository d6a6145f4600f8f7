//! `--subnet` copies (issue 10.13): every address of the lab written in a
//! shipped lab file moves with the copy, so a copy's checks never probe the
//! original's subnet. Checked on every shipped lab's checks and role variables.

use labctl::lab::CheckKind;
use labctl::lifecycle::relocate;

/// Every string of a lab's checks and role variables, labelled.
fn strings(lab: &labctl::lab::Lab) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in &lab.nodes {
        for (k, v) in &n.vars {
            out.push((format!("node {} var {k}", n.name), v.value.clone()));
        }
    }
    for c in &lab.checks {
        let mut add =
            |what: &str, s: &str| out.push((format!("check {:?} {what}", c.name), s.to_string()));
        match &c.kind {
            CheckKind::Http { url, body, .. } => {
                add("url", url);
                body.iter().for_each(|b| add("body", b));
            }
            CheckKind::Command { run, stdout, .. } => {
                add("run", run);
                stdout.iter().for_each(|b| add("stdout", b));
            }
            CheckKind::File { path, contains, .. } => {
                add("path", path);
                contains.iter().for_each(|b| add("contains", b));
            }
            CheckKind::Cron { contains, .. } => contains.iter().for_each(|b| add("contains", b)),
            CheckKind::Disk { device, .. } => device.iter().for_each(|b| add("device", b)),
            _ => {}
        }
    }
    out
}

#[test]
fn a_subnet_copy_moves_every_address_of_the_lab() {
    let new: ipnet::Ipv4Net = "192.168.99.0/24".parse().unwrap();
    let mut moved_somewhere = 0;
    for name in labctl::assets::lab_names() {
        let mut lab = labctl::load::load(&name).unwrap().lab;
        let old = lab.network.subnet.value;
        let old_prefix = format!("{}.", old.network().to_string().rsplit_once('.').unwrap().0);
        let old_escaped = old_prefix.replace('.', "\\.");
        let before = strings(&lab);
        relocate(&mut lab, Some("copy"), Some(new)).unwrap();
        for ((what, was), (_, now)) in before.iter().zip(strings(&lab)) {
            assert!(
                !now.contains(&old_prefix) && !now.contains(&old_escaped),
                "lab {name}: {what} still names the original subnet {old}: {now}"
            );
            if was != &now {
                assert!(
                    now.contains("192.168.99.") || now.contains(r"192\.168\.99\."),
                    "{now}"
                );
                moved_somewhere += 1;
            }
        }
        for n in &lab.nodes {
            assert!(
                new.contains(&n.ip),
                "lab {name}: node {} at {}",
                n.name,
                n.ip
            );
        }
    }
    // The shipped labs hold literal addresses outside http URLs (command checks).
    assert!(moved_somewhere > 0);
}

#[test]
fn a_command_check_of_the_workflow_copy_probes_the_copy() {
    let mut lab = labctl::load::load("workflow").unwrap().lab;
    relocate(
        &mut lab,
        Some("wf2"),
        Some("192.168.60.0/24".parse().unwrap()),
    )
    .unwrap();
    let runs: Vec<&str> = lab
        .checks
        .iter()
        .filter_map(|c| match &c.kind {
            CheckKind::Command { run, .. } => Some(run.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("http://192.168.60.2/centraladmin_web.git")),
        "{runs:?}"
    );
    assert!(runs.iter().all(|r| !r.contains("192.168.57.")), "{runs:?}");
}
