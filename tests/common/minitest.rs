//! One Minitest case of a Ruby test under tests/ruby, run by the real `ruby`
//! in a process of its own, so a case cannot lean on state another case left.
//!
//! `ruby` is required (CI installs Debian's `ruby`, whose Minitest ships with
//! it): when it is missing the caller's test fails, it never skips.

use std::path::Path;
use std::process::Command;

/// Run case `case` of `test` (a path under the repository) and fail unless
/// exactly that one case ran and passed. `files` are (variable, path under
/// the repository) pairs: the Ruby test loads the files under test from the
/// variables, so it is always the repository's copy that is tested. `unset`
/// are the variables the code under test reads as its settings, removed so
/// that the caller's environment cannot change the defaults a case expects.
pub fn minitest(test: &str, case: &str, files: &[(&str, &str)], unset: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("ruby");
    cmd.arg(root.join(test)).args(["-n", case]);
    for (var, path) in files {
        cmd.env(var, root.join(path));
    }
    for var in unset {
        cmd.env_remove(var);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run ruby (install Debian's `ruby`): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 runs,") && text.contains(" 0 failures, 0 errors"),
        "{case}:\n{text}"
    );
}
