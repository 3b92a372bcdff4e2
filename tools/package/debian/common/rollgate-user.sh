# Shared by the maintainer scripts of rollgate-coordinator and rollgate-agent (inlined at build
# time by tools/package/package.mjs, so each package is self-contained).

# The `rollgate` system user and group both packages run as; created once, kept on upgrade.
rollgate_ensure_user() {
  if ! getent group rollgate >/dev/null; then
    groupadd --system rollgate
  fi
  if ! getent passwd rollgate >/dev/null; then
    useradd --system --gid rollgate --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin --comment "Rollgate" rollgate
  fi
}

# True when another Rollgate package than $1 is still installed (or half-installed): the shared
# user and /etc/rollgate stay until the last of them is purged.
rollgate_others_installed() {
  for other in rollgate-coordinator rollgate-agent; do
    [ "$other" = "$1" ] && continue
    status=$(dpkg-query -W -f='${db:Status-Status}' "$other" 2>/dev/null || true)
    case "$status" in
      "" | not-installed) ;;
      *) return 0 ;;
    esac
  done
  return 1
}

rollgate_remove_user() {
  if getent passwd rollgate >/dev/null; then
    userdel rollgate || true
  fi
  if getent group rollgate >/dev/null; then
    groupdel rollgate || true
  fi
}

# systemd is only asked when it runs the machine (containers and these test hosts have no systemd
# as PID 1): the processes are then started by hand, as the units' ExecStart lines say.
rollgate_have_systemd() {
  [ -d /run/systemd/system ]
}
