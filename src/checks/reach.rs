//! `reach`: one node reaches another by ping or, failing that, TCP port 22.

use super::engine::*;
use crate::lab::Lab;
use crate::remote::NodeShell;
use crate::shell::sh_args;
use std::net::Ipv4Addr;
use std::time::Duration;

/// The reach command for address `ip`: ping, else TCP port 22 (see
/// scripts/reach.sh for why both).
pub(super) fn reach_script(ip: Ipv4Addr) -> String {
    sh_args(
        include_str!("scripts/reach.sh"),
        "labctl-reach",
        &[&ip.to_string()],
    )
}

pub(super) fn attempt(
    lab: &Lab,
    from: &str,
    to: &str,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, from) {
        return a;
    }
    let ip = match node_ip(lab, to) {
        Ok(ip) => ip,
        Err(a) => return a,
    };
    let r = match run_on(shell, from, &reach_script(ip), budget) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let output = format!("{}{}", r.stdout, r.stderr);
    match (r.code, r.stdout.trim()) {
        (0, "icmp") => Attempt::pass(format!("{from} reaches {to} ({ip}) by ping"), output),
        (0, "tcp22") => Attempt::pass(
            format!("{from} reaches {to} ({ip}) by TCP port 22 (no ping reply or no ping)"),
            output,
        ),
        _ => Attempt::fail(
            format!(
                "{from} cannot reach {to} ({ip}): no ping reply and no TCP connection to port 22"
            ),
            output,
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testing::*;

    #[test]
    fn reach_by_ping_or_ssh_port() {
        let reach = || CheckKind::Reach {
            from: sp("web2"),
            to: sp("lb"),
        };
        let shell = Fake::new().on(
            "web2",
            "labctl-reach '192.168.57.11'",
            vec![ok(0, "icmp\n")],
        );
        assert_eq!(
            run(&check(reach()), &shell, &NoHttp).0.message,
            "web2 reaches lb (192.168.57.11) by ping"
        );
        assert!(
            shell.calls()[0].1.contains("ping -c1 -W2 \"$1\"")
                && shell.calls()[0].1.contains("/dev/tcp/$0/22")
        );

        let shell = Fake::new().on("web2", "ping", vec![ok(1, "none\n"), ok(0, "tcp22\n")]);
        let (r, _) = run(&patient(reach()), &shell, &NoHttp);
        assert!(r.passed && r.attempts == 2);
        assert_eq!(
            r.message,
            "web2 reaches lb (192.168.57.11) by TCP port 22 (no ping reply or no ping)"
        );

        let shell = Fake::new().on("web2", "ping", vec![ok(1, "none\n")]);
        let (r, _) = run(&check(reach()), &shell, &NoHttp);
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(
            r.message,
            "web2 cannot reach lb (192.168.57.11): no ping reply and no TCP connection to port 22"
        );
    }
}
