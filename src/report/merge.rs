//! `labctl report merge OUT IN...`: one report from the reports of the CI
//! runners a suite was split over (`labctl test --partition`), as if one
//! runner had tested every lab: one testsuite (JUnit) or one object (JSON) per
//! lab, sorted by lab, the document's counts and times summed.
//!
//! OUT's extension says the format (`.xml` JUnit, `.json` JSON); each input's
//! content says its own, and every input must be of OUT's format and of one
//! schema version (JSON's `schema` field, JUnit's `schema` suite property):
//! a merged report never mixes layouts. A lab in two inputs is refused: its
//! shards overlapped. An input with no lab (an empty share) adds nothing.
//!
//! Nothing is rewritten on the way: JSON reports are read back
//! ([`super::json::parse`]) and written by the one JSON writer; a JUnit
//! suite is copied as written, only the `<testsuites>` totals are new
//! ([`super::junit::Totals`]).

use super::{json, junit, LabRun};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Junit,
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Junit => "JUnit XML",
            Format::Json => "JSON",
        }
    }

    /// OUT's format, from its extension.
    pub fn of_path(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("xml") => Ok(Format::Junit),
            Some("json") => Ok(Format::Json),
            _ => Err(Error::Usage {
                message: format!(
                    "cannot tell the report format of {} from its name",
                    path.display()
                ),
                hint: Some("name it OUT.xml (JUnit XML) or OUT.json (JSON)".into()),
            }),
        }
    }

    /// An input's format, from its first character.
    fn of_text(text: &str) -> Option<Format> {
        match text.trim_start().chars().next() {
            Some('<') => Some(Format::Junit),
            Some('{' | '[') => Some(Format::Json),
            _ => None,
        }
    }
}

/// What was merged, for the line the command prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub format: Format,
    pub labs: Vec<String>,
    pub totals: junit::Totals,
}

impl std::fmt::Display for Merged {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let t = &self.totals;
        write!(
            f,
            "{} lab{} ({}): {} tests, {} failures, {} errors, {} skipped, {:.1}s",
            self.labs.len(),
            if self.labs.len() == 1 { "" } else { "s" },
            self.format.name(),
            t.tests,
            t.failures,
            t.errors,
            t.skipped,
            t.time
        )
    }
}

/// A bad input: a usage error naming the file, with a hint.
fn refuse(path: &Path, what: impl std::fmt::Display, hint: &str) -> Error {
    Error::Usage {
        message: format!("cannot merge {}: {what}", path.display()),
        hint: Some(hint.into()),
    }
}

const SAME_LABCTL: &str =
    "merge reports written by one labctl version: run every shard with the same labctl";

/// The first schema seen, and in which file; every later one must equal it.
struct Schema<'a> {
    first: Option<(String, &'a Path)>,
}

impl<'a> Schema<'a> {
    fn check(&mut self, path: &'a Path, schema: &str) -> Result<()> {
        match &self.first {
            None => {
                self.first = Some((schema.to_string(), path));
                Ok(())
            }
            Some((s, _)) if s == schema => Ok(()),
            Some((s, p)) => Err(refuse(
                path,
                format!(
                    "its schema is {schema}, but {} has {s}: reports of different schema versions are not merged",
                    p.display()
                ),
                SAME_LABCTL,
            )),
        }
    }
}

