# labctl check script: what cron runs for user $1. The user's crontab, then
# every system crontab, each after a marker line (::labctl:: crontab, rc,
# file) that labctl reads.
echo '::labctl:: crontab'
crontab -l -u "$1" 2>&1
rc=$?
echo
echo "::labctl:: rc $rc"
for f in /etc/crontab /etc/cron.d/*; do
    [ -f "$f" ] || continue
    printf '::labctl:: file %s\n' "$f"
    cat -- "$f"
    echo
done
true
