#!/usr/bin/env bash
# Times the default `labctl up` of a two-node lab on the libvirt provider
# (real VMs; TCG where KVM does not work; its setup step, networks and the
# `provisioned` snapshot included, its phases printed from --timings) against
# plain `vagrant up --provider libvirt --parallel` of the same rendered
# Vagrantfile with Vagrant's own provisioners, on the same box and the same
# two libvirt networks (made by image/libvirt-lab-net.sh, as labctl makes
# them). ROUNDS rounds (3 by default), interleaved (odd rounds labctl first,
# even ones Vagrant first), so a change of load falls on both sides; prints
# every run, each side's median and the ratio of the medians. Every run
# must succeed (exit 0, both machines running and serving the role's page)
# or the script stops: a failed run is no figure.
# Before each run the host is checked clean of the lab (no domain, volume or
# network named for it). Not a test: figures vary by host and load.
# Takes the VM lock (one VM lab at a time on this machine). Needs
# `labctl setup --provider libvirt`; builds the box first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
ROUNDS=${ROUNDS:-3}
# A debug build: the time is the VMs', not labctl's own code.
cargo build -q
L=$repo/target/debug/labctl
work=$(mktemp -d /tmp/labctl-bench-lvup.XXXXXX)
cp -r tests/fixtures/bench5/provision "$work/"
cat >"$work/lab.toml" <<'LAB'
# Two nodes with one real role each (nginx page): bench/libvirt-up-vs-vagrant.sh.
name = "lvbench"
description = "two nginx VMs for the libvirt lifecycle benchmark"

[network]
subnet = "192.168.67.0/24"