/// The labs claimed so far, and the split they came from: each lab once (a
/// lab in two inputs means two shards overlapped), and, when the inputs are
/// shares of a split suite, every lab of that suite (a lab in none means a
/// shard's report was lost: its runner died, or it was not passed).
#[derive(Default)]
struct Claims<'a> {
    seen: Vec<(String, &'a Path)>,
    /// The first share seen: its suite, a lab of it, and in which file.
    suite: Option<(super::Shard, String, &'a Path)>,
    /// A lab from a run that was not a share, and its file.
    whole: Option<(String, &'a Path)>,
    /// The shares' labs as the split named them.
    entries: Vec<String>,
    /// The shares the inputs hold (`count:2/3`), each once, in input order.
    partitions: Vec<String>,
}

impl<'a> Claims<'a> {
    fn claim(&mut self, lab: &str, shard: Option<&super::Shard>, path: &'a Path) -> Result<()> {
        if let Some((_, p)) = self.seen.iter().find(|(l, _)| l == lab) {
            return Err(refuse(
                path,
                format!("lab `{lab}` is also in {}", p.display()),
                "each lab belongs to one shard: were two runners given the same --partition?",
            ));
        }
        self.seen.push((lab.to_string(), path));
        if let Some(s) = shard {
            self.entries.push(s.entry.clone());
            if !self.partitions.contains(&s.partition) {
                self.partitions.push(s.partition.clone());
            }
        }
        match (shard, &self.suite, &self.whole) {
            (Some(s), None, None) => self.suite = Some((s.clone(), lab.to_string(), path)),
            (Some(s), Some((first, _, p)), _) if s.suite != first.suite => {
                return Err(refuse(
                    path,
                    format!(
                        "its share {} was split from {} lab(s) ({}), but {}'s share {} from {} ({})",
                        s.partition,
                        s.suite.len(),
                        s.suite.join(", "),
                        p.display(),
                        first.partition,
                        first.suite.len(),
                        first.suite.join(", ")
                    ),
                    "merge the shards of one pipeline run: every runner must split the same list of labs",
                ))
            }
            (Some(_), Some(_), _) => {}
            (None, None, _) => {
                self.whole.get_or_insert((lab.to_string(), path));
            }
            (Some(s), None, Some((l, p))) => return Err(mixed(path, lab, s, l, p)),
            (None, Some((s, l, p)), _) => return Err(mixed(p, l, s, lab, path)),
        }
        Ok(())
    }

    /// Every lab of the split suite is in some input.
    fn complete(&self) -> Result<()> {
        let Some((shard, _, _)) = &self.suite else {
            return Ok(());
        };
        let missing: Vec<&str> = shard
            .suite
            .iter()
            .filter(|l| !self.entries.contains(l))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let total = shard.partition.rsplit('/').next().unwrap_or("?");
        let (one, labs) = (missing.len() == 1, missing.join(", "));
        // Every share present means no report was lost: the runner of the
        // lab's share wrote its report without that lab (it died mid-share, or
        // the report was cut). Otherwise say which shares did arrive, so the
        // lost one can be told from the pipeline's list of runners.
        let all_here = total
            .parse::<usize>()
            .is_ok_and(|n| self.partitions.len() >= n);
        let (why, hint) = if all_here {
            (
                format!(
                    "every shard's report is here ({}), so the shard that ran {} lost {} run",
                    self.partitions.join(", "),
                    if one { "it" } else { "them" },
                    if one { "its" } else { "their" },
                ),
                "a runner that died mid-share may still have written a report of the labs it finished: rerun that share",
            )
        } else {
            (
                format!(
                    "the report of the shard that ran {} is missing (the inputs hold {})",
                    if one { "it" } else { "them" },
                    self.partitions.join(", "),
                ),
                "pass every shard's report (an empty share writes one too); a runner that died wrote none: rerun its share",
            )
        };
        Err(Error::Usage {
            message: format!(
                "cannot merge: lab{} {labs} of the suite split over {total} shards {} in no input: {why}",
                if one { "" } else { "s" },
                if one { "is" } else { "are" },
            ),
            hint: Some(hint.into()),
        })
    }
}

/// A share's lab and a whole suite's lab in one merge.
fn mixed(path: &Path, lab: &str, s: &super::Shard, other: &str, other_path: &Path) -> Error {
    refuse(
        path,
        format!(
            "lab `{lab}` comes from share {} of a split suite, but lab `{other}` in {} from a run of a whole suite",
            s.partition,
            other_path.display()
        ),
        "merge the reports of one split suite (`labctl test --partition`), nothing else",
    )
}

/// Merge `inputs` into `out` (written atomically, its folder created).
pub fn merge(out: &Path, inputs: &[PathBuf]) -> Result<Merged> {
    let format = Format::of_path(out)?;
    let mut texts = Vec::new();
    for p in inputs {
        let text = std::fs::read_to_string(p).map_err(|e| Error::io("read", p, e))?;
        match Format::of_text(&text) {
            Some(f) if f == format => texts.push((p.as_path(), text)),
            Some(f) => {
                return Err(refuse(
                    p,
                    format!(
                        "it is {}, and {} is to be {}",
                        f.name(),
                        out.display(),
                        format.name()
                    ),
                    "every input must be of OUT's format: merge the JUnit reports into OUT.xml and the JSON reports into OUT.json",
                ))
            }
            None => {
                return Err(refuse(
                    p,
                    "it is neither JUnit XML nor JSON",
                    "inputs are reports of `labctl test --report junit:PATH` or `--report json:PATH`",
                ))
            }
        }
    }
    let (text, merged) = match format {
        Format::Json => merge_json(&texts)?,
        Format::Junit => merge_junit(&texts)?,
    };
    super::write_file(out, &text)?;
    Ok(merged)
}

fn merge_json(texts: &[(&Path, String)]) -> Result<(String, Merged)> {
    let mut schema = Schema { first: None };
    let mut claims = Claims::default();
    let mut runs: Vec<LabRun> = Vec::new();
    for (path, text) in texts {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            refuse(
                path,
                format!("not JSON: {e}"),
                "inputs are reports of `labctl test --report json:PATH`",
            )
        })?;
        let reports = match v {
            serde_json::Value::Array(a) => a,
            one => vec![one],
        };
        for r in reports {
            let s = r["schema"].as_str().ok_or_else(|| {
                refuse(
                    path,
                    "a report in it has no \"schema\" field",
                    "inputs are reports of `labctl test --report json:PATH`",
                )
            })?;
            schema.check(path, s)?;
            let run = json::parse(&r.to_string()).map_err(|e| refuse(path, e, SAME_LABCTL))?;
            claims.claim(&run.lab, run.shard.as_ref(), path)?;
            runs.push(run);
        }
    }
    claims.complete()?;
    runs.sort_by(|a, b| a.lab.cmp(&b.lab));
    let mut totals = junit::Totals::default();
    for r in &runs {
        totals.add(junit::totals(r));
    }
    let merged = Merged {
        format: Format::Json,
        labs: runs.iter().map(|r| r.lab.clone()).collect(),
        totals,
    };
    Ok((json::to_string_runs(&runs), merged))
}

