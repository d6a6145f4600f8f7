//! Which labs of `labctl test --jobs N` may run at the same time: labs share
//! the host's Docker engine, routes and loopback ports, so two labs run
//! together only when nothing of one can be mistaken for the other's (same
//! name, overlapping subnets, a shared forwarded host port). A lab that
//! measures (bench ratios) runs alone: its figures need a quiet host.

use crate::lab::Lab;
use ipnet::Ipv4Net;

/// What a lab holds on the host while it runs, as far as scheduling goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// The lab's name: its containers, network and labels carry it.
    pub lab: String,
    /// `None` when the lab file could not be read: the lab's own run will say
    /// why, and it holds nothing meanwhile.
    pub subnet: Option<Ipv4Net>,
    /// Host ports its nodes forward to.
    pub host_ports: Vec<u16>,
    /// It measures (bench ratios): nothing else may run beside it.
    pub alone: bool,
}

impl Footprint {
    pub fn of(lab: &Lab) -> Footprint {
        let mut host_ports: Vec<u16> = lab
            .nodes
            .iter()
            .flat_map(|n| n.forward.iter().map(|f| f.host))
            .collect();
        host_ports.sort_unstable();
        host_ports.dedup();
        Footprint {
            lab: lab.name.value.clone(),
            subnet: Some(lab.network.subnet.value),
            host_ports,
            alone: !lab.ratios.is_empty(),
        }
    }

    /// A lab whose file could not be read: it collides with nothing.
    pub fn unread(name: &str) -> Footprint {
        Footprint {
            lab: name.to_string(),
            subnet: None,
            host_ports: vec![],
            alone: false,
        }
    }
}

/// Why two labs may not run together; `None` when they may.
pub fn collision(a: &Footprint, b: &Footprint) -> Option<String> {
    if a.lab == b.lab {
        return Some(format!("same lab name {}", a.lab));
    }
    if let (Some(x), Some(y)) = (a.subnet, b.subnet) {
        if x.contains(&y.network()) || y.contains(&x.network()) {
            return Some(format!("subnet {x} overlaps {}'s {y}", b.lab));
        }
    }
    if let Some(p) = a.host_ports.iter().find(|p| b.host_ports.contains(p)) {
        return Some(format!("host port {p} is also forwarded by {}", b.lab));
    }
    None
}

