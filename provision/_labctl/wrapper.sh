#!/bin/sh
# labctl role wrapper: runs one role's provision.sh with its variables.
#
# labctl uploads the role folders next to this file's folder and an env file
# (mode 0600) over SFTP, then runs `sudo /bin/sh wrapper.sh ENVFILE`. Values
# travel in that file, never on a command line, so they stay out of process
# lists and logs. Under plain Vagrant the same variables arrive through the shell
# provisioner's `env:` and no env file is given.
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
[ -f "$role_dir/provision.sh" ] || { echo "labctl: role $LABCTL_ROLE has no provision.sh" >&2; exit 2; }

export LABCTL_LIB="$roles_dir/_labctl/lib.sh"
export LABCTL_ROLE_DIR="$role_dir"
export LABCTL_VAR=/var/lib/labctl
mkdir -p "$LABCTL_VAR/roles"
chmod 0755 "$LABCTL_VAR"
export LABCTL_RESULT="$LABCTL_VAR/roles/$LABCTL_ROLE.result"
export LABCTL_PUBLISH="$LABCTL_VAR/roles/$LABCTL_ROLE.publish"
rm -f "$LABCTL_RESULT"
: >"$LABCTL_PUBLISH"
# Steps are counted up front so progress and failures read "step 3/5".
LABCTL_STEPS=$(grep -c '^[[:space:]]*step ' "$role_dir/provision.sh" || true)
export LABCTL_STEPS
export DEBIAN_FRONTEND=noninteractive
cd "$role_dir" || exit 2
bash -c 'set -euo pipefail; . "$LABCTL_LIB"; . ./provision.sh' "labctl-$LABCTL_ROLE"
rc=$?
# A role that neither changed nor compared anything reported nothing: say so
# (`unreported`), never `unchanged`, which only a measurement may claim.
[ -f "$LABCTL_RESULT" ] || echo unreported >"$LABCTL_RESULT"
exit $rc
