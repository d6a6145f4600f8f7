# labctl, before it changes an existing machine of hosts lab $1 (docs/hosts.md):
# can the login user become root without a password, which OS family is
# this, and who owns labctl's folders here (hosts-owner.sh, appended to this
# text by hosts.rs). Run as the login user; changes nothing. Answers are
# marker lines.
if sudo -n true >/dev/null 2>&1; then
    echo '::labctl:: sudo ok'
else
    echo '::labctl:: sudo no'
fi
ID='' ID_LIKE=''
[ -r /etc/os-release ] && . /etc/os-release
printf '::labctl:: os %s %s\n' "${ID:-unknown}" "${ID_LIKE:-}"
