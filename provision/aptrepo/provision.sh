#!/bin/bash
# aptrepo: serve the lab's signed offline package repository over HTTP.
#
# The repository is built on the host by `labctl repo build LAB` (packages with
# their dependencies, Packages/Release, InRelease and Release.gpg signed with
# the lab's own key) and uploaded with this role as its `repo/` folder. This
# role copies it to /srv/labctl-repo and serves it read-only with nginx at
# http://<node ip>/repo/.
#
# Publishes, for the offline-apt role on other nodes:
#   APT_REPO_URL          http://<node ip>/repo
#   APT_REPO_KEY          the repository's public key (binary OpenPGP keyring,
#                         base64 on one line), for /etc/apt/keyrings/lab-repo.gpg
#   APT_REPO_FINGERPRINT  the key's fingerprint (40 hex digits)
# nginx's default site is replaced (port 80 belongs to this role), so the
# role cannot share a node with gitserver.

SRC=$PWD/repo
DEST=/srv/labctl-repo

step "check the uploaded repository"
for f in InRelease Release Release.gpg Packages Packages.gz lab-repo.gpg; do
    [ -f "$SRC/$f" ] || {
        echo "aptrepo: $f is missing from the uploaded repository ($SRC)." >&2
        echo "aptrepo: build it on the host with \`labctl repo build $LABCTL_LAB\`; labctl uploads it with this role" >&2
        exit 2
    }
done
if [ -e /etc/nginx/sites-enabled/git ]; then
    echo "aptrepo: this node also runs gitserver; both need nginx's default server on port 80" >&2
    exit 2
fi
fpr=$(gpgv --keyring "$SRC/lab-repo.gpg" --status-fd 1 "$SRC/InRelease" 2>/dev/null | sed -n 's/^\[GNUPG:\] VALIDSIG \([0-9A-F]\{40\}\) .*/\1/p' | head -n1)
[ -n "$fpr" ] || { echo "aptrepo: InRelease does not verify with lab-repo.gpg" >&2; exit 1; }
echo "aptrepo: repository signed by $fpr, $(find "$SRC/pool" -name '*.deb' | wc -l) package(s)"

step "packages"
ensure_packages nginx

step "repository under $DEST"
if ! diff -rq "$SRC" "$DEST" >/dev/null 2>&1; then
    rm -rf "$DEST.new" "$DEST.old"
    cp -R "$SRC" "$DEST.new"
    chmod -R u=rwX,go=rX "$DEST.new"
    [ -d "$DEST" ] && mv "$DEST" "$DEST.old"
    mv "$DEST.new" "$DEST"
    rm -rf "$DEST.old"
    echo "aptrepo: repository installed in $DEST"
    changed
else
    unchanged
fi

step "nginx serves /repo/"
reload=0
cmp -s nginx-repo.conf /etc/nginx/sites-available/labctl-repo || reload=1
install_file nginx-repo.conf /etc/nginx/sites-available/labctl-repo 0644
if [ "$(readlink /etc/nginx/sites-enabled/labctl-repo || true)" != /etc/nginx/sites-available/labctl-repo ]; then
    ln -sfn /etc/nginx/sites-available/labctl-repo /etc/nginx/sites-enabled/labctl-repo
    reload=1
    changed
fi
if [ -e /etc/nginx/sites-enabled/default ] || [ -L /etc/nginx/sites-enabled/default ]; then
    rm -f /etc/nginx/sites-enabled/default
    reload=1
    changed
fi
nginx -t -q
if service nginx status >/dev/null 2>&1; then
    enable_service nginx
    if [ "$reload" = 1 ]; then
        service nginx reload
        changed
    fi
else
    enable_service nginx
fi

step "the repository answers over HTTP"
url="http://$LABCTL_NODE_IP/repo"
ok=0
for _ in $(seq 1 20); do
    if curl -fsS -o /tmp/labctl-aptrepo.inrelease "$url/InRelease" 2>/dev/null &&
        cmp -s /tmp/labctl-aptrepo.inrelease "$DEST/InRelease"; then
        ok=1
        break
    fi
    sleep 0.5
done
rm -f /tmp/labctl-aptrepo.inrelease
[ "$ok" = 1 ] || { echo "aptrepo: $url/InRelease does not answer with the repository's file" >&2; exit 1; }
echo "aptrepo: $url serves the repository"

step "publish APT_REPO_URL, APT_REPO_KEY, APT_REPO_FINGERPRINT"
publish APT_REPO_URL "$url"
publish APT_REPO_KEY "$(base64 -w0 "$DEST/lab-repo.gpg")"
publish APT_REPO_FINGERPRINT "$fpr"
