//! Reading the output of `iperf3 --json` (client side).
//!
//! iperf3's JSON is not always JSON: 3.x prints `nan`/`-nan` unquoted when a
//! figure divides by zero, 3.16-3.17 print the whole object twice, some versions
//! put a `warning: ...` line in front, and a failed run is still a JSON object
//! whose `"error"` key says why. [`parse`] copes with all of these and returns a
//! typed error instead of a panic or a zero, so that a bench can tell "iperf3
//! could not run" ([`IperfError::CouldNotRun`]) from "iperf3 ran but its output
//! cannot be used" ([`IperfError::Unusable`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The figures of one iperf3 client run that a bench uses.
///
/// The receiver's figure is the measurement: the sender's counts bytes that may
/// still sit in socket buffers when the test ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IperfResult {
    /// `end.sum_received.bits_per_second`.
    pub receiver_bits_per_second: f64,
    /// `end.sum_received.bytes`.
    pub receiver_bytes: u64,
    /// `end.sum_received.seconds`: the measured time, without `--omit` seconds.
    pub receiver_seconds: f64,
    /// `end.sum_sent.bits_per_second`, when present and a number.
    pub sender_bits_per_second: Option<f64>,
    /// `end.sum_sent.bytes`.
    pub sender_bytes: Option<u64>,
    /// `end.sum_sent.retransmits` (TCP only).
    pub retransmits: Option<u64>,
    /// Parallel streams: `end.streams`, else `start.test_start.num_streams`.
    pub streams: Option<u32>,
    /// `start.test_start.reverse`: the server sent and the client received.
    pub reverse: bool,
    /// `end.cpu_utilization_percent.host_total`: the client's CPU, percent.
    pub cpu_host_total: Option<f64>,
    /// `end.cpu_utilization_percent.remote_total`: the server's CPU, percent.
    pub cpu_remote_total: Option<f64>,
    /// `start.version`, e.g. `iperf 3.12`.
    pub version: Option<String>,
    /// `start.system_info` (the client's `uname -a`).
    pub system_info: Option<String>,
    /// What was repaired to read this output (doubled JSON, text before it,
    /// `nan` tokens), so the raw file can be looked at when it matters.
    pub notes: Vec<String>,
}

impl IperfResult {
    pub fn gbits_per_second(&self) -> f64 {
        self.receiver_bits_per_second / 1e9
    }
}

/// Why iperf3 could not run a test, from its `"error"` message. The runner may
/// retry [`RunFailure::Busy`] (a `-1` server still finishing the previous test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunFailure {
    /// "the server is busy running a test. try again later"
    Busy,
    /// "unable to connect to server: Connection refused": no server on that port.
    Refused,
    /// No route, unreachable network, timeout, or another connect failure.
    Unreachable,
    /// The test started and was cut off (control socket closed, a side was killed).
    Interrupted,
    /// Any other error iperf3 reported.
    Other,
}

impl RunFailure {
    /// Sorts iperf3's free-text error; the texts are stable across 3.x.
    pub fn classify(message: &str) -> RunFailure {
        let m = message.to_ascii_lowercase();
        if m.contains("server is busy") {
            RunFailure::Busy
        } else if m.contains("connection refused") {
            RunFailure::Refused
        } else if m.contains("no route to host")
            || m.contains("network is unreachable")
            || m.contains("timed out")
            || m.contains("unable to connect")
        {
            RunFailure::Unreachable
        } else if m.contains("closed unexpectedly")
            || m.contains("has terminated")
            || m.contains("interrupt")
            || m.contains("connection reset")
            || m.contains("broken pipe")
        {
            RunFailure::Interrupted
        } else {
            RunFailure::Other
        }
    }
}

