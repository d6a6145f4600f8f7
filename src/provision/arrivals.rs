//! [`Arrivals`]: the nodes' SSH targets as they become known. `up` hands
//! each node over when Vagrant has finished its machine and its address and
//! own key are known, while Vagrant is still making the others; each node's
//! provisioning starts on its arrival (and its barriers). `labctl provision`
//! hands every node over at once.

use crate::remote::Target;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

enum Arrival {
    Ready(Target),
    /// The node will not come: why (vagrant up failed, interrupted).
    Lost(String),
}

#[derive(Default)]
pub struct Arrivals {
    /// Each node that arrived or was lost, and the order nodes arrived in.
    inner: Mutex<(BTreeMap<String, Arrival>, Vec<String>)>,
    cv: Condvar,
}

impl Arrivals {
    /// Nobody has arrived yet.
    pub fn new() -> Arrivals {
        Arrivals::default()
    }

    /// Every node known already (a lab that is up); one without a target
    /// never comes.
    pub fn all(targets: BTreeMap<String, Target>) -> Arrivals {
        let a = Arrivals::new();
        for t in targets.into_values() {
            a.ready(t);
        }
        a.close("no SSH address known");
        a
    }

    /// Node `t.node` answers at `t`; a node already lost stays lost.
    pub fn ready(&self, t: Target) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !g.0.contains_key(&t.node) {
            g.1.push(t.node.clone());
            g.0.insert(t.node.clone(), Arrival::Ready(t));
        }
        self.cv.notify_all();
    }

    /// Every node that has not arrived never will, for `why`. Called on
    /// every way out of `up`'s boot, so no node's wait outlives it.
    pub fn close(&self, why: &str) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Nodes not named yet are lost too: `wait` treats a closed set so.
        g.0.insert(String::new(), Arrival::Lost(why.to_string()));
        self.cv.notify_all();
    }

    /// The nodes that arrived, in the order they did.
    pub fn order(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// Wait until `node` arrives: its target, or why it will not come. A
    /// Ctrl-C ends the wait too.
    pub fn wait(&self, node: &str) -> std::result::Result<Target, String> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match g.0.get(node).or_else(|| g.0.get("")) {
                Some(Arrival::Ready(t)) => return Ok(t.clone()),
                Some(Arrival::Lost(why)) => return Err(why.clone()),
                None => {}
            }
            if crate::interrupt::interrupted() {
                return Err(format!(
                    "interrupted during {} before node {node} was up",
                    crate::interrupt::phase()
                ));
            }
            g = self
                .cv
                .wait_timeout(g, Duration::from_millis(200))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(node: &str) -> Target {
        Target {
            node: node.into(),
            host: "127.0.0.1".into(),
            port: 2200,
            user: "vagrant".into(),
            key: "/k".into(),
            alias: format!("labctl-t-{node}"),
            known_hosts: "/kh".into(),
        }
    }

    /// A node's wait ends when it arrives, whatever arrived before; after
    /// `close`, a node that had not come is lost with the reason, and one
    /// that had stays ready.
    #[test]
    fn nodes_arrive_in_their_own_order_and_close_loses_the_rest() {
        let a = Arrivals::new();
        std::thread::scope(|s| {
            let w2 = s.spawn(|| a.wait("web2"));
            let w3 = s.spawn(|| a.wait("web3"));
            a.ready(target("web2"));
            assert_eq!(w2.join().unwrap().unwrap().node, "web2");
            a.ready(target("web1"));
            a.close("vagrant up failed");
            assert_eq!(w3.join().unwrap().unwrap_err(), "vagrant up failed");
        });
        assert_eq!(a.wait("web1").unwrap().port, 2200);
        assert_eq!(a.order(), vec!["web2", "web1"]);
        // A node never named is lost once the set is closed.
        assert!(a.wait("web9").is_err());
    }
}
