# labctl shell library for role scripts (bash). Sourced by the wrapper before
# provision.sh. Every helper is idempotent and says honestly whether it changed
# anything, so a role reports `changed` only when it did.

LABCTL_STEP=0

# step DESCRIPTION: mark the start of a numbered step (for "step 3/5" reports).
step() {
    LABCTL_STEP=$((LABCTL_STEP + 1))
    printf '::labctl:: step %s/%s %s\n' "$LABCTL_STEP" "${LABCTL_STEPS:-?}" "$*"
}

# changed: record that this run changed the node.
changed() {
    echo changed >"$LABCTL_RESULT"
}

# unchanged: record that a comparison this run made found the node as wanted.
# Never overrides `changed` or `skipped`. A role that neither changes nor
# compares anything is `unreported`, never counted as unchanged: the result
# file is what the role measured, not a default.
unchanged() {
    case "$(cat "$LABCTL_RESULT" 2>/dev/null || true)" in
    changed | skipped) ;;
    *) echo unchanged >"$LABCTL_RESULT" ;;
    esac
}

# skip REASON: the role does not apply here; stop the role successfully.
skip() {
    echo skipped >"$LABCTL_RESULT"
    printf '::labctl:: skipped %s\n' "$*"
    exit 0
}

# publish KEY VALUE: hand a value to later roles on any node (as $KEY).
publish() {
    case "$1" in *[!A-Z0-9_]* | "") echo "labctl: bad publish key $1" >&2; return 2 ;; esac
    case "$2" in *"
"*) echo "labctl: published values must be one line" >&2; return 2 ;; esac
    printf '%s=%s\n' "$1" "$2" >>"$LABCTL_PUBLISH"
}

# install_file SRC DEST [MODE] [OWNER]: copy when the content or mode differs.
install_file() {
    local src=$1 dest=$2 mode=${3:-0644} owner=${4:-root}
    if [ -f "$dest" ] && cmp -s "$src" "$dest" &&
        [ "$(stat -c %a "$dest")" = "$(printf '%o' "0$mode" 2>/dev/null || echo "$mode")" ]; then
        unchanged
        return 0
    fi
    install -D -m "$mode" -o "$owner" "$src" "$dest"
    changed
}

# install_content DEST MODE < content: like install_file, from standard input.
install_content() {
    local dest=$1 mode=${2:-0644} tmp
    tmp=$(mktemp)
    cat >"$tmp"
    install_file "$tmp" "$dest" "$mode"
    rm -f "$tmp"
}

# ensure_packages PKG...: install the Debian packages that are missing.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        unchanged
        return 0
    fi
    apt-get install -y --no-install-recommends "${missing[@]}" || {
        apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"
    }
    changed
}

# enable_service NAME: start NAME now and at every boot of the node. Uses
# `service`, which works in VMs and in containers alike.
enable_service() {
    local name=$1
    unchanged # each branch below that acts says `changed`
    mkdir -p /etc/labctl
    touch /etc/labctl/services
    if ! grep -qx "$name" /etc/labctl/services; then
        echo "$name" >>/etc/labctl/services
        changed
    fi
    if [ -d /run/systemd/system ]; then
        systemctl is-enabled --quiet "$name" 2>/dev/null || { systemctl enable --quiet "$name"; changed; }
    fi
    if ! service "$name" status >/dev/null 2>&1; then
        service "$name" start
        changed
    fi
}

# restart_service NAME: restart after a configuration change.
restart_service() {
    service "$1" restart
    changed
}

# install_pull_cron URL WORKDIR LOCK LOGFILE LOGROTATE_CONF [REBOOT] < comment:
# the ansible-pull cron entry (every 3 minutes, only when the repository
# changed, -o; flock -n skips a run while the previous one still works; with
# REBOOT=reboot also one full run at boot), its working folder and its log
# rotation. Standard input is the entry's header comment, `# ` lines.
install_pull_cron() {
    local url=$1 workdir=$2 lock=$3 logfile=$4 rotate=$5 reboot=${6:-} pull header
    header=$(cat)
    if [ ! -d "$(dirname "$workdir")" ]; then
        install -d -m 0755 "$(dirname "$workdir")"
        changed
    fi
    pull="ansible-pull -U $url -d $workdir -i $workdir/inventory.ini"
    {
        printf '%s\n' "$header"
        printf 'SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n'
        printf "# ansible-pull's own lines reach the log in order with its children's output.\n"
        printf 'PYTHONUNBUFFERED=1\n'
        printf '*/3 * * * * root flock -n %s %s -o >>%s 2>&1\n' "$lock" "$pull" "$logfile"
        if [ "$reboot" = reboot ]; then
            printf '@reboot root sleep 15 && flock -w 600 %s %s >>%s 2>&1\n' "$lock" "$pull" "$logfile"
        fi
    } | install_content /etc/cron.d/ansible-pull 0644
    install_file "$rotate" /etc/logrotate.d/ansible-pull 0644
    logrotate -d /etc/logrotate.d/ansible-pull >/dev/null 2>&1 || {
        logrotate -d /etc/logrotate.d/ansible-pull
        exit 1
    }
}

# forget_recreated_keys KNOWN_HOSTS: a node labctl re-created is a new machine
# with new SSH host keys (LABCTL_RECREATED names such nodes). Drop the keys
# this node pinned for them, so the role's usual first-contact scan records the
# new ones. Keys of every other node stay pinned: a change there is refused.
forget_recreated_keys() {
    local known=$1 node entry ip
    [ -f "$known" ] || return 0
    for node in ${LABCTL_RECREATED:-}; do
        ip=
        for entry in $LABCTL_NODES; do
            [ "${entry%%=*}" = "$node" ] && ip=${entry#*=}
        done
        [ -n "$ip" ] || continue
        if ssh-keygen -F "$ip" -f "$known" >/dev/null; then
            ssh-keygen -R "$ip" -f "$known" >/dev/null 2>&1
            rm -f "$known.old"
            echo "labctl: $node ($ip) was re-created; forgot its old host keys in $known"
            changed
        fi
    done
}
