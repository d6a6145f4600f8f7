#!/bin/sh
# labctl role wrapper: runs one role's provision.sh with its variables.
#
# labctl uploads the role folders next to this file's folder and an env file
# (mode 0600) over SFTP, then runs `sudo /bin/sh wrapper.sh ENVFILE`. Values
# travel in that file, never on a command line, so they stay out of process
# lists and logs. Under plain Vagrant the same variables arrive through the shell
# provisioner's `env:` and no env file is given.
set -u
. "$(dirname "$0")/prologue.sh"
labctl_prologue provision.sh "${1:-}"
chmod 0755 "$LABCTL_VAR"
export LABCTL_RESULT="$LABCTL_VAR/roles/$LABCTL_ROLE.result"
export LABCTL_PUBLISH="$LABCTL_VAR/roles/$LABCTL_ROLE.publish"
rm -f "$LABCTL_RESULT"
: >"$LABCTL_PUBLISH"
bash -c 'set -euo pipefail; . "$LABCTL_LIB"; . ./provision.sh' "labctl-$LABCTL_ROLE"
rc=$?
# A role that neither changed nor compared anything reported nothing: say so
# (`unreported`), never `unchanged`, which only a measurement may claim.
[ -f "$LABCTL_RESULT" ] || echo unreported >"$LABCTL_RESULT"
exit $rc
