//! What each command does beyond calling the library: the dispatch in
//! [`super::run`] hands each command's arguments to one function here.

use super::{BenchArgs, TestArgs};
use crate::error::{Error, Exit, Result};
use crate::lifecycle::{self, LabArgs, UpOptions};
use crate::load;
use crate::provider::Choice;
use std::path::PathBuf;

pub fn setup(providers: Vec<Choice>, restart_libvirtd: bool) -> Result<Exit> {
    let r = crate::exec::System;
    for provider in providers {
        let (kind, why) = crate::provider::choose(provider, &r);
        eprintln!("provider: {kind} ({why})");
        let mut done = crate::setup::ensure_with(kind, &r, true, restart_libvirtd)?;
        // The docker provider's image commands include RPM-based images.
        if kind == crate::provider::Kind::Docker {
            done.extend(crate::setup::ensure_rpm_tools(&r, true)?);
        }
        // (libvirt's steps say themselves whether anything changed)
        if done.is_empty() && kind != crate::provider::Kind::Libvirt {
            eprintln!("setup: everything the {kind} provider needs is present");
        }
    }
    Ok(Exit::Ok)
}

pub fn image_rootfs(
    mirror: Option<String>,
    release: String,
    packages: Vec<String>,
    output: Option<PathBuf>,
    import: Option<String>,
) -> Result<Exit> {
    let r = crate::exec::System;
    crate::setup::ensure(crate::provider::Kind::Docker, &r, true)?;
    let spec = crate::provider::node_image::Spec {
        release,
        mirror,
        packages,
    };
    let b = crate::provider::docker::image::build_rootfs_tar(
        &spec,
        output.as_deref(),
        import.as_deref(),
        &r,
    )?;
    if let (Some(o), Some(n)) = (&b.output, b.bytes) {
        println!("{} ({} MiB)", o.display(), n >> 20);
    }
    if let Some(i) = &b.imported {
        println!("{i}");
    }
    Ok(Exit::Ok)
}

pub fn repo_build(lab: LabArgs, json: bool) -> Result<Exit> {
    let op = lifecycle::open(&lab)?;
    let _lock = crate::state::LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let info = crate::repo::build(
        op.lab(),
        &op.loaded.roles,
        &crate::repo::default_dir(&op.dir),
        &crate::exec::System,
    )?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&info).unwrap_or_default()
        );
    } else {
        println!(
            "{} ({} packages, {} KiB, key {})",
            info.dir.display(),
            info.packages,
            info.bytes / 1024,
            info.key_fingerprint
        );
    }
    Ok(Exit::Ok)
}

pub fn image_build(
    rebuild: bool,
    provider: Option<super::ImageFor>,
    mirror: Option<String>,
    release: String,
    packages: Vec<String>,
) -> Result<Exit> {
    use super::ImageFor;
    use crate::provider::Kind;
    let r = crate::exec::System;
    if !packages.is_empty() {
        return Err(Error::usage(
            "--packages builds a root file system of your own: add --output FILE or --import NAME",
        ));
    }
    let roles = crate::roles::RoleSet::load(None)?;
    let spec = crate::provider::node_image::Spec {
        release,
        mirror,
        ..crate::provider::node_image::Spec::node(&roles)
    };
    // Without --provider the box comes along where libvirt is set up: a host
    // that runs libvirt labs boots it, one without libvirt has no use for it.
    let (docker, libvirt) = match provider {
        Some(ImageFor::Docker) => (true, false),
        Some(ImageFor::Libvirt) => (false, true),
        None => {
            let libvirt = crate::provider::answers_quietly(crate::provider::of(Kind::Libvirt), &r);
            if !libvirt {
                eprintln!("image: libvirt does not answer on this host: no box (`labctl image build --provider libvirt` makes one)");
            }
            (true, libvirt)
        }
    };
    if docker {
        crate::setup::ensure(Kind::Docker, &r, true)?;
        println!(
            "{}",
            crate::provider::docker::image::ensure(&spec, &r, rebuild)?
        );
    }
    if libvirt {
        crate::setup::ensure(Kind::Libvirt, &r, true)?;
        let b = crate::provider::boxes::ensure(&r, &spec, rebuild)?;
        // Only here, never on `up`: recorded boxes of other inputs that no
        // machine's disk is based on go, with their base volumes and tarballs.
        crate::provider::boxes::prune(&r, &spec)?;
        println!("{}", b.name);
    }
    Ok(Exit::Ok)
}

