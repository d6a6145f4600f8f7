#!/bin/bash
# gitserver: a git server over smart HTTP (nginx + fcgiwrap + git-http-backend)
# holding one configuration repository per group, seeded from repos/NAME/.
#
# - bare repositories /srv/git/NAME.git, anonymous clone and fetch over
#   http://<node ip>/NAME.git (no credentials in any URL);
# - pushing over HTTP is refused (no authentication in the lab); push on this
#   node through the file system: git clone /srv/git/NAME.git, commit, push;
# - seeding: the seed (repos/NAME plus an inventory.ini made from the lab's
#   nodes) is committed when it differs from what was seeded last time and from
#   HEAD. Commits people pushed since are kept until the seed itself changes.
# Publishes GIT_URL=http://<node ip> for the roles that clone.

GIT_ROOT=/srv/git
SEED_DIR=$PWD/repos

# The lab's nodes as an Ansible inventory: single nodes by name, nodes made by
# `count` (web1, web2) in a group named like the lab's [[node]] (web). No
# connection settings: ansible-pull forces `-c local` and limits the run to the
# host named like the node. Kept in step with ansible-mgmt's inventory.
lab_inventory() {
    local entry name ip stem g
    local -a singles=() order=()
    local -A members=()
    for entry in $LABCTL_NODES; do
        name=${entry%%=*} ip=${entry#*=}
        [[ $name =~ ^[a-z0-9][a-z0-9-]*$ && $ip =~ ^[0-9]+(\.[0-9]+){3}$ ]] || {
            echo "gitserver: unexpected entry in LABCTL_NODES: $entry" >&2
            return 2
        }
        if [[ $name =~ ^(.*[a-z-])[0-9]+$ ]]; then
            stem=${BASH_REMATCH[1]%-}
            stem=${stem//-/_}
            [ -n "${members[$stem]:-}" ] || order+=("$stem")
            members[$stem]+="$name ansible_host=$ip"$'\n'
        else
            singles+=("$name ansible_host=$ip")
        fi
    done
    echo "# The lab's nodes (written by labctl from the lab file)."
    echo "# ansible-pull runs the play for the host named like the node it runs on."
    printf '%s\n' "${singles[@]}"
    for g in "${order[@]}"; do
        printf '\n[%s]\n%s' "$g" "${members[$g]}"
    done
    printf '\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n'
}

# seed_repo NAME: create /srv/git/NAME.git if missing, commit the seed if needed.
seed_repo() {
    local name=$1 bare=$GIT_ROOT/$1.git work tree last
    if [ ! -f "$bare/HEAD" ]; then
        git init -q --bare --initial-branch=main "$bare"
        echo "gitserver: created $bare"
        changed
    fi
    # No pushes through git-http-backend, whatever the environment says.
    if [ "$(git --git-dir="$bare" config --get http.receivepack || true)" != false ]; then
        git --git-dir="$bare" config http.receivepack false
        changed
    fi
    if [ "$(git --git-dir="$bare" config --get receive.denyNonFastForwards || true)" != true ]; then
        git --git-dir="$bare" config receive.denyNonFastForwards true
        changed
    fi

    work=$(mktemp -d)
    git clone -q "$bare" "$work/w"
    find "$work/w" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
    cp -R "$SEED_DIR/$name/." "$work/w/"
    lab_inventory >"$work/w/inventory.ini"
    # Modes as git sees them do not depend on how the role folder was uploaded.
    find "$work/w" -path "$work/w/.git" -prune -o -type f -exec chmod 0644 {} +
    git -C "$work/w" add -A
    tree=$(git -C "$work/w" write-tree)
    last=$(git --git-dir="$bare" config --get labctl.seedtree || true)
    if [ "$tree" = "$last" ]; then
        echo "gitserver: $name: seed already applied (HEAD $(git --git-dir="$bare" rev-parse --short HEAD))"
        unchanged
    elif git -C "$work/w" rev-parse -q --verify HEAD >/dev/null &&
        git -C "$work/w" diff --cached --quiet HEAD; then
        echo "gitserver: $name: HEAD already holds the seed"
        git --git-dir="$bare" config labctl.seedtree "$tree"
        changed
    else
        git -C "$work/w" -c user.name="labctl seed" -c user.email="labctl@$LABCTL_NODE" \
            commit -q -m "Seed $name from the lab $LABCTL_LAB (labctl role gitserver)"
        git -C "$work/w" push -q origin HEAD:refs/heads/main
        git --git-dir="$bare" config labctl.seedtree "$tree"
        echo "gitserver: $name: committed the seed as $(git --git-dir="$bare" rev-parse --short HEAD)"
        changed
    fi
    rm -rf "$work"
}

step "check inputs"
[ -n "${LABCTL_NODES:-}" ] || { echo "gitserver: LABCTL_NODES is empty" >&2; exit 2; }
repos=()
for d in "$SEED_DIR"/*/; do
    d=${d%/}
    [ -f "$d/local.yml" ] || continue
    repos+=("${d##*/}")
done
[ ${#repos[@]} -gt 0 ] || { echo "gitserver: no seed repositories under $SEED_DIR" >&2; exit 2; }
for r in "${repos[@]}"; do
    [[ $r =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || { echo "gitserver: bad repository name $r" >&2; exit 2; }
done
ensure_packages git nginx fcgiwrap spawn-fcgi
echo "gitserver: repositories: ${repos[*]}"

step "repositories under $GIT_ROOT"
if [ ! -d "$GIT_ROOT" ]; then
    install -d -m 0755 "$GIT_ROOT"
    changed
fi
for r in "${repos[@]}"; do
    seed_repo "$r"
done

step "nginx + fcgiwrap serve git over HTTP"
reload=0
cmp -s nginx-git.conf /etc/nginx/sites-available/git || reload=1
install_file nginx-git.conf /etc/nginx/sites-available/git 0644
if [ "$(readlink /etc/nginx/sites-enabled/git || true)" != /etc/nginx/sites-available/git ]; then
    ln -sfn /etc/nginx/sites-available/git /etc/nginx/sites-enabled/git
    reload=1
    changed
fi
if [ -e /etc/nginx/sites-enabled/default ] || [ -L /etc/nginx/sites-enabled/default ]; then
    rm -f /etc/nginx/sites-enabled/default
    reload=1
    changed
fi
nginx -t -q
enable_service fcgiwrap
if service nginx status >/dev/null 2>&1; then
    enable_service nginx
    if [ "$reload" = 1 ]; then
        service nginx reload
        changed
    fi
else
    enable_service nginx
fi

step "anonymous clone works, push over HTTP is refused"
for r in "${repos[@]}"; do
    ok=0
    for _ in $(seq 1 20); do
        if head=$(git ls-remote "http://$LABCTL_NODE_IP/$r.git" refs/heads/main 2>/dev/null) && [ -n "$head" ]; then
            ok=1
            break
        fi
        sleep 0.5
    done
    [ "$ok" = 1 ] || { echo "gitserver: http://$LABCTL_NODE_IP/$r.git does not answer" >&2; exit 1; }
    echo "gitserver: http://$LABCTL_NODE_IP/$r.git main ${head:0:12}"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$LABCTL_NODE_IP/${repos[0]}.git/info/refs?service=git-receive-pack")
[ "$code" = 403 ] || { echo "gitserver: push over HTTP answered $code, expected 403" >&2; exit 1; }

step "publish GIT_URL"
publish GIT_URL "http://$LABCTL_NODE_IP"
