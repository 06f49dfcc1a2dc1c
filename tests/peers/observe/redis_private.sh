#!/usr/bin/env bash
# Start (or stop) a private, throw-away redis-server for observation runs.
# usage: redis_private.sh start [port]   -> prints "PORT DIR PID"
#        redis_private.sh stop PORT DIR
set -euo pipefail
case "${1:-}" in
  start)
    port="${2:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}"
    dir="$(mktemp -d)"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    echo "$port $dir $(cat "$dir/redis.pid")"
    ;;
  stop)
    redis-cli -p "$2" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$3"
    ;;
  *) echo "usage: $0 start [port] | stop PORT DIR" >&2; exit 2 ;;
esac
