//! Moving a lab's addresses to another subnet (`--subnet` copies): every IPv4
//! literal inside the old subnet, wherever a lab file holds one (check URLs,
//! commands, expected output and its regexes, file paths and contents, role
//! variables), moves to the same host number in the new subnet. A literal is a
//! whole address (`192.168.57.2` in `192.168.57.21` is not one) written
//! plainly or with regex-escaped dots (`192\.168\.57\.2`); whatever follows it
//! may be any non-digit (`192.168.56.10_repo_._InRelease`, the APT list file
//! named after the repository's address, follows too).

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::sync::LazyLock;

static LITERAL: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"[0-9]{1,3}(?:\\?\.[0-9]{1,3}){3}").expect("valid regex"));

/// `ip` moved from `old` to `new` with its host number kept.
pub fn shift(ip: Ipv4Addr, old: Ipv4Net, new: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(new.network()) + (u32::from(ip) - u32::from(old.network())))
}

/// `text` with every address literal of `old` moved to `new`.
pub fn readdress(text: &str, old: Ipv4Net, new: Ipv4Net) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in LITERAL.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        // A whole address: not part of a longer number or dotted sequence.
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_digit() || bytes[start - 1] == b'.');
        let after_ok = match bytes.get(end) {
            None => true,
            Some(c) if c.is_ascii_digit() => false,
            Some(b'.') => !bytes.get(end + 1).is_some_and(|c| c.is_ascii_digit()),
            Some(b'\\') => {
                !(bytes.get(end + 1) == Some(&b'.')
                    && bytes.get(end + 2).is_some_and(|c| c.is_ascii_digit()))
            }
            Some(_) => true,
        };
        let escaped = m.as_str().contains('\\');
        let Ok(ip) = m.as_str().replace('\\', "").parse::<Ipv4Addr>() else {
            continue;
        };
        if !(before_ok && after_ok && old.contains(&ip)) {
            continue;
        }
        let to = shift(ip, old, new).to_string();
        out.push_str(&text[last..start]);
        out.push_str(&if escaped { to.replace('.', "\\.") } else { to });
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets() -> (Ipv4Net, Ipv4Net) {
        (
            "192.168.57.0/24".parse().unwrap(),
            "192.168.63.0/24".parse().unwrap(),
        )
    }

    #[test]
    fn whole_literals_move_plain_and_escaped() {
        let (old, new) = nets();
        let cases = [
            (
                "git ls-remote http://192.168.57.2/x.git",
                "git ls-remote http://192.168.63.2/x.git",
            ),
            (
                "curl http://192.168.57.21:8080/ 192.168.57.2",
                "curl http://192.168.63.21:8080/ 192.168.63.2",
            ),
            (
                r"^served by 192\.168\.57\.11$",
                r"^served by 192\.168\.63\.11$",
            ),
            (
                "/var/lib/apt/lists/192.168.57.10_repo_._InRelease",
                "/var/lib/apt/lists/192.168.63.10_repo_._InRelease",
            ),
            ("ends with 192.168.57.2.", "ends with 192.168.63.2."),
            // Not the lab's, or not a whole address: left alone.
            (
                "10.0.0.1 and 192.168.58.2 and 1192.168.57.2 and 192.168.57.2.5",
                "10.0.0.1 and 192.168.58.2 and 1192.168.57.2 and 192.168.57.2.5",
            ),
            ("version 1.2.3.4", "version 1.2.3.4"),
        ];
        for (from, to) in cases {
            assert_eq!(readdress(from, old, new), to, "{from}");
        }
    }

    #[test]
    fn host_numbers_are_kept() {
        let old: Ipv4Net = "10.20.0.0/16".parse().unwrap();
        let new: Ipv4Net = "10.30.0.0/16".parse().unwrap();
        assert_eq!(readdress("10.20.5.7", old, new), "10.30.5.7");
    }
}
