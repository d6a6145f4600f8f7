# labctl, before lab traffic on a hosts lab: does this machine hold lab
# address $1 on one of its interfaces? Prints a marker line with the answer.
if ip -o -4 addr show 2>/dev/null | awk '{split($4, a, "/"); print a[1]}' | grep -qxF "$1"; then
    echo '::labctl:: holds yes'
else
    echo '::labctl:: holds no'
fi
