//! POSIX shell words: the one quoting function, and the wrappers that run a
//! script under `sh` whatever the node user's login shell is, with its values
//! passed as arguments.

/// A single-quoted POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A script run by `sh`, whatever the login shell.
pub fn sh(script: &str) -> String {
    format!("sh -c {}", shell_quote(script))
}

/// A script run by `sh` as root: directly when already root, else `sudo -n`.
pub fn sh_root(script: &str) -> String {
    let q = shell_quote(script);
    format!("if [ \"$(id -u)\" -eq 0 ]; then sh -c {q}; else sudo -n sh -c {q}; fi")
}

/// `sh -c SCRIPT NAME ARGS...`: a script of labctl's own (a file included
/// with `include_str!`) run by `sh`, its values as positional arguments
/// (`$1`, `$2`, ...), each one quoted word: never spliced into the script.
pub fn sh_args(script: &str, name: &str, args: &[&str]) -> String {
    let mut cmd = format!("sh -c {} {name}", shell_quote(script));
    for a in args {
        cmd.push(' ');
        cmd.push_str(&shell_quote(a));
    }
    cmd
}

/// [`sh_args`] as root: directly when already root, else `sudo -n`.
pub fn sh_root_args(script: &str, name: &str, args: &[&str]) -> String {
    let run = sh_args(script, name, args);
    format!("if [ \"$(id -u)\" -eq 0 ]; then {run}; else sudo -n {run}; fi")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_inert() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
    }
}
