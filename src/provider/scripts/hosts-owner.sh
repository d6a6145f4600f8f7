# labctl: whose are labctl's folders on this existing machine (docs/hosts.md),
# as one marker line: `owner NAME` (the lab named in /var/lib/labctl/lab),
# `owner ?` (/var/lib/labctl or ~/.labctl is there without that marker, so
# labctl did not make it for a lab) or `owner -` (neither is there). Run as
# the login user; changes nothing. Appended to the preflight before `up` and
# put before `down`'s undo list, which judge the answer each their own way;
# one probe, so both agree on what a machine's owner is.
if [ -f /var/lib/labctl/lab ]; then
    printf '::labctl:: owner %s\n' "$(head -n 1 /var/lib/labctl/lab)"
elif [ -e /var/lib/labctl ] || [ -e "$HOME/.labctl" ]; then
    echo '::labctl:: owner ?'
else
    echo '::labctl:: owner -'
fi
