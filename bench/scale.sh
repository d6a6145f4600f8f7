#!/usr/bin/env bash
# How `labctl up` and `labctl down` grow with the number of nodes: labs of
# N = 2, 5, 10, 20, 50 plain nodes (no roles, no checks; the files are made
# here, in a temp dir, with lab names scaleN on their own subnet
# 192.168.180.0/24), node image cached, on the docker provider. For each N:
# up's wall time and, from labctl's own run records, its machines and
# ssh-config phases; down's wall time; the marginal cost per node against
# the size before. `up` takes each node's SSH address as soon as Vagrant has
# finished that node, while it still makes the others, so ssh-config is
# recorded per node and overlaps `machines`: the table gives the largest
# per-node row and the sum of them (plus the lab-wide row, for nodes Vagrant
# did not report, when there is one: it runs after Vagrant exits).
# For N = 20 also plain `vagrant up --parallel` of the same
# rendered Vagrantfile (and the same runtime file: image and SSH ports, so
# Vagrant's own port auto-correction, which races in parallel, is not part
# of the yardstick), from an equally clean host. For the 50-node up:
# labctl's own CPU time and peak RSS (read from /proc for labctl's process
# alone) and /usr/bin/time -v's (labctl with its children: Vagrant, docker).
#
# Every run's exit status is checked, every node must be running after up,
# and nothing of the lab (container, network) may be left after down; a run
# that fails stops the script with an error naming it, and no figure is
# printed for it. RUNS (default 1) rounds of each size, median printed.
# SIZES overrides the sizes ("2 5 10 20 50"); LABCTL a prebuilt binary
# (default: a release build made here). Hold /tmp/labctl-e2e.lock while it
# runs if e2e tests share the host. Not a test: figures depend on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1}
SIZES=${SIZES:-"2 5 10 20 50"}
if [ -z "${LABCTL:-}" ]; then
    cargo build -q --release
    LABCTL=$PWD/target/release/labctl