fn merge_junit(texts: &[(&Path, String)]) -> Result<(String, Merged)> {
    const HINT: &str = "inputs are reports of `labctl test --report junit:PATH`";
    let mut schema = Schema { first: None };
    let mut claims = Claims::default();
    // (lab, the suite as written, its counts)
    let mut suites: Vec<(String, &str, junit::Totals)> = Vec::new();
    for (path, text) in texts {
        let doc = roxmltree::Document::parse(text)
            .map_err(|e| refuse(path, format!("not well-formed XML: {e}"), HINT))?;
        let root = doc.root_element();
        if !root.has_tag_name("testsuites") {
            return Err(refuse(
                path,
                format!(
                    "its root element is <{}>, not <testsuites>",
                    root.tag_name().name()
                ),
                HINT,
            ));
        }
        for suite in root.children().filter(|n| n.is_element()) {
            if !suite.has_tag_name("testsuite") {
                return Err(refuse(
                    path,
                    format!(
                        "<testsuites> holds a <{}>, not a <testsuite>",
                        suite.tag_name().name()
                    ),
                    HINT,
                ));
            }
            let pos = doc.text_pos_at(suite.range().start);
            let at = format!("the testsuite at line {}", pos.row);
            let lab = suite
                .attribute("name")
                .ok_or_else(|| refuse(path, format!("{at} has no name"), HINT))?;
            let props = || {
                suite
                    .children()
                    .filter(|c| c.has_tag_name("properties"))
                    .flat_map(|p| p.children())
                    .filter(|p| p.has_tag_name("property"))
            };
            let prop = |name: &str| {
                props()
                    .find(|p| p.attribute("name") == Some(name))
                    .and_then(|p| p.attribute("value"))
            };
            let shard = prop("partition").map(|p| super::Shard {
                partition: p.to_string(),
                entry: prop("shard_entry").unwrap_or(lab).to_string(),
                suite: props()
                    .filter(|p| p.attribute("name") == Some("suite_entry"))
                    .filter_map(|p| p.attribute("value").map(String::from))
                    .collect(),
            });
            let Some(s) = prop("schema") else {
                return Err(refuse(
                    path,
                    format!("testsuite `{lab}` has no schema property (this labctl writes {})", junit::SCHEMA),
                    "it was written by an older labctl or another tool: run every shard with this labctl",
                ));
            };
            schema.check(path, s)?;
            let count = |k: &str| -> Result<usize> {
                suite
                    .attribute(k)
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| {
                        refuse(
                            path,
                            format!("testsuite `{lab}` has no whole number {k}=\"..\""),
                            HINT,
                        )
                    })
            };
            let time = suite
                .attribute("time")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| {
                    refuse(
                        path,
                        format!("testsuite `{lab}` has no time=\"SECONDS\""),
                        HINT,
                    )
                })?;
            let totals = junit::Totals {
                tests: count("tests")?,
                failures: count("failures")?,
                errors: count("errors")?,
                skipped: count("skipped")?,
                time,
            };
            claims.claim(lab, shard.as_ref(), path)?;
            suites.push((lab.to_string(), &text[suite.range()], totals));
        }
    }
    claims.complete()?;
    suites.sort_by(|a, b| a.0.cmp(&b.0));
    let mut totals = junit::Totals::default();
    for (_, _, t) in &suites {
        totals.add(*t);
    }
    let mut x = totals.open();
    for (_, suite, _) in &suites {
        x.push_str("  ");
        x.push_str(suite);
        x.push('\n');
    }
    x.push_str(junit::CLOSE);
    let merged = Merged {
        format: Format::Junit,
        labs: suites.into_iter().map(|s| s.0).collect(),
        totals,
    };
    Ok((x, merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use rstest::rstest;

    /// Two shards' reports (mixed() split: workflow on one runner, bench on
    /// the other) and a folder to merge them in.
    fn shards(dir: &Path, ext: &str) -> Vec<PathBuf> {
        let runs = fixtures::mixed();
        let mut paths = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let p = dir.join(format!("shard-{}.{ext}", i + 1));
            let text = match ext {
                "xml" => junit::to_string(std::slice::from_ref(run)),
                _ => json::to_string(run),
            };
            std::fs::write(&p, text).unwrap();
            paths.push(p);
        }
        paths
    }

    /// The merged JUnit report is the report one runner testing both labs
    /// would have written (labs sorted): every suite as written, counts and
    /// times summed.
    #[test]
    fn junit_shards_merge_into_the_unsharded_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut ins = shards(dir.path(), "xml");
        ins.reverse(); // the order of the inputs does not matter
        let empty = dir.path().join("empty.xml");
        std::fs::write(&empty, junit::to_string(&[])).unwrap();
        ins.push(empty);
        let out = dir.path().join("merged/all.xml");
        let m = merge(&out, &ins).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let mut runs = fixtures::mixed();
        runs.sort_by(|a, b| a.lab.cmp(&b.lab));
        assert_eq!(text, junit::to_string(&runs));
        assert_eq!(m.labs, ["bench", "workflow"]);
        assert_eq!(
            m.to_string(),
            "2 labs (JUnit XML): 6 tests, 2 failures, 1 errors, 1 skipped, 16.5s"
        );
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("tests"), Some("6"));
        assert_eq!(root.attribute("time"), Some("16.500"));
        insta::assert_snapshot!("merged_junit", text);
    }

    #[test]
    fn json_shards_merge_into_the_unsharded_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut ins = shards(dir.path(), "json");
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, json::to_string_runs(&[])).unwrap();
        ins.insert(0, empty);
        let out = dir.path().join("all.json");
        let m = merge(&out, &ins).unwrap();
        let mut runs = fixtures::mixed();
        runs.sort_by(|a, b| a.lab.cmp(&b.lab));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            json::to_string_runs(&runs)
        );
        assert_eq!(m.totals.tests, 6);
        // A merged report merges again (an array input), unchanged.
        let again = dir.path().join("again.json");
        merge(&again, std::slice::from_ref(&out)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&again).unwrap(),
            std::fs::read_to_string(&out).unwrap()
        );
    }

    /// Every refusal names the input file (or OUT) and says why.
    #[rstest]
    #[case::schema_json("json", |t: &str| t.replacen("labctl.test/2", "labctl.test/1", 1), "its schema is labctl.test/1, but")]
    #[case::schema_junit("xml", |t: &str| t.replace("labctl.junit/1", "labctl.junit/2"), "its schema is labctl.junit/2, but")]
    #[case::no_schema_junit("xml", |t: &str| t.replace("<property name=\"schema\" value=\"labctl.junit/1\"/>", ""), "testsuite `bench` has no schema property")]
    #[case::no_schema_json("json", |t: &str| t.replacen("\"schema\"", "\"schemo\"", 1), "has no \"schema\" field")]
    #[case::same_lab("json", |t: &str| t.replacen("\"lab\": \"bench\"", "\"lab\": \"workflow\"", 1), "lab `workflow` is also in")]
    #[case::mixed_formats("xml", |_: &str| "{}".to_string(), "it is JSON, and")]
    #[case::not_a_report("xml", |_: &str| "hello".to_string(), "neither JUnit XML nor JSON")]
    #[case::bad_xml("xml", |t: &str| t.replace("</testsuites>", ""), "not well-formed XML")]
    #[case::bad_count("xml", |t: &str| t.replace("tests=\"1\"", "tests=\"many\""), "has no whole number tests=")]
    #[case::other_root("xml", |_: &str| "<testsuite name=\"x\"/>".to_string(), "root element is <testsuite>")]
    fn a_bad_input_is_refused_naming_it(
        #[case] ext: &str,
        #[case] spoil: fn(&str) -> String,
        #[case] says: &str,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ins = shards(dir.path(), ext);
        let bad = &ins[1];
        std::fs::write(bad, spoil(&std::fs::read_to_string(bad).unwrap())).unwrap();
        let out = dir.path().join(format!("out.{ext}"));
        let e = merge(&out, &ins).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("cannot merge {}: ", bad.display())),
            "{msg}"
        );
        assert!(msg.contains(says), "{msg}");
        assert_eq!(e.exit(), crate::Exit::Usage);
        assert!(!out.exists(), "nothing is written from refused inputs");
    }

    /// Three shares of a split suite of three labs (`docker-deploy` being
    /// the third share's), as `labctl test --partition count:K/3` writes them.
    fn split_shards(dir: &Path, ext: &str) -> Vec<PathBuf> {
        let suite: Vec<String> = ["bench", "docker-deploy", "workflow"]
            .map(String::from)
            .to_vec();
        let mut runs = fixtures::mixed();
        runs.push(LabRun::new("docker-deploy"));
        let mut paths = Vec::new();
        for run in runs.iter_mut() {
            let k = suite.iter().position(|l| *l == run.lab).unwrap() + 1;
            run.shard = Some(crate::report::Shard {
                partition: format!("count:{k}/3"),
                entry: run.lab.clone(),
                suite: suite.clone(),
            });
            let p = dir.join(format!("shard-{k}.{ext}"));
            let text = match ext {
                "xml" => junit::to_string(std::slice::from_ref(run)),
                _ => json::to_string(run),
            };
            std::fs::write(&p, text).unwrap();
            paths.push(p);
        }
        paths.sort(); // shard-1 (bench), shard-2 (docker-deploy), shard-3
        paths
    }

    /// Every share present: merged, with each suite's share kept.
    #[rstest]
    fn the_shares_of_a_split_suite_merge(#[values("xml", "json")] ext: &str) {
        let dir = tempfile::tempdir().unwrap();
        let ins = split_shards(dir.path(), ext);
        let out = dir.path().join(format!("all.{ext}"));
        let m = merge(&out, &ins).unwrap();
        assert_eq!(m.labs, ["bench", "docker-deploy", "workflow"]);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("count:2/3"), "{text}");
        // The merged report merges again: it still holds the whole suite.
        merge(&dir.path().join(format!("again.{ext}")), &[out]).unwrap();
    }

    /// A lost shard report is named by the labs it held, in both formats, and
    /// nothing is written.
    #[rstest]
    fn a_missing_shard_is_refused_naming_its_labs(#[values("xml", "json")] ext: &str) {
        let dir = tempfile::tempdir().unwrap();
        let mut ins = split_shards(dir.path(), ext);
        ins.remove(1); // shard 2/3 (docker-deploy) never arrived
        let out = dir.path().join(format!("all.{ext}"));
        let e = merge(&out, &ins).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("lab docker-deploy of the suite split over 3 shards is in no input"),
            "{msg}"
        );
        assert!(e.render().contains("rerun its share"), "{}", e.render());
        assert_eq!(e.exit(), crate::Exit::Usage);
        assert!(!out.exists());
    }

    /// Every shard's report arrived but one lost a lab's run: the message
    /// says no report is missing, and names the shares it saw.
    #[rstest]
    fn a_lab_lost_inside_a_present_shard_is_told_apart(#[values("xml", "json")] ext: &str) {
        let dir = tempfile::tempdir().unwrap();
        let suite: Vec<String> = ["bench", "testnodes", "workflow"]
            .map(String::from)
            .to_vec();
        // Shard 2/2 ran testnodes and workflow, but its report holds workflow only.
        let mut ins = Vec::new();
        for (k, lab) in [(1, "bench"), (2, "workflow")] {
            let mut run = LabRun::new(lab);
            run.shard = Some(crate::report::Shard {
                partition: format!("count:{k}/2"),
                entry: lab.into(),
                suite: suite.clone(),
            });
            let p = dir.path().join(format!("shard-{k}.{ext}"));
            let text = match ext {
                "xml" => junit::to_string(std::slice::from_ref(&run)),
                _ => json::to_string(&run),
            };
            std::fs::write(&p, text).unwrap();
            ins.push(p);
        }
        let e = merge(&dir.path().join(format!("all.{ext}")), &ins).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("lab testnodes of the suite split over 2 shards is in no input"),
            "{msg}"
        );
        assert!(
            msg.contains("every shard's report is here (count:1/2, count:2/2)"),
            "{msg}"
        );
        assert!(!msg.contains("is missing"), "{msg}");
        // With shard 2/2's report gone too, the report is what is missing.
        ins.pop();
        let msg = merge(&dir.path().join(format!("all.{ext}")), &ins)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("is missing (the inputs hold count:1/2)"),
            "{msg}"
        );
    }

    /// Shares split from different lab lists, or a share merged with a whole
    /// suite's report, are refused naming both files.
    #[rstest]
    fn shares_of_different_suites_are_refused(#[values("xml", "json")] ext: &str) {
        let dir = tempfile::tempdir().unwrap();
        let ins = split_shards(dir.path(), ext);
        let other = dir.path().join(format!("other.{ext}"));
        let mut run = LabRun::new("testnodes");
        run.shard = Some(crate::report::Shard {
            partition: "count:1/1".into(),
            entry: "testnodes".into(),
            suite: vec!["testnodes".into()],
        });
        let text = match ext {
            "xml" => junit::to_string(std::slice::from_ref(&run)),
            _ => json::to_string(&run),
        };
        std::fs::write(&other, text).unwrap();
        let e = merge(
            &dir.path().join(format!("o.{ext}")),
            &[ins[0].clone(), other.clone()],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("was split from 1 lab(s) (testnodes)"),
            "{e}"
        );
        // A whole suite's report (no partition) with a share.
        let whole_dir = dir.path().join("whole");
        std::fs::create_dir(&whole_dir).unwrap();
        let whole = shards(&whole_dir, ext);
        let e = merge(
            &dir.path().join(format!("w.{ext}")),
            &[whole[0].clone(), ins[1].clone()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("from a run of a whole suite"), "{e}");
    }

    #[test]
    fn out_needs_a_known_extension() {
        let dir = tempfile::tempdir().unwrap();
        let ins = shards(dir.path(), "xml");
        let e = merge(&dir.path().join("out.txt"), &ins).unwrap_err();
        assert!(
            e.to_string().contains("cannot tell the report format"),
            "{e}"
        );
        assert!(e.render().contains("OUT.xml (JUnit XML) or OUT.json"));
    }
}
