#!/bin/bash
# offline-apt: make the lab's signed package repository the node's only package
# source, take the node offline by configuration, install packages from it.
#
# - the repository's public key (published by aptrepo as APT_REPO_KEY) goes to
#   /etc/apt/keyrings/lab-repo.gpg;
# - /etc/apt/sources.list.d/lab.sources (deb822) names the repository
#   (APT_REPO_URL) with `Signed-By:` that key. Nothing is trusted without a
#   signature: no source is marked trusted, unsigned downloads stay refused;
#   the role refuses to run when /etc/apt holds a setting that allows them;
# - every other source (/etc/apt/sources.list, sources.list.d/*) is moved to
#   /var/lib/labctl/offline-apt/disabled-sources/;
# - no default route: /etc/init.d/labctl-offline removes it now and at every
#   boot (listed in /etc/labctl/services). The node still talks to everything
#   on the lab network, the host included (the host is the network's gateway
#   address, which is on-link);
# - `apt-get update` must succeed with no warning, then the packages of the node
#   variable offline_packages (space or comma separated; `labctl repo build`
#   puts them and their dependencies into the repository) are installed and
#   must come from the lab repository.
# Variables: APT_REPO_URL, APT_REPO_KEY (published by aptrepo), OFFLINE_PACKAGES.

KEYRING=/etc/apt/keyrings/lab-repo.gpg
SOURCES=/etc/apt/sources.list.d/lab.sources
DISABLED=/var/lib/labctl/offline-apt/disabled-sources

step "check inputs"
url=${APT_REPO_URL:-}
url=${url%/}
if ! [[ $url =~ ^http://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*$ ]]; then
    echo "offline-apt: APT_REPO_URL '${APT_REPO_URL:-}' is not an http:// URL; the aptrepo role publishes it (the lab needs a node with the role aptrepo)" >&2
    exit 2
fi
key=${APT_REPO_KEY:-}
if ! [[ $key =~ ^[A-Za-z0-9+/]+=*$ ]]; then
    echo "offline-apt: APT_REPO_KEY is missing or not base64; the aptrepo role publishes it" >&2
    exit 2
fi
packages=()
for p in ${OFFLINE_PACKAGES//,/ }; do
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]{1,62}$ ]] || { echo "offline-apt: offline_packages: '$p' is not a Debian package name" >&2; exit 2; }
    packages+=("$p")
done
# Unsigned or insecure repositories must never be accepted on this node.
insecure_re='AllowUnauthenticated|Allow-?Insecure|AllowDowngradeToInsecure|trusted=yes|^[[:space:]]*Trusted:[[:space:]]*yes' # labctl-lint: allow (what is refused)
insecure=$(grep -rlIiE "$insecure_re" /etc/apt 2>/dev/null || true)
if [ -n "$insecure" ]; then
    echo "offline-apt: these files accept unsigned or insecure repositories; remove the setting first:" >&2
    echo "$insecure" >&2
    exit 1
fi

step "the lab repository's key in $KEYRING"
keyfile=$(mktemp)
printf '%s' "$key" | base64 -d >"$keyfile"
[ -s "$keyfile" ] || { echo "offline-apt: APT_REPO_KEY decodes to nothing" >&2; exit 2; }
install_file "$keyfile" "$KEYRING" 0644
rm -f "$keyfile"
if [ "$(stat -c %a /etc/apt/keyrings)" != 755 ]; then
    chmod 0755 /etc/apt/keyrings
    changed
fi

step "the lab repository is the only package source"
printf '%s\n' \
    "# The lab's signed package repository (labctl roles aptrepo + offline-apt):" \
    "# the only package source of this node. Other sources were moved to" \
    "# $DISABLED." \
    "Types: deb" \
    "URIs: $url/" \
    "Suites: ./" \
    "Signed-By: $KEYRING" | install_content "$SOURCES" 0644
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    [ "$f" = "$SOURCES" ] && continue
    mkdir -p "$DISABLED"
    mv -f "$f" "$DISABLED/${f##*/}"
    echo "offline-apt: moved $f to $DISABLED/"
    changed
done

step "no default route (offline by configuration)"
# On a VM (labctl's libvirt box: systemd-networkd, DHCP on the management
# link from 99-labctl-dhcp.network) DHCP would bring a default route back at
# every renewal and boot; deleting it afterwards races with that. So networkd
# is told not to take a gateway or routes from DHCP, nor IPv6 router
# advertisements, on that link, by configuration that survives reboots.
if [ -f /etc/systemd/network/99-labctl-dhcp.network ]; then
    dropin=/etc/systemd/network/99-labctl-dhcp.network.d/offline.conf
    want=$(printf '%s\n' "# labctl role offline-apt: no way out through the management network" \
        "[Network]" "IPv6AcceptRA=no" "[DHCPv4]" "UseGateway=no" "UseRoutes=no")
    reload=
    [ "$(cat "$dropin" 2>/dev/null)" = "$want" ] || reload=1
    printf '%s\n' "$want" | install_content "$dropin" 0644
    # networkd drops the DHCP gateway route it added once told not to use it.
    [ -z "$reload" ] || networkctl reload
fi
install_file labctl-offline /etc/init.d/labctl-offline 0755
enable_service labctl-offline
if [ -n "$(ip -4 route show default)$(ip -6 route show default 2>/dev/null)" ]; then
    echo "offline-apt: a default route is still present:" >&2
    ip route show default >&2
    exit 1
fi

step "apt-get update from the lab repository"
lists() { find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -exec md5sum {} + 2>/dev/null | sort; }
before=$(lists)
out=$(apt-get update 2>&1) || { echo "$out" >&2; echo "offline-apt: apt-get update failed" >&2; exit 1; }
echo "$out"
if grep -Eq '^(W|E|Err):' <<<"$out"; then
    echo "offline-apt: apt-get update reported a problem (above)" >&2
    exit 1
fi
if [ "$before" = "$(lists)" ]; then
    unchanged
else
    changed
fi

step "packages from the lab repository: ${packages[*]:-(none)}"
if [ ${#packages[@]} -gt 0 ]; then
    ensure_packages "${packages[@]}"
    for p in "${packages[@]}"; do
        v=$(dpkg-query -W -f='${Version}' "$p")
        # madison: "  tree |    2.1.0-1 | http://192.168.56.10/repo ./ Packages"
        if ! apt-cache madison "$p" | awk -F'|' -v v="$v" -v u="$url" '
                { for (i = 1; i <= NF; i++) gsub(/^ +| +$/, "", $i) }
                $2 == v && index($3, u " ") == 1 { found = 1 }
                END { exit !found }'; then
            echo "offline-apt: $p $v is installed but the lab repository does not have it:" >&2
            apt-cache policy "$p" >&2
            exit 1
        fi
        echo "offline-apt: $p $v installed, from $url"
    done
fi
