#!/bin/bash
# workflow-propagate: show (and check) the pull workflow end to end, from mgmt.
#  1. commit a change to centraladmin_web on the git server, as a user would
#     (over SSH to the git server, which accepts pushes through its filesystem);
#  2. on every web node, run the installed cron line exactly as cron would
#     (env -i, /bin/sh, the line taken from /etc/cron.d/ansible-pull);
#  3. ask the load balancer until both web nodes serve the new revision.
# Prints the new revision; exits non-zero when it did not reach every node.
set -euo pipefail
conf=/etc/ansible/lab/workflow.env
# shellcheck disable=SC1090
. "$conf"    # GIT_HOST, LB_URL, WEB_NODES (name=ip ...)
ssh_opts=(-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5)

rev=$(ssh "${ssh_opts[@]}" "root@$GIT_HOST" 'set -e
    d=$(mktemp -d); trap "rm -rf $d" EXIT
    git clone -q /srv/git/centraladmin_web.git "$d"
    cd "$d"
    date -u +%Y-%m-%dT%H:%M:%S.%N >propagation-probe
    git add propagation-probe
    git -c user.name=workflow-propagate -c user.email=propagate@lab commit -qm "propagation probe"
    git push -q origin HEAD
    git rev-parse --short HEAD')
echo "committed $rev to centraladmin_web"

# The web nodes pull at the same time, as their cron lines would fire.
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
declare -A pids=()
for entry in $WEB_NODES; do
    name=${entry%%=*} ip=${entry#*=}
    # flock -n in the line gives up silently while another pull (cron's own,
    # or the probe the ansible-pull role arms) holds the lock: wait for it to
    # finish, then run the line again (it has not run yet). The wait has no
    # bound of its own that a slow node could outlast (a first pull on an
    # emulated VM takes minutes): the check's timeout, scaled to the nodes'
    # pace, is the bound, as for pull-check.sh's run.
    ssh "${ssh_opts[@]}" "root@$ip" 'line=$(sed -n "s|^[*]/3 [*] [*] [*] [*] root ||p" /etc/cron.d/ansible-pull)
        [ -n "$line" ] || { echo "no */3 ansible-pull line in /etc/cron.d/ansible-pull" >&2; exit 1; }
        lock=$(printf "%s\n" "$line" | sed -n "s|^flock -n \([^ ]*\) .*|\1|p")
        for try in 1 2 3; do
            env -i PATH=/usr/bin:/bin /bin/sh -c "$line" && exit 0
            rc=$?
            [ "$rc" = 1 ] && [ -n "$lock" ] && ! flock -n "$lock" true || exit "$rc"
            echo "the lock $lock is held (a pull is running): waiting for it (try $try)"
            flock -w 1800 "$lock" true || { echo "the lock $lock stayed held for 1800 s" >&2; exit 1; }
        done
        exit 1' >"$out/$name" 2>&1 &
    pids[$name]=$!
done
failed=
for name in "${!pids[@]}"; do
    if wait "${pids[$name]}"; then
        echo "ran the cron line on $name"
    else
        rc=$?
        echo "the cron line failed on $name (exit $rc):" >&2
        tail -n 20 "$out/$name" >&2
        failed="$failed $name"
    fi
done
[ -z "$failed" ] || exit 1

# Every web node must serve the new revision through the load balancer.
declare -A got=()
for _ in $(seq 30); do
    for _ in $(seq 8); do
        page=$(curl -fsS --max-time 3 "$LB_URL" || true)
        grep -q "revision: $rev" <<<"$page" || continue
        for entry in $WEB_NODES; do
            grep -qw "${entry%%=*}" <<<"$page" && got[${entry%%=*}]=1
        done
    done
    missing=
    for entry in $WEB_NODES; do
        [ -n "${got[${entry%%=*}]:-}" ] || missing="$missing ${entry%%=*}"
    done
    if [ -z "$missing" ]; then
        echo "propagated $rev: the lb serves it from every web node"
        exit 0
    fi
    sleep 1
done
echo "revision $rev did not reach:$missing (through the lb)" >&2
exit 1
