#!/bin/bash
# compose-deploy: the Docker Compose deployment of the Jul 2, 2017 write-up.
# haproxy on port 8080 in front of three nginx services, as a compose project
# whose source is a repository on the lab's git server (COMPOSE_REPO, default
# centraladmin_docker; GIT_URL is published by gitserver), kept current by
# ansible-pull from cron and started at every boot.
#
# - Images: none from a registry. labctl uploads a `docker save` tarball of a
#   small Debian root with nginx and haproxy beside this script
#   (COMPOSE_BASE_IMAGE_TAR, default base-image.tar in the role folder); the
#   role loads it and tags it labctl-base:latest, which every service runs with
#   its configuration bind-mounted (nothing is built or pulled). Without a
#   tarball, an image loaded by an earlier run is kept.
# - /etc/cron.d/ansible-pull: every 3 minutes, flock -n, only when the
#   repository changed (-o), log /var/log/ansible-pull.log (logrotate). The
#   pulled local.yml installs the project into /srv/compose-deploy and runs
#   `docker-compose up -d --remove-orphans`, reloading what changed.
# - The first deployment is one full ansible-pull run by this role (changed
#   only when the checkout moved or Ansible changed something).
# - Boot: /etc/init.d/compose-deploy, listed in /etc/labctl/services after
#   docker, waits for Docker and runs `docker-compose up -d`.
# - /usr/local/sbin/compose-propagate: commit, push, run the cron line as cron
#   would, check 8080 (see propagate.sh).
#
# The node needs Docker (the docker-host role before this one) and must not
# also have the ansible-pull role (both own /etc/cron.d/ansible-pull).

WORKDIR=/var/lib/ansible/local
LOGFILE=/var/log/ansible-pull.log
LOCK=/var/lock/ansible-pull.lock
PROJECT_DIR=/srv/compose-deploy
BASE_IMAGE=labctl-base:latest
CONF_DIR=/etc/compose-deploy
KNOWN=$CONF_DIR/known_hosts
GIT_ROOT=/srv/git # where gitserver keeps the bare repositories
REPO=${COMPOSE_REPO:-centraladmin_docker}

