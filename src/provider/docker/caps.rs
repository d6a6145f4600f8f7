//! What a node that runs Docker itself (`nested_containers`) may be given:
//! the capabilities this host can grant (read from the host's own bounding set,
//! since `--privileged` fails where some are missing) and the `docker create`
//! arguments that follow from them.

/// Linux capability names by number (capability(7)), for `--cap-drop`.
const CAP_NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Capabilities missing from this process's bounding set (what the host cannot
/// grant to a container), as docker `--cap-drop` names.
pub fn missing_capabilities(status: &str, cap_last: usize) -> Vec<String> {
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    (0..=cap_last.min(CAP_NAMES.len() - 1))
        .filter(|i| bnd & (1u64 << i) == 0)
        .map(|i| CAP_NAMES[i].to_string())
        .collect()
}

/// `docker create` arguments that let a node run its own Docker engine: the
/// largest set of privileges this host can grant. `--privileged` when the
/// bounding set is complete; otherwise every capability except the missing ones
/// (here CAP_SYS_RESOURCE is missing and `--privileged` fails).
pub fn nested_args() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap_last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    nested_args_for(&missing_capabilities(&status, cap_last))
}

pub fn nested_args_for(missing: &[String]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if missing.is_empty() {
        v.push("--privileged".into());
    } else {
        v.extend(["--cap-add".into(), "ALL".into()]);
        for m in missing {
            v.extend(["--cap-drop".into(), m.clone()]);
        }
        v.extend([
            "--security-opt".into(),
            "seccomp=unconfined".into(),
            "--security-opt".into(),
            "apparmor=unconfined".into(),
        ]);
        // /proc/sys writable, as --privileged would make it: the inner engine
        // sets per-interface sysctls (route_localnet for hairpin NAT when its
        // userland proxy is off).
        v.extend(["--security-opt".into(), "systempaths=unconfined".into()]);
    }
    // The inner engine (storage driver vfs: overlay on overlay does not work)
    // needs the cgroup tree.
    v.extend(["-v".into(), "/sys/fs/cgroup:/sys/fs/cgroup:rw".into()]);
    v
}
