//! The host-side HTTP client of `http` checks run from the host.

use crate::lab::target::Url;
use crate::text::one_line;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Largest body the host client reads.
const MAX_BODY: usize = 8 << 20;

/// Host-side HTTP GET, only ever called after the caller's network-safety check.
/// Returns the status code and the body (lossily decoded), or a one-line error.
pub trait HostHttp: Sync {
    fn get(&self, url: &str, timeout: Duration) -> Result<(u16, String), String>;
}

/// Plain HTTP/1.1 GET over `std::net::TcpStream`: IPv4 literals only (no DNS),
/// no proxies, no redirects, `Connection: close`, chunked and Content-Length
/// bodies, bodies cut at 8 MiB; the whole exchange is bounded by `timeout`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdHttp;

impl HostHttp for StdHttp {
    fn get(&self, url: &str, timeout: Duration) -> Result<(u16, String), String> {
        let u = Url::parse(url).ok_or_else(|| format!("invalid URL {url}"))?;
        if u.scheme != "http" {
            return Err(format!("{url}: only http:// is supported"));
        }
        let ip: Ipv4Addr = u.host.parse().map_err(|_| {
            format!("{url}: host is not an IPv4 address (labctl never resolves names here)")
        })?;
        let addr = SocketAddr::from((ip, u.port_or_default()));
        let deadline = Instant::now() + timeout;
        let left = || {
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                Err(format!(
                    "{url}: timed out after {:.1}s",
                    timeout.as_secs_f64()
                ))
            } else {
                Ok(d)
            }
        };
        let mut s = TcpStream::connect_timeout(&addr, left()?)
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        let host = match u.port {
            Some(p) => format!("{}:{p}", u.host),
            None => u.host.clone(),
        };
        let req = format!("GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: labctl\r\nAccept: */*\r\nConnection: close\r\n\r\n", u.rest.split('#').next().unwrap_or("/"));
        s.set_write_timeout(Some(left()?)).ok();
        s.write_all(req.as_bytes())
            .map_err(|e| format!("send to {addr}: {e}"))?;
        let mut data = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            if let Some(done) = parse_response(&data, false)? {
                return Ok(done);
            }
            if data.len() > MAX_BODY + 65536 {
                return parse_response(&data, true)?
                    .ok_or_else(|| format!("{url}: response too large"));
            }
            s.set_read_timeout(Some(left()?))
                .map_err(|e| e.to_string())?;
            match s.read(&mut buf) {
                Ok(0) => {
                    return parse_response(&data, true)?.ok_or_else(|| {
                        format!("{url}: connection closed before a complete response")
                    })
                }
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(format!(
                        "{url}: timed out after {:.1}s",
                        timeout.as_secs_f64()
                    ))
                }
                Err(e) => return Err(format!("read from {addr}: {e}")),
            }
        }
    }
}

/// A complete response in `data` as `(status, body)`; `None` while more bytes are
/// needed. With `eof`, a body without framing ends here (and a truncated body is
/// taken as it is).
pub(super) fn parse_response(data: &[u8], eof: bool) -> Result<Option<(u16, String)>, String> {
    let Some(hend) = find(data, b"\r\n\r\n") else {
        return if eof {
            Err("connection closed inside the response headers".into())
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&data[..hend]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !proto.starts_with("HTTP/") {
        return Err(format!(
            "not an HTTP response: {}",
            one_line(status_line, 80)
        ));
    }
    let code: u16 = code
        .parse()
        .map_err(|_| format!("bad status line: {}", one_line(status_line, 80)))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse().ok();
            }
        }
    }
    let body = &data[hend + 4..];
    let text = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(MAX_BODY)]).into_owned();
    if chunked {
        return match dechunk(body)? {
            Some(b) => Ok(Some((code, text(&b)))),
            None if eof || body.len() > MAX_BODY => {
                Err("connection closed inside a chunked body".into())
            }
            None => Ok(None),
        };
    }
    if let Some(n) = length {
        if body.len() >= n || body.len() >= MAX_BODY {
            return Ok(Some((code, text(&body[..n.min(body.len())]))));
        }
        return if eof {
            Err(format!(
                "connection closed after {} of {n} body bytes",
                body.len()
            ))
        } else {
            Ok(None)
        };
    }
    if code == 204 || code == 304 || (100..200).contains(&code) {
        return Ok(Some((code, String::new())));
    }
    Ok(if eof || body.len() >= MAX_BODY {
        Some((code, text(body)))
    } else {
        None
    })
}

/// Decode a chunked body; `None` while incomplete.
pub(super) fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(le) = find(b, b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&b[..le]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {:?}", one_line(size_hex, 20)))?;
        b = &b[le + 2..];
        if size == 0 {
            return Ok(Some(out)); // trailers, if any, are ignored
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[..size]);
        if out.len() > MAX_BODY {
            return Ok(Some(out));
        }
        b = &b[size + 2..];
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::*;

    #[test]
    fn std_http_reads_length_chunked_and_close_delimited_bodies() {
        let (port, h) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello-and-more-ignored".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nweb1\r\n6;ext=1\r\n rev 3\r\n0\r\n\r\n".to_vec(),
            b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<h1>503</h1>".to_vec(),
        ]);
        let url = format!("http://127.0.0.1:{port}/p?x=1");
        assert_eq!(
            StdHttp.get(&url, Duration::from_secs(5)),
            Ok((200, "hello".into()))
        );
        assert_eq!(
            StdHttp.get(&url, Duration::from_secs(5)),
            Ok((200, "web1 rev 3".into()))
        );
        assert_eq!(
            StdHttp.get(&url, Duration::from_secs(5)),
            Ok((503, "<h1>503</h1>".into()))
        );
        let seen = h.join().unwrap();
        assert!(
            seen[0].starts_with(&format!(
                "GET /p?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            )),
            "{}",
            seen[0]
        );
        assert!(seen[0].contains("Connection: close\r\n"));
    }

    #[test]
    fn std_http_times_out_and_refuses_names() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(ms(300));
            drop(s);
        });
        let t = Instant::now();
        let e = StdHttp
            .get(&format!("http://127.0.0.1:{port}/"), ms(100))
            .unwrap_err();
        assert!(
            e.contains("timed out"),
            "the read timeout fired before the server closed: {e}"
        );
        assert!(t.elapsed() < ms(1000));
        h.join().unwrap();
        assert!(StdHttp
            .get("http://example.com/", ms(100))
            .unwrap_err()
            .contains("not an IPv4 address"));
        assert!(StdHttp
            .get("https://127.0.0.1/", ms(100))
            .unwrap_err()
            .contains("only http://"));
    }

    #[test]
    fn host_check_end_to_end_over_loopback_forward() {
        let (port, h) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nrevision 7".to_vec(),
        ]);
        let lab = local_http_lab(port);
        let c = check(http_host(
            &format!("http://127.0.0.1:{port}/"),
            Some("revision \\d"),
            &[],
            1,
        ));
        let r = run_check(
            &Check {
                timeout: Duration::from_secs(5),
                ..c
            },
            &lab,
            &Fake::new(),
            &StdHttp,
            Settle::settling(),
            &mut |_| {},
        );
        assert!(r.passed, "{r:?}");
        h.join().unwrap();
    }

    #[test]
    fn response_parsing_edge_cases() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", false),
            Ok(None)
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", true).is_err());
        assert_eq!(
            parse_response(b"HTTP/1.1 204 No Content\r\n\r\n", false),
            Ok(Some((204, String::new())))
        );
        assert_eq!(
            parse_response(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3\r\nab",
                false
            ),
            Ok(None)
        );
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .is_err());
    }
}
