//! Extra disks on the docker provider: a sparse file in the state dir attached
//! as a loop device and passed to the container. Loop devices cannot carry
//! labels, so each is recorded in the state file before it is attached.

use crate::error::{Error, Result};
use crate::exec::{Cmd, Runner};
use crate::state::LoopDisk;
use std::path::Path;

/// The backing file's name for one node's disk, in `disks/` and in each
/// snapshot. A node name has no `.` and neither has a disk name, so no two
/// (node, disk) pairs share a file; `NODE-DISK` would (`web-1`+`data` and
/// `web`+`1-data`), and the second disk would silently be the first.
pub fn file_name(node: &str, disk: &str) -> String {
    format!("{node}.{disk}.img")
}

/// Guest device names for a node's extra disks, in order: /dev/sdb, /dev/sdc, ...
pub fn guest_device(index: usize) -> String {
    crate::state::Kind::Docker.disk_device(index)
}

/// Create the sparse backing file (if missing) for a recorded disk.
pub fn create_file(d: &LoopDisk) -> Result<()> {
    let path = Path::new(&d.file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("create disk file", path, e))?;
    f.set_len(d.size_bytes)
        .map_err(|e| Error::io("size disk file", path, e))?;
    Ok(())
}

/// Loop devices currently backed by `file`.
pub fn attached(runner: &dyn Runner, file: &str) -> Vec<String> {
    runner
        .output(&Cmd::new("losetup").args(["-j", file]))
        .map(|o| {
            o.stdout
                .lines()
                .filter_map(|l| l.split(':').next())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Attach (or find the existing attachment of) a disk file.
pub fn attach(runner: &dyn Runner, d: &LoopDisk) -> Result<String> {
    if let Some(dev) = attached(runner, &d.file).into_iter().next() {
        return Ok(dev);
    }
    let out = runner.run(&Cmd::new("losetup").args(["-f", "--show", &d.file]))?;
    Ok(out.stdout.trim().to_string())
}

/// Detach every loop device of the disk and remove its file. Returns what was done.
pub fn remove(runner: &dyn Runner, d: &LoopDisk) -> Vec<String> {
    let mut done = Vec::new();
    // Only devices still backed by our file are detached: a recorded device
    // that now backs something else is someone else's.
    let mut devs = attached(runner, &d.file);
    devs.sort();
    devs.dedup();
    for dev in devs {
        if runner.run(&Cmd::new("losetup").args(["-d", &dev])).is_ok() {
            done.push(format!("loop device {dev}"));
        }
    }
    if Path::new(&d.file).exists() && std::fs::remove_file(&d.file).is_ok() {
        done.push(format!("disk file {}", d.file));
    }
    done
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn disk_files_of_different_nodes_never_share_a_name() {
        // These two pairs met in one NODE-DISK.img file before.
        assert_ne!(file_name("web-1", "data"), file_name("web", "1-data"));
        assert_eq!(file_name("web1", "data_2"), "web1.data_2.img");
    }
}
