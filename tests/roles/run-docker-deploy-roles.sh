#!/bin/bash
# Runs the docker-deploy lab's roles for real in plain Docker containers, the
# way labctl does over SSH (role folders under ~vagrant/.labctl/roles, a 0600
# env file, `sudo -n /bin/sh wrapper.sh ENVFILE`), in the order the role.toml
# files ask for, handing published values on. The compose-deploy role gets the
# base image tarball beside its provision.sh, as labctl uploads it. Then checks
# the result end to end, including the command checks of labs/docker-deploy.toml
# (their addresses moved to this test's subnet). No Vagrant, no labctl binary.
#
#   tests/roles/run-docker-deploy-roles.sh [all|image|base|up|provision|checks|verify|down]
#
#   all (default)  image, base, up, provision x2, checks, verify, down
#   image          tag $IMAGE: the newest labctl-node:* image (it must hold
#                  every role package; docker-compose is checked)
#   base           the base image tarball, made on the host the way labctl
#                  should: the files nginx, haproxy and dash need, copied out of
#                  the node image, `docker import`, `docker save` (prints sizes)
#   up             network + containers gitlab, node (nested-capable)
#   provision      one labctl-like provisioning pass (prints each role's result)
#   checks         the lab file's command/service/cron/file checks, as labctl runs them
#   verify         end to end: round robin, propagation, config reload, drift,
#                  restart and kill of the node (changes the lab)
#   down           remove what this script created (labelled labctl.lab=$NET)
#
# Environment: NET (ddtest), SUBNET3 (192.168.159: never the shipped lab's
# 192.168.59), FWD (28081: the host port forwarded to node:8080), IMAGE
# (labctl-node:ddtest), NODE_IMAGE (default: the newest labctl-node:* tag),
# KEEP=1 (all: leave the lab running), KEEP_IMAGE=0 (down: also untag $IMAGE).
set -euo pipefail

NET=${NET:-ddtest}
SUBNET3=${SUBNET3:-192.168.159}
FWD=${FWD:-28081}
IMAGE=${IMAGE:-labctl-node:ddtest}
BASE_TAG=labctl-base:$NET
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROV=$ROOT/provision
LABFILE=$ROOT/labs/docker-deploy.toml
STATE=${STATE:-/tmp/labctl-ddtest-$NET}
LAB=docker-deploy
LAB_SUBNET3=192.168.59 # the shipped lab's, replaced by SUBNET3 in its checks

NODES="gitlab node"
declare -A IP=([gitlab]=$SUBNET3.2 [node]=$SUBNET3.201)
declare -A ROLES=([gitlab]="gitserver managed" [node]="docker-host ansible-mgmt compose-deploy")

