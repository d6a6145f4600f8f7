//! `http`: GET requests from the host or from a node (curl, python3 as fallback), with status, body and spread over backends judged here; the target re-checked against the lab before any packet.

use super::engine::*;
use super::http_client::HostHttp;
use crate::lab::target::{self, Allowed, Refused, Url};
use crate::lab::Lab;
use crate::remote::marker::{self, Piece};
use crate::remote::NodeShell;
use crate::shell::sh_args;
use crate::text::*;
use regex::Regex;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Where an HTTP check may send its requests.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HttpTarget {
    /// The URL as written (curl resolves node names with `--resolve`).
    pub(super) url: String,
    /// The URL with a node name replaced by its address (host client, python3).
    pub(super) url_ip: String,
    /// `(name, port, ip)` when the URL names a node.
    pub(super) resolve: Option<(String, u16, Ipv4Addr)>,
    /// The Host header the URL implies (sent explicitly when `url_ip` differs).
    pub(super) host_header: String,
}

/// Re-check an HTTP target against the lab (the validator did it once; this is
/// the last line before a packet leaves) and resolve node names.
pub(super) fn http_target(
    lab: &Lab,
    from: &crate::lab::CheckFrom,
    url: &str,
) -> Result<HttpTarget, String> {
    let refuse = |why: &str| {
        Err(format!(
            "refusing to send traffic to {url}: {why} (checks only target the lab's own addresses)"
        ))
    };
    let Some(u) = Url::parse(url).filter(Url::is_http) else {
        return refuse("not an http(s) URL labctl understands");
    };
    let from_host = matches!(from, crate::lab::CheckFrom::Host);
    let host_header = match u.port {
        Some(p) => format!("{}:{p}", u.host),
        None => u.host.clone(),
    };
    let mut t = HttpTarget {
        url: url.to_string(),
        url_ip: url.to_string(),
        resolve: None,
        host_header,
    };
    match target::allowed(lab, from, &u) {
        Ok(Allowed::Address(_)) => {}
        Ok(Allowed::Localhost) => t.url_ip = u.with_host("127.0.0.1"),
        Ok(Allowed::Node(n)) => {
            t.url_ip = u.with_host(&n.ip.to_string());
            t.resolve = Some((u.host.clone(), u.port_or_default(), n.ip));
        }
        Err(Refused::LoopbackNotForwarded) => {
            return refuse("the host's loopback is only used on a port the lab forwards")
        }
        Err(Refused::OutsideSubnet(ip)) => {
            return refuse(&format!(
                "{ip} is outside the lab subnet {}",
                lab.network.subnet.value
            ))
        }
        Err(Refused::NotANode(host)) => {
            return refuse(&format!("`{host}` is not a node of this lab"))
        }
    }
    if from_host && u.scheme != "http" {
        return Err(format!("{url}: labctl's host-side client speaks plain http only; run this check from a node (from = \"NODE\")"));
    }
    Ok(t)
}

/// The node-side command: `requests` GETs with curl (python3 when curl is
/// missing), each body followed by a status marker line (scripts/http.sh).
pub(super) fn node_http_script(t: &HttpTarget, requests: u32, per_request: Duration) -> String {
    let secs = per_request.as_secs().max(1);
    let resolve = match &t.resolve {
        Some((name, port, ip)) => format!("{name}:{port}:{ip}"),
        None => String::new(),
    };
    sh_args(
        include_str!("scripts/http.sh"),
        "labctl-http",
        &[
            &requests.to_string(),
            &secs.to_string(),
            &t.url,
            &resolve,
            &t.url_ip,
            &t.host_header,
            include_str!("scripts/http.py"),
        ],
    )
}

/// Split the node script's output into `(status, body)` per request (status 0:
/// no HTTP response).
pub(super) fn parse_node_http(stdout: &str) -> Vec<(u16, String)> {
    let pieces = marker::split(stdout);
    let mut out = Vec::new();
    for (k, p) in pieces.iter().enumerate() {
        let Piece::Marker(m) = p else { continue };
        if m.kind != "http" {
            continue;
        }
        let body = match k.checked_sub(1).map(|b| pieces[b]) {
            Some(Piece::Text(t)) => t,
            _ => "",
        };
        out.push((m.args.trim().parse::<u16>().unwrap_or(0), body.to_string()));
    }
    out
}

