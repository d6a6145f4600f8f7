//! The command line through the built binary: version, help with examples on
//! every command, list, validate, render, exit codes, and running outside the
//! repository (an installed binary carries the shipped labs and roles).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SHIPPED: [&str; 4] = ["bench", "docker-deploy", "testnodes", "workflow"];

fn labctl(args: &[&str]) -> Output {
    labctl_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Run the binary with `cwd` as its working directory.
fn labctl_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labctl"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run labctl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn version() {
    let o = labctl(&["--version"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!("labctl {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The subcommands a help text lists (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    let Some(section) = help.split("\nCommands:\n").nth(1) else {
        return Vec::new();
    };
    section
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Every command, including the subcommands of command groups (`image build`),
/// has examples in its `--help` that show how to call it.
#[test]
fn help_has_examples_for_every_command() {
    let o = labctl(&["--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let top = stdout(&o);
    assert!(top.contains("Examples:"), "{top}");
    assert!(top.contains("Exit codes"), "{top}");
    let mut todo: Vec<Vec<String>> = subcommands(&top).into_iter().map(|c| vec![c]).collect();
    for c in ["list", "validate", "render"] {
        assert!(
            todo.iter().any(|x| x[0] == c),
            "`{c}` missing from --help:\n{top}"
        );
    }
    let mut leaves = 0;
    while let Some(cmd) = todo.pop() {
        let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        args.push("--help");
        let o = labctl(&args);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let text = stdout(&o);
        let subs = subcommands(&text);
        if !subs.is_empty() {
            todo.extend(subs.into_iter().map(|s| [cmd.clone(), vec![s]].concat()));
            continue;
        }
        let name = cmd.join(" ");
        let examples = text
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("`labctl {name} --help` has no Examples:\n{text}"));
        assert!(
            examples.contains(&format!("labctl {name}")),
            "`labctl {name} --help` examples do not show `labctl {name}`:\n{text}"
        );
        leaves += 1;
    }
    assert!(leaves >= 3);
}

#[test]
fn a_generic_complete_variable_in_the_environment_changes_nothing() {
    // clap's default completion variable is COMPLETE; labctl answers only to
    // LABCTL_COMPLETE, so an environment that exports COMPLETE (for another
    // tool) still runs commands.
    let o = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .arg("list")
        .env("COMPLETE", "bash")
        .env("NO_COLOR", "1")
        .output()
        .expect("run labctl");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("workflow "), "{}", show(&o));
}

#[test]
fn list_shows_the_four_shipped_labs() {
    let o = labctl(&["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = stdout(&o);
    let rows: Vec<&str> = out
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    for (row, name) in rows.iter().zip(SHIPPED) {
        assert!(
            row.starts_with(&format!("{name} ")),
            "{row:?} is not lab {name}"
        );
    }
    // Node counts after `count` expansion, and the address plan.
    assert!(
        out.lines().any(|l| l.starts_with("workflow ")
            && l.contains(" 5 ")
            && l.contains("192.168.57.0/24")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("testnodes ")
            && l.contains(" 3 ")
            && l.contains("192.168.56.0/24")),
        "{out}"
    );
}

#[test]
fn validate_all_shipped_labs() {
    // No argument: every shipped lab.
    let o = labctl(&["validate"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    for name in SHIPPED {
        assert!(
            stdout(&o).contains(&format!("labs/{name}.toml: ok")),
            "{}",
            show(&o)
        );
    }
    // By name and by path, as `labctl validate labs/*.toml` would.
    let paths: Vec<String> = SHIPPED.iter().map(|n| format!("labs/{n}.toml")).collect();
    let mut args = vec!["validate", "workflow"];
    args.extend(paths.iter().map(String::as_str));
    let o = labctl(&args);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(
        stdout(&o).lines().filter(|l| l.contains(": ok (")).count(),
        5,
        "{}",
        show(&o)
    );
    assert!(!stderr(&o).contains("error"), "{}", show(&o));
}

#[test]
fn validate_invalid_file_exits_2_with_location() {
    let o = labctl(&["validate", "tests/fixtures/invalid/ip_duplicate.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = stderr(&o);
    assert!(
        err.contains("tests/fixtures/invalid/ip_duplicate.toml:12:6"),
        "{err}"
    );
    assert!(err.contains("duplicate address 192.168.60.10"), "{err}");
    assert!(err.contains("12 | ip = \"192.168.60.10\""), "{err}");

    // A good lab beside a bad one: both are reported, the exit code is still 2.
    let o = labctl(&[
        "validate",
        "workflow",
        "tests/fixtures/invalid/cpus_out_of_range.toml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stdout(&o).contains("labs/workflow.toml: ok"),
        "{}",
        show(&o)
    );
    assert!(
        stderr(&o).contains("tests/fixtures/invalid/cpus_out_of_range.toml:9:8"),
        "{}",
        show(&o)
    );
    assert!(stderr(&o).contains("1 of 2 labs invalid"), "{}", show(&o));

    // render refuses an invalid lab with the same diagnostics and writes nothing.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = labctl(&[
        "render",
        "tests/fixtures/invalid/ip_duplicate.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("ip_duplicate.toml:12:6"),
        "{}",
        show(&o)
    );
    assert!(!out.exists());
}

#[test]
fn unknown_lab_exits_2_and_lists_shipped_labs() {
    for cmd in ["validate", "render"] {
        let o = labctl(&[cmd, "no-such-lab"]);
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        let err = stderr(&o);
        assert!(err.contains("no lab named `no-such-lab`"), "{err}");
        for name in SHIPPED {
            assert!(err.contains(name), "{name} not listed:\n{err}");
        }
    }
    // A path that does not exist is an error about the file, not a lab name.
    let o = labctl(&["validate", "./missing.toml"]);
    assert_ne!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stderr(&o).contains("missing.toml"), "{}", show(&o));
}

/// Issue 10.7: a lab path that does not exist is a usage error (exit 2), like an
/// unknown name, for every command that takes a LAB.
#[test]
fn missing_lab_path_exits_2() {
    for args in [
        vec!["validate", "./missing.toml"],
        vec!["render", "./missing.toml"],
        vec!["lint", "no/such/dir/lab.toml"],
        vec!["status", "./missing.toml"],
    ] {
        let o = labctl(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", show(&o));
        assert!(stderr(&o).contains("cannot read lab file"), "{}", show(&o));
    }
}

/// Issue 10.7: `validate a b c` reports every lab, also after one it cannot read.
#[test]
fn validate_reports_every_lab_after_an_unreadable_one() {
    let o = labctl(&[
        "validate",
        "./missing.toml",
        "workflow",
        "./also-missing.toml",
        "bench",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(
        err.contains("missing.toml") && err.contains("also-missing.toml"),
        "{}",
        show(&o)
    );
    assert!(
        out.contains("labs/workflow.toml: ok") && out.contains("labs/bench.toml: ok"),
        "{}",
        show(&o)
    );
    assert!(err.contains("2 of 4 labs invalid"), "{}", show(&o));
}

/// Issue 10.7: a bare name means the shipped lab even when a file of that name
/// is in the working directory; the file is reached as `./NAME`.
#[test]
fn a_bare_name_is_the_shipped_lab_even_beside_a_file_of_that_name() {
    let dir = tempfile::tempdir().unwrap();
    let lab = "name = \"impostor\"\n\n[network]\nsubnet = \"10.77.0.0/24\"\n\n[[node]]\nname = \"n1\"\nip = \"10.77.0.10\"\n";
    std::fs::write(dir.path().join("workflow"), lab).unwrap();
    let o = labctl_in(dir.path(), &["validate", "workflow"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        stdout(&o).contains("labs/workflow.toml: ok"),
        "{}",
        show(&o)
    );
    let o = labctl_in(dir.path(), &["validate", "./workflow"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        stdout(&o).contains("./workflow: ok (1 nodes"),
        "{}",
        show(&o)
    );
    // A bare name that is no shipped lab, beside a file of that name, points at `./`.
    std::fs::write(dir.path().join("mylab"), lab).unwrap();
    let o = labctl_in(dir.path(), &["validate", "mylab"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("./mylab"), "{}", show(&o));
}

/// Issue 10.12: a `test` run that fails before the lab's state is read claims no
/// provider in its reports (the old reports wrote `docker` whatever happened).
#[test]
fn reports_of_a_run_that_never_read_state_name_no_provider() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("nochecks.toml");
    std::fs::write(&lab, "name = \"nochecks\"\n\n[network]\nsubnet = \"10.77.0.0/24\"\n\n[[node]]\nname = \"n1\"\nip = \"10.77.0.10\"\n").unwrap();
    let (json, xml) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let o = labctl(&[
        "test",
        lab.to_str().unwrap(),
        "--report",
        &format!("json:{}", json.display()),
        "--report",
        &format!("junit:{}", xml.display()),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["provider"].is_null(), "{v}");
    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(!x.contains("name=\"provider\""), "{x}");
}

/// `--jobs`: each lab runs as its own `labctl test`, its lines prefixed with
/// its name; the reports gather every lab (JSON array, one JUnit testsuite
/// each) and the exit code is the worst lab's. No machine is needed: neither
/// lab gets that far.
#[test]
fn jobs_gather_every_labs_report_and_prefix_their_output() {
    let dir = tempfile::tempdir().unwrap();
    let nochecks = dir.path().join("nochecks.toml");
    std::fs::write(&nochecks, "name = \"nochecks\"\n\n[network]\nsubnet = \"10.77.0.0/24\"\n\n[[node]]\nname = \"n1\"\nip = \"10.77.0.10\"\n").unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\n[network]\nsubnet = 7\n").unwrap();
    let (json, xml) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let o = labctl_in(
        dir.path(),
        &[
            "test",
            "nochecks.toml",
            "bad.toml",
            "--jobs",
            "2",
            "--no-setup",
            "--report",
            &format!("json:{}", json.display()),
            "--report",
            &format!("junit:{}", xml.display()),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = stderr(&o);
    assert!(
        err.contains("[nochecks] error: lab nochecks has no checks"),
        "{err}"
    );
    // The bad file's diagnostic, every line of it, under the lab's prefix.
    assert!(err.contains("[bad.toml] "), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("[bad.toml] ") && l.contains("bad.toml:3:")),
        "{err}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let labs: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["lab"].as_str().unwrap())
        .collect();
    assert_eq!(labs, ["nochecks", "bad.toml"], "{v}");
    let x = std::fs::read_to_string(&xml).unwrap();
    assert_eq!(x.matches("<testsuite ").count(), 2, "{x}");
    // 0 labs at once is not a number of jobs.
    let o = labctl(&["test", "--all", "--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    // Nor more than the 8 SSH port bands (a 9th lab's band would be the
    // first's again).
    let o = labctl(&["test", "--all", "--jobs", "9"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(show(&o).contains("1..=8"), "{}", show(&o));
}

#[test]
fn bad_usage_exits_2() {
    let o = labctl(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = labctl(&["render"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

fn assert_rendered(dir: &Path, roles: &[&str]) {
    for f in [
        "Vagrantfile",
        "inventory.ini",
        "summary.txt",
        "roles/_labctl/wrapper.sh",
    ] {
        assert!(dir.join(f).is_file(), "{} missing", dir.join(f).display());
    }
    for r in roles {
        assert!(
            dir.join("roles").join(r).join("provision.sh").is_file(),
            "role {r} missing in {}",
            dir.display()
        );
    }
}

#[test]
fn render_workflow_into_out_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("wf");
    let o = labctl(&["render", "workflow", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        stdout(&o).contains("rendered lab workflow into"),
        "{}",
        show(&o)
    );
    assert_rendered(
        &out,
        &[
            "gitserver",
            "ansible-mgmt",
            "ansible-push",
            "managed",
            "ansible-pull",
        ],
    );
    let vf = std::fs::read_to_string(out.join("Vagrantfile")).unwrap();
    for node in ["gitlab", "mgmt", "lb", "web1", "web2"] {
        assert!(
            vf.contains(&format!("config.vm.define '{node}' do")),
            "{node} not defined"
        );
    }
    let inv = std::fs::read_to_string(out.join("inventory.ini")).unwrap();
    assert!(inv.contains("web2 ansible_host=192.168.57.22"), "{inv}");
}

/// An installed binary works anywhere: shipped labs by name, and lab files by
/// relative or absolute path, from a folder that is not the repository.
#[test]
fn works_outside_the_repository() {
    let cwd = tempfile::tempdir().unwrap();

    // A shipped lab by name; default output is .labctl/NAME/ under the cwd.
    let o = labctl_in(cwd.path(), &["render", "testnodes"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_rendered(&cwd.path().join(".labctl/testnodes"), &[]);

    let o = labctl_in(cwd.path(), &["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(stdout(&o).lines().count(), 5, "{}", show(&o));

    // A lab file by relative path, in a sub-folder; its state dir sits beside it.
    std::fs::create_dir(cwd.path().join("mine")).unwrap();
    std::fs::copy(
        repo().join("labs/workflow.toml"),
        cwd.path().join("mine/my-lab.toml"),
    )
    .unwrap();
    let o = labctl_in(cwd.path(), &["validate", "mine/my-lab.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = labctl_in(cwd.path(), &["render", "mine/my-lab.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_rendered(
        &cwd.path().join("mine/.labctl/workflow"),
        &["gitserver", "ansible-pull"],
    );
    let o = labctl_in(
        cwd.path(),
        &["render", "mine/my-lab.toml", "--out", "elsewhere"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_rendered(&cwd.path().join("elsewhere"), &["gitserver"]);

    // An absolute path to a lab file in the repository.
    let bench = repo().join("labs/bench.toml");
    let o = labctl_in(
        cwd.path(),
        &["render", bench.to_str().unwrap(), "--out", "b"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_rendered(&cwd.path().join("b"), &["netshape", "docker-host"]);
}

/// A `provision/` folder beside a user's lab file adds roles.
#[test]
fn user_roles_beside_the_lab_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("provision/hello")).unwrap();
    std::fs::write(
        dir.path().join("provision/hello/provision.sh"),
        "#!/bin/sh\necho hello\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lab.toml"),
        "name = \"mine\"\n\n[network]\nsubnet = \"192.168.63.0/24\"\n\n[[node]]\nname = \"a\"\nip = \"192.168.63.10\"\nroles = [\"hello\"]\n",
    )
    .unwrap();
    let o = labctl_in(dir.path(), &["render", "lab.toml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_rendered(&dir.path().join("out"), &["hello"]);
    // The same lab file elsewhere, without the folder, names the unknown role.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("lab.toml"), other.path().join("lab.toml")).unwrap();
    let o = labctl_in(other.path(), &["validate", "lab.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("lab.toml:9:10"), "{}", show(&o));
    assert!(stderr(&o).contains("unknown role `hello`"), "{}", show(&o));
}

#[test]
fn render_refuses_path_escapes_in_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .args(["render", "workflow", "--out", "a/../b"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`..`"));
    // A symbolic link planted inside the output folder is not written through.
    let victim = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("o")).unwrap();
    std::os::unix::fs::symlink(victim.path(), tmp.path().join("o/roles")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .args(["render", "workflow", "--out", "o"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

/// `--out` named through a symbolic link (the folder itself, or a folder on
/// the way, like `/tmp` on some systems) is resolved once and printed; every
/// file lands inside the folder printed, nothing outside it.
#[test]
fn render_out_through_a_link_writes_only_inside_the_folder_it_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(target.path(), tmp.path().join("link")).unwrap();
    for (arg, real) in [
        ("link", target.path().to_path_buf()),
        ("link/sub", target.path().join("sub")),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
            .args(["render", "workflow", "--out", arg])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let real = real.canonicalize().unwrap();
        assert!(
            stdout(&out).contains(&format!("into {} (", real.display())),
            "prints the resolved folder: {}",
            show(&out)
        );
        assert!(real.join("Vagrantfile").is_file());
    }
    // Nothing but the link itself was made beside it.
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("link")]);
}

#[test]
fn lint_flags_insecure_patterns_unless_the_lab_accepts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = |insecure: bool| {
        format!(
            "name = \"lint\"\n{}[network]\nsubnet = \"192.168.70.0/24\"\n[[node]]\nname = \"a\"\nip = \"192.168.70.5\"\nvars = {{ repo = \"http://root@192.168.70.2/x.git\", opts = \"-o StrictHostKeyChecking=no\" }}\n",
            if insecure { "insecure = true\n" } else { "" }
        )
    };
    std::fs::write(tmp.path().join("bad.toml"), lab(false)).unwrap();
    std::fs::write(tmp.path().join("ok.toml"), lab(true)).unwrap();
    for cmd in ["lint", "validate"] {
        let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
            .args([cmd, "bad.toml"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad.toml:7:")
                && err.contains("credentials-in-url")
                && err.contains("host-key-checking-off"),
            "{err}"
        );
        let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
            .args([cmd, "ok.toml"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("insecure = true"),
            "warns every run"
        );
    }
}

/// Issue 14: `--partition` prints this runner's share before anything runs,
/// two shares of one list test every lab once, and an empty share says so,
/// writes empty reports and passes. Labs without checks are refused (exit 2)
/// before anything is brought up, so no lab runs here.
#[test]
fn partition_shares_cover_the_list_and_an_empty_share_passes() {
    let dir = tempfile::tempdir().unwrap();
    let mut labs = Vec::new();
    for (i, n) in ["a", "b", "c"].iter().enumerate() {
        let lab = dir.path().join(format!("{n}.toml"));
        std::fs::write(&lab, format!("name = \"{n}\"\n\n[network]\nsubnet = \"10.77.{i}.0/24\"\n\n[[node]]\nname = \"n1\"\nip = \"10.77.{i}.10\"\n")).unwrap();
        labs.push(lab.to_str().unwrap().to_string());
    }
    let mut tested = Vec::new();
    for k in 1..=2 {
        let json = dir.path().join(format!("shard-{k}.json"));
        let spec = format!("count:{k}/2");
        // Given in another order on the second runner: the split is the same.
        let mut args: Vec<&str> = vec!["test", "--partition", &spec];
        if k == 2 {
            args.extend(labs.iter().rev().map(String::as_str));
        } else {
            args.extend(labs.iter().map(String::as_str));
        }
        let report = format!("json:{}", json.display());
        args.extend(["--report", &report]);
        let o = labctl_in(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        let first = stderr(&o).lines().next().unwrap_or("").to_string();
        let want = if k == 1 {
            format!("partition count:1/2: 2 of 3 labs: {}, {}", labs[0], labs[2])
        } else {
            format!("partition count:2/2: 1 of 3 labs: {}", labs[1])
        };
        assert_eq!(first, want, "{}", show(&o));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let runs = if v.is_array() {
            v.as_array().unwrap().clone()
        } else {
            vec![v]
        };
        tested.extend(runs.iter().map(|r| r["lab"].as_str().unwrap().to_string()));
    }
    tested.sort();
    assert_eq!(tested, ["a", "b", "c"], "every lab in exactly one share");

    // count: deals the 4 shipped labs to shares 1 to 4: share 9 is empty.
    let (json, xml) = (dir.path().join("empty.json"), dir.path().join("empty.xml"));
    let o = labctl_in(
        dir.path(),
        &[
            "test",
            "--all",
            "--partition",
            "count:9/9",
            "--report",
            &format!("json:{}", json.display()),
            "--report",
            &format!("junit:{}", xml.display()),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        stderr(&o).starts_with(
            "partition count:9/9: no lab in this share (4 labs over 9 shares); nothing to test\n"
        ),
        "{}",
        show(&o)
    );
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "[]\n");
    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(x.contains("<testsuites name=\"labctl\" tests=\"0\""), "{x}");
}

#[rstest::rstest]
#[case("count:0/2", "share 0 of 2 does not exist")]
#[case("count:3/2", "share 3 of 2 does not exist")]
#[case("count:1/0", "at least one share")]
#[case("slice:1/2", "unknown partition scheme `slice`")]
#[case("count:1-2", "expected K/N")]
#[case("count:x/2", "`x` is not a whole number")]
fn partition_refuses_a_bad_spec(#[case] spec: &str, #[case] says: &str) {
    let o = labctl(&["test", "--all", "--partition", spec]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains(says), "{}", show(&o));
    assert!(
        !stderr(&o).lines().any(|l| l.starts_with("partition ")),
        "no share is chosen: {}",
        show(&o)
    );
}

#[test]
fn partition_refuses_a_lab_named_twice() {
    let o = labctl(&["test", "bench", "workflow", "bench", "--partition", "1/2"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("lab `bench` is named twice"),
        "{}",
        show(&o)
    );
}

/// Issue 14: `labctl report merge` through the binary: the shards' reports
/// of labs refused before anything ran (no checks) merge into one, and a
/// shard of another schema is refused naming its file (exit 2).
#[test]
fn report_merge_joins_shards_and_refuses_another_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut ins = Vec::new();
    for (i, n) in ["b", "a"].iter().enumerate() {
        let lab = dir.path().join(format!("{n}.toml"));
        std::fs::write(&lab, format!("name = \"{n}\"\n\n[network]\nsubnet = \"10.78.{i}.0/24\"\n\n[[node]]\nname = \"n1\"\nip = \"10.78.{i}.10\"\n")).unwrap();
        let xml = dir.path().join(format!("shard-{i}.xml"));
        let o = labctl_in(
            dir.path(),
            &[
                "test",
                lab.to_str().unwrap(),
                "--report",
                &format!("junit:{}", xml.display()),
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        ins.push(xml.to_str().unwrap().to_string());
    }
    let out = dir.path().join("all.xml");
    let mut args = vec!["report", "merge", out.to_str().unwrap()];
    args.extend(ins.iter().map(String::as_str));
    let o = labctl_in(dir.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        stderr(&o).contains("merged 2 reports into")
            && stderr(&o).contains("2 labs (JUnit XML): 2 tests, 0 failures, 2 errors"),
        "{}",
        show(&o)
    );
    let x = std::fs::read_to_string(&out).unwrap();
    let a = x.find("<testsuite name=\"").unwrap();
    assert!(
        x[a..].starts_with("<testsuite name=\"") && x.contains("tests=\"2\""),
        "{x}"
    );

    let bad = &ins[1];
    let text = std::fs::read_to_string(bad).unwrap();
    std::fs::write(bad, text.replace("labctl.junit/1", "labctl.junit/9")).unwrap();
    let o = labctl_in(dir.path(), &args);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains(&format!(
            "error: cannot merge {bad}: its schema is labctl.junit/9, but"
        )),
        "{}",
        show(&o)
    );
}
