#!/bin/bash
# import.sh: turn the tarball from build-rootfs.sh into the node image (no Dockerfile).
# Inputs (environment only): TARBALL (required), IMAGE_TAG (default labctl-node:latest),
# INPUTS_HASH (optional, recorded as label labctl.inputs-hash for the image cache),
# RELEASE (default bookworm, recorded as a label). Prints the image id.
set -euo pipefail
TARBALL=${TARBALL:?TARBALL is required}
IMAGE_TAG=${IMAGE_TAG:-labctl-node:latest}
RELEASE=${RELEASE:-bookworm}
INPUTS_HASH=${INPUTS_HASH:-none}
[[ $IMAGE_TAG =~ ^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$ ]] || { echo "bad IMAGE_TAG" >&2; exit 1; }
[[ $RELEASE =~ ^[a-z][a-z0-9-]{1,30}$ ]] || { echo "bad RELEASE" >&2; exit 1; }
[[ $INPUTS_HASH =~ ^[A-Za-z0-9]{1,128}$ ]] || { echo "bad INPUTS_HASH" >&2; exit 1; }
[ -f "$TARBALL" ] || { echo "no such tarball: $TARBALL" >&2; exit 1; }
exec docker import \
    --change 'CMD ["/usr/local/sbin/labctl-init"]' \
    --change "LABEL labctl.image=node labctl.release=$RELEASE labctl.inputs-hash=$INPUTS_HASH" \
    --message "labctl node image (debootstrap $RELEASE minbase)" \
    "$TARBALL" "$IMAGE_TAG"