/// Whether `name` appears in `body` as a whole word (so `web1` is not found in `web10`).
pub(super) fn names_backend(body: &str, name: &str) -> bool {
    let re = Regex::new(&format!(
        r"(?:^|[^A-Za-z0-9_-]){}(?:$|[^A-Za-z0-9_-])",
        regex::escape(name)
    ))
    .expect("escaped name is a valid regex");
    re.is_match(body)
}

/// One request's result: `(status, body)`, or why there was no response.
type Response = Result<(u16, String), String>;

#[allow(clippy::too_many_arguments)]
pub(super) fn attempt(
    lab: &Lab,
    from: &crate::lab::CheckFrom,
    url: &str,
    status: u16,
    body_re: Option<&Regex>,
    spread: &[&str],
    requests: u32,
    budget: Duration,
    shell: &dyn NodeShell,
    http: &dyn HostHttp,
) -> Attempt {
    let target = match http_target(lab, from, url) {
        Ok(t) => t,
        Err(msg) => return Attempt::fatal(msg),
    };
    let requests = requests.max(1);
    let per_request = (budget / requests).clamp(Duration::from_secs(1).min(budget), MAX_REQUEST);
    let (responses, extra) = match from {
        crate::lab::CheckFrom::Host => (
            from_host(http, &target, requests, per_request, budget),
            String::new(),
        ),
        crate::lab::CheckFrom::Node(node) => {
            match from_node(shell, node, &target, requests, per_request, budget) {
                Ok(x) => x,
                Err(a) => return a,
            }
        }
    };
    let output = describe(&target, from, &responses, &extra);
    let judge = |r: &Response| -> Result<(), String> {
        match r {
            Err(e) => Err(format!("request failed: {}", one_line(e, 200))),
            Ok((c, _)) if *c != status => Err(format!("status {c} (expected {status})")),
            Ok((c, b)) => match body_re {
                Some(re) if !re.is_match(b) => Err(format!(
                    "status {c} but body does not match /{}/ (body: \"{}\")",
                    re.as_str(),
                    one_line(b, 80)
                )),
                _ => Ok(()),
            },
        }
    };
    let verdicts: Vec<Result<(), String>> = responses.iter().map(judge).collect();
    let bad: Vec<&String> = verdicts.iter().filter_map(|v| v.as_ref().err()).collect();
    let re_note = body_re
        .map(|re| format!(", body matches /{}/", re.as_str()))
        .unwrap_or_default();
    if spread.is_empty() {
        plain_verdict(responses.len(), status, &re_note, &bad, output)
    } else {
        spread_verdict(&responses, spread, status, &re_note, &bad, output)
    }
}

/// `requests` GETs from the host, within `budget` altogether.
fn from_host(
    http: &dyn HostHttp,
    target: &HttpTarget,
    requests: u32,
    per_request: Duration,
    budget: Duration,
) -> Vec<Response> {
    let end = Instant::now() + budget;
    (0..requests)
        .map(|_| {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("no time left in this attempt".to_string());
            }
            http.get(&target.url_ip, per_request.min(left))
        })
        .collect()
}

/// `requests` GETs from a node in one command; with the node's stderr as
/// extra output when it said something.
fn from_node(
    shell: &dyn NodeShell,
    node: &str,
    target: &HttpTarget,
    requests: u32,
    per_request: Duration,
    budget: Duration,
) -> Result<(Vec<Response>, String), Attempt> {
    let cmd = node_http_script(target, requests, per_request);
    let r = run_on(shell, node, &cmd, budget)?;
    if r.code == 127 {
        return Err(Attempt::fail(
            format!("cannot send HTTP requests from {node}: neither curl nor python3 is installed"),
            r.stderr,
        ));
    }
    let stderr_first = r
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no HTTP response")
        .to_string();
    let mut v: Vec<Response> = parse_node_http(&r.stdout)
        .into_iter()
        .map(|(c, b)| {
            if c == 0 {
                Err(stderr_first.clone())
            } else {
                Ok((c, b))
            }
        })
        .collect();
    while v.len() < requests as usize {
        v.push(Err(format!("no result (exit {}): {stderr_first}", r.code)));
    }
    v.truncate(requests as usize);
    let mut extra = String::new();
    if !r.stderr.trim().is_empty() {
        extra = format!("stderr from {node}:\n{}\n", tail(&r.stderr, 1500));
    }
    Ok((v, extra))
}

