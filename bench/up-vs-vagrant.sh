#!/usr/bin/env bash
# Times, in one run on this machine, `labctl up` of a five-node lab (node image
# cached) against plain `vagrant up --provider docker` of the same rendered
# Vagrantfile with Vagrant's own shell provisioners, parallel (the docker
# provider's default) and --no-parallel (how Vagrant runs VirtualBox machines).
# Prints the three figures and their ratios. Not a test: figures vary by host.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release
L=$PWD/target/release/labctl
work=$(mktemp -d /tmp/labctl-bench-up.XXXXXX)
cp -r tests/fixtures/bench5/. "$work/"
cd "$work"
export VAGRANT_CHECKPOINT_DISABLE=1
now() { date +%s.%N; }
cleanup() { "$L" down lab.toml >/dev/null 2>&1 || true; (cd vf 2>/dev/null && vagrant destroy -f >/dev/null 2>&1) || true; docker network rm labctl-bench5 >/dev/null 2>&1 || true; }
trap cleanup EXIT

"$L" image build >/dev/null          # cached image: not part of any figure
"$L" down lab.toml >/dev/null 2>&1 || true

t0=$(now); "$L" up lab.toml --provider docker --no-setup >up.log 2>&1; t1=$(now)
labctl_s=$(echo "$t1 - $t0" | bc)
image=$(python3 -c 'import json;print(json.load(open(".labctl/bench5/labctl-runtime.json"))["image"])')
"$L" down lab.toml >/dev/null 2>&1

# Plain Vagrant: same Vagrantfile, same image and network, Vagrant provisions.
"$L" render lab.toml --out vf >/dev/null
printf '{"provider":"docker","image":"%s","nodes":{}}\n' "$image" >vf/labctl-runtime.json
vagrant_run() {
    docker network create --subnet 192.168.64.0/24 --gateway 192.168.64.1 labctl-bench5 >/dev/null
    local a; a=$(now)
    (cd vf && vagrant up --provider docker "$@" >>../vagrant.log 2>&1)
    local b; b=$(now)
    (cd vf && vagrant destroy -f >/dev/null 2>&1)
    docker network rm labctl-bench5 >/dev/null
    echo "$b - $a" | bc
}
par_s=$(vagrant_run --parallel)
ser_s=$(vagrant_run --no-parallel)

printf '\nfive nodes, node image cached, one role each (nginx page):\n'
printf '  %-44s %7.1f s\n' "labctl up (vagrant up --no-provision + SSH)" "$labctl_s"
printf '  %-44s %7.1f s   labctl is %.2fx faster\n' "vagrant up --provider docker (parallel)" "$par_s" "$(echo "$par_s / $labctl_s" | bc -l)"
printf '  %-44s %7.1f s   labctl is %.2fx faster\n' "vagrant up --provider docker --no-parallel" "$ser_s" "$(echo "$ser_s / $labctl_s" | bc -l)"
echo "logs: $work/up.log $work/vagrant.log"
