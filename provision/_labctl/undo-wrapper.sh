#!/bin/sh
# labctl undo wrapper: runs one role's undo.sh on an existing machine of a
# hosts lab (docs/hosts.md) with the variables its provision.sh had, as root,
# then forgets the role's files under /var/lib/labctl/roles, so a second
# `labctl down` finds nothing left to undo for it.
#
# labctl uploads the role folders next to this file's folder and an env file
# (mode 0600) over SFTP, then runs `sudo /bin/sh undo-wrapper.sh ENVFILE`, as
# for provision.sh (wrapper.sh).
set -u
if [ -n "${1:-}" ]; then
    set -a
    . "$1"
    set +a
    rm -f "$1"
fi
: "${LABCTL_ROLE:?LABCTL_ROLE is not set}"
roles_dir=$(cd "$(dirname "$0")/.." && pwd)
role_dir="$roles_dir/$LABCTL_ROLE"
[ -f "$role_dir/undo.sh" ] || { echo "labctl: role $LABCTL_ROLE has no undo.sh" >&2; exit 2; }

export LABCTL_LIB="$roles_dir/_labctl/lib.sh"
export LABCTL_ROLE_DIR="$role_dir"
export LABCTL_VAR=/var/lib/labctl
mkdir -p "$LABCTL_VAR/roles"
# The library's helpers record results; an undo's go to a scratch file, never
# to the role's own result.
export LABCTL_RESULT="$LABCTL_VAR/roles/$LABCTL_ROLE.undo"
export LABCTL_PUBLISH=/dev/null
LABCTL_STEPS=$(grep -c '^[[:space:]]*step ' "$role_dir/undo.sh" || true)
export LABCTL_STEPS
export DEBIAN_FRONTEND=noninteractive
cd "$role_dir" || exit 2
bash -c 'set -euo pipefail; . "$LABCTL_LIB"; . ./undo.sh' "labctl-undo-$LABCTL_ROLE"
rc=$?
if [ "$rc" -eq 0 ]; then
    rm -f "$LABCTL_VAR/roles/$LABCTL_ROLE.result" "$LABCTL_VAR/roles/$LABCTL_ROLE.publish" "$LABCTL_RESULT"
fi
exit $rc
