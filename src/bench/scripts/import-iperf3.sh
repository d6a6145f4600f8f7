# labctl bench, on a node of a hosts lab, as the SSH user (sudo -n for root):
# the bench's iperf3 image made in the node's own Docker from the node's own
# iperf3, the binary the raw baseline runs there, so both sides of every ratio
# run the same iperf3 (and the host running labctl needs no Docker and no
# node image). The tag goes into docker-host's record before the image is
# made, so `down` removes it even when this bench is cut short
# (provision/docker-host/undo.sh). labctl puts scripts/collect-iperf3.sh
# before this text as the function `collect`, which writes the tar stream.
#
#   $1 TAG      the image's tag
#   $2 RECORD   docker-host's record folder (/var/lib/labctl/docker-host)
# Exit 3: no iperf3; 4: no docker-host record; 5: the engine does not answer.
set -e
tag=$1 rec=$2
if ! [ -x /usr/bin/iperf3 ]; then
    echo "no /usr/bin/iperf3 (the raw baseline and the containers run the machine's own iperf3: install the iperf3 package)" >&2
    exit 3
fi
if ! sudo -n test -d "$rec"; then
    echo "no docker-host record at $rec (the role did not run here)" >&2
    exit 4
fi
if ! sudo -n docker info >/dev/null 2>&1; then
    echo "its Docker engine does not answer (sudo docker info)" >&2
    exit 5
fi
sudo -n sh -c 'grep -qxF "$1" "$2" 2>/dev/null || printf "%s\n" "$1" >>"$2"' labctl-record "$tag" "$rec/bench-images"
collect | sudo -n docker import --change 'ENTRYPOINT ["/usr/bin/iperf3"]' - "$tag" >/dev/null