pub fn bench(args: BenchArgs) -> Result<Exit> {
    let BenchArgs {
        lab,
        rounds,
        duration,
        report,
        csv,
        chart,
        compare,
        provider,
        no_setup,
        history_dir,
    } = args;
    if let Some(c) = compare {
        return crate::bench::cmd::compare(&c[0], &c[1]);
    }
    let json = match report {
        Some(crate::report::ReportSpec::Json(p)) => Some(p),
        Some(_) => {
            return Err(Error::usage(
                "bench writes json:PATH reports (JUnit comes from `labctl test`)",
            ))
        }
        None => None,
    };
    crate::bench::cmd::bench(
        &LabArgs::named(lab.unwrap_or_default()),
        &UpOptions::new(provider, no_setup),
        rounds,
        duration,
        &crate::bench::cmd::Outputs { json, csv, chart },
        history_dir.as_deref(),
    )
}

pub fn test(args: TestArgs) -> Result<Exit> {
    let TestArgs {
        labs,
        all,
        partition,
        reports,
        destroy,
        provider,
        no_setup,
        serial,
        skip,
        bench_rounds,
        bench_duration,
        name,
        subnet,
        since,
        history_dir,
        timings,
        jobs,
    } = args;
    let skip = skip
        .iter()
        .map(|s| {
            regex::Regex::new(s)
                .map_err(|e| Error::usage(format!("--skip {s:?} is not a regex: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let names = if all {
        crate::assets::lab_names()
    } else {
        labs
    };
    if names.is_empty() {
        return Err(Error::usage("name a lab to test, or --all"));
    }
    if names.len() > 1 && (name.is_some() || subnet.is_some()) {
        return Err(Error::usage("--name and --subnet apply to one lab"));
    }
    // This runner's share, said before anything runs. An empty share (more
    // runners than labs) tests nothing and passes: its reports are written
    // empty, so a CI job that collects every runner's report finds them all.
    let (names, shard) = match partition {
        Some(p) => {
            let share = p.share(&names).map_err(Error::usage)?;
            eprintln!("{share}");
            let mut suite = names;
            suite.sort();
            (share.labs, Some((p.to_string(), suite)))
        }
        None => (names, None),
    };
    let args: Vec<LabArgs> = names
        .into_iter()
        .map(|l| LabArgs {
            name: name.clone(),
            subnet,
            ..LabArgs::named(l)
        })
        .collect();
    let destroy = destroy.unwrap_or(if all {
        crate::testrun::Destroy::Always
    } else {
        crate::testrun::Destroy::Never
    });
    crate::testrun::test(
        &args,
        &crate::testrun::TestOptions {
            up: UpOptions::new(provider, no_setup),
            reports,
            destroy,
            parallel: !serial,
            skip,
            bench_rounds,
            bench_duration,
            since,
            history_dir,
            timings,
            jobs: jobs.into(),
            shard,
        },
    )
}

pub fn report_merge(out: &std::path::Path, inputs: &[PathBuf]) -> Result<Exit> {
    let merged = crate::report::merge::merge(out, inputs)?;
    eprintln!(
        "merged {} report{} into {}: {merged}",
        inputs.len(),
        if inputs.len() == 1 { "" } else { "s" },
        out.display()
    );
    Ok(Exit::Ok)
}

pub fn history(lab: &LabArgs, history_dir: Option<PathBuf>, json: bool) -> Result<Exit> {
    let op = lifecycle::open(lab)?;
    let store =
        crate::history::Store::for_lab(&op.dir.root, &op.lab().name.value, history_dir.as_deref());
    let records = store.records()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        );
    } else if records.is_empty() {
        eprintln!(
            "lab {}: no recorded runs in {}",
            op.lab().name.value,
            store.dir.display()
        );
    } else {
        print!("{}", crate::history::table(&records));
    }
    Ok(Exit::Ok)
}

pub fn graph(
    lab: &LabArgs,
    format: Option<crate::graph::Format>,
    out: Option<PathBuf>,
) -> Result<Exit> {
    use crate::graph::{Format, Graph};
    let op = lifecycle::open(lab)?;
    eprint!("{}", op.loaded.render_warnings());
    let format = format
        .or_else(|| out.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Mermaid);
    let text = crate::graph::render(&Graph::build(op.lab(), &op.loaded.roles), format);
    match out {
        Some(p) => {
            crate::state::write_atomic(&p, text.as_bytes())?;
            eprintln!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(Exit::Ok)
}

pub fn list() -> Result<Exit> {
    let mut rows = vec![vec![
        "LAB".to_string(),
        "NODES".into(),
        "SUBNET".into(),
        "DESCRIPTION".into(),
    ]];
    for name in crate::assets::lab_names() {
        let l = load::load(&name)?;
        rows.push(vec![
            name,
            l.lab.nodes.len().to_string(),
            l.lab.network.subnet.value.to_string(),
            l.lab.description.clone(),
        ]);
    }
    print!("{}", crate::text::table(&rows));
    Ok(Exit::Ok)
}

pub fn lint(labs: Vec<String>) -> Result<Exit> {
    let labs = if labs.is_empty() {
        crate::assets::lab_names()
    } else {
        labs
    };
    let mut errors = 0;
    for arg in &labs {
        let l = load::load(arg)?;
        let f = crate::lint::lint(&l)?;
        errors += crate::lint::report(&l, &f);
        if f.is_empty() {
            println!("{}: no insecure patterns", l.source.path.display());
        }
    }
    Ok(if errors > 0 { Exit::Usage } else { Exit::Ok })
}

pub fn validate(labs: Vec<String>) -> Result<Exit> {
    let labs = if labs.is_empty() {
        crate::assets::lab_names()
    } else {
        labs
    };
    let mut failed = 0;
    let mut worst = Exit::Usage as u8;
    for arg in &labs {
        match load::load(arg) {
            Ok(l) => {
                eprint!("{}", l.render_warnings());
                let findings = crate::lint::lint(&l)?;
                if crate::lint::report(&l, &findings) > 0 {
                    failed += 1;
                    continue;
                }
                let w = l.warnings.len();
                println!(
                    "{}: ok ({} nodes, {} checks{})",
                    l.source.path.display(),
                    l.lab.nodes.len(),
                    l.lab.checks.len(),
                    if w > 0 {
                        format!(", {w} warning{}", if w == 1 { "" } else { "s" })
                    } else {
                        String::new()
                    }
                );
            }
            // Every lab is reported, also after one that could not be read;
            // the exit code is the worst of them.
            Err(e) => {
                eprint!("{}", e.render());
                failed += 1;
                worst = worst.max(e.exit() as u8);
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} lab{} invalid",
            labs.len(),
            if labs.len() == 1 { "" } else { "s" }
        );
        return Ok(if worst == Exit::Environment as u8 {
            Exit::Environment
        } else {
            Exit::Usage
        });
    }
    Ok(Exit::Ok)
}

pub fn render(arg: &str, out: Option<PathBuf>) -> Result<Exit> {
    let l = load::load(arg)?;
    eprint!("{}", l.render_warnings());
    let dir = match out {
        Some(dir) => dir,
        None => {
            // The default folder is the lab's state dir, which `up` and `down` use too.
            let dir = crate::state::default_state_dir(&l.lab);
            crate::state::StateDir::new(&dir).claim(&l.lab.name.value)?;
            dir
        }
    };
    let r = crate::render::render(&l)?;
    let dir = r.write_to(&dir)?;
    println!(
        "rendered lab {} into {} ({} files)",
        l.lab.name.value,
        dir.display(),
        r.files.len()
    );
    Ok(Exit::Ok)
}
