//! Rendering: the Vagrantfile (from `Vagrantfile.tera`), the Ansible inventory,
//! a lab summary, and the role folders the standalone Vagrantfile provisions from.
//!
//! Output depends only on the lab and its roles, never on the host, so two
//! renders are byte-identical and snapshot tests are meaningful.

use crate::error::{Error, Result};
use crate::lab::units::human_size;
use crate::lab::Lab;
use crate::load::Loaded;
use crate::roles::SUPPORT_DIR;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The Ruby file the Vagrantfile requires on docker (vagrant/docker_listing.rb).
pub const DOCKER_LISTING_FILE: &str = "labctl-docker-listing.rb";
/// The Ruby file the Vagrantfile requires on docker (vagrant/ssh_wait.rb).
pub const SSH_WAIT_FILE: &str = "labctl-ssh-wait.rb";
/// The Ruby file the Vagrantfile requires on docker before the two above
/// (vagrant/env_seconds.rb).
pub const ENV_SECONDS_FILE: &str = "labctl-env-seconds.rb";
/// The Ruby file the Vagrantfile requires on docker (vagrant/fstab.rb).
pub const FSTAB_FILE: &str = "labctl-fstab.rb";

/// Every rendered file, by path relative to the output folder.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Rendered {
    pub fn text(&self, name: &str) -> &str {
        std::str::from_utf8(&self.files[name]).unwrap()
    }

    /// Write every file under `dir`, replacing only what changed (keeps mtimes of
    /// unchanged files so Vagrant and editors are not disturbed). Returns the
    /// folder written, resolved: symbolic links in the path the caller named
    /// are followed once (like `/tmp` on some systems), and nothing is written
    /// outside the resolved folder: a symbolic link found inside it is refused.
    pub fn write_to(&self, dir: &Path) -> Result<PathBuf> {
        let dir = resolve_out_dir(dir)?;
        let dir = dir.as_path();
        for (rel, bytes) in &self.files {
            let path = dir.join(rel);
            // Never write through a symbolic link planted inside the output folder.
            let mut p = dir.to_path_buf();
            for c in Path::new(rel)
                .parent()
                .into_iter()
                .flat_map(|x| x.components())
            {
                p.push(c);
                if std::fs::symlink_metadata(&p)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false)
                {
                    return Err(Error::usage(format!(
                        "{} is a symbolic link; refusing to write through it",
                        p.display()
                    )));
                }
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            }
            if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
                continue;
            }
            crate::state::write_atomic(&path, bytes)?;
        }
        Ok(dir.to_path_buf())
    }
}

/// The absolute folder `dir` names, with the symbolic links of its existing
/// part resolved; the part that does not exist yet is appended as given.
/// `..` is refused: a plain path says where files go.
pub fn resolve_out_dir(dir: &Path) -> Result<PathBuf> {
    if dir
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(Error::usage(format!(
            "output folder {} contains `..`; give a plain path",
            dir.display()
        )));
    }
    let abs = std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => {
                let mut out = real;
                for c in rest.iter().rev() {
                    out.push(c);
                }
                return Ok(out);
            }
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(p), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = p;
                }
                _ => return Err(Error::usage(format!("cannot resolve {}", dir.display()))),
            },
        }
    }
}

