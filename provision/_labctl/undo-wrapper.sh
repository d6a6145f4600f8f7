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
. "$(dirname "$0")/prologue.sh"
labctl_prologue undo.sh "${1:-}"
# The library's helpers record results; an undo's go to a scratch file, never
# to the role's own result.
export LABCTL_RESULT="$LABCTL_VAR/roles/$LABCTL_ROLE.undo"
export LABCTL_PUBLISH=/dev/null
bash -c 'set -euo pipefail; . "$LABCTL_LIB"; . ./undo.sh' "labctl-undo-$LABCTL_ROLE"
rc=$?
if [ "$rc" -eq 0 ]; then
    rm -f "$LABCTL_VAR/roles/$LABCTL_ROLE.result" "$LABCTL_VAR/roles/$LABCTL_ROLE.publish" "$LABCTL_RESULT"
fi
exit $rc
