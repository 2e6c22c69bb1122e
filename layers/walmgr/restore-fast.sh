#!/bin/sh
# restore_command fast path: `restore-fast.sh %f %p [walmgr options]`.
# A segment already prefetched into the spool (fetched, decompressed and verified by
# `walmgr restore-prefetch`, written atomically) is moved into place without starting Node;
# when the window runs low a background prefetcher is started. Anything else goes to
# `walmgr restore-wal`, which fetches, verifies and sets the exit code PostgreSQL expects.
f="$1"
p="$2"
spool=pg_wal/skytools_walmgr
window=8
prev=
for a in "$@"; do
  if [ "$prev" = "--spool" ]; then spool="$a"; fi
  if [ "$prev" = "--prefetch" ]; then window="$a"; fi
  prev="$a"
done
node="${SKYTOOLS_NODE:-node}"
cli="$(dirname "$0")/../../bin/skytools.js"
s="$spool/restore/$f"
if [ -f "$s" ] && mv -f "$s" "$p"; then
  left=$(ls "$spool/restore" 2>/dev/null | grep -c '^[0-9A-F]\{24\}$')
  lock="$spool/restore/.prefetch.lock"
  fresh=0
  if [ -f "$lock" ] && [ $(($(date +%s) - $(stat -c %Y "$lock" 2>/dev/null || echo 0))) -lt 120 ]; then fresh=1; fi
  # Refill as soon as the window is short, so fetching overlaps with replay.
  if [ "$left" -lt "$window" ] && [ "$fresh" = 0 ]; then
    shift 2
    (setsid "$node" "$cli" walmgr restore-prefetch "$f" "$(stat -c %s "$p")" "$@" </dev/null >/dev/null 2>&1 &)
  fi
  exit 0
fi
exec "$node" "$cli" walmgr restore-wal "$@"
