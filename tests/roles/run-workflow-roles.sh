#!/bin/bash
# Runs the workflow lab's roles for real in plain Docker containers, the way
# labctl does over SSH (role folders under ~vagrant/.labctl/roles, a 0600 env
# file, `sudo -n /bin/sh wrapper.sh ENVFILE`), in the order the role.toml files
# ask for, handing published values on. Then checks the result end to end.
# Needs a local Docker engine and the image labctl-node:proto. No Vagrant, no
# labctl binary.
#
#   tests/roles/run-workflow-roles.sh [all|image|up|provision|verify|dockerhost|down]
#
#   all (default)  image (if missing), up, provision x2, verify, dockerhost, down
#   image          build $IMAGE from labctl-node:proto plus every role's packages
#   up             network + containers gitlab mgmt lb web1 web2
#   provision      one labctl-like provisioning pass (prints each role's result)
#   verify         the end-to-end checks (changes the lab: a commit, drift, restarts)
#   dockerhost     the docker-host role in a nested-capable container
#   down           remove containers and network (KEEP_IMAGE=0 also the image)
#
# Environment: NET (roletest), SUBNET3 (192.168.157: the first three octets of
# the /24; 192.168.57 is the shipped lab's and may be in use), IMAGE
# (labctl-node:roletest), KEEP=1 (all: leave the lab running), KEEP_IMAGE=1.
# Everything created carries the label labctl.lab=$NET.
set -euo pipefail

NET=${NET:-roletest}
SUBNET3=${SUBNET3:-192.168.157}
IMAGE=${IMAGE:-labctl-node:roletest}
BASE_IMAGE=${BASE_IMAGE:-labctl-node:proto}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROV=$ROOT/provision
STATE=${STATE:-/tmp/labctl-roletest-$NET}
LAB=workflow

# Node table: name, last octet, roles (in node order), variables.
NODES="gitlab mgmt lb web1 web2"
declare -A IP=([gitlab]=$SUBNET3.2 [mgmt]=$SUBNET3.10 [lb]=$SUBNET3.11 [web1]=$SUBNET3.21 [web2]=$SUBNET3.22)
declare -A ROLES=([gitlab]="gitserver managed" [mgmt]="ansible-mgmt ansible-push"
    [lb]="managed ansible-pull" [web1]="managed ansible-pull" [web2]="managed ansible-pull")
declare -A VARS=([lb]="PULL_REPO=centraladmin_lb" [web1]="PULL_REPO=centraladmin_web" [web2]="PULL_REPO=centraladmin_web")
DH_IP=$SUBNET3.30

