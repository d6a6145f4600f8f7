#!/bin/bash
# ansible-mgmt: the management node. ansible-core from Debian, an SSH key for
# root made once (its public half published as MGMT_PUBKEY for the managed
# role), the lab inventory /etc/ansible/lab/hosts and /etc/ansible/lab/ansible.cfg.
# Host keys of the nodes are collected by ansible-push, once the nodes trust
# this key (see its role.toml ordering).

LAB_DIR=/etc/ansible/lab
KEY=/root/.ssh/id_ed25519

# The lab's nodes as an Ansible inventory: single nodes by name, nodes made by
# `count` (web1, web2) in a group named like the lab's [[node]] (web). This node
# is managed locally. Kept in step with gitserver's inventory for ansible-pull.
lab_inventory() {
    local entry name ip stem g extra
    local -a singles=() order=()
    local -A members=()
    for entry in $LABCTL_NODES; do
        name=${entry%%=*} ip=${entry#*=}
        [[ $name =~ ^[a-z0-9][a-z0-9-]*$ && $ip =~ ^[0-9]+(\.[0-9]+){3}$ ]] || {
            echo "ansible-mgmt: unexpected entry in LABCTL_NODES: $entry" >&2
            return 2
        }
        extra=
        [ "$name" = "$LABCTL_NODE" ] && extra=" ansible_connection=local"
        if [[ $name =~ ^(.*[a-z-])[0-9]+$ ]]; then
            stem=${BASH_REMATCH[1]%-}
            stem=${stem//-/_}
            [ -n "${members[$stem]:-}" ] || order+=("$stem")
            members[$stem]+="$name ansible_host=$ip$extra"$'\n'
        else
            singles+=("$name ansible_host=$ip$extra")
        fi
    done
    echo "# The nodes of lab $LABCTL_LAB (written by labctl role ansible-mgmt from the lab file)."
    printf '%s\n' "${singles[@]}"
    for g in "${order[@]}"; do
        printf '\n[%s]\n%s' "$g" "${members[$g]}"
    done
    printf '\n[all:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n'
}

step "packages"
ensure_packages ansible-core openssh-client git
[ -n "${LABCTL_NODES:-}" ] || { echo "ansible-mgmt: LABCTL_NODES is empty" >&2; exit 2; }

step "SSH key for root"
if [ ! -d /root/.ssh ] || [ "$(stat -c %a /root/.ssh)" != 700 ]; then
    install -d -m 0700 /root/.ssh
    changed
fi
if [ ! -f "$KEY" ]; then
    rm -f "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C "root@$LABCTL_NODE (labctl lab $LABCTL_LAB)" -f "$KEY"
    echo "ansible-mgmt: made $KEY"
    changed
elif [ ! -f "$KEY.pub" ] || [ "$(cut -d' ' -f1,2 "$KEY.pub")" != "$(ssh-keygen -y -f "$KEY" | cut -d' ' -f1,2)" ]; then
    ssh-keygen -y -f "$KEY" | sed "s|\$| root@$LABCTL_NODE (labctl lab $LABCTL_LAB)|" >"$KEY.pub"
    chmod 0644 "$KEY.pub"
    changed
fi
ssh-keygen -l -f "$KEY.pub"

step "inventory and ansible.cfg in $LAB_DIR"
lab_inventory | install_content "$LAB_DIR/hosts" 0644
install_file ansible.cfg "$LAB_DIR/ansible.cfg" 0644
ANSIBLE_CONFIG=$LAB_DIR/ansible.cfg ansible-inventory --graph

step "publish MGMT_PUBKEY"
publish MGMT_PUBKEY "$(head -n1 "$KEY.pub")"
