#!/bin/bash
# Shape this node's lab interface (egress) to the lab's bandwidth with a token
# bucket, so cross-host paths are capped like a NIC while same-host paths
# (loopback, the node's own Docker bridge) stay at memory speed.
step "find the lab interface"
if [ -z "${LABCTL_BANDWIDTH:-}" ]; then
    skip "no bandwidth set for this lab or node"
fi
# By address, not by name: a node on the docker provider also has Docker's
# default bridge, and shaping the wrong interface would leave the lab path open.
dev=$(ip -o -4 addr show | awk -v ip="$LABCTL_NODE_IP" '{split($4, a, "/"); if (a[1] == ip) print $2}' | head -n1)
dev=${dev%%@*}
[ -n "$dev" ] || { echo "no interface holds $LABCTL_NODE_IP" >&2; exit 1; }
echo "lab interface: $dev ($LABCTL_NODE_IP), rate $LABCTL_BANDWIDTH"

step "token bucket filter"
# labctl spells the rate as tc does (units::tc_rate): whole Mbit as `Nmbit`,
# anything else as `Nkbit`. The unit is read before any arithmetic, since a
# `1500kbit` inside $(( )) is a shell error, not a number.
case $LABCTL_BANDWIDTH in
    *kbit) rate_kbit=${LABCTL_BANDWIDTH%kbit} ;;
    *mbit) rate_kbit=$(( ${LABCTL_BANDWIDTH%mbit} * 1000 )) ;;
    *) echo "unexpected rate $LABCTL_BANDWIDTH (expected Nkbit or Nmbit)" >&2; exit 1 ;;
esac
# Burst: about 4 ms of traffic at the rate (at least 32 KiB), enough for TCP at
# multi-gigabit rates without letting bursts exceed the cap noticeably.
burst=$(( rate_kbit / 2 ))
[ "$burst" -lt 32768 ] && burst=32768
want="tbf rate ${LABCTL_BANDWIDTH} burst ${burst}b latency 50ms"
current=$(tc qdisc show dev "$dev" root 2>/dev/null | head -n1)
mkdir -p /etc/labctl
if [ -f /etc/labctl/netshape ] && [ "$(cat /etc/labctl/netshape)" = "$dev $want" ] && echo "$current" | grep -q '^qdisc tbf'; then
    echo "already shaped: $current"
    unchanged
else
    # The record first: undo.sh removes what it names, also after a run
    # that stopped before the next line finished.
    echo "$dev $want" >/etc/labctl/netshape
    # shellcheck disable=SC2086
    tc qdisc replace dev "$dev" root $want
    changed
    tc qdisc show dev "$dev" root
fi
