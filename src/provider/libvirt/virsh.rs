//! `virsh` on libvirt's system connection (vagrant-libvirt's default, and
//! where labctl's networks live).

use crate::exec::Cmd;

/// libvirt's system connection.
pub const URI: &str = "qemu:///system";

pub(crate) fn virsh<'a>(args: impl IntoIterator<Item = &'a str>) -> Cmd {
    Cmd::new("virsh").args(["-c", URI]).args(args)
}

/// The domain Vagrant made for `node` in the state dir `root`, as virsh
/// takes it: its UUID, which vagrant-libvirt keeps as the machine id in
/// `.vagrant/machines/NODE/libvirt/id` (exact, where a name could be another
/// lab's). `None` without one, or when the file holds anything but a UUID's
/// characters (it becomes an argument: nothing that reads as an option).
pub(crate) fn machine_domain(root: &std::path::Path, node: &str) -> Option<String> {
    let id = std::fs::read_to_string(root.join(".vagrant/machines").join(node).join("libvirt/id"))
        .ok()?;
    let id = id.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        .then(|| id.to_string())
}

/// The names of the volumes in `pool`. (`vol-list` prints a header, a rule,
/// then `NAME PATH` rows.)
pub(crate) fn pool_volumes(
    r: &dyn crate::exec::Runner,
    pool: &str,
) -> crate::error::Result<Vec<String>> {
    let out = r.run(&virsh(["vol-list", "--pool", pool]))?;
    Ok(parse_vol_list(&out.stdout))
}

fn parse_vol_list(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn vol_list_rows_after_the_rule() {
        let text =
            " Name        Path\n------------------\n a.img   /x/a.img\n b.qcow2 /x/b.qcow2\n\n";
        assert_eq!(super::parse_vol_list(text), vec!["a.img", "b.qcow2"]);
        assert!(super::parse_vol_list(" Name Path\n----\n\n").is_empty());
    }
}
