#!/usr/bin/env bash
# Benchmark of `labctl render`, as a whole process (start-up, parsing,
# validation, template rendering and writing the files):
#   (a) the shipped `workflow` lab            goal: under 20 ms
#   (b) a generated lab of 200 nodes          goal: under 200 ms
#
# Usage: bench/render.sh   (RUNS=50 NODES=200 to change the defaults;
#                           NO_HYPERFINE=1 to use the bash loop anyway)
#
# Builds the release binary first. Uses hyperfine when it is installed
# (`apt-get install -y hyperfine`), else a bash loop timed with `date +%s%N`.
# Prints the mean (and min/max) of each and whether it meets its goal.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
NODES=${NODES:-200}

echo "building release binary..." >&2
cargo build --release --quiet
BIN=$PWD/target/release/labctl

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# A lab of $NODES nodes on 10.77.0.0/16 (outside VirtualBox's default range: a
# warning, which is fine) using the shipped roles with their ordering met:
# a git server, an Ansible management node, Docker nodes, shaped nodes, and
# managed nodes pulling their configuration.
gen_lab() {
    local n=$1 i roles a b
    printf 'name = "big"\ndescription = "generated lab of %d nodes"\n\n' "$n"
    printf '[defaults]\nmemory = 256\n\n[network]\nsubnet = "10.77.0.0/16"\n'
    for ((i = 0; i < n; i++)); do
        if ((i == 0)); then roles='["gitserver"]'
        elif ((i == 1)); then roles='["ansible-mgmt", "ansible-push"]'
        elif ((i % 10 == 0)); then roles='["docker-host", "compose-deploy"]'
        elif ((i % 10 == 5)); then roles='["netshape"]'
        else roles='["managed", "ansible-pull"]'
        fi
        a=$(((10 + i) / 256)); b=$(((10 + i) % 256))
        printf '\n[[node]]\nname = "n%d"\nip = "10.77.%d.%d"\nroles = %s\n' "$i" "$a" "$b" "$roles"
        ((i % 10 == 0)) && printf 'nested_containers = true\n'
        if ((i % 25 == 3)); then
            printf 'forward = [{ guest = 80, host = %d }]\n' $((20000 + i))
            printf 'disks = [{ name = "data", size = "2G" }]\n'
        fi
    done
    printf '\n[[check]]\nname = "n2 serves"\nkind = "http"\nfrom = "n1"\nurl = "http://10.77.0.12/"\n'
}

mkdir -p "$TMP/big"
gen_lab "$NODES" > "$TMP/big/lab.toml"

# Both must work before they are timed.
"$BIN" render workflow --out "$TMP/wf" > /dev/null
"$BIN" render "$TMP/big/lab.toml" --out "$TMP/big-out" > /dev/null 2>&1
defined=$(grep -c "config.vm.define " "$TMP/big-out/Vagrantfile")
[[ $defined == "$NODES" ]] || { echo "expected $NODES nodes in the Vagrantfile, found $defined" >&2; exit 1; }

CMD_A="$BIN render workflow --out $TMP/wf"
CMD_B="$BIN render $TMP/big/lab.toml --out $TMP/big-out"

report() { # name mean_ms min_ms max_ms goal_ms
    local verdict
    verdict=$(awk -v m="$2" -v g="$5" 'BEGIN { print (m < g) ? "meets" : "MISSES" }')
    printf '%-32s mean %7.2f ms  (min %.2f, max %.2f)  %s the goal of < %d ms\n' "$1" "$2" "$3" "$4" "$verdict" "$5"
}

if [[ -z ${NO_HYPERFINE:-} ]] && command -v hyperfine > /dev/null; then
    echo "timing with $(hyperfine --version), $RUNS runs each" >&2
    # --shell=none: time labctl itself, not a shell around it. Rendering into
    # the same folder again is what users do; unchanged files are not rewritten.
    hyperfine --shell=none --warmup 5 --runs "$RUNS" --style basic \
        --command-name "render workflow" "$CMD_A" \
        --command-name "render $NODES-node lab" "$CMD_B" \
        --export-csv "$TMP/results.csv" >&2
    echo
    # CSV columns: command,mean,stddev,median,user,system,min,max (seconds)
    while IFS=, read -r name mean _ _ _ _ min max; do
        [[ $name == command ]] && continue
        goal=20
        [[ $name == *node* ]] && goal=200
        report "$name" "$(awk -v x="$mean" 'BEGIN { print x * 1000 }')" \
            "$(awk -v x="$min" 'BEGIN { print x * 1000 }')" "$(awk -v x="$max" 'BEGIN { print x * 1000 }')" "$goal"
    done < "$TMP/results.csv"
else
    echo "timing a bash loop, $RUNS runs each (hyperfine not found or NO_HYPERFINE set; apt-get install -y hyperfine)" >&2
    time_cmd() { # name goal_ms command...
        local name=$1 goal=$2 i t0 t1 total=0 min= max=0 d
        shift 2
        for ((i = 0; i < 5; i++)); do "$@" > /dev/null 2>&1; done
        for ((i = 0; i < RUNS; i++)); do
            t0=$(date +%s%N)
            "$@" > /dev/null 2>&1
            t1=$(date +%s%N)
            d=$((t1 - t0))
            total=$((total + d))
            [[ -z $min || $d -lt $min ]] && min=$d
            ((d > max)) && max=$d
        done
        report "$name" "$(awk -v t="$total" -v n="$RUNS" 'BEGIN { print t / n / 1e6 }')" \
            "$(awk -v x="$min" 'BEGIN { print x / 1e6 }')" "$(awk -v x="$max" 'BEGIN { print x / 1e6 }')" "$goal"
    }
    # shellcheck disable=SC2086 # the commands are word lists without spaces in paths
    time_cmd "render workflow" 20 $CMD_A
    # shellcheck disable=SC2086
    time_cmd "render $NODES-node lab" 200 $CMD_B
fi
