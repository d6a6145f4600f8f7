//! `labctl snapshot save|restore|list|delete` and `labctl reset`: a lab put
//! back, in seconds, to a state it was in. `up` and `provision` take the
//! snapshot [`PROVISIONED`] after every successful full provisioning (unless
//! `--no-snapshot`), which is what `reset` restores. What each snapshot holds
//! is recorded in the state file before the provider makes it, so `down`
//! removes exactly those.

use super::*;
use crate::state::Snapshot;

/// The snapshot `up` and `provision` take after provisioning succeeded.
pub const PROVISIONED: &str = "provisioned";

/// The name `snapshot save` gives when none is given.
pub const DEFAULT_NAME: &str = "saved";

/// A snapshot name: it becomes part of a Docker tag and a folder name.
static NAME: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"^[a-z0-9][a-z0-9_-]{0,39}$").unwrap());

fn check_name(name: &str) -> Result<()> {
    if NAME.is_match(name) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "snapshot name {name:?} is not one (a lower-case letter or digit, then up to 39 of a-z, 0-9, _, -)"
        )))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `labctl snapshot save LAB [NAME]`.
pub fn snapshot_save(a: &LabArgs, name: Option<&str>) -> Result<Exit> {
    snapshot_save_with(a, name, runner())
}

pub fn snapshot_save_with(a: &LabArgs, name: Option<&str>, r: Arc<dyn Runner>) -> Result<Exit> {
    let name = name.unwrap_or(DEFAULT_NAME);
    check_name(name)?;
    let op = open(a)?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = require_running(&op)?;
    save_locked(&op, r.as_ref(), &mut state, name)?;
    Ok(Exit::Ok)
}

/// Take snapshot `name` of a lab that is up, replacing one of that name.
pub(super) fn save_locked(
    op: &Opened,
    r: &dyn Runner,
    state: &mut State,
    name: &str,
) -> Result<()> {
    let p = provider::of(state_kind(state));
    p.snapshot_support(op.lab()).map_err(Error::usage)?;
    crate::interrupt::set_phase("taking a snapshot");
    let started = Instant::now();
    if let Some(old) = take(state, name) {
        op.dir.save(state)?;
        p.snapshot_delete(r, op.lab(), &op.dir, &old)?;
        remove_folder(&op.dir, name);
    }
    state.snapshots.push(Snapshot {
        name: name.to_string(),
        created: now(),
        published: state.published.clone(),
        ..Default::default()
    });
    op.dir.save(state)?;
    // The host keys the lab knows now belong to the machines in this
    // snapshot: a node re-created later (new keys) comes back with its old ones.
    let keys = op.dir.known_hosts();
    if keys.exists() {
        let copy = known_hosts_copy(&op.dir, name);
        if let Some(parent) = copy.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        std::fs::copy(&keys, &copy).map_err(|e| Error::io("copy", &keys, e))?;
    }
    let made = p.snapshot_save(
        r,
        op.lab(),
        &op.dir,
        state,
        &find(state, name).cloned().unwrap_or_default(),
    );
    if let Err(e) = made {
        // A snapshot that was not wholly taken is no snapshot: remove what
        // of it was made (the provider recorded each part before making
        // it) and its record, so `list` and `restore` never offer it.
        if let Some(part) = take(state, name) {
            let _ = p.snapshot_delete(r, op.lab(), &op.dir, &part);
        }
        remove_folder(&op.dir, name);
        op.dir.save(state)?;
        return Err(e);
    }
    op.dir.save(state)?;
    eprintln!(
        "lab {}: snapshot {name} taken in {:.1}s",
        op.lab().name.value,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `labctl snapshot restore LAB [NAME]`: the newest snapshot when no name is given.
pub fn snapshot_restore(a: &LabArgs, name: Option<&str>) -> Result<Exit> {
    snapshot_restore_with(a, name, runner())
}

pub fn snapshot_restore_with(a: &LabArgs, name: Option<&str>, r: Arc<dyn Runner>) -> Result<Exit> {
    let op = open(a)?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = require_up(&op)?;
    let snap = match name {
        Some(n) => find(&state, n)
            .cloned()
            .ok_or_else(|| missing(&op, &state, n))?,
        None => state
            .snapshots
            .iter()
            .max_by_key(|s| s.created)
            .cloned()
            .ok_or_else(|| missing(&op, &state, "(newest)"))?,
    };
    restore_locked(&op, r.as_ref(), &mut state, &snap)
}

/// `labctl reset LAB`: back to right after the last successful provisioning.
pub fn reset(a: &LabArgs) -> Result<Exit> {
    snapshot_restore(a, Some(PROVISIONED))
}

fn restore_locked(op: &Opened, r: &dyn Runner, state: &mut State, snap: &Snapshot) -> Result<Exit> {
    let lab = op.lab();
    let kind = state_kind(state);
    crate::interrupt::set_phase("restoring a snapshot");
    let started = Instant::now();
    provider::of(kind).snapshot_restore(r, lab, &op.dir, state, snap)?;
    let copy = known_hosts_copy(&op.dir, &snap.name);
    if let Ok(keys) = std::fs::read(&copy) {
        crate::state::write_atomic(&op.dir.known_hosts(), &keys)?;
    }
    state.published = snap.published.clone();
    // Vagrant waits for SSH itself when it restores a VM; on docker labctl
    // started the containers, so it waits here. The connection checks each
    // node's host key against the lab's known_hosts: the same keys came back.
    if kind == Kind::Docker {
        for n in &lab.nodes {
            connect(op, state, &n.name)?;
        }
    }
    state.phase = Phase::Up;
    op.dir.save(state)?;
    eprintln!(
        "lab {} restored to snapshot {} in {:.1}s",
        lab.name.value,
        snap.name,
        started.elapsed().as_secs_f64()
    );
    Ok(Exit::Ok)
}

/// `labctl snapshot list LAB`.
pub fn snapshot_list(a: &LabArgs, json: bool) -> Result<Exit> {
    let op = open(a)?;
    let state = op.dir.load()?.unwrap_or_default();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&state.snapshots).unwrap()
        );
        return Ok(Exit::Ok);
    }
    if state.snapshots.is_empty() {
        eprintln!("lab {} has no snapshots", op.lab().name.value);
        return Ok(Exit::Ok);
    }
    let mut rows = vec![vec![
        "NAME".to_string(),
        "TAKEN".to_string(),
        "NODES".to_string(),
        "DISKS".to_string(),
    ]];
    let now = now();
    for s in &state.snapshots {
        let nodes = if s.images.is_empty() {
            "all".to_string()
        } else {
            s.images.keys().cloned().collect::<Vec<_>>().join(",")
        };
        rows.push(vec![
            s.name.clone(),
            format!("{}s ago", now.saturating_sub(s.created)),
            nodes,
            s.disks.len().to_string(),
        ]);
    }
    print!("{}", crate::text::table(&rows));
    Ok(Exit::Ok)
}

