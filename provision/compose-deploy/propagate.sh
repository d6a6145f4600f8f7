#!/bin/bash
# compose-propagate: show (and check) the compose project's pull workflow end
# to end, on the node that runs the project (as root):
#  1. clone the compose repository over HTTP, change page_message in vars.yml,
#     commit, and push over SSH to the git server as root, the way a developer
#     pushes (HTTP refuses pushes);
#  2. run the installed cron line exactly as cron would (env -i, /bin/sh, the
#     */3 line of /etc/cron.d/ansible-pull);
#  3. ask haproxy on port 8080 until every nginx service serves the new revision.
# Prints "propagated REV ..."; exits non-zero when it did not get through.
#
# Pushing needs an SSH key the git node trusts for root (PUSH_KEY; in the
# docker-deploy lab: ansible-mgmt on this node makes it, managed on the git
# node trusts it) and the git node's host key (recorded by compose-deploy).
set -euo pipefail
conf=/etc/compose-deploy/propagate.env
# shellcheck disable=SC1090
. "$conf" # GIT_URL REPO PUSH_URL KNOWN_HOSTS PUSH_KEY CHECK_URL PROJECT_FILE LOCK
die() {
    echo "compose-propagate: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || die "run me as root (sudo)"
[ -r "$PUSH_KEY" ] || die "no SSH key $PUSH_KEY to push with (the lab's ansible-mgmt role makes it, managed on the git node trusts it)"
[ -s "$KNOWN_HOSTS" ] || die "no host key of the git node in $KNOWN_HOSTS (run labctl provision again)"
export GIT_SSH_COMMAND="ssh -i $PUSH_KEY -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$KNOWN_HOSTS -o ConnectTimeout=5"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)

# 1. A visible change, committed and pushed.
git clone -q "$GIT_URL/$REPO.git" "$work/repo"
cd "$work/repo"
message="propagation probe $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(hostname -s)"
sed -i "s|^page_message:.*|page_message: \"$message\"|" vars.yml
git diff --quiet && die "vars.yml has no page_message line to change"
git -c user.name=compose-propagate -c user.email="root@$(hostname -s)" commit -q -am "vars: $message"
git push -q "$PUSH_URL" HEAD:main
rev=$(git rev-parse HEAD)
echo "pushed ${rev:0:7} to $REPO: page_message \"$message\""
cd /

# 2. The cron line, as cron runs it. Cron itself may hold the lock (flock -n
# then exits 1): wait for the lock, then try again.
line=$(sed -n 's|^[*]/3 [*] [*] [*] [*] root ||p' /etc/cron.d/ansible-pull)
[ -n "$line" ] || die "no */3 line in /etc/cron.d/ansible-pull"
ran=0
for attempt in 1 2 3; do
    flock -w 300 "$LOCK" true
    if env -i PATH=/usr/bin:/bin /bin/sh -c "$line"; then
        ran=1
        break
    fi
    echo "cron line attempt $attempt failed (cron running it at the same time?)" >&2
    sleep 2
done
[ "$ran" = 1 ] || die "the cron line failed 3 times; see /var/log/ansible-pull.log"
head=$(git -C /var/lib/ansible/local rev-parse HEAD)
echo "ran the cron line: checkout at ${head:0:7}; log: $(grep -a -E '^localhost +:|Repository has not changed' /var/log/ansible-pull.log | tail -n1)"
[ "$head" = "$rev" ] || die "the checkout is at ${head:0:7}, not ${rev:0:7}"

# 3. haproxy must serve the new revision from every nginx service.
want=$(docker-compose --ansi never -f "$PROJECT_FILE" config --services | grep -vx haproxy | sort | tr '\n' ' ')
declare -A got=()
missing=$want
for _ in $(seq 60); do
    for _ in 1 2 3 4 5 6; do
        page=$(curl -fsS --max-time 3 "$CHECK_URL" 2>/dev/null) || continue
        r=$(sed -n 's|.*revision: \([0-9a-f]*\).*|\1|p' <<<"$page")
        [ -n "$r" ] && [ "${rev#"$r"}" != "$rev" ] || continue
        grep -q "message: $message" <<<"$page" || continue
        n=$(sed -n 's|.*served by: \([A-Za-z0-9_.-]*\).*|\1|p' <<<"$page")
        [ -n "$n" ] && got[$n]=1
    done
    missing=
    for n in $want; do
        [ -n "${got[$n]:-}" ] || missing="$missing $n"
    done
    [ -z "$missing" ] && break
    sleep 1
done
[ -z "$missing" ] || die "revision ${rev:0:7} did not reach:$missing (through $CHECK_URL)"
echo "propagated ${rev:0:7} in $(($(date +%s) - t0)) s: $(echo $want) serve it through $CHECK_URL"
