#!/bin/bash
# libvirt-lab-net.sh: create or remove a lab's two libvirt networks, the way
# `labctl up`/`down` will (reference implementation for the Rust side; the
# XML comes from libvirt-network.xml.tmpl and libvirt-mgmt-network.xml.tmpl).
#
#   LAB=NAME SUBNET=192.168.56.0/24 MGMT_SUBNET=192.168.121.0/24 [OFFLINE=1] \
#     [MIRROR_HOST=deb.debian.org] libvirt-lab-net.sh create
#   LAB=NAME libvirt-lab-net.sh remove
#   LAB=NAME libvirt-lab-net.sh show
#
# create: defines and starts labctl-LAB (isolated, no DHCP, no DNS) and
# labctl-LAB_mgmt (DHCP; NAT unless OFFLINE=1); an existing network of that
# name is left as it is when its subnet matches, refused otherwise.
# remove: net-destroy + net-undefine of both (absent ones are fine), then the
# dnsmasq lease/status files libvirt leaves for them.
# Only /24 (or larger) subnets, IPv4. Prints one line per change.
set -euo pipefail
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
V=(virsh -c qemu:///system)
die() { echo "libvirt-lab-net: $*" >&2; exit 1; }

LAB=${LAB:-}
[[ $LAB =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "LAB must match ^[a-z0-9][a-z0-9-]{0,30}$"
NET=labctl-$LAB
MGMT=labctl-${LAB}_mgmt

ip2int() { local IFS=.; read -r a b c d <<<"$1"; echo $(( (a << 24) | (b << 16) | (c << 8) | d )); }
int2ip() { echo "$(( $1 >> 24 & 255 )).$(( $1 >> 16 & 255 )).$(( $1 >> 8 & 255 )).$(( $1 & 255 ))"; }
parse_subnet() { # parse_subnet CIDR -> sets net_i, prefix, mask
    [[ $1 =~ ^([0-9]{1,3}(\.[0-9]{1,3}){3})/([0-9]{1,2})$ ]] || die "'$1' is not an IPv4 CIDR"
    prefix=${BASH_REMATCH[3]}
    [ "$prefix" -ge 8 ] && [ "$prefix" -le 24 ] || die "$1: prefix must be /8../24"
    local m=$(( (0xffffffff << (32 - prefix)) & 0xffffffff ))
    net_i=$(( $(ip2int "${BASH_REMATCH[1]}") & m ))
    mask=$(int2ip "$m")
}
net_exists() { "${V[@]}" net-info "$1" >/dev/null 2>&1; }
net_active() { [[ $("${V[@]}" net-info "$1" 2>/dev/null) =~ Active:[[:space:]]+yes ]]; }
net_addr() { "${V[@]}" net-dumpxml "$1" 2>/dev/null | sed -n "s/.*<ip address='\([0-9.]*\)'.*/\1/p" | head -n1; }

define() { # define NAME XML HOST_IP
    if net_exists "$1"; then
        [ "$(net_addr "$1")" = "$3" ] || die "network $1 exists with address $(net_addr "$1"), not $3"
        echo "ok: network $1 exists"
    else
        local f; f=$(mktemp); printf '%s\n' "$2" >"$f"
        "${V[@]}" net-define "$f" >/dev/null; rm -f -- "$f"
        echo "change: defined network $1 ($3)"
    fi
    if ! net_active "$1"; then
        "${V[@]}" net-start "$1" >/dev/null
        echo "change: started network $1"
    fi
}

case "${1:-}" in
create)
    parse_subnet "${SUBNET:?SUBNET is required}"
    lab_host=$(int2ip $(( net_i + 1 ))) lab_mask=$mask
    parse_subnet "${MGMT_SUBNET:?MGMT_SUBNET is required}"
    m_host=$(int2ip $(( net_i + 1 ))) m_mask=$mask
    m_start=$(int2ip $(( net_i + 2 )))
    m_end=$(int2ip $(( net_i + (1 << (32 - prefix)) - 2 )))
    forward="<forward mode='nat'/>"
    [ "${OFFLINE:-0}" = 1 ] && forward=""
    dns_hosts=""
    if [ -n "${MIRROR_HOST:-}" ]; then
        [[ $MIRROR_HOST =~ ^[A-Za-z0-9.-]+$ ]] || die "MIRROR_HOST is not a host name"
        if ! [[ $MIRROR_HOST =~ ^[0-9.]+$ ]]; then
            mip=$(getent ahostsv4 "$MIRROR_HOST" | awk 'NR==1{print $1}')
            [ -n "$mip" ] && dns_hosts="<host ip='$mip'><hostname>$MIRROR_HOST</hostname></host>"
        fi
    fi
    xml=$(sed -e "s|@NAME@|$NET|; s|@HOST_IP@|$lab_host|; s|@NETMASK@|$lab_mask|" \
        "$here/libvirt-network.xml.tmpl")
    define "$NET" "$xml" "$lab_host"
    xml=$(sed -e "s|@NAME@|$MGMT|; s|@HOST_IP@|$m_host|; s|@NETMASK@|$m_mask|" \
        -e "s|@DHCP_START@|$m_start|; s|@DHCP_END@|$m_end|" \
        -e "s|@FORWARD@|$forward|; s|@DNS_HOSTS@|$dns_hosts|" \
        "$here/libvirt-mgmt-network.xml.tmpl")
    define "$MGMT" "$xml" "$m_host"
    ;;
remove)
    for n in "$MGMT" "$NET"; do
        if net_exists "$n"; then
            net_active "$n" && "${V[@]}" net-destroy "$n" >/dev/null
            "${V[@]}" net-undefine "$n" >/dev/null
            echo "change: removed network $n"
        fi
        for f in /var/lib/libvirt/dnsmasq/"$n".conf /var/lib/libvirt/dnsmasq/"$n".hostsfile \
                 /var/lib/libvirt/dnsmasq/"$n".addnhosts; do
            if [ -e "$f" ]; then rm -f -- "$f"; echo "change: removed $f"; fi
        done
    done
    ;;
show)
    for n in "$NET" "$MGMT"; do
        net_exists "$n" && "${V[@]}" net-dumpxml "$n"
    done
    ;;
*) die "usage: LAB=NAME ... $0 create|remove|show" ;;
esac
