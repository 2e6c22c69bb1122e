#!/bin/sh
# restore_command fast path: `restore-fast.sh %f %p [walmgr options]`.
# A segment already prefetched into the spool (fetched, decompressed and verified by
# `walmgr restore-prefetch`, written atomically) is moved into place without starting Node;
# when the window runs low a background prefetcher is started. A segment a running (or
# starting) prefetcher has not delivered yet is waited for here (up to 5 s, as restore-wal
# would), not by starting Node. Anything else goes to `walmgr restore-wal`, which fetches,
# verifies and sets the exit code PostgreSQL expects.
# Shell built-ins only on the path of a prefetched segment, but for `mv`: on a loaded machine
# every process started waits for a CPU, and that wait, not the work, was most of a call.
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
cli="${0%/*}/../../bin/skytools.js"
dir="$spool/restore"
s="$dir/$f"
# The lock holds the running prefetcher's pid: alive means a prefetcher is at work.
lock="$dir/.prefetch.lock"
running() {
  pid=
  [ -f "$lock" ] && { read -r pid <"$lock"; } 2>/dev/null
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
# Touched by whoever starts a prefetcher, removed by it once it holds the lock: its Node start
# (~0.3 s) is waited for too, rather than starting restore-wal meanwhile.
starting="$dir/.prefetch.starting"
# "Written less than $2 seconds ago" for file $1 (the starting note, the end-of-archive note).
fresh() { [ -f "$1" ] && [ $(($(date +%s) - $(stat -c %Y "$1" 2>/dev/null || echo 0))) -lt "$2" ]; }
segment=0
case "$f" in
*[!0-9A-F]*) ;;
????????????????????????) segment=1 ;;
esac
# A running prefetcher fetches the window after the segment recovery last took: a segment of
# it not there yet is on its way. Only segments, and only with prefetch on.
if [ ! -f "$s" ] && [ "$segment" = 1 ] && [ "$window" != 0 ] && { running || fresh "$starting" 3; }; then
  i=0
  while [ ! -f "$s" ] && [ $i -lt 250 ] && { running || fresh "$starting" 3; }; do
    sleep 0.02
    i=$((i + 1))
  done
fi
if [ -f "$s" ] && mv -f "$s" "$p"; then
  left=0
  for x in "$dir"/????????????????????????; do
    case "${x##*/}" in
    *[!0-9A-F]*) ;;
    *) if [ -f "$x" ]; then left=$((left + 1)); fi ;;
    esac
  done
  # Refill as soon as the window is short, so fetching overlaps with replay; not while a
  # prefetcher runs or starts, nor just after one stopped at the end of the archive
  # (.prefetch.end: the segments after it are not archived yet, a new one would find that again).
  if [ "$left" -lt "$window" ] && ! running && ! fresh "$starting" 3 && ! fresh "$dir/.prefetch.end" 5; then
    shift 2
    : >"$starting" 2>/dev/null
    (setsid "$node" "$cli" walmgr restore-prefetch "$f" "$(stat -c %s "$p")" "$@" </dev/null >/dev/null 2>&1 &)
  fi
  exit 0
fi
exec "$node" "$cli" walmgr restore-wal "$@"
