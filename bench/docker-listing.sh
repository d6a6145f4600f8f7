#!/usr/bin/env bash
# What the docker listing cache (vagrant/docker_listing.rb) saves: `labctl up`
# of a 20-node plain lab (N overrides) with the cache off
# (LABCTL_LISTING_TTL=0) and on (the default), alternating, RUNS rounds
# (default 3). A `docker` shim first on PATH logs every docker process
# (labctl's and Vagrant's) and runs the real client. Per setting, the median
# of: docker processes, of them `ps -a -q --no-trunc`, `ps -q --no-trunc` and
# `inspect ID`, up's `machines` phase (from labctl's run record) and up's
# wall time. Every up must succeed with every node running, and `down` must
# leave no container of the lab; a run that fails stops the script naming it.
# LABCTL: a prebuilt binary (default: a release build made here). Hold
# /tmp/labctl-e2e.lock while it runs if e2e tests share the host. Not a
# test: figures depend on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
N=${N:-20}
if [ -z "${LABCTL:-}" ]; then
    cargo build -q --release
    LABCTL=$PWD/target/release/labctl
fi
L=$LABCTL
R="python3 $PWD/bench/lib/record.py"
real_docker=$(command -v docker) || { echo "bench: docker is not on PATH" >&2; exit 1; }
work=$(mktemp -d /tmp/labctl-bench-listing.XXXXXX)
cd "$work"
export VAGRANT_CHECKPOINT_DISABLE=1
fail() { echo "bench: $*" >&2; echo "logs: $work" >&2; exit 1; }
up_now=""
cleanup() { [ -z "$up_now" ] || "$L" down lab.toml >/dev/null 2>&1 || true; }
trap cleanup EXIT

mkdir shim
cat >shim/docker <<EOT
#!/bin/sh
printf '%s\n' "\$*" >>"\$DOCKER_SHIM_LOG"
exec "$real_docker" "\$@"
EOT
chmod +x shim/docker
cat >lab.toml <<EOT
# $N plain nodes (no roles): bench/docker-listing.sh
name = "listing$N"

[network]
subnet = "192.168.188.0/24"

[[node]]
name = "node"
count = $N
ip = "192.168.188.11"
EOT

declare -A CALLS PSA PSQ INSP MACH UP
for i in $(seq "$RUNS"); do
    for ttl in 0 1; do
        label="up of $N nodes with LABCTL_LISTING_TTL=$ttl, round $i"
        log=$work/calls-ttl$ttl-$i.log
        : >"$log"
        [ -z "$(docker ps -aq --filter "label=labctl.lab=listing$N")" ] || fail "containers of listing$N left before $label"
        up_now=1
        a=$(date +%s.%N)
        DOCKER_SHIM_LOG=$log LABCTL_LISTING_TTL=$ttl PATH=$work/shim:$PATH \
            "$L" up lab.toml --provider docker --no-setup >"up-ttl$ttl-$i.log" 2>&1 || fail "$label exited $? ($work/up-ttl$ttl-$i.log)"
        b=$(date +%s.%N)
        rec=$($R latest ".labctl/listing$N/history" up) || fail "$label left no run record"
        $R check "$rec" "$label"
        run=$("$L" status lab.toml --json | python3 -c 'import json,sys; print(sum(n["state"] == "running" for n in json.load(sys.stdin)["nodes"]))')
        [ "$run" = "$N" ] || fail "$label: $run of $N nodes running"
        "$L" down lab.toml >"down-ttl$ttl-$i.log" 2>&1 || fail "down after $label exited $?"
        up_now=""
        [ -z "$(docker ps -aq --filter "label=labctl.lab=listing$N")" ] || fail "down after $label left containers"
        CALLS[$ttl]+=" $(wc -l <"$log")"
        PSA[$ttl]+=" $(grep -cx 'ps -a -q --no-trunc' "$log" || true)"
        PSQ[$ttl]+=" $(grep -cx 'ps -q --no-trunc' "$log" || true)"
        INSP[$ttl]+=" $(grep -cx 'inspect [^ -][^ ]*' "$log" || true)"
        MACH[$ttl]+=" $($R phases "$rec" | awk '$1 == "machines" { print $2 }')"
        UP[$ttl]+=" $(echo "$b - $a" | bc)"
        echo "round $i, TTL=$ttl: $(wc -l <"$log") docker processes, machines $($R phases "$rec" | awk '$1 == "machines" { print $2 }') s, up $(echo "$b - $a" | bc) s" >&2
    done
done
m() { $R median $1; }
printf '\n%s plain nodes on docker, median of %s round(s) each, alternating (%s):\n' "$N" "$RUNS" "$L"
printf '| %-28s | %16s | %25s | %10s | %10s |\n' "listing cache" "docker processes" "ps -a / ps -q / inspect ID" machines "labctl up"
printf '| %-28s | %16s | %25s | %10s | %10s |\n' ---------------------------- ---------------- ------------------------- ---------- ----------
for ttl in 0 1; do
    name=$([ "$ttl" = 0 ] && echo "off (LABCTL_LISTING_TTL=0)" || echo "on (default, 1 s)")
    printf '| %-28s | %16.0f | %7.0f / %5.0f / %7.0f | %8.1f s | %8.1f s |\n' "$name" "$(m "${CALLS[$ttl]}")" \
        "$(m "${PSA[$ttl]}")" "$(m "${PSQ[$ttl]}")" "$(m "${INSP[$ttl]}")" "$(m "${MACH[$ttl]}")" "$(m "${UP[$ttl]}")"
done
printf '\nmachines with the cache: %.2fx of without; docker processes: %.2fx\n' \
    "$(echo "$(m "${MACH[1]}") / $(m "${MACH[0]}")" | bc -l)" "$(echo "$(m "${CALLS[1]}") / $(m "${CALLS[0]}")" | bc -l)"
echo "logs: $work"