say() { printf '\n=== %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
ctr() { echo "$NET-$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

ensure_network() {
    docker network inspect "$NET" >/dev/null 2>&1 ||
        docker network create --subnet "$SUBNET3.0/24" --label "labctl.lab=$NET" "$NET" >/dev/null
}

cmd_image() {
    local src
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        echo "image $IMAGE present"
    else
        src=${NODE_IMAGE:-$(docker images labctl-node --format '{{.CreatedAt}}|{{.Repository}}:{{.Tag}}' |
            grep -v -e ':proto$' -e ':latest$' -e ":${IMAGE#*:}\$" | sort -r | head -n1 | cut -d'|' -f2)}
        [ -n "$src" ] || fail "no labctl-node:* image (run labctl image build)"
        docker tag "$src" "$IMAGE"
        echo "image $IMAGE = $src"
    fi
    docker run --rm --label "labctl.lab=$NET" "$IMAGE" sh -c 'docker-compose version --short && ansible-pull --version | head -n1 && nginx -v && haproxy -v | head -n1' ||
        fail "$IMAGE lacks a role package (docker-compose, ansible-core, nginx, haproxy)"
}

# The recipe labctl's host side should use (see docs/labs/docker-deploy.md):
# a root with exactly the files nginx, haproxy and dash need, from the node image.
# The same small root file system labctl makes (image/base-rootfs.sh).
BASE_SCRIPT=$(cat "$(dirname "$0")/../../image/base-rootfs.sh")

cmd_base() {
    local t0 tag
    mkdir -p "$STATE"
    t0=$(now)
    docker run --rm --label "labctl.lab=$NET" --network none --entrypoint /bin/sh "$IMAGE" -c "$BASE_SCRIPT" |
        docker import --change 'CMD ["/bin/sh"]' --change "LABEL labctl.image=compose-base labctl.lab=$NET" - "$BASE_TAG" >/dev/null
    docker save "$BASE_TAG" -o "$STATE/base-image.tar"
    echo "base image $BASE_TAG: $(docker image inspect --format '{{.Size}}' "$BASE_TAG" | awk '{printf "%.1f MB", $1 / 1e6}'), tarball $(du -h "$STATE/base-image.tar" | cut -f1) ($(gzip -c "$STATE/base-image.tar" | wc -c | awk '{printf "%.1f MB gzipped", $1 / 1e6}')), made in $(since "$t0") s"
}

cmd_up() {
    ensure_network
    mkdir -p "$STATE"
    [ -f "$STATE/published" ] || : >"$STATE/published"
    local n args
    for n in $NODES; do
        docker container inspect "$(ctr "$n")" >/dev/null 2>&1 && continue
        args=(--cap-add NET_ADMIN)
        [ "$n" = node ] && args=(--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
            --security-opt apparmor=unconfined -v /sys/fs/cgroup:/sys/fs/cgroup:rw -p "127.0.0.1:$FWD:8080")
        docker run -d --name "$(ctr "$n")" --hostname "$n" --network "$NET" --ip "${IP[$n]}" \
            --label "labctl.lab=$NET" --label "labctl.node=$n" "${args[@]}" "$IMAGE" >/dev/null
    done
    for n in $NODES; do
        for _ in $(seq 1 50); do
            docker exec "$(ctr "$n")" test -s /run/sshd.pid && break
            sleep 0.2
        done
    done
    echo "up: gitlab=${IP[gitlab]} node=${IP[node]} (8080 forwarded to 127.0.0.1:$FWD)"
}

# env_file NODE ROLE: the variables labctl hands a role, then everything published.
env_file() {
    local node=$1 role=$2 n all="" kv
    for n in $NODES; do all+="$n=${IP[$n]} "; done
    q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
    {
        echo "LABCTL_LAB=$(q $LAB)"
        echo "LABCTL_NODE=$(q "$node")"
        echo "LABCTL_ROLE=$(q "$role")"
        echo "LABCTL_NODE_IP=$(q "${IP[$node]}")"
        echo "LABCTL_SUBNET=$(q "$SUBNET3.0/24")"
        echo "LABCTL_NODES=$(q "${all% }")"
        echo "LABCTL_ROLE_GITSERVER='gitlab'"
        echo "LABCTL_ROLE_MANAGED='gitlab'"
        echo "LABCTL_ROLE_DOCKER_HOST='node'"
        echo "LABCTL_ROLE_ANSIBLE_MGMT='node'"
        echo "LABCTL_ROLE_COMPOSE_DEPLOY='node'"
        [ "$role" = compose-deploy ] && echo "COMPOSE_BASE_IMAGE_TAR='base-image.tar'"
        while IFS= read -r kv; do
            [ -n "$kv" ] && echo "${kv%%=*}=$(q "${kv#*=}")"
        done <"$STATE/published"
    }
}

# upload NODE: _labctl and the node's role folders, fresh each run; the base
# image tarball goes into compose-deploy's folder (labctl's job).
upload() {
    local node=$1 c
    c=$(ctr "$node")
    # shellcheck disable=SC2086
    tar -C "$PROV" -cf - _labctl ${ROLES[$node]} |
        docker exec -i -u vagrant "$c" sh -c \
            'cd && rm -rf .labctl/roles && mkdir -p -m 0700 .labctl/roles .labctl/run && tar -x -C .labctl/roles'
    if [[ " ${ROLES[$node]} " == *" compose-deploy "* ]] && [ -z "${NO_TARBALL:-}" ]; then
        docker exec -i -u vagrant "$c" sh -c 'cd && cat >.labctl/roles/compose-deploy/base-image.tar' <"$STATE/base-image.tar"
    fi
}

run_role() {
    local node=$1 role=$2 c t0 rc=0 res
    c=$(ctr "$node")
    env_file "$node" "$role" | docker exec -i -u vagrant "$c" sh -c \
        "umask 077 && cat > /home/vagrant/.labctl/run/$role.env"
    t0=$(now)
    docker exec -u vagrant "$c" sudo -n /bin/sh "/home/vagrant/.labctl/roles/_labctl/wrapper.sh" \
        "/home/vagrant/.labctl/run/$role.env" >"$STATE/$node.$role.out" 2>&1 || rc=$?
    sed "s/^/[$node $role] /" "$STATE/$node.$role.out" >>"$STATE/log"
    res=$(docker exec "$c" cat "/var/lib/labctl/roles/$role.result" 2>/dev/null || echo none)
    [ "$rc" = 0 ] || res="FAILED(rc=$rc)"
    docker exec "$c" cat "/var/lib/labctl/roles/$role.publish" 2>/dev/null >>"$STATE/published.$node.$role" || true
    printf '%-7s %-15s %-10s %6ss\n' "$node" "$role" "$res" "$(since "$t0")"
    if [ "$rc" != 0 ]; then
        tail -n 30 "$STATE/$node.$role.out" >&2
        return 1
    fi
}

collect() {
    local f kv
    for f in "$STATE"/published.*; do
        [ -f "$f" ] || continue
        while IFS= read -r kv; do
            [ -n "$kv" ] || continue
            grep -v "^${kv%%=*}=" "$STATE/published" >"$STATE/published.tmp" || true
            echo "$kv" >>"$STATE/published.tmp"
            mv "$STATE/published.tmp" "$STATE/published"
        done <"$f"
        rm -f "$f"
    done
}

parallel() {
    local t pids=() rc=0 out
    out=$(mktemp -d)
    for t in "$@"; do
        run_role "${t%%:*}" "${t#*:}" >"$out/${t/:/_}" 2>&1 &
        pids+=($!)
    done
    for t in "${pids[@]}"; do wait "$t" || rc=1; done
    cat "$out"/*
    rm -rf "$out"
    collect
    return $rc
}

cmd_provision() {
    mkdir -p "$STATE"
    [ -f "$STATE/published" ] || : >"$STATE/published"
    local n t0
    t0=$(now)
    for n in $NODES; do upload "$n"; done
    # Waves, from the lab's role order and the role.toml `after` lists:
    #   gitserver; docker-host           nothing before them
    #   ansible-mgmt                     after docker-host (node's order)
    #   managed (after *:ansible-mgmt); compose-deploy (docker-host, *:gitserver, ansible-mgmt by order)
    parallel gitlab:gitserver node:docker-host
    parallel node:ansible-mgmt
    parallel gitlab:managed node:compose-deploy
    echo "provision: $(since "$t0") s"
}

results() {
    local n r
    for n in $NODES; do
        for r in ${ROLES[$n]}; do
            printf '%s:%s=%s\n' "$n" "$r" "$(docker exec "$(ctr "$n")" cat "/var/lib/labctl/roles/$r.result")"
        done
    done
}

expect_changed() { # expect_changed "node:role ..." (every other role unchanged)
    local out
    out=$(results | grep -v '=unchanged$' | sed 's/=changed$//' | tr '\n' ' ' || true)
    echo "changed: ${out:-nothing}"
    [ "$out" = "${1:+$1 }" ] || fail "expected changed: ${1:-nothing}"
}

# spread URL [N] [FROM]: N requests; prints "nginx1=N nginx2=N nginx3=N revisions: R:N ...".
spread() {
    local url=$1 n=${2:-30} from=${3:-host} pages
    if [ "$from" = host ]; then
        pages=$(for _ in $(seq "$n"); do curl -s --max-time 3 "$url" || true; done)
    else
        pages=$(docker exec "$(ctr "$from")" sh -c "for i in \$(seq $n); do curl -s --max-time 3 $url || true; done")
    fi
    printf 'nginx1=%s nginx2=%s nginx3=%s revisions: %s\n' \
        "$(grep -c 'served by: nginx1' <<<"$pages")" "$(grep -c 'served by: nginx2' <<<"$pages")" \
        "$(grep -c 'served by: nginx3' <<<"$pages")" \
        "$(sed -n 's|.*revision: \([0-9a-f]*\).*|\1|p' <<<"$pages" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
}

# expect_spread URL [REV] [FROM]: every nginx answers (and only REV is served), within 60 s.
expect_spread() {
    local s
    for _ in $(seq 1 60); do
        s=$(spread "$1" 30 "${3:-host}")
        if [[ $s =~ nginx1=([0-9]+)\ nginx2=([0-9]+)\ nginx3=([0-9]+) ]] &&
            [ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[2]}" -gt 0 ] && [ "${BASH_REMATCH[3]}" -gt 0 ] &&
            { [ -z "${2:-}" ] || [[ $s == *"revisions: $2:30 " ]]; }; then
            echo "spread ok ($1${3:+ from $3}): $s"
            return 0
        fi
        sleep 1
    done
    fail "spread $1: $s (wanted all three nginx${2:+, all at revision $2})"
}

rev_of_repo() { docker exec "$(ctr gitlab)" git --git-dir=/srv/git/centraladmin_docker.git rev-parse --short HEAD; }

# The lab file's checks of kind command/service/cron/file, run on their node
# as the SSH user (vagrant) the way labctl runs them, addresses moved to SUBNET3.
cmd_checks() {
    local fails=0 t0
    t0=$(now)
    python3 - "$LABFILE" "$LAB_SUBNET3" "$SUBNET3" >"$STATE/checks.txt" <<'PY'
import sys, tomllib, base64
lab = tomllib.load(open(sys.argv[1], "rb"))
old, new = sys.argv[2] + ".", sys.argv[3] + "."
for c in lab["check"]:
    k = c["kind"]
    if k == "command":
        cmd = c["run"].replace(old, new)
        rx = c.get("stdout", "")
    elif k == "service":
        cmd = "sudo -n service %s status" % c["service"]
        rx = ""
    elif k == "cron":
        cmd = "sudo -n sh -c 'cat /etc/cron.d/* /etc/crontab; crontab -l -u %s 2>/dev/null' | grep -v '^#'" % c.get("user", "root")
        rx = c.get("contains", "")
    elif k == "file":
        cmd = "sudo -n cat %s" % c["path"]
        rx = c.get("contains", "")
    else:
        continue
    enc = lambda s: base64.b64encode(s.encode()).decode()
    print("|".join([enc(c["name"]), c.get("node", ""), enc(cmd), enc(rx), c.get("timeout", "60s")]))
PY
    while IFS='|' read -r -u 3 name node cmd rx _; do
        name=$(base64 -d <<<"$name") cmd=$(base64 -d <<<"$cmd") rx=$(base64 -d <<<"$rx")
        local out rc=0 ok=0 t1
        t1=$(now)
        out=$(docker exec -u vagrant "$(ctr "$node")" bash -c "$cmd" 2>&1 </dev/null) || rc=$?
        if [ "$rc" = 0 ] && { [ -z "$rx" ] || python3 -c 'import re, sys; sys.exit(0 if re.search(sys.argv[1], sys.argv[2], re.M) else 1)' "$rx" "$out"; }; then
            ok=1
        fi
        printf '%-4s %-50s %5ss  %s\n' "$([ $ok = 1 ] && echo PASS || echo FAIL)" "$name" "$(since "$t1")" "$(tail -n1 <<<"$out" | cut -c1-110)"
        [ $ok = 1 ] || { fails=$((fails + 1)); printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'; }
    done 3<"$STATE/checks.txt"
    echo "checks: $fails failed ($(since "$t0") s)"
    [ "$fails" = 0 ] || fail "lab file checks failed"
}

cmd_verify() {
    local n c rev newrev t0 out
    n=$(ctr node)

    say "8080 round-robins over nginx1..3 (from the host, from gitlab, through the forwarded port)"
    rev=$(rev_of_repo)
    expect_spread "http://${IP[node]}:8080/" "$rev"
    expect_spread "http://${IP[node]}:8080/" "$rev" gitlab
    expect_spread "http://127.0.0.1:$FWD/" "$rev"
    docker exec "$n" docker images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
    docker exec "$n" sh -c 'cd /srv/compose-deploy && docker-compose --ansi never ps'

    say "propagation: compose-propagate, as the lab's check runs it"
    t0=$(now)
    docker exec -u vagrant "$n" sudo -n /usr/local/sbin/compose-propagate | tee "$STATE/propagate"
    grep -q '^propagated ' "$STATE/propagate" || fail "compose-propagate"
    newrev=$(rev_of_repo)
    echo "propagation took $(since "$t0") s; revision $rev -> $newrev"
    expect_spread "http://${IP[node]}:8080/" "$newrev"

    say "second provisioning after the commit: every role unchanged"
    cmd_provision
    expect_changed ""

    say "a configuration change (nginx.conf + haproxy.cfg) is validated, then reloaded in place"
    docker exec "$(ctr gitlab)" sh -c '
        set -e; rm -rf /tmp/cd; git clone -q /srv/git/centraladmin_docker.git /tmp/cd; cd /tmp/cd
        sed -i "s|add_header X-Served-By \$hostname always;|&\n        add_header X-Config-Test reloaded always;|" nginx/nginx.conf
        sed -i "s|^    balance roundrobin$|&\n    http-response set-header X-Balancer haproxy-reloaded|" haproxy/haproxy.cfg
        git -c user.name=tester -c user.email=t@gitlab commit -qam "test: headers"; git push -q origin HEAD:main; rm -rf /tmp/cd'
    local ids_before ids_after
    ids_before=$(docker exec "$n" docker ps -q --filter label=com.docker.compose.project=compose-deploy | sort | tr '\n' ' ')
    docker exec "$n" sh -c 'flock -w 300 /var/lock/ansible-pull.lock true; env -i PATH=/usr/bin:/bin /bin/sh -c "$(sed -n "s|^[*]/3 [*] [*] [*] [*] root ||p" /etc/cron.d/ansible-pull)"; grep -a -A1 "^PLAY RECAP" /var/log/ansible-pull.log | tail -n1; grep -a -E "RUNNING HANDLER" /var/log/ansible-pull.log | tail -n2'
    out=$(curl -s -D - -o /dev/null "http://${IP[node]}:8080/")
    grep -qi '^X-Config-Test: reloaded' <<<"$out" && grep -qi '^X-Balancer: haproxy-reloaded' <<<"$out" || fail "new headers not served: $out"
    ids_after=$(docker exec "$n" docker ps -q --filter label=com.docker.compose.project=compose-deploy | sort | tr '\n' ' ')
    [ "$ids_before" = "$ids_after" ] || fail "containers were recreated: $ids_before -> $ids_after"
    echo "both headers served; same containers (reloaded, not recreated)"
    say "a broken haproxy.cfg never reaches the running project"
    docker exec "$(ctr gitlab)" sh -c '
        set -e; rm -rf /tmp/cd; git clone -q /srv/git/centraladmin_docker.git /tmp/cd; cd /tmp/cd
        echo "    this is not haproxy syntax" >>haproxy/haproxy.cfg
        git -c user.name=tester -c user.email=t@gitlab commit -qam "test: broken"; git push -q origin HEAD:main
        git -c user.name=tester -c user.email=t@gitlab revert --no-edit HEAD >/dev/null; cp -r /tmp/cd /tmp/cd-revert'
    docker exec "$n" sh -c 'flock -w 300 /var/lock/ansible-pull.lock true; env -i PATH=/usr/bin:/bin /bin/sh -c "$(sed -n "s|^[*]/3 [*] [*] [*] [*] root ||p" /etc/cron.d/ansible-pull)"' &&
        fail "the pull with a broken haproxy.cfg succeeded" || echo "the pull failed, as it should:"
    docker exec "$n" sh -c 'grep -a -E "^fatal|failed to validate" /var/log/ansible-pull.log | tail -n 2 | cut -c1-400'
    docker exec "$n" grep -q 'not haproxy syntax' /srv/compose-deploy/haproxy/haproxy.cfg && fail "broken config installed" || echo "the running project kept the valid haproxy.cfg"
    expect_spread "http://${IP[node]}:8080/"
    echo "the checkout went back to the applied revision: $(docker exec "$n" git -C /var/lib/ansible/local rev-parse --short HEAD) (REVISION $(docker exec "$n" cut -c1-7 /srv/compose-deploy/REVISION))"
    # The next cron run (nothing new in the repository) must try again, not quit.
    docker exec "$n" sh -c 'flock -w 300 /var/lock/ansible-pull.lock true; env -i PATH=/usr/bin:/bin /bin/sh -c "$(sed -n "s|^[*]/3 [*] [*] [*] [*] root ||p" /etc/cron.d/ansible-pull)"' &&
        fail "the retry with a broken haproxy.cfg succeeded" || true
    docker exec "$n" sh -c 'tail -n 40 /var/log/ansible-pull.log' | grep -q 'Repository has not changed' && fail "the failed revision was not retried" || echo "the next cron run retried it (and failed again)"
    docker exec "$(ctr gitlab)" sh -c 'cd /tmp/cd-revert && git push -q origin HEAD:main && rm -rf /tmp/cd /tmp/cd-revert'
    docker exec "$n" sh -c 'flock -w 300 /var/lock/ansible-pull.lock true; env -i PATH=/usr/bin:/bin /bin/sh -c "$(sed -n "s|^[*]/3 [*] [*] [*] [*] root ||p" /etc/cron.d/ansible-pull)"; grep -a -A1 "^PLAY RECAP" /var/log/ansible-pull.log | tail -n1'
    newrev=$(rev_of_repo)
    expect_spread "http://${IP[node]}:8080/" "$newrev"

    say "drift: the cron file removed, nginx2 removed"
    docker exec "$n" rm -f /etc/cron.d/ansible-pull
    docker exec "$n" sh -c 'cd /srv/compose-deploy && docker-compose --ansi never rm -sf nginx2'
    docker exec "$n" service compose-deploy status && fail "status says running without nginx2" || true
    cmd_provision
    expect_changed "node:compose-deploy"
    expect_spread "http://${IP[node]}:8080/" "$newrev"

    say "provisioning without a tarball keeps the loaded image"
    NO_TARBALL=1 cmd_provision
    expect_changed ""

    say "docker restart of the node: the project comes back by itself"
    t0=$(now)
    docker restart "$n" >/dev/null
    expect_spread "http://${IP[node]}:8080/" "$newrev"
    echo "back $(since "$t0") s after docker restart"
    docker exec "$n" service compose-deploy status
    docker exec "$n" sh -c 'tail -n 6 /var/log/compose-deploy.log'
    docker logs "$n" 2>&1 | tail -n 6

    say "docker stop -t 1 + start, 3 times: what labctl restart does today (Vagrant's docker provider stops with a 1 s timeout, the node is killed mid-shutdown)"
    local k sshd
    for k in 1 2 3; do
        docker stop -t 1 "$n" >/dev/null
        t0=$(now)
        docker start "$n" >/dev/null
        expect_spread "http://${IP[node]}:8080/" "$newrev"
        sshd=running
        docker exec "$n" pgrep -x sshd >/dev/null || sshd="NOT running (labctl-init: its stale /run/sshd.pid named a live PID or thread; not this role's, reported)"
        echo "round $k: back $(since "$t0") s after docker start; stale Docker pid file repaired $(docker exec "$n" grep -c 'left from an unclean stop' /var/log/compose-deploy.log) time(s) so far; sshd $sshd"
    done
    docker exec "$n" service compose-deploy status

    say "the lab file's checks once more, after the restarts"
    cmd_checks

    say "logrotate rotates the logs"
    docker exec "$n" sh -c 'logrotate -f /etc/logrotate.d/ansible-pull && ls /var/log/ansible-pull.log* /var/log/compose-deploy.log*'
    echo "verify: all passed"
}

cmd_down() {
    docker ps -aq --filter "label=labctl.lab=$NET" | xargs -r docker rm -f >/dev/null
    docker network ls -q --filter "label=labctl.lab=$NET" | xargs -r docker network rm >/dev/null
    docker image rm "$BASE_TAG" >/dev/null 2>&1 || true
    [ "${KEEP_IMAGE:-1}" = 1 ] || docker image rm "$IMAGE" >/dev/null 2>&1 || true
    rm -rf "$STATE"
    echo "down: containers, network and $BASE_TAG of $NET removed"
}

case "${1:-all}" in
image) cmd_image ;;
base) cmd_base ;;
up) cmd_up ;;
provision) cmd_provision ;;
checks) cmd_checks ;;
verify) cmd_verify ;;
down) cmd_down ;;
all)
    t_all=$(now)
    cmd_image
    cmd_base
    cmd_up
    say "first provisioning"
    cmd_provision
    say "second provisioning: every role unchanged"
    cmd_provision
    expect_changed ""
    say "the lab file's checks"
    cmd_checks
    cmd_verify
    [ "${KEEP:-0}" = 1 ] || cmd_down
    echo "all: $(since "$t_all") s"
    ;;
*)
    sed -n '2,28p' "$0"
    exit 2
    ;;
esac