/// The check's output: a histogram of statuses, the last response, `extra`.
fn describe(
    target: &HttpTarget,
    from: &crate::lab::CheckFrom,
    responses: &[Response],
    extra: &str,
) -> String {
    let n = responses.len();
    let mut output = String::new();
    let mut hist: Vec<(String, usize)> = Vec::new();
    for r in responses {
        let k = match r {
            Ok((c, _)) => c.to_string(),
            Err(_) => "error".to_string(),
        };
        match hist.iter_mut().find(|(x, _)| *x == k) {
            Some(e) => e.1 += 1,
            None => hist.push((k, 1)),
        }
    }
    output.push_str(&format!(
        "GET {} x{n} from {}: {}\n",
        target.url,
        from_name(from),
        hist.iter()
            .map(|(k, c)| format!("{k}: {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(r) = responses.last() {
        match r {
            Ok((c, b)) => output.push_str(&format!(
                "last response: status {c}, body:\n{}\n",
                head(b, 2000)
            )),
            Err(e) => output.push_str(&format!("last request failed: {e}\n")),
        }
    }
    output.push_str(extra);
    output
}

/// Without `spread`: every response must pass.
fn plain_verdict(n: usize, status: u16, re_note: &str, bad: &[&String], output: String) -> Attempt {
    if bad.is_empty() {
        if n == 1 {
            Attempt::pass(format!("status {status}{re_note}"), output)
        } else {
            Attempt::pass(
                format!("{n} of {n} responses: status {status}{re_note}"),
                output,
            )
        }
    } else if n == 1 {
        Attempt::fail(bad[0].clone(), output)
    } else {
        Attempt::fail(
            format!("{} of {n} requests failed; first: {}", bad.len(), bad[0]),
            output,
        )
    }
}

/// With `spread`: every listed backend must have answered at least once, and
/// every request must pass.
fn spread_verdict(
    responses: &[Response],
    spread: &[&str],
    status: u16,
    re_note: &str,
    bad: &[&String],
    output: String,
) -> Attempt {
    let n = responses.len();
    let counts: Vec<(&str, usize)> = spread
        .iter()
        .map(|name| {
            (
                *name,
                responses
                    .iter()
                    .filter(|r| matches!(r, Ok((_, b)) if names_backend(b, name)))
                    .count(),
            )
        })
        .collect();
    let count_text = counts
        .iter()
        .map(|(k, c)| format!("{k}: {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let missing: Vec<&str> = counts
        .iter()
        .filter(|(_, c)| *c == 0)
        .map(|(k, _)| *k)
        .collect();
    let bad_text = if bad.is_empty() {
        String::new()
    } else {
        format!("; {} of {n} requests failed, first: {}", bad.len(), bad[0])
    };
    if !missing.is_empty() {
        let which = if missing.len() == 1 {
            format!("backend {} never answered", missing[0])
        } else {
            format!("backends {} never answered", missing.join(", "))
        };
        return Attempt::fail(
            format!(
                "{which}: {count_text} over {n} requests (expected every listed backend){bad_text}"
            ),
            output,
        );
    }
    if !bad.is_empty() {
        return Attempt::fail(
            format!(
                "{} of {n} requests failed, first: {} ({count_text})",
                bad.len(),
                bad[0]
            ),
            output,
        );
    }
    Attempt::pass(
        format!("{count_text} over {n} requests, status {status}{re_note}"),
        output,
    )
}

pub(super) fn from_name(from: &crate::lab::CheckFrom) -> &str {
    match from {
        crate::lab::CheckFrom::Host => "host",
        crate::lab::CheckFrom::Node(n) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::*;
    use crate::shell::{sh, shell_quote};

    #[test]
    fn http_from_node_passes_and_resolves_node_names_without_dns() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![ok(0, &resp(200, "<p>web1 rev abc</p>"))],
        );
        let (r, _) = run(
            &check(http_node("http://web1/", Some("web1"), &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!((r.kind, r.attempts), ("http", 1));
        assert_eq!(r.message, "status 200, body matches /web1/");
        let cmd = &shell.calls()[0].1;
        assert!(cmd.contains(&shell_quote("web1:80:192.168.57.21")), "{cmd}");
        assert!(
            cmd.contains("--noproxy"),
            "proxies from the node's environment are ignored"
        );
    }

    #[test]
    fn http_from_node_fails_on_status_and_body() {
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &resp(503, "down"))]);
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(r.message, "status 503 (expected 200)");
        assert!(r.attempts > 1, "retried until the timeout");

        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &resp(200, "web2\nhere"))]);
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", Some("web1"), &[], 1)),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "status 200 but body does not match /web1/ (body: \"web2 here\")"
        );
    }

    #[test]
    fn http_from_node_reports_connection_errors_from_stderr() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![with_err(
                0,
                &resp(0, ""),
                "curl: (7) Failed to connect to 192.168.57.21 port 80: Connection refused\n",
            )],
        );
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert!(r.message.contains("Connection refused"), "{}", r.message);
        assert!(r.output.contains("curl: (7)"));
    }

    #[test]
    fn http_retries_then_passes_and_reports_the_last_failure_on_timeout() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![
                ok(0, &resp(502, "")),
                Err("ssh: connection reset".into()),
                ok(0, &resp(200, "ok")),
            ],
        );
        let (r, seen) = run(
            &patient(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(r.passed);
        assert_eq!(r.attempts, 3);
        assert_eq!(seen[0], "status 502 (expected 200)");
        assert!(
            seen[1].starts_with("cannot run on mgmt: ssh: connection reset"),
            "{}",
            seen[1]
        );

        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![ok(0, &resp(502, "")), ok(0, &resp(404, ""))],
        );
        let (r, _) = run(
            &check(http_node("http://192.168.57.21/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed && r.attempts >= 2);
        assert_eq!(
            r.message, "status 404 (expected 200)",
            "the last failure is reported"
        );
        assert!(r.seconds >= 0.29, "ran until its timeout: {}", r.seconds);
    }

    #[test]
    fn spread_names_the_missing_backend() {
        let out: String = (0..10).map(|_| resp(200, "served by web1")).collect();
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 10)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(r.message, "backend web2 never answered: web1: 10, web2: 0 over 10 requests (expected every listed backend)");
        let cmd = &shell.calls()[0].1;
        assert!(
            cmd.contains("labctl-http '10' "),
            "ten requests in one command: {cmd}"
        );
    }

    #[test]
    fn spread_passes_when_every_backend_answers_and_counts_whole_names() {
        let mut out = String::new();
        for i in 0..20 {
            out.push_str(&resp(
                200,
                if i % 2 == 0 {
                    "web1"
                } else {
                    "<b>web2</b> (not web10)"
                },
            ));
        }
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 20)),
            &shell,
            &NoHttp,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!(r.message, "web1: 10, web2: 10 over 20 requests, status 200");

        // web10 must not count as web1.
        let out: String = (0..4).map(|_| resp(200, "web10 web2")).collect();
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 4)),
            &shell,
            &NoHttp,
        );
        assert!(
            r.message.starts_with("backend web1 never answered"),
            "{}",
            r.message
        );
    }

    #[test]
    fn spread_with_errors_names_missing_backends_first() {
        let mut out: String = (0..3).map(|_| resp(200, "web1")).collect();
        out.push_str(&resp(503, "<h1>503 Service Unavailable</h1>"));
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node(
                "http://lb:8080/",
                None,
                &["web1", "web2", "web3"],
                4,
            )),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "backends web2, web3 never answered: web1: 3, web2: 0, web3: 0 over 4 requests (expected every listed backend); 1 of 4 requests failed, first: status 503 (expected 200)"
        );
        // Both backends seen but one request failed: still a failure.
        let mut out: String = [resp(200, "web1"), resp(200, "web2")].concat();
        out.push_str(&resp(503, ""));
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &out)]);
        let (r, _) = run(
            &check(http_node("http://lb:8080/", None, &["web1", "web2"], 3)),
            &shell,
            &NoHttp,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "1 of 3 requests failed, first: status 503 (expected 200) (web1: 1, web2: 1)"
        );
    }

    #[test]
    fn spread_from_host_uses_lab_addresses() {
        let http = FakeHttp::new(vec![Ok((200, "web1".into())), Ok((200, "web2".into()))]);
        let (r, _) = run(
            &check(http_host(
                "http://lb:8080/x?y=1",
                None,
                &["web1", "web2"],
                4,
            )),
            &Fake::new(),
            &http,
        );
        assert!(r.passed, "{r:?}");
        assert_eq!(r.message, "web1: 1, web2: 3 over 4 requests, status 200");
        let urls = http.urls.lock().unwrap().clone();
        assert_eq!(
            urls,
            vec!["http://192.168.57.11:8080/x?y=1"; 4],
            "node names are resolved from the lab"
        );

        let http = FakeHttp::new(vec![Ok((200, "web1".into()))]);
        let (r, _) = run(
            &check(http_host(
                "http://192.168.57.11:8080/",
                None,
                &["web1", "web2"],
                5,
            )),
            &Fake::new(),
            &http,
        );
        assert!(!r.passed);
        assert!(
            r.message
                .starts_with("backend web2 never answered: web1: 5, web2: 0"),
            "{}",
            r.message
        );
    }

    #[test]
    fn http_from_host_passes_fails_and_retries() {
        let http = FakeHttp::new(vec![
            Err("connect to 127.0.0.1:18080: Connection refused".into()),
            Ok((200, "revision 3".into())),
        ]);
        let (r, seen) = run(
            &patient(http_host(
                "http://127.0.0.1:18080/",
                Some("revision"),
                &[],
                1,
            )),
            &Fake::new(),
            &http,
        );
        assert!(r.passed);
        assert_eq!(r.attempts, 2);
        assert_eq!(
            seen[0],
            "request failed: connect to 127.0.0.1:18080: Connection refused"
        );

        let http = FakeHttp::new(vec![Ok((200, "nothing".into()))]);
        let (r, _) = run(
            &check(http_host(
                "http://127.0.0.1:18080/",
                Some("revision"),
                &[],
                1,
            )),
            &Fake::new(),
            &http,
        );
        assert!(!r.passed);
        assert_eq!(
            r.message,
            "status 200 but body does not match /revision/ (body: \"nothing\")"
        );
    }

    #[test]
    fn http_never_targets_addresses_outside_the_lab() {
        for (from_host, url) in [
            (true, "http://8.8.8.8/"),
            (true, "http://127.0.0.1:8080/"), // not a forwarded port
            (true, "http://127.0.0.1/"),
            (true, "http://example.com/"),
            (true, "http://localhost:18080/"),
            (false, "http://192.168.58.1/"),
            (false, "http://[::1]:80/"),
            (false, "http://user@192.168.57.11/"),
            (false, "ftp://192.168.57.11/"),
        ] {
            let kind = if from_host {
                http_host(url, None, &[], 1)
            } else {
                http_node(url, None, &[], 1)
            };
            let shell = Fake::new();
            let (r, _) = run(&patient(kind), &shell, &NoHttp);
            assert!(!r.passed);
            assert_eq!(r.attempts, 1, "a refused target is not retried: {url}");
            assert!(
                r.message.starts_with("refusing to send traffic to"),
                "{url}: {}",
                r.message
            );
            assert!(shell.calls().is_empty(), "nothing was sent for {url}");
        }
        // Loopback from a node is the node's own loopback.
        let shell = Fake::new().on("mgmt", "curl", vec![ok(0, &resp(200, ""))]);
        assert!(
            run(
                &check(http_node("http://localhost:3000/", None, &[], 1)),
                &shell,
                &NoHttp
            )
            .0
            .passed
        );
        // https from the host is not spoken by the built-in client: a clear failure.
        let (r, _) = run(
            &patient(http_host("https://192.168.57.11/", None, &[], 1)),
            &Fake::new(),
            &NoHttp,
        );
        assert!(
            !r.passed && r.attempts == 1 && r.message.contains("plain http only"),
            "{}",
            r.message
        );
    }

    #[test]
    fn http_node_output_parsing() {
        let out = format!("{}{}{}", resp(200, "a\n@@x"), resp(0, ""), resp(404, "b"));
        assert_eq!(
            parse_node_http(&out),
            vec![
                (200, "a\n@@x".to_string()),
                (0, String::new()),
                (404, "b".to_string())
            ]
        );
        assert_eq!(parse_node_http(""), vec![]);
    }

    #[test]
    fn http_missing_client_on_node() {
        let shell = Fake::new().on(
            "mgmt",
            "curl",
            vec![with_err(
                127,
                "",
                "labctl: neither curl nor python3 on this node\n",
            )],
        );
        let (r, _) = run(
            &check(http_node("http://web1/", None, &[], 1)),
            &shell,
            &NoHttp,
        );
        assert_eq!(
            r.message,
            "cannot send HTTP requests from mgmt: neither curl nor python3 is installed"
        );
    }

    #[test]
    fn node_http_script_runs_with_curl_and_with_python() {
        let responses = || {
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nhi web1\n\n".to_vec(),
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nweb2".to_vec(),
                b"HTTP/1.1 302 Found\r\nLocation: http://8.8.8.8/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            ]
        };
        let python = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .filter(|o| o.status.success());
        let mut variants: Vec<(&str, Option<String>)> = Vec::new();
        if which("curl").is_some() {
            variants.push(("curl", None));
        }
        let pydir = tempfile::tempdir().unwrap();
        if let Some(o) = python {
            // A PATH with python3 and sh but no curl forces the fallback.
            let exe = String::from_utf8_lossy(&o.stdout).trim().to_string();
            std::os::unix::fs::symlink(exe, pydir.path().join("python3")).unwrap();
            std::os::unix::fs::symlink("/bin/sh", pydir.path().join("sh")).unwrap();
            variants.push(("python3", Some(pydir.path().display().to_string())));
        }
        for (client, path) in variants {
            let (port, h) = serve(responses());
            let url = format!("http://127.0.0.1:{port}/a'b$(id)?q=1");
            let target = http_target(&lab(), &CheckFrom::Node("mgmt".into()), &url).unwrap();
            let cmd = sh(&node_http_script(&target, 3, Duration::from_secs(5)));
            let r = LocalShell {
                path: path.clone(),
                cwd: None,
            }
            .run("mgmt", &cmd, Duration::from_secs(20))
            .unwrap();
            let got = parse_node_http(&r.stdout);
            assert_eq!(
                got,
                vec![
                    (200, "hi web1\n\n".to_string()),
                    (404, "web2".to_string()),
                    (302, String::new())
                ],
                "{client}: {r:?}"
            );
            let seen = h.join().unwrap();
            assert!(
                seen[0].starts_with("GET /a'b$(id)?q=1 HTTP/1."),
                "{client}: {}",
                seen[0]
            );
            assert!(seen.len() == 3, "{client}: the redirect was not followed");
        }
    }

    #[test]
    fn url_parsing() {
        let u = Url::parse("HTTP://Web1:8080?x").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.rest.as_str()),
            ("http", "web1", Some(8080), "/?x")
        );
        assert_eq!(u.with_host("10.0.0.1"), "http://10.0.0.1:8080/?x");
        assert!(Url::parse("http://a:99999/").is_none());
        assert!(Url::parse("http:///").is_none());
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(one_line("a\n\n b\tc", 80), "a b c");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
