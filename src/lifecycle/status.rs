//! `labctl status`: every node's state, address, provider and SSH address.

use super::*;

#[derive(serde::Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub state: String,
    pub ip: String,
    pub provider: String,
    /// What the machine boots: on libvirt the box its disk was made from
    /// (read from the host), on VirtualBox the lab's box, on docker the node
    /// image; "-" when nothing says.
    #[serde(rename = "box")]
    pub box_name: String,
    pub ssh: String,
}

/// The state of a node whose machine is gone from a lab that was up.
pub const GONE: &str = "gone";

pub fn node_status(op: &Opened, r: &dyn Runner) -> Result<Vec<NodeStatus>> {
    let lab = op.lab();
    let state = op.dir.load()?.unwrap_or_default();
    let states = provider::of(state_kind(&state)).states(r, lab, &op.dir.root)?;
    // A lab recorded up whose machine is missing lost it behind labctl's back.
    let was_up = matches!(state.phase, Phase::Up | Phase::Halted);
    let lost = super::heal::lost_nodes(lab, &states);
    let runtime = crate::state::runtime::Runtime::read(&op.dir.runtime_file());
    let box_of = |n: &crate::lab::Node| -> String {
        match state.provider {
            Some(Kind::Libvirt) => provider::boxes::box_of_machine(r, &lab.machine_name(&n.name))
                .or_else(|| {
                    runtime
                        .as_ref()
                        .and_then(|rt| rt.libvirt.as_ref())
                        .map(|l| format!("{} (no disk yet)", l.box_name))
                }),
            Some(Kind::Virtualbox) => Some(n.box_name.clone()),
            Some(Kind::Docker) => runtime.as_ref().and_then(|rt| rt.image.clone()),
            Some(Kind::Hosts) | None => None,
        }
        .unwrap_or_else(|| "-".into())
    };
    Ok(lab
        .nodes
        .iter()
        .map(|n| NodeStatus {
            node: n.name.clone(),
            state: match states.get(&n.name) {
                _ if was_up && lost.contains(&n.name) => GONE.to_string(),
                Some(s) => s.clone(),
                None => "not created".into(),
            },
            ip: n.ip.to_string(),
            provider: state
                .provider
                .map(|k| k.to_string())
                .unwrap_or_else(|| "-".into()),
            box_name: box_of(n),
            ssh: state
                .nodes
                .get(&n.name)
                .map(|s| format!("{}:{}", s.ssh_host, s.ssh_port))
                .unwrap_or_else(|| "-".into()),
        })
        .collect())
}

pub fn status(a: &LabArgs, json: bool) -> Result<Exit> {
    let op = open(a)?;
    let r = runner();
    let st = node_status(&op, r.as_ref())?;
    if json {
        let v = serde_json::json!({ "lab": op.lab().name.value, "network": op.lab().network_name(), "subnet": op.lab().network.subnet.value.to_string(), "nodes": st });
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
    } else {
        let mut rows = vec![vec![
            "NODE".to_string(),
            "STATE".into(),
            "IP".into(),
            "PROVIDER".into(),
            "BOX".into(),
            "SSH".into(),
        ]];
        let gone: Vec<String> = st
            .iter()
            .filter(|s| s.state == GONE)
            .map(|s| s.node.clone())
            .collect();
        for s in st {
            rows.push(vec![s.node, s.state, s.ip, s.provider, s.box_name, s.ssh]);
        }
        print!("{}", crate::text::table(&rows));
        if !gone.is_empty() {
            println!(
                "{}: the machine is gone; `labctl up {}` re-creates it and provisions what depends on it",
                gone.join(", "),
                op.lab().name.value
            );
        }
    }
    Ok(Exit::Ok)
}
