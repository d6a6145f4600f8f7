# labctl: the start that wrapper.sh (a role's provision.sh) and
# undo-wrapper.sh (its undo.sh) share, so both find the role, its variables
# and the shell library the same way. Sourced by them, not run: it defines
# labctl_prologue, which they call as
#
#   labctl_prologue SCRIPT [ENVFILE]
#
# SCRIPT is the role's script to run (provision.sh or undo.sh). ENVFILE is
# the env file labctl uploaded (mode 0600): its values are exported and the
# file removed, so they stay out of process lists and logs; under plain
# Vagrant the variables arrive through the shell provisioner's `env:` and no
# env file is given. The function leaves the shell in the role's folder with
# roles_dir and role_dir set, and LABCTL_LIB, LABCTL_ROLE_DIR, LABCTL_VAR,
# LABCTL_STEPS and DEBIAN_FRONTEND exported; it exits 2 when the role has no
# SCRIPT. The values stay arguments: nothing is spliced into this text.
labctl_prologue() {
    if [ -n "${2:-}" ]; then
        set -a
        . "$2"
        set +a
        rm -f "$2"
    fi
    : "${LABCTL_ROLE:?LABCTL_ROLE is not set}"
    roles_dir=$(cd "$(dirname "$0")/.." && pwd)
    role_dir="$roles_dir/$LABCTL_ROLE"
    [ -f "$role_dir/$1" ] || { echo "labctl: role $LABCTL_ROLE has no $1" >&2; exit 2; }

    export LABCTL_LIB="$roles_dir/_labctl/lib.sh"
    export LABCTL_ROLE_DIR="$role_dir"
    export LABCTL_VAR=/var/lib/labctl
    mkdir -p "$LABCTL_VAR/roles"
    # Steps are counted up front so progress and failures read "step 3/5".
    LABCTL_STEPS=$(grep -c '^[[:space:]]*step ' "$role_dir/$1" || true)
    export LABCTL_STEPS
    export DEBIAN_FRONTEND=noninteractive
    cd "$role_dir" || exit 2
}
