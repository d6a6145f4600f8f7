#!/usr/bin/env bash
# Times `labctl up` of a five-node lab (node image cached) against plain
# `vagrant up --provider docker` of the same rendered Vagrantfile with
# Vagrant's own shell provisioners, parallel (the docker provider's default)
# and --no-parallel (how Vagrant runs VirtualBox machines). RUNS rounds
# (default 3), interleaved (labctl, parallel, serial, labctl, ...), each from
# a clean host; prints the median of each and the ratios, and labctl's phases
# as its run records hold them. A run that fails (exit status, a node not
# running, a role that failed) stops the script with an error naming it:
# no time is printed for it. Not a test: figures vary by host.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
cargo build -q --release
L=$PWD/target/release/labctl
R="python3 $PWD/bench/lib/record.py"
work=$(mktemp -d /tmp/labctl-bench-up.XXXXXX)
cp -r tests/fixtures/bench5/. "$work/"
cd "$work"
export VAGRANT_CHECKPOINT_DISABLE=1
NET=labctl-bench5
now() { date +%s.%N; }
fail() { echo "bench: $*" >&2; echo "logs: $work" >&2; exit 1; }
# vf/keys: the key pairs plain `vagrant up` made for the yardstick's machines
# (the work dir is kept for its logs, private keys are not).
cleanup() { "$L" down lab.toml >/dev/null 2>&1 || true; (cd vf 2>/dev/null && vagrant destroy -f >/dev/null 2>&1) || true; rm -rf vf/keys; docker network rm $NET >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Every run starts from what labctl's own run starts from: no container or
# network of the lab, and no listener on the SSH ports Vagrant forwards
# (2200-2250; a port still held right after a teardown failed the yardstick
# once with "port is already allocated"). Waits up to 30 s, then refuses.
clean_host() {
    local i
    for i in $(seq 60); do
        if [ -z "$(docker ps -aq --filter name=bench5)$(docker ps -aq --filter name=vf_node)" ] &&
            ! docker network inspect $NET >/dev/null 2>&1 &&
            ! ss -Htln 'sport >= :2200 and sport <= :2250' | grep -q .; then
            return 0
        fi
        sleep 0.5
    done
    fail "the host is not clean before $1: $(docker ps -a --format '{{.Names}}' | tr '\n' ' ') $(ss -Htln 'sport >= :2200 and sport <= :2250')"
}

"$L" image build --provider docker >/dev/null   # cached image: not part of any figure (docker only: no box is built or pruned)
"$L" down lab.toml >/dev/null 2>&1 || true

labctl_run() {
    local label="labctl up, round $1" a b rec st
    clean_host "$label"
    a=$(now)
    "$L" up lab.toml --provider docker --no-setup >>up.log 2>&1 || fail "$label exited $? (up.log)"
    b=$(now)
    rec=$($R latest .labctl/bench5/history up) || fail "$label left no run record"
    $R check "$rec" "$label"
    st=$("$L" status lab.toml --json) || fail "$label: status failed"
    [ "$(printf '%s' "$st" | python3 -c 'import json,sys; print(sum(n["state"] == "running" for n in json.load(sys.stdin)["nodes"]))')" = 5 ] ||
        fail "$label: not every node is running: $st"
    cp "$rec" "up-record-$1.json"
    # The yardstick runs the image this run used.
    [ -s image.txt ] || python3 -c 'import json;print(json.load(open(".labctl/bench5/labctl-runtime.json"))["image"])' >image.txt
    "$L" down lab.toml >/dev/null 2>&1 || fail "labctl down after $label failed"
    echo "$b - $a" | bc
}

# Plain Vagrant: same Vagrantfile, same image and network, Vagrant provisions.
vagrant_run() {
    local label="vagrant up $2, round $1" a b rc running
    if [ ! -d vf ]; then
        "$L" render lab.toml --out vf >/dev/null
        printf '{"provider":"docker","image":"%s","nodes":{}}\n' "$(cat image.txt)" >vf/labctl-runtime.json
    fi
    clean_host "$label"
    docker network create --subnet 192.168.64.0/24 --gateway 192.168.64.1 $NET >/dev/null
    a=$(now)
    rc=0; (cd vf && vagrant up --provider docker "$2" >>../vagrant.log 2>&1) || rc=$?
    b=$(now)
    running=$(cd vf && vagrant status --machine-readable 2>/dev/null | grep -c ',state,running$' || true)
    if [ "$rc" != 0 ] || [ "$running" != 5 ]; then
        fail "$label failed: exit $rc, $running of 5 machines running (vagrant.log)"
    fi
    (cd vf && vagrant destroy -f >/dev/null 2>&1) || fail "vagrant destroy after $label failed"
    rm -rf vf/keys
    docker network rm $NET >/dev/null || fail "removing $NET after $label failed"
    echo "$b - $a" | bc
}

L_S=() P_S=() S_S=()
for i in $(seq "$RUNS"); do
    # A failed run exits its subshell: stop here, its error said which.
    t=$(labctl_run "$i") || exit 1; L_S+=("$t")
    t=$(vagrant_run "$i" --parallel) || exit 1; P_S+=("$t")
    t=$(vagrant_run "$i" --no-parallel) || exit 1; S_S+=("$t")
    echo "round $i: labctl ${L_S[-1]} s, vagrant parallel ${P_S[-1]} s, vagrant --no-parallel ${S_S[-1]} s" >&2
done
l=$($R median "${L_S[@]}") p=$($R median "${P_S[@]}") s=$($R median "${S_S[@]}")

printf '\nfive nodes, node image cached, one role each (nginx page); median of %s interleaved rounds:\n' "$RUNS"
printf '  %-44s %7.1f s\n' "labctl up (everything up does by default)" "$l"
printf '  %-44s %7.1f s   labctl is %.2fx faster\n' "vagrant up --provider docker (parallel)" "$p" "$(echo "$p / $l" | bc -l)"
printf '  %-44s %7.1f s   labctl is %.2fx faster\n' "vagrant up --provider docker --no-parallel" "$s" "$(echo "$s / $l" | bc -l)"
printf '\nlabctl up phases, median over the rounds (from its run records):\n'
$R median-phases $(for i in $(seq "$RUNS"); do echo "up-record-$i.json"; done)
echo "logs: $work"
