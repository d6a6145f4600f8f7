//! Snapshots on the docker provider: each node's container filesystem
//! committed to an image labelled with the lab, and a copy of each extra
//! disk's backing file. A restore replaces each container by one made from its
//! snapshot image with the very settings Docker reports for the old one (name,
//! hostname, address, labels, forwarded ports, devices, capabilities), and
//! writes the new container's id where Vagrant keeps it, so `vagrant status`
//! and every later Vagrant command see the machine they know. Host keys and
//! the authorized node key are files in the committed filesystem, and the
//! image keeps the container's environment (the node key its init
//! authorizes at every start), so they come back unchanged.

use super::LABEL_LAB;
use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::lab::Lab;
use crate::state::{Snapshot, SnapshotDisk, State, StateDir};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The label every snapshot image carries besides [`LABEL_LAB`] (which it
/// inherits from its container): `down`'s sweep removes images with both.
pub const LABEL_SNAPSHOT: &str = "labctl.snapshot";

/// The image a node's snapshot is committed to. Lab and node names hold no
/// dot and snapshot names are checked, so the tag names one snapshot only.
pub fn image_ref(lab: &str, node: &str, snapshot: &str) -> String {
    format!("labctl-snapshot:{lab}.{node}.{snapshot}")
}

/// Where Vagrant keeps the id of a node's container.
fn id_file(dir: &Path, node: &str) -> PathBuf {
    dir.join(".vagrant/machines")
        .join(node)
        .join("docker")
        .join("id")
}

/// The container Vagrant knows as the node's machine; an error naming the
/// node when Vagrant has none or Docker no longer holds it.
fn container_of(r: &dyn Runner, lab: &Lab, dir: &Path, node: &str) -> Result<String> {
    let gone = |why: &str| {
        Error::env(
            format!("lab {}: node {node}: {why}", lab.name.value),
            Some(format!(
                "`labctl up {}` re-creates lost machines",
                lab.name.value
            )),
        )
    };
    let file = id_file(dir, node);
    let id = std::fs::read_to_string(&file)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if id.is_empty() {
        return Err(gone(&format!(
            "Vagrant has no machine ({} is missing)",
            file.display()
        )));
    }
    let out =
        r.output(&Cmd::new("docker").args(["container", "inspect", "--format", "{{.Id}}", &id]))?;
    if !out.success() {
        return Err(gone(&format!("its container {id} is gone from Docker")));
    }
    Ok(id)
}

/// Commit every node and copy every extra disk with the whole lab paused, so
/// every node's filesystem and disks are from one instant (a git server and
/// the web nodes that pull from it agree after a restore).
pub fn save(
    r: &dyn Runner,
    lab: &Lab,
    dir: &StateDir,
    state: &mut State,
    snap: &Snapshot,
) -> Result<()> {
    let mut plans = Vec::new();
    for n in &lab.nodes {
        let id = container_of(r, lab, &dir.root, &n.name)?;
        let image = image_ref(&lab.name.value, &n.name, &snap.name);
        let disks: Vec<SnapshotDisk> = state
            .disks
            .iter()
            .filter(|d| d.node == n.name)
            .map(|d| SnapshotDisk {
                node: n.name.clone(),
                disk: d.disk.clone(),
                file: d.file.clone(),
                copy: disk_copy(dir, &snap.name, &n.name, &d.disk),
            })
            .collect();
        plans.push((n.name.clone(), id, image, disks));
    }
    // Recorded before it is made: `down` removes exactly what is recorded.
    record(state, &snap.name, |s| {
        for (node, _, image, disks) in &plans {
            s.images.insert(node.clone(), image.clone());
            s.disks.extend(disks.iter().cloned());
        }
    });
    dir.save(state)?;
    let ids: Vec<&str> = plans.iter().map(|(_, id, _, _)| id.as_str()).collect();
    r.run(&Cmd::new("docker").arg("pause").args(ids.iter().copied()))?;
    let taken = plans.iter().try_for_each(|(_, id, image, disks)| {
        commit_and_copy(r, state, id, image, &snap.name, disks)
    });
    let resumed = r.run(&Cmd::new("docker").arg("unpause").args(ids.iter().copied()));
    taken?;
    resumed?;
    Ok(())
}

fn record(state: &mut State, name: &str, f: impl FnOnce(&mut Snapshot)) {
    if let Some(s) = state.snapshots.iter_mut().find(|s| s.name == name) {
        f(s);
    }
}

fn disk_copy(dir: &StateDir, snap: &str, node: &str, disk: &str) -> String {
    let p = dir
        .snapshots()
        .join(snap)
        .join(super::disks::file_name(node, disk));
    std::path::absolute(&p).unwrap_or(p).display().to_string()
}

/// The paused container's filesystem into its image, its disks into copies.
fn commit_and_copy(
    r: &dyn Runner,
    state: &State,
    id: &str,
    image: &str,
    snap: &str,
    disks: &[SnapshotDisk],
) -> Result<()> {
    r.run(&Cmd::new("docker").args([
        "commit",
        "--pause=false",
        "--change",
        &format!("LABEL {LABEL_SNAPSHOT}={snap}"),
        id,
        image,
    ]))?;
    for d in disks {
        flush(r, state, &d.file)?;
        if let Some(parent) = Path::new(&d.copy).parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        copy_sparse(r, &d.file, &d.copy)?;
    }
    Ok(())
}

/// Write out (and drop) what the loop device of `file` still caches, so the
/// backing file holds what the node last wrote, and a file copied under it
/// is read afresh.
fn flush(r: &dyn Runner, state: &State, file: &str) -> Result<()> {
    for d in state.disks.iter().filter(|d| d.file == file) {
        for dev in super::disks::attached(r, &d.file) {
            r.run(&Cmd::new("blockdev").args(["--flushbufs", &dev]))?;
        }
    }
    Ok(())
}

/// Copy a disk file keeping it sparse (an 8 GiB disk is mostly holes).
fn copy_sparse(r: &dyn Runner, from: &str, to: &str) -> Result<()> {
    r.run(&Cmd::new("cp").args(["--sparse=always", "--", from, to]))?;
    Ok(())
}

/// Replace every node's container by one made from its snapshot image, with
/// the disks' contents put back while no container runs.
pub fn restore(
    r: &dyn Runner,
    lab: &Lab,
    dir: &StateDir,
    state: &State,
    snap: &Snapshot,
) -> Result<()> {
    // Everything is checked before anything is removed.
    let mut plans = Vec::new();
    for n in &lab.nodes {
        let Some(image) = snap.images.get(&n.name) else {
            return Err(Error::env(
                format!("snapshot {} of lab {} has no image of node {}", snap.name, lab.name.value, n.name),
                Some(format!("the node was added after the snapshot; take a new one: `labctl snapshot save {} {}`", lab.name.value, snap.name)),
            ));
        };
        if image_id(r, image).is_none() {
            return Err(Error::env(
                format!(
                    "snapshot {} of lab {}: image {image} of node {} is gone from Docker",
                    snap.name, lab.name.value, n.name
                ),
                Some(format!(
                    "`labctl snapshot delete {} {}` forgets it",
                    lab.name.value, snap.name
                )),
            ));
        }
        let id = container_of(r, lab, &dir.root, &n.name)?;
        let out = r.run(&Cmd::new("docker").args(["container", "inspect", &id]))?;
        let inspect: Value = serde_json::from_str(&out.stdout).map_err(|e| {
            Error::env(
                format!("cannot read `docker container inspect {id}`: {e}"),
                None,
            )
        })?;
        let args = run_args(&inspect[0], image).map_err(|why| {
            Error::env(
                format!("lab {}: node {}: {why}", lab.name.value, n.name),
                Some(
                    "restore recreates containers only with the settings labctl gives them".into(),
                ),
            )
        })?;
        plans.push((n.name.clone(), id, args));
    }
    for d in &snap.disks {
        if !Path::new(&d.copy).is_file() {
            return Err(Error::env(
                format!(
                    "snapshot {} of lab {}: the copy of disk {} of node {} is missing ({})",
                    snap.name, lab.name.value, d.disk, d.node, d.copy
                ),
                Some(format!(
                    "`labctl snapshot delete {} {}` forgets it",
                    lab.name.value, snap.name
                )),
            ));
        }
    }
    // From here the old containers go: a failure part way leaves some
    // nodes restored and some without a container, and the error says which.
    let mut restored: Vec<String> = Vec::new();
    let replaced = (|| -> Result<()> {
        for (_, id, _) in &plans {
            r.run(&Cmd::new("docker").args(["rm", "-f", "-v", id]))?;
        }
        for d in &snap.disks {
            copy_sparse(r, &d.copy, &d.file)?;
            flush(r, state, &d.file)?;
        }
        for (node, _, args) in &plans {
            let out = r.run(&Cmd::new("docker").arg("run").args(args.iter().cloned()))?;
            let id = out.stdout.trim().to_string();
            crate::state::write_atomic(&id_file(&dir.root, node), id.as_bytes())?;
            restored.push(node.clone());
        }
        Ok(())
    })();
    replaced.map_err(|e| {
        let missing: Vec<&str> = plans
            .iter()
            .map(|(n, _, _)| n.as_str())
            .filter(|n| !restored.iter().any(|r| r == n))
            .collect();
        e.with_hint(format!(
            "the restore stopped part way: restored: {}; no container now: {}. Run `labctl snapshot restore {} {}` again, or `labctl down {}`",
            if restored.is_empty() { "none".to_string() } else { restored.join(", ") },
            missing.join(", "),
            lab.name.value,
            snap.name,
            lab.name.value
        ))
    })
}

/// Remove a snapshot's images and disk copies; what was removed.
pub fn delete(r: &dyn Runner, dir: &StateDir, snap: &Snapshot) -> Vec<String> {
    let mut removed = Vec::new();
    // Three engine calls for the snapshot whatever its node count (read,
    // remove, read again): three per image took 3.8 s of a 50-node `down`.
    let images: Vec<String> = snap.images.values().cloned().collect();
    let before = inspect(r, &images);
    let present: Vec<&String> = images
        .iter()
        .filter(|i| before.iter().any(|(tags, _)| tags.contains(i)))
        .collect();
    if !present.is_empty() {
        let _ = r.output(
            &Cmd::new("docker")
                .args(["image", "rm", "-f"])
                .args(present.iter().map(|i| i.to_string())),
        );
        let id_of = |image: &str| {
            before
                .iter()
                .find(|(tags, _)| tags.iter().any(|t| t == image))
                .map(|(_, id)| id.clone())
        };
        let mut again: Vec<String> = present.iter().map(|i| i.to_string()).collect();
        again.extend(present.iter().filter_map(|i| id_of(i)));
        let after = inspect(r, &again);
        for image in present {
            if after.iter().any(|(tags, _)| tags.contains(image)) {
                continue; // still tagged: not removed
            }
            // Docker keeps the layers of an image a container runs from (a
            // node restored from this snapshot); it is still labelled with
            // the lab, so `down`'s sweep removes it once the container is gone.
            match id_of(image).filter(|id| after.iter().any(|(_, x)| x == id)) {
                Some(_) => removed.push(format!(
                    "image {image} (untagged; Docker keeps it while a node runs from it, `down` removes it)"
                )),
                None => removed.push(format!("image {image}")),
            }
        }
    }
    for d in &snap.disks {
        if std::fs::remove_file(&d.copy).is_ok() {
            removed.push(format!("disk copy {}", d.copy));
        }
    }
    let _ = std::fs::remove_dir(dir.snapshots().join(&snap.name));
    let _ = std::fs::remove_dir(dir.snapshots());
    removed
}

/// The images Docker has among `refs` (tags or ids), each as its tags and
/// id, in one `docker image inspect` (refs it does not have are left out).
fn inspect(r: &dyn Runner, refs: &[String]) -> Vec<(Vec<String>, String)> {
    if refs.is_empty() {
        return vec![];
    }
    let out = r
        .output(
            &Cmd::new("docker")
                .args(["image", "inspect", "--format", "{{json .RepoTags}} {{.Id}}"])
                .args(refs.iter().cloned()),
        )
        .map(|o| o.stdout)
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| {
            let (tags, id) = l.rsplit_once(' ')?;
            let tags: Vec<String> = serde_json::from_str(tags).unwrap_or_default();
            Some((tags, id.trim().to_string()))
        })
        .collect()
}

