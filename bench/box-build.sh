#!/usr/bin/env bash
# Benchmark of the libvirt box build (`labctl image build --provider libvirt`),
# side by side:
#   cold    the box rebuilt (--rebuild) from the kept node rootfs tarball:
#           VM packages, disk, extlinux, qcow2, `vagrant box add`
#   cached  inputs unchanged: nothing is built (setup's probes, `vagrant box
#           list`, the pool listing)
# With COLD_ROOTFS=1 the kept rootfs tarball is removed before each cold round,
# so the cold figure includes debootstrap and the role packages too.
#
# Usage: sudo bench/box-build.sh   (COLD_ROUNDS=1 ROUNDS=5 by default)
#
# Needs root and `labctl setup --provider libvirt`. Takes the VM lock
# (/tmp/labctl-vm.lock): a rebuilt box must not replace the one a VM lab
# being brought up at the same time uses. Prints each round and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
COLD_ROUNDS=${COLD_ROUNDS:-1}
ROUNDS=${ROUNDS:-5}
[[ $COLD_ROUNDS =~ ^[0-9]+$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "COLD_ROUNDS and ROUNDS are numbers" >&2; exit 2; }

cargo build --quiet
BIN=$PWD/target/debug/labctl

median() { sort -n | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
timed() { # timed CMD... -> seconds on stdout, the command's output on stderr
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >&2
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}'
}

exec 9>/tmp/labctl-vm.lock
flock 9
"$BIN" image build --provider libvirt >&2   # the box exists before the first round
cold=() cached=()
for ((i = 1; i <= COLD_ROUNDS; i++)); do
    if [ "${COLD_ROOTFS:-0}" = 1 ]; then rm -f /var/cache/labctl/rootfs/labctl-node-*.tar; fi
    s=$(timed "$BIN" image build --provider libvirt --rebuild)
    echo "cold round $i: $s s" >&2
    cold+=("$s")
done
for ((i = 1; i <= ROUNDS; i++)); do
    s=$(timed "$BIN" image build --provider libvirt)
    echo "cached round $i: $s s" >&2
    cached+=("$s")
done
box=$("$BIN" image build --provider libvirt 2>/dev/null)
printf '\nbox %s (%s)\n' "$box" "$(date -u +%FT%TZ)"
printf '%-8s %8s %s\n' build "median s" rounds
printf '%-8s %8s %s\n' cold "$(printf '%s\n' "${cold[@]}" | median)" "${cold[*]:-}"
printf '%-8s %8s %s\n' cached "$(printf '%s\n' "${cached[@]}" | median)" "${cached[*]}"
