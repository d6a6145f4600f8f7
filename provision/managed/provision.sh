#!/bin/bash
# managed: prepares a node for Ansible from mgmt. Trusts mgmt's key
# (MGMT_PUBKEY, published by ansible-mgmt) for root, makes sure python3 is there
# and that sshd lets root in with a key. It installs nothing else: the push
# does the real work.

AUTH=/root/.ssh/authorized_keys

step "inputs and python"
[ -n "${MGMT_PUBKEY:-}" ] || { echo "managed: MGMT_PUBKEY is not set (is ansible-mgmt in the lab?)" >&2; exit 2; }
[[ $MGMT_PUBKEY =~ ^ssh-(ed25519|rsa)\ [A-Za-z0-9+/=]+(\ .*)?$ ]] || {
    echo "managed: MGMT_PUBKEY does not look like an SSH public key" >&2
    exit 2
}
ensure_packages python3 python3-apt
python3 --version

step "mgmt's key in $AUTH"
if [ ! -d /root/.ssh ] || [ "$(stat -c %a /root/.ssh)" != 700 ]; then
    install -d -m 0700 /root/.ssh
    changed
fi
if [ ! -f "$AUTH" ]; then
    install -m 0600 /dev/null "$AUTH"
    changed
elif [ "$(stat -c %a "$AUTH")" != 600 ]; then
    chmod 0600 "$AUTH"
    changed
fi
# Compare type and key, not the comment.
want=$(printf '%s\n' "$MGMT_PUBKEY" | cut -d' ' -f1,2)
if ! cut -d' ' -f1,2 "$AUTH" | grep -qxF "$want"; then
    printf '%s\n' "$MGMT_PUBKEY" >>"$AUTH"
    echo "managed: added mgmt's key to $AUTH"
    changed
fi

step "sshd lets root in with a key"
prl=$(sshd -T -C user=root,host=localhost,addr=127.0.0.1 2>/dev/null | awk '$1 == "permitrootlogin" {print $2}')
case "$prl" in
yes | without-password | prohibit-password) echo "managed: sshd PermitRootLogin $prl" ;;
*)
    printf '# labctl role managed: mgmt logs in as root with its key.\nPermitRootLogin prohibit-password\n' |
        install_content /etc/ssh/sshd_config.d/00-labctl-root-key.conf 0644
    sshd -t
    service ssh reload
    prl=$(sshd -T -C user=root,host=localhost,addr=127.0.0.1 | awk '$1 == "permitrootlogin" {print $2}')
    [ "$prl" = without-password ] || [ "$prl" = prohibit-password ] || {
        echo "managed: sshd still says PermitRootLogin $prl" >&2
        exit 1
    }
    ;;
esac
