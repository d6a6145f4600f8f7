# labctl bench script, run on a node: one subcommand ($1) per step of a
# scenario, its values as arguments. MODE is how the endpoint runs iperf3:
# none (on the node), host (a container with --net=host) or bridge (a
# container on the node's Docker bridge). NAME is the server container's name.
#
#   have-image TAG                  prints yes when the node has image TAG
#   ports                           local ports of every TCP socket
#   server MODE PORT NAME TAG       start a one-test server
#   address NAME                    the server container's bridge address
#   wait MODE PORT NAME             until the server listens (5 s at most)
#   client MODE TAG ADDR PORT DURATION OMIT PARALLEL   a run, iperf3's JSON
#   stop MODE PORT NAME             stop the server, whatever happened
#   version                         iperf3's version line
cmd=$1
shift
case $cmd in
have-image)
    sudo docker image inspect "$1" >/dev/null 2>&1 && echo yes
    ;;
ports)
    ss -Htan | awk '{print $4}'
    ;;
server)
    case $1 in
    none) iperf3 -s -1 -D -p "$2" ;;
    host) sudo docker run -d --rm --net=host --name "$3" "$4" -s -1 -p "$2" ;;
    bridge) sudo docker run -d --rm -p "$2:$2" --name "$3" "$4" -s -1 -p "$2" ;;
    esac
    ;;
address)
    sudo docker inspect -f '{{.NetworkSettings.IPAddress}}' "$1"
    ;;
wait)
    case $1 in
    bridge) for i in $(seq 50); do sudo docker logs "$3" 2>&1 | grep -q 'listening' && exit 0; sleep 0.1; done; exit 1 ;;
    *) for i in $(seq 50); do ss -ltn | grep -q ":$2 " && exit 0; sleep 0.1; done; exit 1 ;;
    esac
    ;;
client)
    mode=$1 tag=$2
    shift 2
    set -- -c "$1" -p "$2" -t "$3" -O "$4" -P "$5" -J
    case $mode in
    none) iperf3 "$@" ;;
    host) sudo docker run --rm --net=host "$tag" "$@" ;;
    bridge) sudo docker run --rm "$tag" "$@" ;;
    esac
    ;;
stop)
    case $1 in
    none) pkill -f "iperf3 -s -1 -D -p $2\$" || true ;;
    *) sudo docker rm -f "$3" >/dev/null 2>&1 || true ;;
    esac
    ;;
version)
    iperf3 --version | head -n1
    ;;
*)
    echo "labctl: unknown bench step $cmd" >&2
    exit 2
    ;;
esac
