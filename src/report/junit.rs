//! `--report junit:PATH`: JUnit XML, one `<testsuite>` per lab, one `<testcase>`
//! per check (classname `labctl.LAB`), `<failure message=.. type=KIND>` for a
//! failed check, `<skipped message=REASON/>` for a check left out (`--skip`;
//! counted in `tests` and `skipped`, never as passed), and a `labctl` testcase
//! with an `<error>` when labctl could not do its job. Every suite has the
//! property `schema` ([`SCHEMA`]); the `provider` property
//! is written only when the lab's state named it. A share of a split suite
//! (`--partition`) adds `partition` (e.g. `count:2/3`), `shard_entry` (the
//! lab as the split named it) and one `suite_entry` per lab of the whole
//! suite, for `labctl report merge`. Text is escaped and
//! characters XML 1.0 forbids are dropped.

use super::{millis, LabRun};
use std::fmt::Write as _;
use std::path::Path;

/// The layout's version, written as every testsuite's `schema` property so
/// `labctl report merge` can refuse suites of another layout; bumped only on
/// an incompatible change.
pub const SCHEMA: &str = "labctl.junit/1";

/// Name of the testcase that carries a run's `error`.
pub const ERROR_CASE: &str = "labctl";

/// Whether XML 1.0 allows `c` in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Escape text content.
pub fn escape_text(s: &str) -> String {
    escape(s, &[('\r', "&#13;")])
}

/// Escape an attribute value (double-quoted); whitespace that attribute-value
/// normalization would flatten is written as character references.
pub fn escape_attr(s: &str) -> String {
    escape(
        s,
        &[
            ('"', "&quot;"),
            ('\'', "&apos;"),
            ('\n', "&#10;"),
            ('\r', "&#13;"),
            ('\t', "&#9;"),
        ],
    )
}

/// `&`, `<` and `>` as entities, `more` as given, and characters XML 1.0
/// forbids dropped.
fn escape(s: &str, more: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| xml_char(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => match more.iter().find(|(m, _)| *m == c) {
                Some((_, e)) => out.push_str(e),
                None => out.push(c),
            },
        }
    }
    out
}

fn secs(s: f64) -> String {
    format!("{:.3}", millis(s))
}

/// The counts of a document's `<testsuites>`: its suites' counts and times summed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
    pub time: f64,
}

impl Totals {
    /// Add one suite's counts.
    pub fn add(&mut self, other: Totals) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.time += millis(other.time);
    }

    /// The XML declaration and the opening `<testsuites>` tag with these counts.
    pub(crate) fn open(&self) -> String {
        let Totals {
            tests,
            failures,
            errors,
            skipped,
            time,
        } = *self;
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"labctl\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\">\n", secs(time))
    }
}

/// The closing tag of the document.
pub(crate) const CLOSE: &str = "</testsuites>\n";

/// One lab's counts, as its testsuite states them.
pub fn totals(run: &LabRun) -> Totals {
    Totals {
        tests: run.results.len() + run.skipped() + run.error.is_some() as usize,
        failures: run.failed(),
        errors: run.error.is_some() as usize,
        skipped: run.skipped(),
        time: run.seconds,
    }
}

