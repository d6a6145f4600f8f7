#!/bin/bash
# ansible-push: the first deployment, from mgmt. Records the managed nodes'
# SSH host keys (lab addresses only, once), clones each group's configuration
# repository from the git server, and runs push.yml (nginx on the web nodes,
# haproxy on lb) against the lab inventory. Reports changed only when Ansible
# changed something (PLAY RECAP) or a host key was added.

LAB_DIR=/etc/ansible/lab
KNOWN=/root/.ssh/known_hosts
WORK=/var/lib/labctl/ansible-push
REPOS="centraladmin_web centraladmin_lb"
LOG=/var/log/labctl-ansible-push.log

step "inputs"
ensure_packages ansible-core openssh-client git
[ -f "$LAB_DIR/hosts" ] && [ -f "$LAB_DIR/ansible.cfg" ] || { echo "ansible-push: run ansible-mgmt first ($LAB_DIR)" >&2; exit 2; }
[[ ${GIT_URL:-} =~ ^http://[0-9.]+$ ]] || { echo "ansible-push: GIT_URL is not set (is gitserver in the lab?)" >&2; exit 2; }
[ -n "${LABCTL_ROLE_MANAGED:-}" ] || { echo "ansible-push: no node has the role managed" >&2; exit 2; }

step "host keys of the managed nodes in $KNOWN"
if [ ! -d /root/.ssh ] || [ "$(stat -c %a /root/.ssh)" != 700 ]; then
    install -d -m 0700 /root/.ssh
    changed
fi
if [ ! -f "$KNOWN" ]; then
    install -m 0644 /dev/null "$KNOWN"
    changed
fi
forget_recreated_keys "$KNOWN"
for node in $LABCTL_ROLE_MANAGED; do
    ip=
    for entry in $LABCTL_NODES; do
        [ "${entry%%=*}" = "$node" ] && ip=${entry#*=}
    done
    # Only addresses of this lab's network are ever scanned.
    python3 -c 'import ipaddress, sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2], strict=False))' \
        "$ip" "$LABCTL_SUBNET" || { echo "ansible-push: $node ($ip) is not in the lab subnet $LABCTL_SUBNET" >&2; exit 2; }
    if ssh-keygen -F "$ip" -f "$KNOWN" >/dev/null; then
        continue
    fi
    keys=
    for _ in 1 2 3 4 5; do
        keys=$(ssh-keyscan -T 5 -t ed25519,ecdsa,rsa "$ip" 2>/dev/null) && [ -n "$keys" ] && break
        sleep 1
    done
    [ -n "$keys" ] || { echo "ansible-push: no SSH host key from $node ($ip)" >&2; exit 1; }
    printf '%s\n' "$keys" >>"$KNOWN"
    echo "ansible-push: recorded host keys of $node ($ip)"
    changed
done

step "configuration repositories from $GIT_URL"
install -d -m 0755 "$WORK/checkout"
for repo in $REPOS; do
    dir=$WORK/checkout/$repo
    url=$GIT_URL/$repo.git
    # The checkout is a file tree this role owns: a missing checkout cloned
    # again, or edits of its tracked files put back, are changes of this run.
    # Following a new commit of the repository is not: what that changes on
    # the nodes is what Ansible's PLAY RECAP reports below.
    if [ ! -d "$dir/.git" ]; then
        rm -rf "$dir"
        git clone -q "$url" "$dir"
        changed
    else
        git -C "$dir" remote set-url origin "$url"
        git -C "$dir" fetch -q origin
        if [ -n "$(git -C "$dir" status --porcelain --untracked-files=no)" ]; then
            echo "ansible-push: $repo: local edits of the checkout put back"
            changed
        fi
        git -C "$dir" reset -q --hard origin/HEAD
    fi
    echo "ansible-push: $repo at $(git -C "$dir" rev-parse --short HEAD)"
done

step "workflow-propagate: a commit's way from git to the lb, on demand"
web_nodes= lb_ip=
for entry in $LABCTL_NODES; do
    case ${entry%%=*} in
    web | web[0-9]*) web_nodes="$web_nodes $entry" ;;
    lb) lb_ip=${entry#*=} ;;
    esac
done
{
    printf 'GIT_HOST=%s\n' "${GIT_URL#http://}"
    printf 'LB_URL=%s\n' "http://$lb_ip:8080/"
    printf 'WEB_NODES="%s"\n' "${web_nodes# }"
} | install_content "$LAB_DIR/workflow.env" 0644
install_file propagate.sh /usr/local/sbin/workflow-propagate 0755

step "push the playbooks (push.yml)"
export ANSIBLE_CONFIG=$LAB_DIR/ansible.cfg ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
: >"$LOG"
ansible-playbook push.yml -e "push_checkouts=$WORK/checkout" 2>&1 | tee "$LOG"
n=$(awk '/^PLAY RECAP/ {r = 1; next} r { for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) { split($i, a, "="); s += a[2] } } END { print s + 0 }' "$LOG")
echo "ansible-push: Ansible changed $n thing(s) (log: $LOG)"
if [ "$n" -eq 0 ]; then
    unchanged
else
    changed
fi