say() { printf '\n=== %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
ctr() { echo "$NET-$1"; }

packages() {
    local f
    for f in "$PROV"/*/role.toml; do
        sed -n 's/^packages *= *\[\(.*\)\]/\1/p' "$f" | tr -d '",' | tr ' ' '\n'
    done | sort -u | tr '\n' ' '
}

ensure_network() {
    docker network inspect "$NET" >/dev/null 2>&1 ||
        docker network create --subnet "$SUBNET3.0/24" --label "labctl.lab=$NET" "$NET" >/dev/null
}

cmd_image() {
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        echo "image $IMAGE present"
        return
    fi
    local pk b
    pk=$(packages)
    b=$(ctr imagebuild)
    say "building $IMAGE from $BASE_IMAGE with: $pk"
    ensure_network
    docker run -d --name "$b" --label "labctl.lab=$NET" --network "$NET" --ip "$SUBNET3.250" "$BASE_IMAGE" >/dev/null
    # policy-rc.d: nothing starts while installing, as in labctl's image build.
    docker exec -e DEBIAN_FRONTEND=noninteractive -e "PK=$pk" "$b" sh -c '
        printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d &&
        apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $PK >/dev/null &&
        rm -f /usr/sbin/policy-rc.d && apt-get clean && rm -rf /var/lib/apt/lists/* &&
        rm -f /etc/ssh/ssh_host_* /run/crond.reboot /run/crond.pid /run/sshd.pid'
    # The node made its own SSH host keys when it booted: removed above, so
    # every node of the image makes its own.
    docker commit -m "labctl roletest: $BASE_IMAGE + role packages" "$b" "$IMAGE" >/dev/null
    docker rm -f "$b" >/dev/null
}

cmd_up() {
    ensure_network
    mkdir -p "$STATE"
    : >"$STATE/published"
    local n
    for n in $NODES; do
        docker container inspect "$(ctr "$n")" >/dev/null 2>&1 && continue
        docker run -d --name "$(ctr "$n")" --hostname "$n" --network "$NET" --ip "${IP[$n]}" \
            --label "labctl.lab=$NET" --label "labctl.node=$n" --cap-add NET_ADMIN "$IMAGE" >/dev/null
    done
    for n in $NODES; do
        for _ in $(seq 1 50); do
            docker exec "$(ctr "$n")" test -s /run/sshd.pid && break
            sleep 0.2
        done
    done
    echo "up: $(for n in $NODES; do printf '%s=%s ' "$n" "${IP[$n]}"; done)"
}

# env_file NODE ROLE: the variables labctl hands a role (render.rs role_env),
# then everything published so far, single-quoted like labctl's shell_quote.
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
        echo "LABCTL_ROLE_MANAGED='gitlab lb web1 web2'"
        echo "LABCTL_ROLE_ANSIBLE_MGMT='mgmt'"
        echo "LABCTL_ROLE_ANSIBLE_PUSH='mgmt'"
        echo "LABCTL_ROLE_ANSIBLE_PULL='lb web1 web2'"
        for kv in ${VARS[$node]:-}; do echo "${kv%%=*}=$(q "${kv#*=}")"; done
        while IFS= read -r kv; do
            [ -n "$kv" ] && echo "${kv%%=*}=$(q "${kv#*=}")"
        done <"$STATE/published"
    }
}

# upload NODE: labctl uploads _labctl and the node's role folders, fresh each run.
upload() {
    local node=$1
    # shellcheck disable=SC2086
    tar -C "$PROV" -cf - _labctl ${ROLES[$node]} |
        docker exec -i -u vagrant "$(ctr "$node")" sh -c \
            'cd && rm -rf .labctl/roles && mkdir -p -m 0700 .labctl/roles .labctl/run && tar -x -C .labctl/roles'
}

# run_role NODE ROLE: prints "NODE ROLE RESULT SECONDS"; output goes to $STATE/log.
run_role() {
    local node=$1 role=$2 c t0 t1 rc=0 res
    c=$(ctr "$node")
    env_file "$node" "$role" | docker exec -i -u vagrant "$c" sh -c \
        "umask 077 && cat > /home/vagrant/.labctl/run/$role.env"
    t0=$(date +%s.%N)
    docker exec -u vagrant "$c" sudo -n /bin/sh "/home/vagrant/.labctl/roles/_labctl/wrapper.sh" \
        "/home/vagrant/.labctl/run/$role.env" >"$STATE/$node.$role.out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    sed "s/^/[$node $role] /" "$STATE/$node.$role.out" >>"$STATE/log"
    res=$(docker exec "$c" cat "/var/lib/labctl/roles/$role.result" 2>/dev/null || echo none)
    [ "$rc" = 0 ] || res="FAILED(rc=$rc)"
    docker exec "$c" cat "/var/lib/labctl/roles/$role.publish" 2>/dev/null >>"$STATE/published.$node.$role" || true
    printf '%-7s %-13s %-10s %5.1fs\n' "$node" "$role" "$res" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
    if [ "$rc" != 0 ]; then
        tail -n 25 "$STATE/$node.$role.out" >&2
        return 1
    fi
}

# collect: fold what roles published into the published file (later wins).
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

# parallel "NODE:ROLE ..." : one wave of tasks at once, like labctl's node threads.
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
    t0=$(date +%s)
    for n in $NODES; do upload "$n"; done
    # The waves follow the role.toml `after` lists:
    #   gitserver, ansible-mgmt: no prerequisites
    #   managed: after *:ansible-mgmt (needs MGMT_PUBKEY)
    #   ansible-push: after ansible-mgmt, *:managed, *:gitserver
    #   ansible-pull: after managed, *:gitserver, *:ansible-push
    parallel gitlab:gitserver mgmt:ansible-mgmt
    parallel gitlab:managed lb:managed web1:managed web2:managed
    parallel mgmt:ansible-push
    parallel lb:ansible-pull web1:ansible-pull web2:ansible-pull
    echo "provision: $(($(date +%s) - t0)) s"
}

# results ROLE... : "node:role=result" for every task.
results() {
    local n r
    for n in $NODES; do
        for r in ${ROLES[$n]}; do
            printf '%s:%s=%s\n' "$n" "$r" "$(docker exec "$(ctr "$n")" cat "/var/lib/labctl/roles/$r.result")"
        done
    done
}

# spread: 20 requests to the lb from the host; prints "web1=N web2=N" and the revisions seen.
spread() {
    local i body w1=0 w2=0 revs=""
    for i in $(seq 1 20); do
        body=$(curl -s --max-time 5 "http://${IP[lb]}:8080/") || true
        case "$body" in *"<h1>web1</h1>"*) w1=$((w1 + 1)) ;; *"<h1>web2</h1>"*) w2=$((w2 + 1)) ;; esac
        revs+="$(printf '%s' "$body" | sed -n 's|.*revision: \([0-9a-f]*\).*|\1|p') "
    done
    echo "web1=$w1 web2=$w2 revisions: $(printf '%s\n' $revs | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
}

expect_spread() {
    local s
    for _ in $(seq 1 15); do
        s=$(spread)
        if [[ $s =~ web1=([0-9]+)\ web2=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[2]}" -gt 0 ] &&
            { [ -z "${1:-}" ] || [[ $s == *"revisions: $1:20 " ]]; }; then
            echo "spread ok: $s"
            return 0
        fi
        sleep 1
    done
    fail "spread: $s (wanted both backends${1:+, all at revision $1})"
}

# cron_line NODE: run the */3 command of the node's /etc/cron.d/ansible-pull as
# cron would (env -i, PATH=/usr/bin:/bin, /bin/sh -c). cron itself may hold the
# lock (flock -n then exits 1): wait for the lock and try again, 3 times.
cron_line() {
    local c line i
    c=$(ctr "$1")
    line=$(docker exec "$c" sh -c "sed -n 's|^[*]/3 [*] [*] [*] [*] root ||p' /etc/cron.d/ansible-pull")
    echo "$1: $line"
    for i in 1 2 3; do
        docker exec "$c" flock -w 300 /var/lock/ansible-pull.lock true
        docker exec "$c" env -i PATH=/usr/bin:/bin /bin/sh -c "$line" && return 0
        echo "$1: attempt $i failed (cron running it at the same time?)"
        sleep 2
    done
    return 1
}

cmd_verify() {
    local c out line rev newrev n
    say "ansible all -m ping from mgmt (host key checking on)"
    docker exec "$(ctr mgmt)" sh -c 'cd /etc/ansible/lab && ansible all -m ping -o' | tee "$STATE/ping"
    [ "$(grep -c SUCCESS "$STATE/ping")" = 5 ] || fail "ping: not every node answered"
    docker exec "$(ctr mgmt)" sh -c 'cd /etc/ansible/lab && ansible-config dump --only-changed' | grep -i host_key || true

    say "lb spreads 20 requests over web1 and web2"
    rev=$(docker exec "$(ctr gitlab)" git --git-dir=/srv/git/centraladmin_web.git rev-parse --short HEAD)
    expect_spread "$rev"
    docker exec "$(ctr lb)" ss -ltn | grep -q ':8080 ' || fail "haproxy does not listen on 8080"

    say "the cron line itself, under env -i PATH=/usr/bin:/bin /bin/sh -c"
    for n in web1 lb; do
        c=$(ctr "$n")
        cron_line "$n" || fail "$n: the cron command failed"
        docker exec "$c" tail -n 4 /var/log/ansible-pull.log
        docker exec "$c" grep -q 'PLAY RECAP' /var/log/ansible-pull.log || fail "$n: no playbook run in the log"
    done
    expect_spread "$rev"

    say "a commit pushed to centraladmin_web (on gitlab, through the file system) reaches both web nodes"
    docker exec "$(ctr gitlab)" sh -c '
        set -e; rm -rf /tmp/cw; git clone -q /srv/git/centraladmin_web.git /tmp/cw; cd /tmp/cw
        echo "# changed by the role test at $(date -u +%FT%TZ)" >>README.md
        git -c user.name=tester -c user.email=tester@gitlab commit -q -am "README: note from the role test"
        git push -q origin HEAD:main; rm -rf /tmp/cw'
    newrev=$(docker exec "$(ctr gitlab)" git --git-dir=/srv/git/centraladmin_web.git rev-parse --short HEAD)
    echo "new revision $newrev (was $rev)"
    # A push over HTTP must be refused.
    docker exec "$(ctr mgmt)" sh -c "rm -rf /tmp/hp && git clone -q http://${IP[gitlab]}/centraladmin_web.git /tmp/hp && cd /tmp/hp &&
        git -c user.name=x -c user.email=x@x commit -q --allow-empty -m x && ! git push -q origin HEAD:main 2>/tmp/hp.err && cat /tmp/hp.err; rm -rf /tmp/hp" ||
        fail "a push over HTTP was accepted"
    for n in web1 web2; do
        c=$(ctr "$n")
        cron_line "$n" || fail "$n: pull failed"
        docker exec "$c" sh -c 'grep -A1 "^PLAY RECAP" /var/log/ansible-pull.log | tail -n1'
    done
    expect_spread "$newrev"

    say "second provisioning after the commit: every role unchanged"
    cmd_provision | tee "$STATE/prov-after-commit"
    results | grep -v '=unchanged$' && fail "some role changed" || echo "all unchanged"

    say "drift: web2's page removed"
    docker exec "$(ctr web2)" rm -f /var/www/workflow/index.html
    curl -s -o /dev/null -w 'web2 answers %{http_code}\n' "http://${IP[web2]}/"
    cmd_provision | tee "$STATE/prov-drift"
    out=$(results | grep -v '=unchanged$' || true)
    echo "changed: $out"
    [ "$out" = "mgmt:ansible-push=changed" ] || fail "drift: expected exactly mgmt:ansible-push changed"
    expect_spread "$newrev"

    say "drift: web2's site configuration removed (nginx reloads)"
    docker exec "$(ctr web2)" rm -f /etc/nginx/sites-enabled/workflow /etc/nginx/sites-available/workflow
    cmd_provision >"$STATE/prov-drift2"
    out=$(results | grep -v '=unchanged$' || true)
    echo "changed: $out"
    [ "$out" = "mgmt:ansible-push=changed" ] || fail "drift: expected exactly mgmt:ansible-push changed"
    docker exec "$(ctr web2)" test -L /etc/nginx/sites-enabled/workflow || fail "site link not repaired"

    say "drift: ansible-pull's cron file removed on web1"
    docker exec "$(ctr web1)" rm -f /etc/cron.d/ansible-pull
    cmd_provision >"$STATE/prov-drift3"
    out=$(results | grep -v '=unchanged$' || true)
    echo "changed: $out"
    [ "$out" = "web1:ansible-pull=changed" ] || fail "drift: expected exactly web1:ansible-pull changed"

    say "drift on the other roles: git site link (gitlab), mgmt's key (lb), inventory (mgmt)"
    docker exec "$(ctr gitlab)" rm -f /etc/nginx/sites-enabled/git
    docker exec "$(ctr lb)" rm -f /root/.ssh/authorized_keys
    docker exec "$(ctr mgmt)" rm -f /etc/ansible/lab/hosts
    cmd_provision >"$STATE/prov-drift4"
    out=$(results | grep -v '=unchanged$' | tr '\n' ' ' || true)
    echo "changed: $out"
    [ "$out" = "gitlab:gitserver=changed mgmt:ansible-mgmt=changed lb:managed=changed " ] ||
        fail "drift: expected exactly gitserver, ansible-mgmt and lb's managed changed"

    say "logrotate rotates the pull log"
    docker exec "$(ctr web1)" sh -c 'logrotate -f /etc/logrotate.d/ansible-pull && ls /var/log/ansible-pull.log*'

    say "restart lb, web1, web2: haproxy and nginx come back (labctl-init, /etc/labctl/services)"
    # A real boot starts with an empty /run; a container restart keeps
    # /run/crond.reboot, so cron would skip @reboot. Remove it on lb to see the
    # @reboot entry itself work; web1/web2 show what a plain restart does.
    docker exec "$(ctr lb)" rm -f /run/crond.reboot
    local t_restart
    t_restart=$(date -u +%s)
    docker restart "$(ctr lb)" "$(ctr web1)" "$(ctr web2)" >/dev/null
    for n in lb web1 web2; do docker exec "$(ctr "$n")" cat /etc/labctl/services | tr '\n' ' '; echo "($n)"; done
    expect_spread "$newrev"
    docker exec "$(ctr mgmt)" sh -c 'cd /etc/ansible/lab && ansible all -m ping -o' | grep -c SUCCESS
    say "@reboot: one full ansible-pull run about 15 s after the start"
    sleep 25
    for n in lb web1; do
        echo "$n: runs started since the restart:"
        docker exec "$(ctr "$n")" sh -c "grep -sh '^Starting Ansible Pull at' /var/log/ansible-pull.log*" |
            while read -r _ _ _ _ d t; do
                [ "$(date -u -d "$d $t" +%s)" -ge "$t_restart" ] && echo "  $d $t"
            done || true
    done
    docker exec "$(ctr lb)" sh -c 'tail -n 3 /var/log/ansible-pull.log'
    echo "verify: all checks passed"
}

cmd_dockerhost() {
    local c
    c=$(ctr dockerhost)
    ensure_network
    mkdir -p "$STATE"
    docker container inspect "$c" >/dev/null 2>&1 ||
        docker run -d --name "$c" --hostname dockerhost --network "$NET" --ip "$DH_IP" \
            --label "labctl.lab=$NET" --label labctl.node=dockerhost \
            --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
            --security-opt apparmor=unconfined -v /sys/fs/cgroup:/sys/fs/cgroup:rw "$IMAGE" >/dev/null
    sleep 1
    NODES="dockerhost"
    IP[dockerhost]=$DH_IP
    ROLES[dockerhost]=docker-host
    [ -f "$STATE/published" ] || : >"$STATE/published"
    upload dockerhost
    say "docker-host, twice"
    run_role dockerhost docker-host
    run_role dockerhost docker-host
    [ "$(docker exec "$c" cat /var/lib/labctl/roles/docker-host.result)" = unchanged ] || fail "docker-host: second run changed"
    say "docker-host after a restart of the node"
    docker restart "$c" >/dev/null
    for _ in $(seq 1 40); do docker exec "$c" docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker exec "$c" docker info --format 'docker {{.ServerVersion}} {{.Driver}} answers after restart'
    say "drift: the labctl block removed from /etc/default/docker"
    docker exec "$c" sh -c "sed -i '/BEGIN labctl/,/END labctl/d' /etc/default/docker"
    run_role dockerhost docker-host
    [ "$(docker exec "$c" cat /var/lib/labctl/roles/docker-host.result)" = changed ] || fail "docker-host: drift not reported"
    docker exec "$c" sh -c 'service docker stop >/dev/null; service docker start >/dev/null; sleep 2; docker info --format "restarted: {{.ServerVersion}}"'
}

cmd_down() {
    docker ps -aq --filter "label=labctl.lab=$NET" | xargs -r docker rm -f >/dev/null
    docker network ls -q --filter "label=labctl.lab=$NET" | xargs -r docker network rm >/dev/null
    [ "${KEEP_IMAGE:-1}" = 1 ] || docker rmi "$IMAGE" >/dev/null 2>&1 || true
    rm -rf "$STATE"
    echo "down: containers and network labelled labctl.lab=$NET removed"
}

case "${1:-all}" in
image) cmd_image ;;
up) cmd_up ;;
provision) cmd_provision ;;
verify) cmd_verify ;;
dockerhost) cmd_dockerhost ;;
down) cmd_down ;;
all)
    cmd_image
    cmd_up
    say "first provisioning"
    cmd_provision
    say "second provisioning: every role unchanged"
    cmd_provision
    results | grep -v '=unchanged$' && fail "second run changed something" || echo "all unchanged"
    cmd_verify
    cmd_dockerhost
    [ "${KEEP:-0}" = 1 ] || cmd_down
    ;;
*)
    sed -n '2,25p' "$0"
    exit 2
    ;;
esac
