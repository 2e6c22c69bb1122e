#!/bin/sh
# restore_command fast path: `restore-fast.sh %f %p [walmgr options]`.
# A segment already prefetched into the spool (fetched, decompressed and verified by
# `walmgr restore-prefetch`, written atomically) is moved into place without starting Node;
# when the window runs low a background prefetcher is started. A segment a running prefetcher
# has not delivered yet is waited for here (up to 5 s, as restore-wal would), not by starting
# Node. Anything else goes to `walmgr restore-wal`, which fetches, verifies and sets the exit
# code PostgreSQL expects.
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
dir="$spool/restore"
s="$dir/$f"
lock="$dir/.prefetch.lock"
# "Written less than $2 seconds ago" for file $1 (a prefetcher's lock, the end-of-archive note).
fresh() { [ -f "$1" ] && [ $(($(date +%s) - $(stat -c %Y "$1" 2>/dev/null || echo 0))) -lt "$2" ]; }
# A running prefetcher fetches the window after the segment recovery last took: a segment of
# it not there yet is on its way. Only segments (24 hex digits), and only with prefetch on.
if [ ! -f "$s" ] && [ "$window" != 0 ] && fresh "$lock" 120 && expr "$f" : '[0-9A-F]\{24\}$' >/dev/null; then
  i=0
  while [ ! -f "$s" ] && [ $i -lt 250 ] && [ -f "$lock" ]; do
    sleep 0.02
    i=$((i + 1))
  done
fi
if [ -f "$s" ] && mv -f "$s" "$p"; then
  left=$(ls "$dir" 2>/dev/null | grep -c '^[0-9A-F]\{24\}$')
  # Refill as soon as the window is short, so fetching overlaps with replay; not while a
  # prefetcher runs, nor just after one stopped at the end of the archive (.prefetch.end: the
  # segments after it are not archived yet, a new prefetcher would only find that again).
  if [ "$left" -lt "$window" ] && ! fresh "$lock" 120 && ! fresh "$dir/.prefetch.end" 5; then
    shift 2
    (setsid "$node" "$cli" walmgr restore-prefetch "$f" "$(stat -c %s "$p")" "$@" </dev/null >/dev/null 2>&1 &)
  fi
  exit 0
fi
exec "$node" "$cli" walmgr restore-wal "$@"
