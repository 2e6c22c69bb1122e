#!/bin/sh
# archive_command fast path: `archive-fast.sh %p %f [walmgr archive options]`.
# When the background `walmgr archive-ahead` process (or an earlier call) already stored this
# file, it left a marker whose first line is the file's `stat -c '%s %i %Y'`; then we are done
# without starting Node. While that process runs (its pid in the lock, alive), a file it has
# not stored yet is on its way: waited for here (up to 30 s), unless it failed there (an
# `.error` note) or is the one its starter stores itself. Otherwise hand over to the full
# command, which uploads (and starts archive-ahead for a backlog).
# Shell built-ins but for `stat` once, `rm` and `sleep`: on a loaded machine every process
# started waits for a CPU.
p="$1"
f="$2"
spool=pg_wal/skytools_walmgr
prev=
for a in "$@"; do
  if [ "$prev" = "--spool" ]; then spool="$a"; fi
  prev="$a"
done
m="$spool/archive/$f.ok"
lock="$spool/.archive-ahead.lock"
stamp=
marked() {
  [ -f "$m" ] || return 1
  line=
  { read -r line <"$m"; } 2>/dev/null
  [ -n "$stamp" ] || stamp=$(stat -c '%s %i %Y' "$p" 2>/dev/null)
  [ -n "$line" ] && [ "$line" = "$stamp" ]
}
running() {
  pid=
  skip=
  [ -f "$lock" ] && { { read -r pid; read -r skip; } <"$lock"; } 2>/dev/null
  [ -n "$pid" ] && [ "$skip" != "$f" ] && kill -0 "$pid" 2>/dev/null
}
if ! marked && running; then
  i=0
  while ! marked && [ ! -f "$spool/archive/$f.error" ] && [ $i -lt 600 ] && running; do
    sleep 0.05
    i=$((i + 1))
  done
fi
if marked; then
  rm -f "$m"
  exit 0
fi
exec "${SKYTOOLS_NODE:-node}" "$(dirname "$0")/../../bin/skytools.js" walmgr archive "$@"