/// The id of an image, when Docker has it.
fn image_id(r: &dyn Runner, image: &str) -> Option<String> {
    let out = r
        .output(&Cmd::new("docker").args(["image", "inspect", "--format", "{{.Id}}", image]))
        .ok()?;
    out.success().then(|| out.stdout.trim().to_string())
}

/// Snapshot images labelled with the lab (any snapshot), by id: what
/// `down`'s sweep removes with `image rm -f`, which drops every tag of an
/// image. An image that also carries a name outside the lab's own
/// `labctl-snapshot:LAB.*` tags (a user's `docker tag` of a snapshot, or a
/// `docker commit` of a restored node, which inherits the labels) is not
/// labctl's to remove and is left out.
pub fn lab_images(r: &dyn Runner, lab: &str) -> Result<Vec<String>> {
    let out = r.run(&Cmd::new("docker").args([
        "images",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
        "--filter",
        &format!("label={LABEL_LAB}={lab}"),
        "--filter",
        &format!("label={LABEL_SNAPSHOT}"),
    ]))?;
    Ok(sweepable(&out.stdout, lab))
}

/// The ids of `docker images` rows (`ID REPO:TAG`, one row per tag) whose
/// every tag is one of the lab's snapshot tags or none at all.
fn sweepable(rows: &str, lab: &str) -> Vec<String> {
    let ours = format!("labctl-snapshot:{lab}.");
    let mut ids = std::collections::BTreeMap::<&str, bool>::new();
    for row in rows.lines() {
        let mut parts = row.split_whitespace();
        let (Some(id), tag) = (parts.next(), parts.next().unwrap_or("<none>:<none>")) else {
            continue;
        };
        let mine = tag == "<none>:<none>" || tag.starts_with(&ours);
        *ids.entry(id).or_insert(true) &= mine;
    }
    ids.into_iter()
        .filter(|(_, mine)| *mine)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Settings of a container that a restore cannot carry over: a container
/// with any of these set is refused rather than recreated without it.
const NOT_CARRIED: &[&str] = &[
    "Binds",
    "Mounts",
    "VolumesFrom",
    "Links",
    "Dns",
    "ExtraHosts",
    "Ulimits",
    "DeviceCgroupRules",
    "GroupAdd",
    "Sysctls",
    "Init",
    "ReadonlyRootfs",
    "PidMode",
    "UTSMode",
    "UsernsMode",
    "Memory",
    "NanoCpus",
    "CpuShares",
];

/// `docker run` arguments that make a container like the one `inspect`
/// describes (one element of `docker container inspect`), from `image`.
pub fn run_args(inspect: &Value, image: &str) -> std::result::Result<Vec<String>, String> {
    let hc = &inspect["HostConfig"];
    let config = &inspect["Config"];
    for k in NOT_CARRIED {
        let v = &hc[*k];
        let set = match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        };
        if set {
            return Err(format!("its container has HostConfig.{k} set, which labctl cannot carry over to a restored container"));
        }
    }
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    let name = s(&inspect["Name"]).trim_start_matches('/').to_string();
    if name.is_empty() {
        return Err("its container has no name".into());
    }
    let mut a: Vec<String> = vec!["-d".into(), "--name".into(), name];
    let host = s(&config["Hostname"]);
    if !host.is_empty() {
        a.extend(["--hostname".into(), host]);
    }
    if let Some(labels) = config["Labels"].as_object() {
        for (k, v) in labels {
            a.extend([
                "--label".into(),
                format!("{k}={}", v.as_str().unwrap_or("")),
            ]);
        }
    }
    let network = s(&hc["NetworkMode"]);
    if !network.is_empty() && network != "default" {
        a.extend(["--network".into(), network.clone()]);
        let ip = s(&inspect["NetworkSettings"]["Networks"][&network]["IPAMConfig"]["IPv4Address"]);
        if !ip.is_empty() {
            a.extend(["--ip".into(), ip]);
        }
    }
    if let Some(ports) = hc["PortBindings"].as_object() {
        for (port, binds) in ports {
            for b in binds.as_array().into_iter().flatten() {
                let (ip, hp) = (s(&b["HostIp"]), s(&b["HostPort"]));
                let spec = if ip.is_empty() {
                    format!("{hp}:{port}")
                } else {
                    format!("{ip}:{hp}:{port}")
                };
                a.extend(["-p".into(), spec]);
            }
        }
    }
    if hc["Privileged"].as_bool() == Some(true) {
        a.push("--privileged".into());
    }
    for c in list(&hc["CapAdd"]) {
        a.extend(["--cap-add".into(), c]);
    }
    for c in list(&hc["CapDrop"]) {
        a.extend(["--cap-drop".into(), c]);
    }
    for o in list(&hc["SecurityOpt"]) {
        a.extend(["--security-opt".into(), o]);
    }
    for d in hc["Devices"].as_array().into_iter().flatten() {
        let perms = s(&d["CgroupPermissions"]);
        let mut spec = format!("{}:{}", s(&d["PathOnHost"]), s(&d["PathInContainer"]));
        if !perms.is_empty() {
            spec = format!("{spec}:{perms}");
        }
        a.extend(["--device".into(), spec]);
    }
    if let Some(t) = hc["Tmpfs"].as_object() {
        for (path, opts) in t {
            let opts = opts.as_str().unwrap_or("");
            let spec = if opts.is_empty() {
                path.clone()
            } else {
                format!("{path}:{opts}")
            };
            a.extend(["--tmpfs".into(), spec]);
        }
    }
    let cgroupns = s(&hc["CgroupnsMode"]);
    if !cgroupns.is_empty() {
        a.extend(["--cgroupns".into(), cgroupns]);
    }
    a.push(image.to_string());
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_leaves_a_snapshot_image_someone_else_named() {
        let rows = "sha256:a labctl-snapshot:demo.web1.provisioned\n\
                    sha256:b labctl-snapshot:demo.web2.provisioned\n\
                    sha256:b keep:me\n\
                    sha256:c <none>:<none>\n\
                    sha256:d labctl-snapshot:demo2.web1.saved\n";
        assert_eq!(sweepable(rows, "demo"), vec!["sha256:a", "sha256:c"]);
    }

    /// What Docker reported for a node of the snapshot fixture lab (trimmed
    /// to the fields that matter).
    fn node_inspect() -> Value {
        serde_json::json!({
            "Name": "/labctl-snap-web1",
            "Config": {
                "Hostname": "web1",
                "Labels": {"labctl.lab": "snap", "labctl.node": "web1"},
                "Cmd": ["/usr/local/sbin/labctl-init"]
            },
            "HostConfig": {
                "NetworkMode": "labctl-snap",
                "PortBindings": {
                    "22/tcp": [{"HostIp": "127.0.0.1", "HostPort": "2200"}],
                    "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18158"}]
                },
                "CgroupnsMode": "host",
                "Devices": [{"PathOnHost": "/dev/loop0", "PathInContainer": "/dev/sdb", "CgroupPermissions": "rwm"}],
                "CapAdd": ["NET_ADMIN"],
                "Binds": null,
                "Memory": 0,
                "Privileged": false
            },
            "NetworkSettings": {"Networks": {"labctl-snap": {"IPAMConfig": {"IPv4Address": "192.168.158.11"}}}}
        })
    }

    #[test]
    fn a_restored_container_gets_the_old_ones_settings_and_the_snapshot_image() {
        let a = run_args(&node_inspect(), "labctl-snapshot:snap.web1.provisioned").unwrap();
        assert_eq!(
            a.join(" "),
            "-d --name labctl-snap-web1 --hostname web1 --label labctl.lab=snap --label labctl.node=web1 \
             --network labctl-snap --ip 192.168.158.11 -p 127.0.0.1:2200:22/tcp -p 127.0.0.1:18158:80/tcp \
             --cap-add NET_ADMIN --device /dev/loop0:/dev/sdb:rwm --cgroupns host labctl-snapshot:snap.web1.provisioned"
        );
    }

    #[test]
    fn a_restore_that_stops_part_way_names_the_nodes_restored_and_those_left_without_a_container() {
        let l = crate::load::load("testnodes").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let mut snap = Snapshot {
            name: "provisioned".into(),
            ..Default::default()
        };
        for n in &l.lab.nodes {
            std::fs::create_dir_all(id_file(tmp.path(), &n.name).parent().unwrap()).unwrap();
            std::fs::write(id_file(tmp.path(), &n.name), format!("old-{}", n.name)).unwrap();
            snap.images.insert(
                n.name.clone(),
                image_ref("testnodes", &n.name, "provisioned"),
            );
        }
        let r = crate::exec::Recorder::default();
        r.answer("docker image inspect", 0, "sha256:x");
        r.answer("docker container inspect --format", 0, "old");
        r.answer(
            "docker container inspect old-",
            0,
            &Value::Array(vec![node_inspect()]).to_string(),
        );
        // The first node's container starts; the second's cannot.
        r.answer_once("docker run", 0, "new-1");
        r.answer("docker run", 125, "");
        let e = restore(&r, &l.lab, &dir, &State::default(), &snap).unwrap_err();
        let names: Vec<&str> = l.lab.nodes.iter().map(|n| n.name.as_str()).collect();
        let hint = e.render();
        assert!(
            hint.contains(&format!("restored: {};", names[0]))
                && hint.contains(&format!("no container now: {}", names[1..].join(", ")))
                && hint.contains("labctl snapshot restore testnodes provisioned"),
            "{hint}"
        );
        assert_eq!(
            std::fs::read_to_string(id_file(tmp.path(), names[0])).unwrap(),
            "new-1"
        );
    }

    #[test]
    fn a_setting_that_cannot_be_carried_over_is_refused_by_name() {
        let mut v = node_inspect();
        v["HostConfig"]["Binds"] = serde_json::json!(["/srv:/srv"]);
        let e = run_args(&v, "i").unwrap_err();
        assert!(e.contains("HostConfig.Binds"), "{e}");
    }

    #[test]
    fn image_names_are_per_lab_node_and_snapshot() {
        assert_eq!(
            image_ref("e2e", "node1", "provisioned"),
            "labctl-snapshot:e2e.node1.provisioned"
        );
    }

    /// Recorded: a snapshot's images go in three engine calls whatever the
    /// node count, and each is reported as Docker left it: removed, untagged
    /// but kept (a node runs from it), or not mentioned (already gone).
    #[test]
    fn delete_removes_every_image_in_one_call_and_reports_each() {
        let dir = StateDir::new(tempfile::tempdir().unwrap().keep());
        let tag = |n: &str| image_ref("l", n, "provisioned");
        let snap = Snapshot {
            name: "provisioned".into(),
            images: ["a", "b", "c"]
                .iter()
                .map(|n| (n.to_string(), tag(n)))
                .collect(),
            ..Default::default()
        };
        let r = crate::exec::Recorder::default();
        r.answer_once(
            "docker image inspect",
            1,
            &format!(
                "[\"{}\"] sha256:aa\n[\"{}\"] sha256:bb\n",
                tag("a"),
                tag("b")
            ),
        );
        r.answer_once("docker image inspect", 1, "[] sha256:bb\n");
        let removed = delete(&r, &dir, &snap);
        assert_eq!(
            removed,
            vec![
                format!("image {}", tag("a")),
                format!(
                    "image {} (untagged; Docker keeps it while a node runs from it, `down` removes it)",
                    tag("b")
                ),
            ]
        );
        let calls = r.lines();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(
            calls[1],
            format!("docker image rm -f {} {}", tag("a"), tag("b"))
        );
        assert!(calls[2].ends_with("sha256:aa sha256:bb"), "{}", calls[2]);
        let _ = std::fs::remove_dir_all(&dir.root);
    }
}
