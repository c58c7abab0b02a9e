#!/usr/bin/env bash
# The database of a release, for the upgrade test (tests/test_upgrade.py): that release's
# own migrations and a small demo department in SQLite, compacted and gzipped into
# tests/fixtures/release-VERSION.sqlite3.gz. Run it once per release, from the release's
# successor:  scripts/release-fixture.sh 0.1.0 ee27522
set -euo pipefail
VERSION=${1:?usage: $0 VERSION COMMIT}
COMMIT=${2:?usage: $0 VERSION COMMIT}
PYTHON=${PYTHON:-$PWD/.venv/bin/python}
OUT=$PWD/tests/fixtures/release-$VERSION.sqlite3.gz
WORK=$(mktemp -d)
trap 'git worktree remove --force "$WORK/src" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git worktree add --detach "$WORK/src" "$COMMIT" >/dev/null
mkdir "$WORK/data"
cd "$WORK/src"
export PYTHONPATH=$WORK/src FUNNELWATCH_DATA_DIR=$WORK/data
unset DATABASE_URL
"$PYTHON" manage.py compilemessages --ignore '.venv/*' -v 0
"$PYTHON" manage.py migrate --no-input -v 0
# Fixed seed and moment: the same commit gives the same records.
"$PYTHON" manage.py demo --months 1 --managers 3 --now 2026-03-02T10:00:00+08:00 --seed 11 >/dev/null
"$PYTHON" - "$WORK/data/funnelwatch.sqlite3" "$WORK/release.sqlite3" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.execute("VACUUM INTO ?", (sys.argv[2],))
db.close()
out = sqlite3.connect(sys.argv[2])
out.execute("PRAGMA journal_mode=DELETE")
out.close()
PY
mkdir -p "$(dirname "$OUT")"
gzip -9 -n -c "$WORK/release.sqlite3" > "$OUT"
echo "$OUT: $(stat -c %s "$OUT") bytes"