/// Why the output, although produced, holds no usable measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unusable {
    /// Nothing at all on stdout (iperf3 killed before printing, or not run).
    Empty,
    /// Text but no JSON object in it.
    NotJson { first_line: String },
    /// A JSON object that never closes: iperf3 killed while printing.
    Truncated,
    /// Braces balance but the text is not JSON even after repairs.
    Invalid { detail: String },
    /// A figure the bench needs is absent, `null` or was `nan`.
    Missing { field: String },
    /// The test ran and the receiver got nothing: a blocked or broken path.
    NothingReceived { seconds: f64 },
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Empty => write!(f, "empty output"),
            Unusable::NotJson { first_line } => write!(
                f,
                "no JSON object in the output (it starts with {first_line:?})"
            ),
            Unusable::Truncated => write!(
                f,
                "the JSON output is cut off (iperf3 stopped while printing)"
            ),
            Unusable::Invalid { detail } => write!(f, "invalid JSON: {detail}"),
            Unusable::Missing { field } => write!(f, "`{field}` is missing or not a number"),
            Unusable::NothingReceived { seconds } => {
                write!(f, "the receiver got 0 bytes in {seconds:.2} s")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IperfError {
    /// iperf3 reported that it could not do the test (its `"error"` key).
    #[error("iperf3 could not run: {message}")]
    CouldNotRun {
        failure: RunFailure,
        message: String,
    },
    /// iperf3's output holds no trustworthy measurement.
    #[error("iperf3 output unusable: {0}")]
    Unusable(Unusable),
}

impl IperfError {
    pub fn could_not_run(&self) -> bool {
        matches!(self, IperfError::CouldNotRun { .. })
    }

    /// True when running the same test again may well succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            IperfError::CouldNotRun {
                failure: RunFailure::Busy,
                ..
            }
        )
    }
}

impl From<Unusable> for IperfError {
    fn from(u: Unusable) -> Self {
        IperfError::Unusable(u)
    }
}

/// Reads the stdout of one `iperf3 -c ... --json` run.
///
/// When the output holds several objects (doubled printing, or a truncated copy
/// followed by a whole one) the last object without an `"error"` that has
/// `end.sum_received` wins; failing that, an `"error"` is reported as
/// [`IperfError::CouldNotRun`].
pub fn parse(output: &str) -> Result<IperfResult, IperfError> {
    if output.trim().is_empty() {
        return Err(Unusable::Empty.into());
    }
    let (clean, replaced) = sanitize_non_finite(output);
    let split = split_objects(&clean);
    let mut notes = Vec::new();
    if replaced > 0 {
        notes.push(format!("{replaced} nan/inf value(s) read as missing"));
    }
    if let Some(junk) = &split.junk {
        notes.push(format!("ignored text outside the JSON: {junk:?}"));
    }
    if split.truncated_copies > 0 && !split.objects.is_empty() {
        notes.push(format!(
            "ignored {} cut-off JSON copy(ies)",
            split.truncated_copies
        ));
    }

    if split.objects.is_empty() {
        if split.truncated_copies > 0 {
            return Err(Unusable::Truncated.into());
        }
        // No JSON at all: iperf3 without --json support, or an error printed as text.
        let first_line = output
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string();
        if let Some(pos) = first_line.to_ascii_lowercase().find("error") {
            let message = first_line[pos + "error".len()..]
                .trim_start_matches([' ', '-', ':'])
                .trim();
            let message = if message.is_empty() {
                first_line.clone()
            } else {
                message.to_string()
            };
            return Err(IperfError::CouldNotRun {
                failure: RunFailure::classify(&message),
                message,
            });
        }
        return Err(Unusable::NotJson { first_line }.into());
    }

    let mut parsed: Vec<Value> = Vec::new();
    let mut last_invalid = None;
    for text in &split.objects {
        match serde_json::from_str::<Value>(text) {
            Ok(v) if v.is_object() => parsed.push(v),
            Ok(_) => {}
            Err(e) => last_invalid = Some(e.to_string()),
        }
    }
    if parsed.is_empty() {
        return Err(Unusable::Invalid {
            detail: last_invalid.unwrap_or_else(|| "no object".to_string()),
        }
        .into());
    }
    if parsed.len() > 1 {
        notes.push(format!(
            "iperf3 printed {} JSON objects; read the last complete one",
            parsed.len()
        ));
    }

    let has_result = |v: &Value| {
        v.get("error").is_none() && v.pointer("/end/sum_received").is_some_and(Value::is_object)
    };
    let chosen = match parsed.iter().rposition(has_result) {
        Some(i) => &parsed[i],
        None => {
            if let Some(msg) = parsed.iter().rev().find_map(|v| v.get("error")) {
                let message = match msg {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                };
                return Err(IperfError::CouldNotRun {
                    failure: RunFailure::classify(&message),
                    message,
                });
            }
            parsed.last().expect("parsed is not empty")
        }
    };
    extract(chosen, notes)
}