/// The index in `pending` (in its order) of the next lab to start beside
/// `running`, with at most `jobs` labs at once; `None` to wait for one to end.
/// A lab that must run alone starts only when nothing runs, and nothing starts
/// beside it.
pub fn next(pending: &[&Footprint], running: &[&Footprint], jobs: usize) -> Option<usize> {
    if running.len() >= jobs.max(1) || running.iter().any(|r| r.alone) {
        return None;
    }
    pending.iter().position(|p| {
        if p.alone {
            running.is_empty()
        } else {
            running.iter().all(|r| collision(p, r).is_none())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn fp(lab: &str, subnet: &str, ports: &[u16], alone: bool) -> Footprint {
        Footprint {
            lab: lab.into(),
            subnet: Some(subnet.parse().unwrap()),
            host_ports: ports.to_vec(),
            alone,
        }
    }

    #[rstest]
    #[case::distinct(fp("a", "10.1.0.0/24", &[8080], false), fp("b", "10.2.0.0/24", &[8081], false), None)]
    #[case::same_name(fp("a", "10.1.0.0/24", &[], false), fp("a", "10.2.0.0/24", &[], false), Some("same lab name a"))]
    #[case::same_subnet(fp("a", "10.1.0.0/24", &[], false), fp("b", "10.1.0.0/24", &[], false), Some("subnet 10.1.0.0/24 overlaps b's 10.1.0.0/24"))]
    #[case::inner_subnet(fp("a", "10.1.0.128/25", &[], false), fp("b", "10.1.0.0/24", &[], false), Some("subnet 10.1.0.128/25 overlaps b's 10.1.0.0/24"))]
    #[case::outer_subnet(fp("a", "10.0.0.0/8", &[], false), fp("b", "10.1.0.0/24", &[], false), Some("subnet 10.0.0.0/8 overlaps b's 10.1.0.0/24"))]
    #[case::adjacent_subnets(fp("a", "10.1.0.0/25", &[], false), fp("b", "10.1.0.128/25", &[], false), None)]
    #[case::shared_port(fp("a", "10.1.0.0/24", &[80, 18080], false), fp("b", "10.2.0.0/24", &[18080], false), Some("host port 18080 is also forwarded by b"))]
    fn collisions(#[case] a: Footprint, #[case] b: Footprint, #[case] why: Option<&str>) {
        assert_eq!(collision(&a, &b).as_deref(), why);
        // Symmetric in whether, not in wording.
        assert_eq!(collision(&b, &a).is_some(), why.is_some());
    }

    #[test]
    fn an_unread_lab_collides_with_nothing_but_its_name() {
        let u = Footprint::unread("x");
        assert_eq!(collision(&u, &fp("y", "10.1.0.0/24", &[80], false)), None);
        assert!(collision(&u, &fp("x", "10.1.0.0/24", &[], false)).is_some());
    }

    /// Start labs in order as `next` allows; `finish` says which running lab
    /// (by position) ends whenever nothing more can start. Returns the sets
    /// of labs that ran at the same time, as they grew.
    fn simulate(labs: &[Footprint], jobs: usize) -> Vec<Vec<String>> {
        let mut pending: Vec<&Footprint> = labs.iter().collect();
        let mut running: Vec<&Footprint> = vec![];
        let mut seen = vec![];
        while !pending.is_empty() || !running.is_empty() {
            if let Some(i) = next(&pending, &running, jobs) {
                running.push(pending.remove(i));
                seen.push(running.iter().map(|f| f.lab.clone()).collect());
            } else {
                assert!(!running.is_empty(), "nothing runs and nothing may start");
                running.remove(0);
            }
        }
        seen
    }

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[rstest]
    // N=1 is serial: never two at once, in the given order.
    #[case::serial(1, vec![
        fp("a", "10.1.0.0/24", &[], false),
        fp("b", "10.2.0.0/24", &[], false),
        fp("c", "10.3.0.0/24", &[], false),
    ], vec![vec!["a"], vec!["b"], vec!["c"]])]
    #[case::two_at_once(2, vec![
        fp("a", "10.1.0.0/24", &[], false),
        fp("b", "10.2.0.0/24", &[], false),
        fp("c", "10.3.0.0/24", &[], false),
    ], vec![vec!["a"], vec!["a", "b"], vec!["b", "c"]])]
    // b shares a's subnet: c goes beside a first, b waits for a.
    #[case::subnet_waits(2, vec![
        fp("a", "10.1.0.0/24", &[], false),
        fp("b", "10.1.0.0/24", &[], false),
        fp("c", "10.3.0.0/24", &[], false),
    ], vec![vec!["a"], vec!["a", "c"], vec!["c", "b"]])]
    #[case::port_waits(3, vec![
        fp("a", "10.1.0.0/24", &[18080], false),
        fp("b", "10.2.0.0/24", &[18080], false),
        fp("c", "10.3.0.0/24", &[18081], false),
    ], vec![vec!["a"], vec!["a", "c"], vec!["c", "b"]])]
    // The bench lab first: it runs alone, the others after it.
    #[case::bench_first(3, vec![
        fp("bench", "10.9.0.0/24", &[], true),
        fp("a", "10.1.0.0/24", &[], false),
        fp("b", "10.2.0.0/24", &[], false),
    ], vec![vec!["bench"], vec!["a"], vec!["a", "b"]])]
    // The bench lab in the middle: it waits for the room to empty.
    #[case::bench_between(3, vec![
        fp("a", "10.1.0.0/24", &[], false),
        fp("bench", "10.9.0.0/24", &[], true),
        fp("b", "10.2.0.0/24", &[], false),
    ], vec![vec!["a"], vec!["a", "b"], vec!["bench"]])]
    #[case::two_alone(4, vec![
        fp("x", "10.8.0.0/24", &[], true),
        fp("y", "10.9.0.0/24", &[], true),
    ], vec![vec!["x"], vec!["y"]])]
    fn schedules(#[case] jobs: usize, #[case] labs: Vec<Footprint>, #[case] want: Vec<Vec<&str>>) {
        let want: Vec<Vec<String>> = want.iter().map(|s| names(s)).collect();
        assert_eq!(simulate(&labs, jobs), want);
    }

    #[test]
    fn zero_jobs_still_runs_one() {
        let a = fp("a", "10.1.0.0/24", &[], false);
        assert_eq!(next(&[&a], &[], 0), Some(0));
    }

    #[test]
    fn shipped_labs_bench_alone_and_distinct_otherwise() {
        let labs: Vec<Footprint> = crate::assets::lab_names()
            .iter()
            .map(|n| Footprint::of(&crate::load::load(n).unwrap().lab))
            .collect();
        let bench = labs.iter().find(|f| f.lab == "bench").unwrap();
        assert!(bench.alone, "the bench lab measures: it runs alone");
        for (i, a) in labs.iter().enumerate() {
            for b in &labs[i + 1..] {
                assert_eq!(collision(a, b), None, "{} and {}", a.lab, b.lab);
            }
        }
    }
}
