//! `port`: a node listens on a TCP port (`ss -ltn`), and optionally another node connects to it.

use super::engine::*;
use crate::lab::Lab;
use crate::remote::NodeShell;
use crate::shell::sh;
use crate::text::*;
use std::time::Duration;

/// Local addresses of listening TCP sockets in `ss -ltn` output.
pub(super) fn ss_listening(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&"LISTEN") && f.len() >= 4).then(|| f[3].to_string())
        })
        .collect()
}

pub(super) fn addr_port(local: &str) -> Option<u16> {
    local.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

pub(super) fn attempt(
    lab: &Lab,
    node: &str,
    port: u16,
    from: Option<&str>,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    let ip = match node_ip(lab, node) {
        Ok(ip) => ip,
        Err(a) => return a,
    };
    if let Some(f) = from {
        if let Err(a) = node_ip(lab, f) {
            return a;
        }
    }
    let r = match run_on(shell, node, &sh("ss -ltn"), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if r.code != 0 {
        return Attempt::fail(
            format!(
                "`ss -ltn` failed on {node} (exit {}): {}",
                r.code,
                first_line(&r.stderr)
            ),
            r.stderr,
        );
    }
    let listening = ss_listening(&r.stdout);
    let mut ports: Vec<u16> = listening.iter().filter_map(|a| addr_port(a)).collect();
    ports.sort_unstable();
    ports.dedup();
    let mine: Vec<&String> = listening
        .iter()
        .filter(|a| addr_port(a) == Some(port))
        .collect();
    let mut output = format!("listening on {node}: {}\n", listening.join(" "));
    if mine.is_empty() {
        let seen = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return Attempt::fail(
            format!(
                "nothing listens on port {port} on {node} (listening: {})",
                if seen.is_empty() { "none" } else { &seen }
            ),
            output,
        );
    }
    let Some(f) = from else {
        return Attempt::pass(
            format!(
                "{node} listens on {port} ({})",
                mine.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            output,
        );
    };
    let secs = budget.as_secs().clamp(1, 10);
    let r = match run_on(shell, f, &tcp_probe(ip, port, secs), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    output.push_str(&format!(
        "connect from {f} to {ip}:{port}: exit {}\n{}",
        r.code, r.stderr
    ));
    if r.code == 0 {
        Attempt::pass(
            format!("{node} listens on {port} and {f} connects to {ip}:{port}"),
            output,
        )
    } else {
        let why = if r.code == 124 {
            format!("timed out after {secs}s")
        } else {
            first_line(&r.stderr)
        };
        Attempt::fail(
            format!("{node} listens on {port} but {f} cannot connect to {ip}:{port}: {why}"),
            output,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testing::*;

    const SS: &str = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\
                      LISTEN 0      128          0.0.0.0:22        0.0.0.0:*\n\
                      LISTEN 0      4096         0.0.0.0:8080      0.0.0.0:*\n\
                      LISTEN 0      128             [::]:22           [::]:*\n";

    #[test]
    fn port_listening_and_reachable() {
        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]).on(
            "mgmt",
            "labctl-tcp '192.168.57.11' '8080'",
            vec![ok(0, "")],
        );
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 8080,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!(
            r.message,
            "lb listens on 8080 and mgmt connects to 192.168.57.11:8080"
        );
        assert_eq!(shell.calls().len(), 2);

        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]);
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 22,
                from: None,
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.message, "lb listens on 22 (0.0.0.0:22, [::]:22)");
    }

    #[test]
    fn port_not_listening_lists_what_is() {
        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]);
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 80,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "nothing listens on port 80 on lb (listening: 22, 8080)"
        );
        assert!(
            shell.calls().iter().all(|(n, _)| n == "lb"),
            "no probe when nothing listens"
        );
    }

    #[test]
    fn port_unreachable_from_node_then_reachable() {
        // Alike on purpose (duplicates): each port test states its whole scenario.
        let shell = Fake::new().on("lb", "ss -ltn", vec![ok(0, SS)]).on(
            "mgmt",
            "labctl-tcp",
            vec![with_err(1, "", "bash: connect: Connection refused\n")],
        );
        let (r, _) = run(
            &check(CheckKind::Port {
                node: sp("lb"),
                port: 8080,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert_eq!(r.message, "lb listens on 8080 but mgmt cannot connect to 192.168.57.11:8080: bash: connect: Connection refused");

        let shell = Fake::new()
            .on("lb", "ss -ltn", vec![ok(0, "State\n"), ok(0, SS)])
            .on("mgmt", "labctl-tcp", vec![with_err(124, "", ""), ok(0, "")]);
        let (r, seen) = run(
            &patient(CheckKind::Port {
                node: sp("lb"),
                port: 8080,
                from: Some(sp("mgmt")),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.attempts, 3);
        assert_eq!(
            seen[0],
            "nothing listens on port 8080 on lb (listening: none)"
        );
        assert!(seen[1].ends_with("timed out after 5s"), "{}", seen[1]);
    }
}
