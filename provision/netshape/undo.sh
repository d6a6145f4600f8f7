#!/bin/bash
# netshape's undo (hosts labs, docs/hosts.md): remove the token bucket that
# provision.sh put on the lab interface. provision.sh writes its record
# (/etc/labctl/netshape: "DEV QDISC...") before it shapes, so a run that
# stopped half way is undone too; without a record there is nothing of
# netshape's, and a qdisc labctl did not put there stays.
step "remove the token bucket"
if [ -f /etc/labctl/netshape ]; then
    read -r dev _ </etc/labctl/netshape
    if tc qdisc show dev "$dev" root 2>/dev/null | grep -q '^qdisc tbf '; then
        tc qdisc del dev "$dev" root
        echo "netshape: removed the token bucket on $dev"
        changed
    else
        echo "netshape: no token bucket on $dev"
    fi
    rm -f /etc/labctl/netshape
    # provision.sh made the folder when it was not there; an empty one goes.
    rmdir /etc/labctl 2>/dev/null || true
else
    echo "netshape: nothing recorded, nothing to undo"
fi