/// The whole document.
pub fn to_string(runs: &[LabRun]) -> String {
    let mut all = Totals::default();
    for r in runs {
        all.add(totals(r));
    }
    let mut x = all.open();
    for run in runs {
        let t = totals(run);
        let lab = escape_attr(&run.lab);
        let _ = writeln!(
            x,
            "  <testsuite name=\"{lab}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            t.tests,
            t.failures,
            t.errors,
            t.skipped,
            secs(t.time)
        );
        let mut props = vec![("schema", SCHEMA.to_string())];
        if let Some(provider) = &run.provider {
            props.push(("provider", provider.clone()));
        }
        if let Some(s) = &run.since {
            props.push((
                "since_run",
                s.run
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "none".into()),
            ));
            if !s.gone.is_empty() {
                props.push(("since_gone", s.gone.join(", ")));
            }
        }
        if let Some(s) = &run.shard {
            props.push(("partition", s.partition.clone()));
            props.push(("shard_entry", s.entry.clone()));
            props.extend(s.suite.iter().map(|l| ("suite_entry", l.clone())));
        }
        x.push_str("    <properties>\n");
        for (k, v) in props {
            let _ = writeln!(
                x,
                "      <property name=\"{k}\" value=\"{}\"/>",
                escape_attr(&v)
            );
        }
        x.push_str("    </properties>\n");
        // A check's marks since the earlier run, as the testcase's properties.
        let case_props = |name: &str| -> String {
            match run.since.as_ref().map(|s| s.marks_of(name)) {
                Some(m) if !m.is_empty() => format!(
                    "\n      <properties><property name=\"since\" value=\"{}\"/></properties>",
                    escape_attr(&m)
                ),
                _ => String::new(),
            }
        };
        for r in &run.results {
            let head = format!(
                "    <testcase classname=\"labctl.{lab}\" name=\"{}\" time=\"{}\"",
                escape_attr(&r.name),
                secs(r.seconds)
            );
            if r.passed {
                let _ = writeln!(
                    x,
                    "{head}>{}\n      <system-out>{}</system-out>\n    </testcase>",
                    case_props(&r.name),
                    escape_text(&r.message)
                );
            } else {
                let mut body = r.message.clone();
                if r.attempts > 1 {
                    let _ = write!(body, " (after {} attempts)", r.attempts);
                }
                if !r.output.is_empty() {
                    body.push_str("\n\n");
                    body.push_str(&r.output);
                }
                let _ = writeln!(
                    x,
                    "{head}>{}\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    case_props(&r.name),
                    escape_attr(&r.message),
                    escape_attr(r.kind),
                    escape_text(&body)
                );
            }
        }
        for s in &run.skipped {
            let _ = writeln!(
                x,
                "    <testcase classname=\"labctl.{lab}\" name=\"{}\" time=\"0.000\">\n      <skipped message=\"{}\"/>\n    </testcase>",
                escape_attr(&s.name),
                escape_attr(&s.reason)
            );
        }
        if let Some(e) = &run.error {
            let _ = writeln!(
                x,
                "    <testcase classname=\"labctl.{lab}\" name=\"{ERROR_CASE}\" time=\"0.000\">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                escape_attr(e.lines().next().unwrap_or("")),
                escape_text(e)
            );
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str(CLOSE);
    x
}

/// Write the document to `path` (its folder is created).
pub fn write(path: &Path, runs: &[LabRun]) -> crate::Result<()> {
    super::write_file(path, &to_string(runs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn junit_parses_back() {
        let runs = fixtures::mixed();
        let text = to_string(&runs);
        let doc = roxmltree::Document::parse(&text).expect("valid XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("6"));
        assert_eq!(root.attribute("skipped"), Some("1"));
        assert_eq!(root.attribute("failures"), Some("2"));
        assert_eq!(root.attribute("errors"), Some("1"));
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 2);
        let wf = suites[0];
        assert_eq!(wf.attribute("name"), Some("workflow"));
        assert_eq!(
            (
                wf.attribute("tests"),
                wf.attribute("failures"),
                wf.attribute("errors")
            ),
            (Some("5"), Some("2"), Some("0"))
        );
        assert_eq!(wf.attribute("skipped"), Some("1"));
        assert_eq!(wf.attribute("time"), Some("14.000"));
        let cases: Vec<_> = wf
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 5);
        // The skipped check is a testcase with <skipped message=REASON/>.
        let skip = cases[4]
            .children()
            .find(|n| n.has_tag_name("skipped"))
            .expect("<skipped/>");
        assert_eq!(cases[4].attribute("name"), Some("cron fires the pull line"));
        assert_eq!(skip.attribute("message"), Some("matches --skip cron"));
        // The provider property is there only when the state named it.
        let props = |s: roxmltree::Node| {
            s.descendants()
                .any(|n| n.attribute("name") == Some("provider"))
        };
        assert!(props(wf));
        assert!(!props(suites[1]), "no provider was read, none is written");
        for (c, r) in cases.iter().zip(&runs[0].results) {
            assert_eq!(c.attribute("classname"), Some("labctl.workflow"));
            assert_eq!(
                c.attribute("name"),
                Some(r.name.as_str()),
                "names round-trip, quotes and all"
            );
            let failure = c.children().find(|n| n.has_tag_name("failure"));
            assert_eq!(failure.is_some(), !r.passed);
            if let Some(f) = failure {
                assert_eq!(f.attribute("message"), Some(r.message.as_str()));
                assert_eq!(f.attribute("type"), Some(r.kind));
            }
        }
        let spread = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        let text_out = spread.text().unwrap();
        assert!(
            text_out.contains("<h1>web1 & \"rev\""),
            "output is escaped and round-trips: {text_out}"
        );
        assert!(
            !text_out.contains('\u{1b}') && !text_out.contains('\u{0}'),
            "invalid XML characters are dropped"
        );
        assert_eq!(cases[0].attribute("time"), Some("0.250"));

        let bench = suites[1];
        assert_eq!(
            (bench.attribute("tests"), bench.attribute("errors")),
            (Some("1"), Some("1"))
        );
        let err_case = bench
            .children()
            .find(|n| n.has_tag_name("testcase"))
            .unwrap();
        assert_eq!(err_case.attribute("name"), Some(ERROR_CASE));
        let err = err_case
            .children()
            .find(|n| n.has_tag_name("error"))
            .unwrap();
        assert!(err
            .attribute("message")
            .unwrap()
            .contains("docker network create"));
    }

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(to_string(&fixtures::mixed()));
    }

    #[test]
    fn attributes_keep_newlines_and_drop_controls() {
        let a = escape_attr("a\nb\t\"c\" 'd' <&>\u{7}\u{FFFE}");
        assert_eq!(a, "a&#10;b&#9;&quot;c&quot; &apos;d&apos; &lt;&amp;&gt;");
        let xml = format!("<x a=\"{a}\">{}</x>", escape_text("1 < 2 && \u{1}x\r\n"));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(
            doc.root_element().attribute("a"),
            Some("a\nb\t\"c\" 'd' <&>")
        );
        assert_eq!(doc.root_element().text(), Some("1 < 2 && x\r\n"));
    }

    #[test]
    fn write_creates_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out/junit.xml");
        write(&p, &fixtures::mixed()).unwrap();
        roxmltree::Document::parse(&std::fs::read_to_string(&p).unwrap()).unwrap();
    }
}
