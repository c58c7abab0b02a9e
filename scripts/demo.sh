#!/usr/bin/env bash
# Fresh demo department, then the web server, the task worker and the periodic jobs,
# all stopped together by Ctrl-C.
set -euo pipefail
HOST=${1:-127.0.0.1}
PORT=${2:-8000}
BIN=.venv/bin
export FUNNELWATCH_DATA_DIR=${FUNNELWATCH_DATA_DIR:-$PWD/data/demo}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
mkdir -p "$FUNNELWATCH_DATA_DIR"
$BIN/funnelwatch migrate --no-input -v 0
$BIN/funnelwatch collectstatic --no-input -v 0
$BIN/funnelwatch demo --reset --summary-file "$FUNNELWATCH_DATA_DIR/demo-summary.txt" > /dev/null

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
$BIN/gunicorn funnelwatch.wsgi --bind "$HOST:$PORT" --workers 2 --threads 4 \
  --access-logfile - --log-level warning &
pids+=($!)
$BIN/funnelwatch db_worker --no-reload --interval 1 &
pids+=($!)
$BIN/funnelwatch runperiodic --loop &
pids+=($!)
sleep 1
echo
cat "$FUNNELWATCH_DATA_DIR/demo-summary.txt"
echo
echo "Funnelwatch is running at http://$HOST:$PORT/  (Ctrl-C stops the server, worker and scheduler)"
wait -n "${pids[@]}"