fn extract(v: &Value, notes: Vec<String>) -> Result<IperfResult, IperfError> {
    let missing = |field: &str| {
        IperfError::from(Unusable::Missing {
            field: field.to_string(),
        })
    };
    let received = v
        .pointer("/end/sum_received")
        .filter(|x| x.is_object())
        .ok_or_else(|| missing("end.sum_received"))?;
    let bps = finite(received.get("bits_per_second"))
        .ok_or_else(|| missing("end.sum_received.bits_per_second"))?;
    let bytes = received
        .get("bytes")
        .and_then(Value::as_u64)
        .ok_or_else(|| missing("end.sum_received.bytes"))?;
    let seconds =
        finite(received.get("seconds")).ok_or_else(|| missing("end.sum_received.seconds"))?;
    if bytes == 0 || bps <= 0.0 {
        return Err(Unusable::NothingReceived { seconds }.into());
    }
    if seconds <= 0.0 {
        return Err(missing("end.sum_received.seconds"));
    }
    let sent = v.pointer("/end/sum_sent");
    let streams = v
        .pointer("/end/streams")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .map(|a| a.len() as u64)
        .or_else(|| {
            v.pointer("/start/test_start/num_streams")
                .and_then(Value::as_u64)
        })
        .and_then(|n| u32::try_from(n).ok());
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    Ok(IperfResult {
        receiver_bits_per_second: bps,
        receiver_bytes: bytes,
        receiver_seconds: seconds,
        sender_bits_per_second: finite(sent.and_then(|s| s.get("bits_per_second"))),
        sender_bytes: sent.and_then(|s| s.get("bytes")).and_then(Value::as_u64),
        retransmits: sent
            .and_then(|s| s.get("retransmits"))
            .and_then(Value::as_u64),
        streams,
        reverse: v
            .pointer("/start/test_start/reverse")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            != 0,
        cpu_host_total: finite(v.pointer("/end/cpu_utilization_percent/host_total")),
        cpu_remote_total: finite(v.pointer("/end/cpu_utilization_percent/remote_total")),
        version: text("/start/version"),
        system_info: text("/start/system_info"),
        notes,
    })
}

/// A number that is really a number: `null` (a sanitized `nan`) is missing.
fn finite(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// Replaces the bare `nan`, `-nan`, `inf`, `-inf`, `infinity` tokens that C's
/// printf puts in iperf3's JSON with `null`, leaving strings alone. Returns the
/// new text and how many tokens were replaced.
///
/// A token is only replaced in value position (after `:`, `,` or `[` inside an
/// object), so a `warning: information` line in front of the JSON is untouched.
pub(crate) fn sanitize_non_finite(text: &str) -> (String, usize) {
    const WORDS: [&str; 3] = ["infinity", "nan", "inf"];
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let (mut depth, mut in_str, mut esc, mut count) = (0usize, false, false, 0usize);
    let mut prev_sig = 0u8; // last non-space byte copied outside strings
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
                prev_sig = c;
            }
            i += 1;
            continue;
        }
        if depth > 0 && matches!(prev_sig, b':' | b',' | b'[') {
            let start = i + usize::from(c == b'-' || c == b'+');
            let matched = WORDS.iter().find(|w| {
                let end = start + w.len();
                end <= b.len()
                    && b[start..end].eq_ignore_ascii_case(w.as_bytes())
                    && !matches!(b.get(end), Some(n) if n.is_ascii_alphanumeric() || *n == b'_')
            });
            if let Some(w) = matched {
                out.extend_from_slice(b"null");
                count += 1;
                prev_sig = b'l';
                i = start + w.len();
                continue;
            }
        }
        match c {
            b'"' if depth > 0 => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            prev_sig = c;
        }
        out.push(c);
        i += 1;
    }
    // Only ASCII sequences were replaced by ASCII, so the bytes stay UTF-8.
    (
        String::from_utf8(out).expect("ASCII-only replacement keeps UTF-8"),
        count,
    )
}