step "inputs"
ensure_packages docker-compose ansible-core git cron logrotate util-linux python3 curl openssh-client
[[ ${GIT_URL:-} =~ ^http://([0-9.]+)$ ]] || { echo "compose-deploy: GIT_URL is not set (is gitserver in the lab?)" >&2; exit 2; }
git_ip=${BASH_REMATCH[1]}
[[ $REPO =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || { echo "compose-deploy: bad repository name in compose_repo: $REPO" >&2; exit 2; }
case " ${LABCTL_ROLE_ANSIBLE_PULL:-} " in
*" $LABCTL_NODE "*)
    echo "compose-deploy: $LABCTL_NODE also has the role ansible-pull; both own /etc/cron.d/ansible-pull and $WORKDIR: give the node one of them" >&2
    exit 2
    ;;
esac
up=0
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.5
done
[ "$up" = 1 ] || { echo "compose-deploy: Docker does not answer (put docker-host before compose-deploy)" >&2; exit 2; }
url=$GIT_URL/$REPO.git
head=$(git ls-remote "$url" refs/heads/main) && [ -n "$head" ] || { echo "compose-deploy: $url has no branch main" >&2; exit 1; }
echo "compose-deploy: $url main ${head:0:12}; $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"

step "base image $BASE_IMAGE, loaded offline"
tarball=${COMPOSE_BASE_IMAGE_TAR:-base-image.tar}
case $tarball in /*) ;; *) tarball=$LABCTL_ROLE_DIR/$tarball ;; esac
have=$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
if [ -f "$tarball" ]; then
    # The image ID is the digest of its config, named in the tarball's manifest.
    want=$(python3 - "$tarball" <<'PY'
import json, os, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    m = json.load(t.extractfile("manifest.json"))
if len(m) != 1:
    sys.exit("compose-deploy: the base image tarball holds %d images, expected 1" % len(m))
c = os.path.basename(m[0]["Config"])
print("sha256:" + (c[:-5] if c.endswith(".json") else c))
PY
    )
    [[ $want =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "compose-deploy: cannot read the image ID from $tarball" >&2; exit 2; }
    if [ "$want" != "$have" ]; then
        docker load -q -i "$tarball"
        docker tag "$want" "$BASE_IMAGE"
        docker run --rm --network none "$BASE_IMAGE" /usr/sbin/haproxy -v | sed -n 1p
        docker run --rm --network none "$BASE_IMAGE" /usr/sbin/nginx -v
        echo "compose-deploy: loaded $BASE_IMAGE ${want:7:12} from $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
        changed
    else
        echo "compose-deploy: $BASE_IMAGE is the uploaded image (${want:7:12})"
    fi
elif [ -n "$have" ]; then
    echo "compose-deploy: no base image tarball uploaded ($tarball); keeping the loaded $BASE_IMAGE ${have:7:12}"
else
    echo "compose-deploy: no base image: $tarball is missing and $BASE_IMAGE is not loaded." >&2
    echo "  labctl uploads it (docker save of a small nginx+haproxy root); set COMPOSE_BASE_IMAGE_TAR to use another file" >&2
    exit 2
fi

step "git node's SSH host key for compose-propagate"
# Only an address of this lab's network is ever scanned.
python3 -c 'import ipaddress, sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2], strict=False))' \
    "$git_ip" "$LABCTL_SUBNET" || { echo "compose-deploy: the git server $git_ip is not in the lab subnet $LABCTL_SUBNET" >&2; exit 2; }
if [ ! -d "$CONF_DIR" ]; then
    install -d -m 0755 "$CONF_DIR"
    changed
fi
forget_recreated_keys "$KNOWN"
if [ -s "$KNOWN" ] && ssh-keygen -F "$git_ip" -f "$KNOWN" >/dev/null; then
    echo "compose-deploy: host key of $git_ip already recorded in $KNOWN"
else
    keys=
    for _ in 1 2 3 4 5; do
        keys=$(ssh-keyscan -T 5 -t ed25519,ecdsa,rsa "$git_ip" 2>/dev/null) && [ -n "$keys" ] && break
        sleep 1
    done
    if [ -n "$keys" ]; then
        printf '%s\n' "$keys" >>"$KNOWN"
        chmod 0644 "$KNOWN"
        echo "compose-deploy: recorded the host keys of $git_ip in $KNOWN"
        changed
    else
        echo "compose-deploy: warning: no SSH host key from $git_ip; compose-propagate cannot push until the next provisioning" >&2
    fi
fi

step "cron entry /etc/cron.d/ansible-pull and log rotation"
install_pull_cron "$url" "$WORKDIR" "$LOCK" "$LOGFILE" logrotate.conf <<EOF
# labctl role compose-deploy: keep the compose project current from $REPO on the git server.
# Every 3 minutes, and only when the repository changed (-o); flock -n skips a
# run while the previous one still works. The project starts at boot from
# /etc/init.d/compose-deploy (listed in /etc/labctl/services).
EOF
# The command cron runs, for the deployment run below.
pull="ansible-pull -U $url -d $WORKDIR -i $WORKDIR/inventory.ini"
if ! service cron status >/dev/null 2>&1; then
    service cron start
    changed
fi

step "deployment: one full ansible-pull run"
before=$(git -C "$WORKDIR" rev-parse HEAD 2>/dev/null || echo none)
out=$(mktemp)
rc=0
echo "Starting the labctl role compose-deploy's run at $(date -u '+%Y-%m-%d %H:%M:%S')" >>"$LOGFILE"
# Waits for a run cron started; the same command as cron's, without -o.
# shellcheck disable=SC2086
flock -w 600 "$LOCK" env PYTHONUNBUFFERED=1 ANSIBLE_NOCOLOR=1 $pull 2>&1 | tee "$out" || rc=$?
cat "$out" >>"$LOGFILE"
after=$(git -C "$WORKDIR" rev-parse HEAD 2>/dev/null || echo none)
n=$(awk '/^PLAY RECAP/ {r = 1; next} r { for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }' "$out")
recap=$(grep -c '^PLAY RECAP' "$out" || true)
rm -f "$out"
[ "$rc" = 0 ] || { echo "compose-deploy: ansible-pull exited $rc (log: $LOGFILE)" >&2; exit 1; }
[ "$recap" -gt 0 ] || { echo "compose-deploy: ansible-pull ran no play (log: $LOGFILE)" >&2; exit 1; }
echo "compose-deploy: checkout ${before:0:7} -> ${after:0:7}; Ansible changed $n thing(s)"
if [ "$before" != "$after" ] || [ "$n" -gt 0 ]; then
    changed
else
    unchanged
fi
[ -f "$PROJECT_DIR/docker-compose.yml" ] || { echo "compose-deploy: the play did not install $PROJECT_DIR/docker-compose.yml" >&2; exit 1; }

step "the project starts at boot: /etc/init.d/compose-deploy"
reload=0
cmp -s compose-deploy.init /etc/init.d/compose-deploy || reload=1
install_file compose-deploy.init /etc/init.d/compose-deploy 0755
if [ "$reload" = 1 ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
enable_service compose-deploy
service compose-deploy status

step "compose-propagate"
{
    printf 'GIT_URL=%s\n' "$GIT_URL"
    printf 'REPO=%s\n' "$REPO"
    printf 'PUSH_URL=%s\n' "ssh://root@$git_ip$GIT_ROOT/$REPO.git"
    printf 'KNOWN_HOSTS=%s\n' "$KNOWN"
    printf 'PUSH_KEY=%s\n' "${COMPOSE_PUSH_KEY:-/root/.ssh/id_ed25519}"
    printf 'CHECK_URL=%s\n' "http://$LABCTL_NODE_IP:8080/"
    printf 'PROJECT_FILE=%s\n' "$PROJECT_DIR/docker-compose.yml"
    printf 'LOCK=%s\n' "$LOCK"
} | install_content "$CONF_DIR/propagate.env" 0644
install_file propagate.sh /usr/local/sbin/compose-propagate 0755

step "haproxy on :8080 answers from every nginx service"
want=$(docker-compose --ansi never -f "$PROJECT_DIR/docker-compose.yml" config --services | grep -vx haproxy | sort | tr '\n' ' ')
seen=
for _ in $(seq 1 30); do
    for _ in 1 2 3 4 5 6; do
        n=$(curl -fsS --max-time 3 "http://$LABCTL_NODE_IP:8080/" 2>/dev/null | sed -n 's|.*served by: \([A-Za-z0-9_.-]*\).*|\1|p') || true
        [ -n "$n" ] && [[ " $seen " != *" $n "* ]] && seen="$seen $n"
    done
    [ "$(printf '%s\n' $seen | sort | tr '\n' ' ')" = "$want" ] && break
    sleep 1
done
[ "$(printf '%s\n' $seen | sort | tr '\n' ' ')" = "$want" ] || {
    echo "compose-deploy: http://$LABCTL_NODE_IP:8080/ answered from:${seen:- nothing}; expected: $want" >&2
    docker-compose --ansi never -f "$PROJECT_DIR/docker-compose.yml" ps >&2 || true
    exit 1
}
echo "compose-deploy: http://$LABCTL_NODE_IP:8080/ round-robins over$seen"