/// A single-quoted Ruby string literal. Inside single quotes Ruby only treats
/// `\\` and `\'` specially, so `#{...}` and backticks stay inert text. Control
/// characters are refused by validation before rendering.
pub fn ruby_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn rb_filter(v: &tera::Value, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let s = match v {
        tera::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().any(|c| c.is_control()) {
        return Err(tera::Error::msg(
            "refusing to render a control character into the Vagrantfile",
        ));
    }
    Ok(tera::Value::String(ruby_str(&s)))
}

#[derive(Serialize)]
struct LabCtx {
    name: String,
    description: String,
    file: String,
    network_name: String,
    subnet: String,
    netmask: String,
    machine_prefix: String,
}

#[derive(Serialize)]
struct DiskCtx {
    name: String,
    size_mib: u64,
    vdi: String,
    size_libvirt: String,
    device_libvirt: String,
}

#[derive(Serialize)]
struct ForwardCtx {
    guest: u16,
    host: u16,
    host_ip: String,
}

#[derive(Serialize)]
struct RoleCtx {
    name: String,
    env: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
}

#[derive(Serialize)]
struct NodeCtx {
    name: String,
    machine: String,
    ip: String,
    r#box: String,
    memory: u32,
    cpus: u32,
    boot_timeout: u32,
    forward: Vec<ForwardCtx>,
    disks: Vec<DiskCtx>,
    roles: Vec<RoleCtx>,
}

/// Environment variable name for a role or variable name: `ansible-pull` -> `ANSIBLE_PULL`.
pub fn env_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The variables a role run gets, besides published values and secrets. Values
/// reach scripts as environment variables, never spliced into script text.
pub fn role_env(lab: &Lab, node: &crate::lab::Node, role: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("LABCTL_LAB".to_string(), lab.name.value.clone()),
        ("LABCTL_NODE".to_string(), node.name.clone()),
        ("LABCTL_ROLE".to_string(), role.to_string()),
        ("LABCTL_NODE_IP".to_string(), node.ip.to_string()),
        (
            "LABCTL_SUBNET".to_string(),
            lab.network.subnet.value.to_string(),
        ),
        (
            "LABCTL_NODES".to_string(),
            lab.nodes
                .iter()
                .map(|n| format!("{}={}", n.name, n.ip))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    for r in lab.roles() {
        let names: Vec<&str> = lab.nodes_with_role(&r).map(|n| n.name.as_str()).collect();
        env.push((format!("LABCTL_ROLE_{}", env_name(&r)), names.join(" ")));
    }
    let bw = node.bandwidth.as_ref().or(lab.network.bandwidth.as_ref());
    if let Some(bw) = bw {
        env.push((
            "LABCTL_BANDWIDTH".into(),
            crate::lab::units::tc_rate(bw.value),
        ));
    }
    for (k, v) in &node.vars {
        env.push((env_name(k), v.value.clone()));
    }
    env
}

pub fn render(loaded: &Loaded) -> Result<Rendered> {
    let lab = &loaded.lab;
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.register_filter("rb", rb_filter);
    tera.add_raw_template("Vagrantfile", crate::assets::VAGRANTFILE_TEMPLATE)
        .map_err(|e| Error::Template {
            what: "Vagrantfile.tera".into(),
            source: e,
        })?;

    let subnet = lab.network.subnet.value;
    let lab_ctx = LabCtx {
        name: lab.name.value.clone(),
        description: lab.description.clone(),
        file: display_file(lab),
        network_name: lab.network_name(),
        subnet: subnet.to_string(),
        netmask: subnet.netmask().to_string(),
        machine_prefix: format!("labctl-{}-", lab.name.value),
    };
    let nodes: Vec<NodeCtx> = lab
        .nodes
        .iter()
        .map(|n| NodeCtx {
            name: n.name.clone(),
            machine: lab.machine_name(&n.name),
            ip: n.ip.to_string(),
            r#box: n.box_name.clone(),
            memory: n.memory_mib,
            cpus: n.cpus,
            boot_timeout: n.boot_timeout_s,
            forward: n
                .forward
                .iter()
                .map(|f| ForwardCtx {
                    guest: f.guest,
                    host: f.host,
                    host_ip: f.host_ip.to_string(),
                })
                .collect(),
            disks: n
                .disks
                .iter()
                .enumerate()
                .map(|(i, d)| DiskCtx {
                    name: d.name.clone(),
                    size_mib: d.size_mib(),
                    vdi: format!("{}-{}.vdi", n.name, d.name),
                    size_libvirt: human_size(d.size_bytes),
                    device_libvirt: crate::state::Kind::Libvirt
                        .disk_device(i)
                        .trim_start_matches("/dev/")
                        .to_string(),
                })
                .collect(),
            roles: n
                .roles
                .iter()
                .map(|r| RoleCtx {
                    name: r.value.clone(),
                    env: role_env(lab, n, &r.value)
                        .into_iter()
                        .map(|(k, v)| (k, vagrant_env_value(&v)))
                        .collect(),
                    secrets: lab
                        .secret_vars
                        .iter()
                        .map(|(k, v)| (env_name(k), v.value.clone()))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("lab", &lab_ctx);
    ctx.insert("nodes", &nodes);
    let vagrantfile = tera
        .render("Vagrantfile", &ctx)
        .map_err(|e| Error::Template {
            what: format!("the Vagrantfile of lab {}", lab.name.value),
            source: e,
        })?;

    let mut files = BTreeMap::new();
    files.insert("Vagrantfile".to_string(), vagrantfile.into_bytes());
    files.insert(
        DOCKER_LISTING_FILE.to_string(),
        crate::assets::DOCKER_LISTING_RB.as_bytes().to_vec(),
    );
    files.insert(
        SSH_WAIT_FILE.to_string(),
        crate::assets::SSH_WAIT_RB.as_bytes().to_vec(),
    );
    files.insert(
        ENV_SECONDS_FILE.to_string(),
        crate::assets::ENV_SECONDS_RB.as_bytes().to_vec(),
    );
    files.insert(
        FSTAB_FILE.to_string(),
        crate::assets::FSTAB_RB.as_bytes().to_vec(),
    );
    files.insert("inventory.ini".to_string(), inventory(lab).into_bytes());
    files.insert("summary.txt".to_string(), summary(loaded).into_bytes());
    // The role folders the standalone Vagrantfile uploads.
    for role in lab.roles() {
        if let Some(r) = loaded.roles.get(&role) {
            for (rel, bytes) in &r.files {
                files.insert(format!("roles/{role}/{rel}"), bytes.clone());
            }
        }
    }
    for (rel, bytes) in &loaded.roles.support {
        files.insert(format!("roles/{SUPPORT_DIR}/{rel}"), bytes.clone());
    }
    Ok(Rendered { files })
}

fn display_file(lab: &Lab) -> String {
    match &lab.dir {
        None => format!("labs/{}.toml (shipped with labctl)", lab.name.value),
        // The file name lands in a Ruby comment: a newline in it would end the
        // comment and start code, so control characters are replaced.
        Some(_) => lab
            .file
            .file_name()
            .map(|f| {
                f.to_string_lossy()
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Vagrant's shell provisioner writes `env:` values into the guest script as
/// `export KEY="value"`, escaping only `"`. Inside double quotes the shell still
/// expands `$`, backticks and `\`, so those are escaped here first; the value
/// then arrives in the guest byte for byte.
pub fn vagrant_env_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Ansible inventory: every node in `all`, and one group per role.
pub fn inventory(lab: &Lab) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Ansible inventory of lab {} (rendered by labctl)\n",
        lab.name.value
    ));
    out.push_str("[all]\n");
    for n in &lab.nodes {
        out.push_str(&format!("{} ansible_host={}\n", n.name, n.ip));
    }
    for r in lab.roles() {
        out.push_str(&format!("\n[{}]\n", r.replace('-', "_")));
        for n in lab.nodes_with_role(&r) {
            out.push_str(&format!("{}\n", n.name));
        }
    }
    out
}

/// Human-readable overview of a lab.
pub fn summary(loaded: &Loaded) -> String {
    let lab = &loaded.lab;
    let mut out = String::new();
    out.push_str(&format!("lab {}: {}\n", lab.name.value, lab.description));
    out.push_str(&format!(
        "network {} on {}",
        lab.network_name(),
        lab.network.subnet.value
    ));
    if let Some(bw) = &lab.network.bandwidth {
        out.push_str(&format!(
            ", links shaped to {}",
            crate::lab::units::tc_rate(bw.value)
        ));
    }
    out.push('\n');
    let mut rows = vec![vec![
        "NODE".to_string(),
        "IP".into(),
        "MEMORY".into(),
        "CPUS".into(),
        "DISKS".into(),
        "FORWARDS".into(),
        "ROLES".into(),
    ]];
    for n in &lab.nodes {
        rows.push(vec![
            n.name.clone(),
            n.ip.to_string(),
            format!("{}M", n.memory_mib),
            n.cpus.to_string(),
            if n.disks.is_empty() {
                "-".into()
            } else {
                n.disks
                    .iter()
                    .map(|d| format!("{}:{}", d.name, human_size(d.size_bytes)))
                    .collect::<Vec<_>>()
                    .join(",")
            },
            if n.forward.is_empty() {
                "-".into()
            } else {
                n.forward
                    .iter()
                    .map(|f| format!("{}:{}->{}", f.host_ip, f.host, f.guest))
                    .collect::<Vec<_>>()
                    .join(",")
            },
            if n.roles.is_empty() {
                "-".into()
            } else {
                n.roles
                    .iter()
                    .map(|r| r.value.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            },
        ]);
    }
    out.push_str(&crate::text::table(&rows));
    out.push_str(&format!("checks: {}", lab.checks.len()));
    if !lab.scenarios.is_empty() {
        out.push_str(&format!(
            ", bench scenarios: {}, ratio bounds: {}",
            lab.scenarios.len(),
            lab.ratios.len()
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_literals_are_inert() {
        assert_eq!(ruby_str("a'b"), r"'a\'b'");
        assert_eq!(ruby_str(r"#{system('id')}"), r"'#{system(\'id\')}'");
        assert_eq!(ruby_str(r"x\"), r"'x\\'");
    }
}