/// Top-level JSON objects found in iperf3's stdout.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Split<'a> {
    /// Complete (brace-balanced) objects, in order.
    pub objects: Vec<&'a str>,
    /// Objects that started and never closed.
    pub truncated_copies: usize,
    /// Non-blank text outside any object (a warning line), shortened.
    pub junk: Option<String>,
}

/// Finds the top-level `{...}` spans by matching braces outside strings. When an
/// object never closes, scanning restarts at the next `{` that cannot be a nested
/// value (see [`next_top_level_start`]), so a cut-off copy followed by a whole one
/// still yields the whole one.
pub(crate) fn split_objects(text: &str) -> Split<'_> {
    let b = text.as_bytes();
    let mut split = Split::default();
    let mut junk = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'{' {
            // '{' is ASCII, so the slice boundaries are char boundaries.
            let next = text[i..].find('{').map_or(b.len(), |o| i + o);
            junk.push_str(&text[i..next]);
            i = next;
            continue;
        }
        let start = i;
        let (mut depth, mut in_str, mut esc) = (0usize, false, false);
        let mut end = None;
        while i < b.len() {
            let c = b[i];
            if in_str {
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_str = false;
                }
            } else {
                match c {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        match end {
            Some(e) => {
                split.objects.push(&text[start..e]);
                i = e;
            }
            None => {
                split.truncated_copies += 1;
                match next_top_level_start(b, start + 1) {
                    Some(j) => i = j,
                    None => break,
                }
            }
        }
    }
    let junk = junk.trim();
    if !junk.is_empty() {
        let short: String = junk.chars().take(120).collect();
        split.junk = Some(short);
    }
    split
}

