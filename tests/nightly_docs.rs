//! docs/nightly.md's GitLab CI and GitHub Actions examples are checked
//! against those systems' published schemas (check-jsonschema's vendored
//! `gitlab-ci` and `github-workflows` schemas: offline), so they cannot rot.
//! Broken case: a spoiled copy of each (a wrong type, a misspelt key) is
//! refused, so a pass is the validator's verdict, not a tool that checks
//! nothing. check-jsonschema lives in a virtualenv that .ci/run makes
//! (/opt/labctl-ci-venv); LABCTL_CHECK_JSONSCHEMA names another.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tool() -> PathBuf {
    std::env::var_os("LABCTL_CHECK_JSONSCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/labctl-ci-venv/bin/check-jsonschema"))
}

/// The first ```yaml block after the heading `## {heading}`.
fn example(doc: &str, heading: &str) -> String {
    let rest = doc
        .split_once(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("docs/nightly.md has no section {heading}"))
        .1;
    let body = rest.split_once("```yaml\n").expect("a yaml block").1;
    body.split_once("\n```")
        .expect("the block ends")
        .0
        .to_string()
        + "\n"
}

/// Validate `text` against a vendored schema: (passed, what it said).
fn check(schema: &str, text: &str, dir: &Path, name: &str) -> (bool, String) {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    let out = Command::new(tool())
        .args(["--builtin-schema", schema])
        .arg(&f)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): .ci/run installs it in a virtualenv",
                tool().display()
            )
        });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_nightly_examples_match_the_published_schemas() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/nightly.md"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "GitLab CI",
            "vendor.gitlab-ci",
            ("parallel: 3 ", "parallel: three "),
        ),
        (
            "GitHub Actions",
            "vendor.github-workflows",
            ("runs-on:", "runs_on:"),
        ),
    ];
    for (heading, schema, (from, to)) in cases {
        let text = example(&doc, heading);
        assert!(
            text.contains("--partition") && text.contains("report merge"),
            "{heading}: {text}"
        );
        let (ok, said) = check(schema, &text, dir.path(), "example.yml");
        assert!(ok, "{heading} example against {schema}: {said}");
        assert!(
            text.contains(from),
            "{heading}: the spoil marker {from:?} is gone"
        );
        let (ok, said) = check(schema, &text.replace(from, to), dir.path(), "spoiled.yml");
        assert!(!ok, "a spoiled {heading} example passed {schema}: {said}");
    }
}