/// `labctl snapshot delete LAB NAME`.
pub fn snapshot_delete(a: &LabArgs, name: &str) -> Result<Exit> {
    snapshot_delete_with(a, name, runner())
}

pub fn snapshot_delete_with(a: &LabArgs, name: &str, r: Arc<dyn Runner>) -> Result<Exit> {
    let op = open(a)?;
    let _lock = LabLock::acquire(&op.dir, &op.lab().name.value)?;
    let mut state = op.dir.load()?.unwrap_or_default();
    let Some(snap) = take(&mut state, name) else {
        return Err(missing(&op, &state, name));
    };
    let removed =
        provider::of(state_kind(&state)).snapshot_delete(r.as_ref(), op.lab(), &op.dir, &snap)?;
    remove_folder(&op.dir, name);
    op.dir.save(&state)?;
    eprintln!(
        "lab {}: snapshot {name} deleted{}",
        op.lab().name.value,
        if removed.is_empty() {
            String::new()
        } else {
            format!("; removed: {}", removed.join(", "))
        }
    );
    Ok(Exit::Ok)
}

/// On `down`: remove every recorded snapshot; what was removed. Failures are
/// left to the provider's sweep, which removes by label or name after it.
pub(super) fn remove_all(lab: &Lab, dir: &StateDir, r: &dyn Runner, state: &State) -> Vec<String> {
    let p = provider::of(state_kind(state));
    let mut removed = Vec::new();
    for s in &state.snapshots {
        removed.extend(p.snapshot_delete(r, lab, dir, s).unwrap_or_default());
    }
    let _ = std::fs::remove_dir_all(dir.snapshots());
    removed
}

/// The lab's known_hosts as it was when snapshot `name` was taken.
fn known_hosts_copy(dir: &StateDir, name: &str) -> PathBuf {
    dir.snapshots().join(name).join("known_hosts")
}

/// A snapshot's own folder (known_hosts, disk copies), once it is deleted.
fn remove_folder(dir: &StateDir, name: &str) {
    let _ = std::fs::remove_dir_all(dir.snapshots().join(name));
    let _ = std::fs::remove_dir(dir.snapshots());
}

fn find<'a>(state: &'a State, name: &str) -> Option<&'a Snapshot> {
    state.snapshots.iter().find(|s| s.name == name)
}

fn take(state: &mut State, name: &str) -> Option<Snapshot> {
    let i = state.snapshots.iter().position(|s| s.name == name)?;
    Some(state.snapshots.remove(i))
}

/// A snapshot the lab does not have: which it does have, and how to get one.
fn missing(op: &Opened, state: &State, name: &str) -> Error {
    let lab = &op.lab().name.value;
    let have: Vec<&str> = state.snapshots.iter().map(|s| s.name.as_str()).collect();
    let hint = if name == PROVISIONED {
        format!("`labctl provision {lab}` takes it when provisioning succeeds (it was skipped with --no-snapshot, or provisioning failed)")
    } else {
        format!("`labctl snapshot save {lab} NAME` takes one")
    };
    Error::Usage {
        message: format!(
            "lab {lab} has no snapshot {name} (snapshots: {})",
            if have.is_empty() {
                "none".to_string()
            } else {
                have.join(", ")
            }
        ),
        hint: Some(hint),
    }
}

/// A lab whose machines run: a snapshot of a halted lab would need them up.
fn require_running(op: &Opened) -> Result<State> {
    let state = require_up(op)?;
    if state.phase == Phase::Halted {
        return Err(Error::env(
            format!("lab {} is halted", op.lab().name.value),
            Some(format!(
                "`labctl up {}` starts it again",
                op.lab().name.value
            )),
        ));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("")]
    #[case("Up")]
    #[case("-x")]
    #[case("a.b")]
    #[case("a/b")]
    #[case("a b")]
    #[case("0123456789012345678901234567890123456789x")]
    fn a_name_that_cannot_be_a_tag_or_folder_is_refused(#[case] name: &str) {
        let e = check_name(name).unwrap_err();
        assert_eq!(e.exit(), Exit::Usage);
        assert!(e.to_string().contains("is not one"), "{e}");
    }

    #[test]
    fn names_labctl_gives_are_valid() {
        check_name(PROVISIONED).unwrap();
        check_name(DEFAULT_NAME).unwrap();
        check_name("before-upgrade_2").unwrap();
    }
}
