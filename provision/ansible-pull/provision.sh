#!/bin/bash
# ansible-pull: the node keeps itself current from its group's configuration
# repository (PULL_REPO, a node variable) on the git server (GIT_URL, published
# by gitserver). /etc/cron.d/ansible-pull runs ansible-pull every 3 minutes,
# only when the repository changed (-o), never twice at once (flock -n),
# logging to /var/log/ansible-pull.log (rotated by /etc/logrotate.d/ansible-pull);
# at boot one full run brings the node back to its configuration.
#
# The role runs no pull itself: the first deployment is the push from mgmt.

WORKDIR=/var/lib/ansible/local
LOGFILE=/var/log/ansible-pull.log
LOCK=/var/lock/ansible-pull.lock

step "inputs"
ensure_packages ansible-core git cron logrotate util-linux python3-apt
[[ ${GIT_URL:-} =~ ^http://[0-9.]+$ ]] || { echo "ansible-pull: GIT_URL is not set (is gitserver in the lab?)" >&2; exit 2; }
[[ ${PULL_REPO:-} =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || {
    echo "ansible-pull: set the node variable pull_repo to the repository to pull (e.g. centraladmin_web)" >&2
    exit 2
}
# ansible-pull limits its run to the hosts named like this machine: a node
# whose hostname is not its lab name would pull and silently do nothing.
[ "$(hostname -s)" = "$LABCTL_NODE" ] || {
    echo "ansible-pull: hostname is $(hostname -s), expected $LABCTL_NODE (the repository's inventory names nodes by their lab name)" >&2
    exit 2
}
# CRON_PROBE_NODES (optional lab variable cron_probe_nodes): the nodes whose
# "cron fires the pull line" check the lab runs, the only ones that get the
# cron probe (last step). Unset: every node with this role. A name that is not
# such a node would leave the check without the probe it judges by.
if [ -n "${CRON_PROBE_NODES+set}" ]; then
    read -ra probe_nodes <<<"$CRON_PROBE_NODES"
    for n in "${probe_nodes[@]}"; do
        case " ${LABCTL_ROLE_ANSIBLE_PULL:-} " in *" $n "*) ;; *)
            echo "ansible-pull: cron_probe_nodes names $n, which is not a node with the role ansible-pull (${LABCTL_ROLE_ANSIBLE_PULL:-none})" >&2
            exit 2
            ;;
        esac
    done
fi
url=$GIT_URL/$PULL_REPO.git
head=$(git ls-remote "$url" refs/heads/main) && [ -n "$head" ] || { echo "ansible-pull: $url has no branch main" >&2; exit 1; }
echo "ansible-pull: $url main ${head:0:12}"

step "cron entry /etc/cron.d/ansible-pull and log rotation"
install_pull_cron "$url" "$WORKDIR" "$LOCK" "$LOGFILE" logrotate.conf reboot <<EOF
# labctl role ansible-pull: keep this node current from $PULL_REPO on the git server.
# Every 3 minutes, and only when the repository changed (-o); flock -n skips a
# run while the previous one still works. At boot, one full run (no -o).
EOF

step "ansible-pull-check: the lab's checks of the pull line, run by labctl test"
install_file pull-check.sh /usr/local/sbin/ansible-pull-check 0755

step "cron is running"
if ! service cron status >/dev/null 2>&1; then
    service cron start
    changed
fi

step "cron probe: cron fires the pull line once, before the lab is tested"
# A one-minute copy of the line that records the pull's exit status and the
# cron daemon that ran it, then removes itself: the check "cron fires the pull
# line" judges by that firing instead of waiting for the next minute, and arms
# it again itself when the line or the cron daemon changed since. A probe of
# the tests, not the node's configuration: it changes nothing the role keeps.
# Only on the nodes that check judges (CRON_PROBE_NODES, default every node):
# each firing is a full first pull at the next minute, while the lab is being
# tested, and on the nodes no check judges it only took CPU from the checks'
# own pulls and held the pull lock that "the pull cron line works" then waited
# for (workflow on a 2-core host: 3 probes and the check pulling at once).
if [ -n "${CRON_PROBE_NODES+set}" ] && ! [[ " $CRON_PROBE_NODES " == *" $LABCTL_NODE "* ]]; then
    # A probe an earlier run armed here (the variable changed since) goes too.
    /usr/local/sbin/ansible-pull-check undo
    echo "ansible-pull: no cron probe on $LABCTL_NODE (cron_probe_nodes: ${CRON_PROBE_NODES:-none})"
else
    /usr/local/sbin/ansible-pull-check arm
fi
