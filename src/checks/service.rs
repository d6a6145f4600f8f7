//! `service`: `service NAME status` on a node, as root.

use super::engine::*;
use crate::lab::Lab;
use crate::remote::NodeShell;
use crate::shell::sh_root_args;
use crate::text::*;
use std::time::Duration;

pub(super) fn attempt(
    lab: &Lab,
    node: &str,
    service: &str,
    budget: Duration,
    shell: &dyn NodeShell,
) -> Attempt {
    if let Err(a) = node_ip(lab, node) {
        return a;
    }
    let r = match run_on(
        shell,
        node,
        &sh_root_args(
            include_str!("scripts/service.sh"),
            "labctl-service",
            &[service],
        ),
        budget,
    ) {
        Ok(r) => r,
        Err(a) => return a,
    };
    let output = format!(
        "{}{}",
        tail(&r.stdout, MAX_OUTPUT),
        tail(&r.stderr, MAX_OUTPUT / 2)
    );
    if r.code == 0 {
        Attempt::pass(format!("{service} is running on {node}"), output)
    } else {
        let detail = first_line(&r.stdout);
        let detail = if detail.is_empty() {
            first_line(&r.stderr)
        } else {
            detail
        };
        Attempt::fail(
            format!(
                "`service {service} status` on {node} exited {}: {detail}",
                r.code
            ),
            output,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testing::*;

    #[test]
    fn service_status() {
        let shell = Fake::new().on(
            "lb",
            "status",
            vec![
                ok(3, "haproxy is not running ... failed!\n"),
                ok(0, "haproxy is running.\n"),
            ],
        );
        let (r, seen) = run(
            &patient(CheckKind::Service {
                node: sp("lb"),
                service: "haproxy".into(),
            }),
            &shell,
            &NoHttp,
        );
        assert!(r.passed && r.attempts == 2);
        assert_eq!(
            seen[0],
            "`service haproxy status` on lb exited 3: haproxy is not running ... failed!"
        );
        assert_eq!(r.message, "haproxy is running on lb");

        let shell = Fake::new().on(
            "lb",
            "service",
            vec![with_err(1, "", "haproxy: unrecognized service\n")],
        );
        let (r, _) = run(
            &check(CheckKind::Service {
                node: sp("lb"),
                service: "haproxy".into(),
            }),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed && r.attempts > 1);
        assert_eq!(
            r.message,
            "`service haproxy status` on lb exited 1: haproxy: unrecognized service"
        );
    }
}
