#!/usr/bin/env bash
# Times, in one run on this machine, `labctl up` of a two-node lab on the
# libvirt provider (real VMs; TCG where KVM does not work) against plain
# `vagrant up --provider libvirt --parallel` of the same rendered Vagrantfile
# with Vagrant's own provisioners, on the same box and the same two libvirt
# networks (made by image/libvirt-lab-net.sh, as labctl makes them). Prints
# both figures and their ratio. Not a test: figures vary by host and load.
# Takes the VM lock (one VM lab at a time on this machine). Needs
# `labctl setup --provider libvirt`; builds the box first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
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
cleanup() {
    "$L" down lab.toml >/dev/null 2>&1 || true
    (cd vf 2>/dev/null && vagrant destroy -f >/dev/null 2>&1) || true
    LAB=lvbench bash "$repo/image/libvirt-lab-net.sh" remove >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$L" image build --provider libvirt >/dev/null      # the box: not part of any figure
# The box's base volume is uploaded to the pool by the first `vagrant up`
# after `vagrant box add`; make sure neither run below pays for it.
if ! "${V[@]}" vol-list --pool default | grep -q VAGRANTSLASH-node-; then
    echo "warm-up: first up after the box was added (uploads its base volume; not timed)"
    "$L" up lab.toml --provider libvirt --no-setup >warmup.log 2>&1
    "$L" down lab.toml >/dev/null 2>&1
fi

t0=$(now); "$L" up lab.toml --provider libvirt --no-setup >up.log 2>&1; t1=$(now)
labctl_s=$(echo "$t1 - $t0" | bc)
runtime=$(cat .labctl/lvbench/labctl-runtime.json)
mgmt=$(python3 -c 'import json,sys;print(json.load(sys.stdin)["libvirt"]["management_network"]["address"])' <<<"$runtime")
"$L" down lab.toml >/dev/null 2>&1

# Plain Vagrant: same Vagrantfile, box, driver and networks; Vagrant provisions.
"$L" render lab.toml --out vf >/dev/null
mkdir -p vf/console
python3 - "$runtime" "$PWD/vf/console" >vf/labctl-runtime.json <<'PY'
import json, sys
rt = json.loads(sys.argv[1])
rt["libvirt"]["console_dir"] = sys.argv[2]
print(json.dumps(rt))
PY
LAB=lvbench SUBNET=192.168.67.0/24 MGMT_SUBNET=$mgmt bash "$repo/image/libvirt-lab-net.sh" create >/dev/null
a=$(now)
(cd vf && vagrant up --provider libvirt --parallel >../vagrant.log 2>&1)
b=$(now)
vagrant_s=$(echo "$b - $a" | bc)
(cd vf && vagrant destroy -f >/dev/null 2>&1)
LAB=lvbench bash "$repo/image/libvirt-lab-net.sh" remove >/dev/null

printf '\ntwo VMs on libvirt (%s), box cached and uploaded, one role each (nginx page), load %s:\n' \
    "$(python3 -c 'import json,sys;print(json.load(sys.stdin)["libvirt"]["driver"])' <<<"$runtime")" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-52s %7.1f s\n' "labctl up (vagrant up --no-provision --parallel + SSH)" "$labctl_s"
printf '  %-52s %7.1f s   labctl/vagrant = %.2f\n' "vagrant up --provider libvirt --parallel" "$vagrant_s" "$(echo "$labctl_s / $vagrant_s" | bc -l)"
echo "logs: $work/up.log $work/vagrant.log"