/// The next `{` at or after `from` that is not in value position: in JSON a
/// nested object follows `:`, `[` or `,` (and whitespace); anything else before
/// it (start of text, a closing brace, or the middle of a cut-off line) means a
/// new top-level object starts there.
fn next_top_level_start(b: &[u8], from: usize) -> Option<usize> {
    (from..b.len()).find(|&j| {
        b[j] == b'{'
            && !matches!(
                b[..j].iter().rev().find(|c| !c.is_ascii_whitespace()),
                Some(b':' | b'[' | b',')
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NORMAL: &str = include_str!("../../tests/fixtures/iperf3/normal.json");
    const PARALLEL4: &str = include_str!("../../tests/fixtures/iperf3/parallel4.json");
    const REVERSE: &str = include_str!("../../tests/fixtures/iperf3/reverse.json");
    const REFUSED: &str = include_str!("../../tests/fixtures/iperf3/refused.json");
    const BUSY: &str = include_str!("../../tests/fixtures/iperf3/busy.json");
    const NAN: &str = include_str!("../../tests/fixtures/iperf3/nan.json");
    const DOUBLED: &str = include_str!("../../tests/fixtures/iperf3/doubled.json");
    const ZERO: &str = include_str!("../../tests/fixtures/iperf3/zero_bytes.json");
    /// `end.sum_received.bits_per_second` of normal.json (11639570241.878321 in the file).
    const NORMAL_BPS: f64 = 11_639_570_241.878_32;

    #[test]
    fn normal_run_reads_the_receiver_figure() {
        let r = parse(NORMAL).unwrap();
        assert_eq!(r.receiver_bits_per_second, NORMAL_BPS);
        assert_eq!(r.receiver_bytes, 1461452800);
        assert_eq!(r.receiver_seconds, 1.004472);
        assert_eq!(r.sender_bits_per_second, Some(11697335647.056));
        assert_eq!(r.sender_bytes, Some(1462763520));
        assert_eq!(r.retransmits, Some(0));
        assert_eq!(r.streams, Some(1));
        assert!(!r.reverse);
        assert_eq!(r.cpu_host_total, Some(42.631049181538046));
        assert_eq!(r.cpu_remote_total, Some(34.148871566665676));
        assert_eq!(r.version.as_deref(), Some("iperf 3.12"));
        assert!(r.system_info.as_deref().unwrap().starts_with("Linux"));
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert!((r.gbits_per_second() - 11.64).abs() < 0.01);
    }

    #[test]
    fn parallel_streams_are_counted_and_summed() {
        let r = parse(PARALLEL4).unwrap();
        assert_eq!(r.streams, Some(4));
        assert_eq!(r.receiver_bytes, 1710227456);
        assert_eq!(r.retransmits, Some(7));
    }

    #[test]
    fn reverse_mode_is_recognised() {
        let r = parse(REVERSE).unwrap();
        assert!(r.reverse);
        assert_eq!(r.receiver_bits_per_second, 17894104123.594933);
    }

    #[test]
    fn connection_refused_is_could_not_run() {
        let e = parse(REFUSED).unwrap_err();
        assert_eq!(
            e,
            IperfError::CouldNotRun {
                failure: RunFailure::Refused,
                message: "unable to connect to server: Connection refused".into()
            }
        );
        assert!(e.could_not_run());
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "iperf3 could not run: unable to connect to server: Connection refused"
        );
    }

    #[test]
    fn busy_server_is_retryable() {
        let e = parse(BUSY).unwrap_err();
        assert!(
            matches!(
                e,
                IperfError::CouldNotRun {
                    failure: RunFailure::Busy,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn nan_tokens_become_missing_not_zero() {
        assert!(
            serde_json::from_str::<Value>(NAN).is_err(),
            "the fixture must really be invalid JSON"
        );
        let r = parse(NAN).unwrap();
        assert_eq!(r.cpu_remote_total, None);
        assert_eq!(r.cpu_host_total, Some(42.631049181538046));
        assert_eq!(r.receiver_bits_per_second, NORMAL_BPS);
        assert!(
            r.notes.iter().any(|n| n.contains("3 nan/inf")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn nan_in_the_receiver_figure_is_an_error() {
        let text = NORMAL.replace("11639570241.878321", "-nan");
        assert_eq!(
            parse(&text).unwrap_err(),
            IperfError::Unusable(Unusable::Missing {
                field: "end.sum_received.bits_per_second".into()
            })
        );
    }

    #[test]
    // Alike on purpose (duplicates): each fixture's figures are asserted in full.
    fn doubled_output_reads_one_copy() {
        let r = parse(DOUBLED).unwrap();
        assert_eq!(r.receiver_bits_per_second, NORMAL_BPS);
        assert!(
            r.notes.iter().any(|n| n.contains("2 JSON objects")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn cut_off_copy_then_whole_copy_reads_the_whole_one() {
        for cut in [NORMAL.len() / 3, NORMAL.len() / 2, NORMAL.len() - 3] {
            let text = format!("{}{}", &NORMAL[..cut], NORMAL);
            let r = parse(&text).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert_eq!(r.receiver_bytes, 1461452800);
            assert!(
                r.notes.iter().any(|n| n.contains("cut-off")),
                "{:?}",
                r.notes
            );
        }
    }

    #[test]
    fn result_then_error_copy_prefers_the_result() {
        // A copy with an error and an empty `end` must not hide a whole result.
        let text = format!("{NORMAL}{REFUSED}");
        assert!(parse(&text).is_ok());
        let text = format!("{REFUSED}{NORMAL}");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn empty_and_blank_output() {
        assert_eq!(
            parse("").unwrap_err(),
            IperfError::Unusable(Unusable::Empty)
        );
        assert_eq!(
            parse(" \n\t\n").unwrap_err(),
            IperfError::Unusable(Unusable::Empty)
        );
    }

    #[test]
    fn truncated_output() {
        for cut in [1, 100, NORMAL.len() / 2, NORMAL.len() - 3] {
            assert_eq!(
                parse(&NORMAL[..cut]).unwrap_err(),
                IperfError::Unusable(Unusable::Truncated),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn zero_bytes_received_is_not_a_zero_measurement() {
        assert_eq!(
            parse(ZERO).unwrap_err(),
            IperfError::Unusable(Unusable::NothingReceived { seconds: 1.004472 })
        );
    }

    #[test]
    fn warning_line_before_the_json_is_ignored() {
        let text = format!("warning: UDP block size 2048 exceeds TCP MSS 1448, may result in fragmentation / drops\n{NORMAL}");
        let r = parse(&text).unwrap();
        assert!(
            r.notes.iter().any(|n| n.contains("warning: UDP")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn plain_text_error_is_could_not_run() {
        let e =
            parse("iperf3: error - unable to connect to server: No route to host\n").unwrap_err();
        assert_eq!(
            e,
            IperfError::CouldNotRun {
                failure: RunFailure::Unreachable,
                message: "unable to connect to server: No route to host".into()
            }
        );
        assert!(matches!(
            parse("hello\n").unwrap_err(),
            IperfError::Unusable(Unusable::NotJson { .. })
        ));
    }

    #[test]
    fn missing_end_and_wrong_types() {
        assert_eq!(
            parse(r#"{"start": {}, "end": {}}"#).unwrap_err(),
            IperfError::Unusable(Unusable::Missing {
                field: "end.sum_received".into()
            })
        );
        assert_eq!(
            parse(r#"{"end": {"sum_received": {"bits_per_second": "fast", "bytes": 1, "seconds": 1}}}"#).unwrap_err(),
            IperfError::Unusable(Unusable::Missing { field: "end.sum_received.bits_per_second".into() })
        );
        assert!(matches!(
            parse("{ this is not json }").unwrap_err(),
            IperfError::Unusable(Unusable::Invalid { .. })
        ));
        assert!(matches!(
            parse("[1, 2]").unwrap_err(),
            IperfError::Unusable(Unusable::NotJson { .. })
        ));
    }

    #[test]
    fn error_value_of_another_type_is_still_an_error() {
        let e = parse(r#"{"end": {}, "error": {"code": 111}}"#).unwrap_err();
        assert!(
            matches!(
                e,
                IperfError::CouldNotRun {
                    failure: RunFailure::Other,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn sanitizer_leaves_strings_and_words_alone() {
        let (s, n) = sanitize_non_finite(
            r#"{"a": -nan, "b": [nan, inf, -Infinity], "c": "nan inf", "d": information}"#,
        );
        assert_eq!(n, 4);
        assert_eq!(
            s,
            r#"{"a": null, "b": [null, null, null], "c": "nan inf", "d": information}"#
        );
        let (s, n) = sanitize_non_finite("warning: nan\n{\"x\":\tnan}");
        assert_eq!((s.as_str(), n), ("warning: nan\n{\"x\":\tnull}", 1));
        let (s, n) = sanitize_non_finite(r#"{"s": "quote \" then: nan"}"#);
        assert_eq!((s.as_str(), n), (r#"{"s": "quote \" then: nan"}"#, 0));
    }

    #[test]
    fn splitter_handles_braces_in_strings() {
        let split = split_objects("junk {\"a\": \"}{\"}\n{\"b\": 1}");
        assert_eq!(split.objects, vec!["{\"a\": \"}{\"}", "{\"b\": 1}"]);
        assert_eq!(split.junk.as_deref(), Some("junk"));
        assert_eq!(split.truncated_copies, 0);
    }

    #[test]
    fn classify_known_messages() {
        use RunFailure::*;
        for (msg, want) in [
            ("the server is busy running a test. try again later", Busy),
            ("unable to connect to server: Connection refused", Refused),
            ("unable to connect to server: No route to host", Unreachable),
            (
                "unable to connect to server: Connection timed out",
                Unreachable,
            ),
            ("control socket has closed unexpectedly", Interrupted),
            ("the server has terminated", Interrupted),
            ("unable to receive results: ", Other),
        ] {
            assert_eq!(RunFailure::classify(msg), want, "{msg}");
        }
    }
}