[[node]]
name = "node"
count = 2
ip = "192.168.67.11"
memory = 512
roles = ["webserver"]
LAB
cd "$work"
export VAGRANT_CHECKPOINT_DISABLE=1
exec 9>/tmp/labctl-vm.lock
flock 9
now() { date +%s.%N; }
V=(virsh -c qemu:///system)
die() { echo "libvirt-up-vs-vagrant: $*" >&2; exit 1; }
cleanup() {
    "$L" down lab.toml >/dev/null 2>&1 || true
    (cd vf 2>/dev/null && vagrant destroy -f >/dev/null 2>&1) || true
    LAB=lvbench bash "$repo/image/libvirt-lab-net.sh" remove >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Nothing of the lab on the host: no domain, volume or network named for it.
assert_clean() {
    local left
    left=$({
        "${V[@]}" list --all --name
        "${V[@]}" net-list --all --name
        "${V[@]}" vol-list --pool default | awk 'NR > 2 { print $1 }'
    } | grep -i lvbench || true)
    [ -z "$left" ] || die "before $1: the host is not clean: $left"
}

# Both machines running and serving the role's page, asked from the host
# over the lab's own network (node1 .11, node2 .12), the same way for both.
assert_served() { # how: labctl|vagrant
    local i page
    for i in 1 2; do
        if [ "$1" = vagrant ]; then
            (cd vf && vagrant status "node$i" | grep -Eq "^node$i +running") || die "vagrant run: node$i is not running"
        fi
        page=$(curl -fsS --noproxy "*" --max-time 10 "http://192.168.67.1$i/") || die "$1 run: node$i serves no page"
        grep -q "<h1>node$i</h1>" <<<"$page" || die "$1 run: node$i's page is not the role's: $page"
    done
}

"$L" image build --provider libvirt >/dev/null      # the box: not part of any figure
# The box's base volume is uploaded to the pool by the first `vagrant up`
# after `vagrant box add`; make sure no timed run pays for it.
if ! "${V[@]}" vol-list --pool default | grep -q VAGRANTSLASH-node-; then
    assert_clean warm-up
    echo "warm-up: first up after the box was added (uploads its base volume; not timed)"
    "$L" up lab.toml --provider libvirt --no-setup >warmup.log 2>&1 || die "warm-up up failed: $work/warmup.log"
    "$L" down lab.toml >/dev/null 2>&1 || die "warm-up down failed"
fi

# Plain Vagrant's folder (same Vagrantfile, box, driver and networks), made
# from the first labctl run's runtime file (its management network).
vagrant_folder() {
    runtime=$(cat .labctl/lvbench/labctl-runtime.json)
    mgmt=$(python3 -c 'import json,sys;print(json.load(sys.stdin)["libvirt"]["management_network"]["address"])' <<<"$runtime")
    driver=$(python3 -c 'import json,sys;print(json.load(sys.stdin)["libvirt"]["driver"])' <<<"$runtime")
    "$L" render lab.toml --out vf >/dev/null 2>&1
    mkdir -p vf/console
    python3 - "$runtime" "$PWD/vf/console" >vf/labctl-runtime.json <<'PY'
import json, sys
rt = json.loads(sys.argv[1])
rt["libvirt"]["console_dir"] = sys.argv[2]
print(json.dumps(rt))
PY
}

run_labctl() { # round
    assert_clean "labctl run $1"
    local t0 t1
    t0=$(now)
    # The default `up`: its setup step, preflight and the `provisioned`
    # snapshot included (--timings only prints the phases it records anyway).
    "$L" up lab.toml --provider libvirt --timings >"up.$1.log" 2>&1 || die "labctl up failed (round $1): $work/up.$1.log"
    t1=$(now)
    [ -d vf ] || vagrant_folder
    assert_served labctl
    echo "$t1 - $t0" | bc >"labctl.$1"
    printf '  round %s  labctl up   %7.1f s   load %s\n' "$1" "$(cat "labctl.$1")" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    # up's phase table (--timings): PHASE NODE TIME, one line.
    printf '           phases: %s\n' "$(awk '$1 == "PHASE" && $2 == "NODE" { t = 1; next }
        t && NF == 3 && $3 ~ /s$/ { printf "%s%s %s  ", $1, ($2 == "-" ? "" : "[" $2 "]"), $3 }' "up.$1.log")"
    "$L" down lab.toml >/dev/null 2>&1 || die "labctl down failed (round $1)"
}

run_vagrant() { # round
    assert_clean "vagrant run $1"
    local a b
    LAB=lvbench SUBNET=192.168.67.0/24 MGMT_SUBNET=$mgmt bash "$repo/image/libvirt-lab-net.sh" create >/dev/null
    a=$(now)
    (cd vf && vagrant up --provider libvirt --parallel >"../vagrant.$1.log" 2>&1) || die "vagrant up failed (round $1): $work/vagrant.$1.log"
    b=$(now)
    assert_served vagrant
    echo "$b - $a" | bc >"vagrant.$1"
    printf '  round %s  vagrant up  %7.1f s   load %s\n' "$1" "$(cat "vagrant.$1")" "$(cut -d' ' -f1-3 /proc/loadavg)"
    (cd vf && vagrant destroy -f >/dev/null 2>&1) || die "vagrant destroy failed (round $1)"
    LAB=lvbench bash "$repo/image/libvirt-lab-net.sh" remove >/dev/null
}

printf '\ntwo VMs on libvirt, box cached and uploaded, one role each (nginx page), %s rounds interleaved:\n' "$ROUNDS"
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then run_labctl "$r"; run_vagrant "$r"; else run_vagrant "$r"; run_labctl "$r"; fi
done
python3 - "$ROUNDS" <<'PY'
import statistics, sys
n = int(sys.argv[1])
l = [float(open(f"labctl.{i}").read()) for i in range(1, n + 1)]
v = [float(open(f"vagrant.{i}").read()) for i in range(1, n + 1)]
ml, mv = statistics.median(l), statistics.median(v)
print(f"  median  labctl up (setup, networks, vagrant up --no-provision --parallel, SSH, provisioning, snapshot)  {ml:7.1f} s")
print(f"  median  vagrant up --provider libvirt --parallel (Vagrant provisions)                                  {mv:7.1f} s")
print(f"  labctl/vagrant = {ml / mv:.2f}")
PY
echo "  libvirt driver: $driver (qemu: TCG)"
echo "logs: $work (up.N.log, vagrant.N.log)"
