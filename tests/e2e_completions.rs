//! Shell completions and the man page, from the same clap tree as the
//! command line. The bash script `labctl completions bash` prints is sourced
//! into a real bash and its completion function run the way bash runs it
//! (COMP_WORDS, COMP_CWORD): shipped lab names always, and node names only
//! for a lab that is up, on the docker provider (lab `views`, 192.168.171.0/24).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// What bash offers for the last of `words` (an empty last word: after a space).
fn complete(dir: &Path, script: &Path, words: &[&str]) -> Vec<String> {
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c"])
        .arg(
            r#"source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
complete -p labctl >/dev/null || { echo "no completion registered for labctl" >&2; exit 1; }
_clap_complete_labctl labctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}""#,
        )
        .arg("bash")
        .arg(script)
        .args(words)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn script(dir: &Path) -> std::path::PathBuf {
    let text = ok(&labctl(dir, &["completions", "bash"]));
    let path = dir.join("labctl.bash");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bash_completes_commands_and_shipped_lab_names() {
    let tmp = workdir("labctl-compl-");
    let dir = tmp.path();
    let s = script(dir);
    assert_eq!(complete(dir, &s, &["labctl", "gra"]), ["graph"]);
    assert_eq!(complete(dir, &s, &["labctl", "up", "wo"]), ["workflow"]);
    assert_eq!(
        complete(dir, &s, &["labctl", "test", "--all", "te"]),
        ["testnodes"]
    );
    let all = complete(dir, &s, &["labctl", "graph", ""]);
    for lab in ["workflow", "bench", "testnodes", "docker-deploy"] {
        assert!(all.contains(&lab.to_string()), "{all:?}");
    }
    assert_eq!(
        complete(dir, &s, &["labctl", "graph", "workflow", "--format", "s"]),
        ["svg"]
    );
    // A lab that was never brought up here has no nodes to offer.
    let nodes = complete(dir, &s, &["labctl", "ssh", "workflow", ""]);
    assert!(!nodes.iter().any(|n| n == "web1" || n == "lb"), "{nodes:?}");
}

#[test]
fn zsh_and_fish_scripts_call_labctl_back() {
    let tmp = workdir("labctl-compl-");
    let exe = std::fs::canonicalize(bin()).unwrap();
    for shell in ["zsh", "fish"] {
        let text = ok(&labctl(tmp.path(), &["completions", shell]));
        assert!(
            text.contains(&format!("LABCTL_COMPLETE={shell}"))
                || text.contains(&format!("LABCTL_COMPLETE=\"{shell}\"")),
            "{shell}: {text}"
        );
        assert!(text.contains(exe.to_str().unwrap()), "{shell}: {text}");
    }
    let bad = labctl(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_pages_from_the_same_clap_tree() {
    let tmp = workdir("labctl-man-");
    let dir = tmp.path();
    let page = ok(&labctl(dir, &["man"]));
    assert!(
        page.starts_with(".ie") || page.contains(".TH labctl 1"),
        "{page}"
    );
    // Every command of --help is in the page, and man itself formats it.
    let help = ok(&labctl(dir, &["--help"]));
    let cmds: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        cmds.contains(&"graph") && cmds.contains(&"completions"),
        "{cmds:?}"
    );
    for c in &cmds {
        let entry = format!("labctl\\-{}(1)", c.replace('-', "\\-"));
        assert!(page.contains(&entry), "man page lacks {entry}");
    }
    std::fs::write(dir.join("labctl.1"), &page).unwrap();
    let shown = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.join("labctl.1"))
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("labctl") && shown.contains("graph"),
        "{shown}"
    );
    // One page per command into a folder.
    ok(&labctl(dir, &["man", "--out", "pages"]));
    for c in [
        "labctl.1",
        "labctl-graph.1",
        "labctl-completions.1",
        "labctl-up.1",
    ] {
        assert!(dir.join("pages").join(c).is_file(), "{c} not written");
    }
}

#[test]
fn bash_completes_node_names_of_a_lab_that_is_up() {
    let _g = serial();
    let (tmp, lab) = fixture_lab("views");
    let dir = tmp.path();
    let lab = lab.to_str().unwrap();
    let _down = DownGuard::new(dir, &[lab]);
    let before = snapshot(&["labctl-views", dir.to_str().unwrap()]);
    let s = script(dir);
    let nodes = |words: &[&str]| complete(dir, &s, words);

    assert!(
        nodes(&["labctl", "ssh", lab, "a"]).is_empty(),
        "nodes offered before up"
    );
    ok(&labctl(dir, &["up", lab, "--provider", "docker"]));
    let all = nodes(&["labctl", "ssh", lab, ""]);
    assert!(
        all.contains(&"alpha".to_string()) && all.contains(&"beta".to_string()),
        "{all:?}"
    );
    assert_eq!(nodes(&["labctl", "ssh", lab, "a"]), ["alpha"]);
    assert_eq!(nodes(&["labctl", "exec", lab, "b"]), ["beta"]);
    assert_eq!(nodes(&["labctl", "restart", lab, "al"]), ["alpha"]);
    assert_eq!(
        nodes(&["labctl", "provision", lab, "--node", "be"]),
        ["beta"]
    );
    // The offered name works.
    let host = ok(&labctl(dir, &["exec", lab, "beta", "--", "hostname"]));
    assert_eq!(host.trim(), "beta");

    ok(&labctl(dir, &["down", lab]));
    assert!(
        nodes(&["labctl", "ssh", lab, "a"]).is_empty(),
        "nodes offered after down"
    );
    assert_clean(&before, &snapshot(&["labctl-views", dir.to_str().unwrap()]));
}