fi
L=$LABCTL
R="python3 $PWD/bench/lib/record.py"
work=$(mktemp -d /tmp/labctl-bench-scale.XXXXXX)
cd "$work"
export VAGRANT_CHECKPOINT_DISABLE=1
SUBNET=192.168.180
now() { date +%s.%N; }
fail() { echo "bench: $*" >&2; echo "logs: $work" >&2; exit 1; }
current=""
cleanup() {
    [ -n "$current" ] || return 0
    "$L" down "$current/lab.toml" >/dev/null 2>&1 || true
    (cd "$current/vf" 2>/dev/null && vagrant destroy -f >/dev/null 2>&1) || true
    # The key pairs plain `vagrant up` made for the yardstick's machines: the
    # work dir is kept for its logs, private keys are not.
    rm -rf -- "$current/vf/keys"
    docker network rm "labctl-$(basename "$current")" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# One lab file per size: N plain nodes, node1..nodeN from .11 up.
make_lab() {
    local n=$1 d=$work/scale$1
    mkdir -p "$d"
    cat >"$d/lab.toml" <<EOF
# $n plain nodes (no roles): bench/scale.sh
name = "scale$n"
description = "$n plain nodes for the scale benchmark"

[network]
subnet = "$SUBNET.0/24"

[[node]]
name = "node"
count = $n
ip = "$SUBNET.11"
EOF
}

# Nothing of any scale lab may be on the host before a run: no container,
# no network of one, and no listener on the SSH ports the lab's last run
# used (a port still held right after a teardown once failed a yardstick
# with "port is already allocated"). Other labs' ports are theirs: labctl
# picks around them. Waits up to 30 s, then refuses.
clean_host() {
    local i ports="" filter=""
    [ -s runtime-used.json ] && ports=$(python3 -c 'import json; print(" ".join(str(n["ssh_port"]) for n in json.load(open("runtime-used.json"))["nodes"].values() if n.get("ssh_port")))')
    for p in $ports; do filter="${filter:+$filter or }sport = :$p"; done
    for i in $(seq 60); do
        if [ -z "$(docker ps -aq --filter label=labctl.lab --filter name=scale)" ] &&
            [ -z "$(docker network ls -q --filter name=labctl-scale)" ] &&
            { [ -z "$filter" ] || ! ss -Htln "$filter" | grep -q .; }; then
            return 0
        fi
        sleep 0.5
    done
    fail "the host is not clean before $1: $(docker ps -a --filter name=scale --format '{{.Names}}' | tr '\n' ' ') $(docker network ls -q --filter name=labctl-scale) ${filter:+$(ss -Htln "$filter")}"
}

running_nodes() {
    "$L" status "$1/lab.toml" --json | python3 -c 'import json,sys; print(sum(n["state"] == "running" for n in json.load(sys.stdin)["nodes"]))'
}

phase() { # RECORD PHASE: seconds of the lab-wide phase, 0 if absent
    $R phases "$1" | awk -v p="$2" '$1 == p { print $2; f = 1 } END { if (!f) print 0 }'
}

# RECORD PHASE: "MAX SUM" of the phase's per-node rows, the lab-wide row
# (if any) added to the sum only; "0 0" if neither is there.
node_phases() {
    $R phases "$1" | awk -v p="$2" '
        index($1, p "@") == 1 { s += $2; if ($2 > m) m = $2 }
        $1 == p { s += $2 }
        END { printf "%.2f %.2f\n", m + 0, s + 0 }'
}

# Samples labctl's own peak RSS (VmHWM) and CPU ticks (utime+stime, its own
# process only) from /proc until it exits; the last sample is printed.
sample_self() {
    local pid=$1 out=$2 hwm ticks
    while [ -e "/proc/$pid/status" ]; do
        hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
        ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || break
        [ -n "$hwm" ] && echo "$hwm $ticks" >"$out"
        sleep 0.1
    done
}

# One labctl round of size N: sets R_UP R_MACH R_SSHC R_SSHS R_DOWN (no subshell,
# so a failure's exit runs the cleanup trap in this shell).
labctl_run() {
    local n=$1 i=$2 d=$work/scale$1 label="labctl up of $1 nodes, round $2" a b c rec_up rec_down run time_pid
    cd "$d"
    clean_host "$label"
    current=$d
    a=$(now)
    if [ "$n" = 50 ] && [ "$i" = 1 ]; then
        # labctl's own process, sampled from /proc; and with its children.
        /usr/bin/time -v -o "$work/time-50.txt" "$L" up lab.toml --provider docker --no-setup >"up-$i.log" 2>&1 &
        time_pid=$!
        local lpid=""
        for _ in $(seq 50); do
            lpid=$(pgrep -P "$time_pid" || true)
            [ -n "$lpid" ] && break
            sleep 0.02
        done
        [ -n "$lpid" ] && sample_self "$lpid" "$work/self-50.txt" &
        wait "$time_pid" || fail "$label exited $? ($d/up-$i.log)"
        wait
    else
        "$L" up lab.toml --provider docker --no-setup >"up-$i.log" 2>&1 || fail "$label exited $? ($d/up-$i.log)"
    fi
    b=$(now)
    rec_up=$($R latest .labctl/scale$n/history up) || fail "$label left no run record"
    $R check "$rec_up" "$label"
    run=$(running_nodes "$d") || fail "$label: status failed"
    [ "$run" = "$n" ] || fail "$label: $run of $n nodes running"
    cp "$rec_up" "up-record-$i.json"
    cp .labctl/scale$n/labctl-runtime.json runtime-used.json
    label="labctl down of $n nodes, round $i"
    "$L" down lab.toml >"down-$i.log" 2>&1 || fail "$label exited $? ($d/down-$i.log)"
    c=$(now)
    rec_down=$($R latest .labctl/scale$n/history down) || fail "$label left no run record"
    $R check "$rec_down" "$label"
    [ -z "$(docker ps -aq --filter label=labctl.lab=scale$n)" ] || fail "$label left containers"
    ! docker network inspect "labctl-scale$n" >/dev/null 2>&1 || fail "$label left network labctl-scale$n"
    current=""
    R_UP=$(echo "$b - $a" | bc)
    R_DOWN=$(echo "$c - $b" | bc)
    R_MACH=$(phase "$rec_up" machines)
    read -r R_SSHC R_SSHS < <(node_phases "$rec_up" ssh-config)
}

# Plain Vagrant: same Vagrantfile and runtime file, network made by hand.
# Sets R_VAG.
vagrant_run() {
    local n=$1 i=$2 d=$work/scale$1 label="vagrant up --parallel of $1 nodes, round $2" a b rc run
    cd "$d"
    if [ ! -d vf ]; then
        "$L" render lab.toml --out vf >/dev/null
        cp runtime-used.json vf/labctl-runtime.json
    fi
    clean_host "$label"
    current=$d
    docker network create --subnet "$SUBNET.0/24" --gateway "$SUBNET.1" --label "labctl.lab=scale$n" "labctl-scale$n" >/dev/null
    a=$(now)
    rc=0
    (cd vf && vagrant up --provider docker --parallel >>../vagrant-$i.log 2>&1) || rc=$?
    b=$(now)
    run=$(cd vf && vagrant status --machine-readable 2>/dev/null | grep -c ',state,running$' || true)
    if [ "$rc" != 0 ] || [ "$run" != "$n" ]; then
        fail "$label failed: exit $rc, $run of $n machines running ($d/vagrant-$i.log)"
    fi
    (cd vf && vagrant destroy -f >/dev/null 2>&1) || fail "vagrant destroy after $label failed"
    rm -rf vf/keys
    docker network rm "labctl-scale$n" >/dev/null || fail "removing labctl-scale$n after $label failed"
    current=""
    R_VAG=$(echo "$b - $a" | bc)
}

"$L" image build --provider docker >"$work/image.log" 2>&1 || fail "labctl image build failed ($work/image.log)" # cached: not part of any figure; docker only (no libvirt box built or pruned)
declare -A UP MACH SSHC SSHS DOWN
VAG=""
for n in $SIZES; do
    make_lab "$n"
    ups=() machs=() sshcs=() sshss=() downs=() vags=()
    for i in $(seq "$RUNS"); do
        labctl_run "$n" "$i"
        ups+=("$R_UP") machs+=("$R_MACH") sshcs+=("$R_SSHC") sshss+=("$R_SSHS") downs+=("$R_DOWN")
        echo "N=$n round $i: up $R_UP s (machines $R_MACH s, ssh-config per node max $R_SSHC s, sum $R_SSHS s), down $R_DOWN s" >&2
        if [ "$n" = 20 ]; then
            vagrant_run "$n" "$i"
            vags+=("$R_VAG")
            echo "N=$n round $i: vagrant up --parallel $R_VAG s" >&2
        fi
    done
    UP[$n]=$($R median "${ups[@]}") MACH[$n]=$($R median "${machs[@]}")
    SSHC[$n]=$($R median "${sshcs[@]}") SSHS[$n]=$($R median "${sshss[@]}") DOWN[$n]=$($R median "${downs[@]}")
    [ "$n" != 20 ] || VAG=$($R median "${vags[@]}")
done

printf '\n%s plain nodes on docker, node image cached, median of %s round(s) each (%s):\n' "$(echo "$SIZES" | tr ' ' ',')" "$RUNS" "$L"
printf '| %5s | %10s | %10s | %30s | %11s | %18s | %19s |\n' nodes "labctl up" "machines" "ssh-config per node: max / sum" "labctl down" "up s/node (marg.)" "down s/node (marg.)"
printf '| %5s | %10s | %10s | %30s | %11s | %18s | %19s |\n' ----- ---------- ---------- ------------------------------ ----------- ------------------ -------------------
prev=""
for n in $SIZES; do
    if [ -n "$prev" ]; then
        mu=$(echo "(${UP[$n]} - ${UP[$prev]}) / ($n - $prev)" | bc -l)
        md=$(echo "(${DOWN[$n]} - ${DOWN[$prev]}) / ($n - $prev)" | bc -l)
        mu=$(printf '%.2f s' "$mu") md=$(printf '%.2f s' "$md")
    else
        mu=- md=-
    fi
    printf '| %5s | %8.1f s | %8.1f s | %13.1f s / %12.1f s | %9.1f s | %18s | %19s |\n' "$n" "${UP[$n]}" "${MACH[$n]}" "${SSHC[$n]}" "${SSHS[$n]}" "${DOWN[$n]}" "$mu" "$md"
    prev=$n
done
if [ -n "$VAG" ]; then
    printf '\n20 nodes: labctl up %.1f s, plain vagrant up --parallel %.1f s (same Vagrantfile): labctl takes %.2fx of Vagrant'"'"'s time\n' \
        "${UP[20]}" "$VAG" "$(echo "${UP[20]} / $VAG" | bc -l)"
fi
if [ -s "$work/time-50.txt" ]; then
    if [ -s "$work/self-50.txt" ]; then
        read -r hwm ticks <"$work/self-50.txt"
        hz=$(getconf CLK_TCK)
        printf '\n50-node up, labctl'"'"'s own process: CPU %.2f s, peak RSS %.1f MB (from /proc, last sample before exit)\n' \
            "$(echo "$ticks / $hz" | bc -l)" "$(echo "$hwm / 1024" | bc -l)"
    else
        printf '\n50-node up, labctl'"'"'s own process: could not measure (no /proc sample of it)\n'
    fi
    u=$(awk -F': ' '/User time/ { print $2 }' "$work/time-50.txt")
    s=$(awk -F': ' '/System time/ { print $2 }' "$work/time-50.txt")
    m=$(awk -F': ' '/Maximum resident/ { print $2 }' "$work/time-50.txt")
    printf '50-node up with its children (/usr/bin/time -v): CPU %.2f s (user %s, sys %s), largest single process peak RSS %.1f MB\n' \
        "$(echo "$u + $s" | bc -l)" "$u" "$s" "$(echo "$m / 1024" | bc -l)"
fi
echo "logs: $work"
