#!/usr/bin/env bash
# bench/run.sh — Keystile side by side with its peers, on this machine only.
#
# Builds Keystile (the main module), the load command, and the peers of this
# module from the Go module proxy: go-oauth2/oauth2 v4 as its example server
# is set up, and a chi + golang-jwt "floor" that stores and logs nothing.
# Each server runs pinned to CPU 0 with taskset; cmd/keystile-load drives it
# from CPU 1 over loopback. Passes are interleaved (every server once, then
# again) so that a noisy minute hurts all of them alike; the table reports
# the median of the passes and the ratio to the floor.
#
#   bash bench/run.sh                 # 3 passes of 10 s per cell
#   PASSES=5 DURATION=20s bash bench/run.sh
#
# Output: a Markdown table on stdout, raw keystile-load reports in $OUT.
# Load goes to 127.0.0.1 only, and every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

PASSES=${PASSES:-3}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-16}
OUT=${OUT:-$(mktemp -d)}
BIN=$OUT/bin
mkdir -p "$BIN"
SECRET=bench-secret-0123456789abcdef0123456789
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }

echo "building into $BIN" >&2
go build -o "$BIN/keystile" ./cmd/keystile
go build -o "$BIN/keystile-load" ./cmd/keystile-load
(cd bench && go build -o "$BIN/" ./peers/...)

# Keystile's configs: one client_credentials client per algorithm and store.
hash=$(printf %s "$SECRET" | sha256sum | cut -d' ' -f1)
head -c 48 /dev/urandom | base64 > "$OUT/hs256.secret"
keystile_config() { # alg store port
  local dir=$OUT/ks-$1-$2; mkdir -p "$dir"
  local signing="  algorithm: $1
  key_file: $dir/signing.pem"
  if [ "$1" = HS256 ]; then signing="  algorithm: HS256
  secret_file: $OUT/hs256.secret"; fi
  local store="memory:"; [ "$2" = sqlite ] && store="sqlite:$dir/keystile.db"
  cat > "$dir/keystile.yaml" <<EOF
issuer: http://127.0.0.1:$3
listen: 127.0.0.1:$3
store: "$store"
log_level: info
signing:
$signing
clients:
  - id: bench
    secret_hash: "sha256:$hash"
    grant_types: [client_credentials]
EOF
  echo "$dir/keystile.yaml"
}

# start NAME PORT CMD...: starts a server pinned to SERVER_CPU, waits until
# its port answers, and records its pid.
start() {
  local name=$1 port=$2; shift 2
  taskset -c "$SERVER_CPU" "$@" >"$OUT/$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "$name did not start; see $OUT/$name.log" >&2; kill "$PID" 2>/dev/null || true; return 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# one NAME PORT CMD...: one pass of one cell; prints "req/s rss_idle_kb rss_after_kb".
one() {
  local name=$1 port=$2; shift 2
  start "$name" "$port" "$@"
  sleep 1
  local idle; idle=$(rss_kb "$PID")
  KEYSTILE_LOAD_CLIENT_SECRET=$SECRET taskset -c "$LOAD_CPU" "$BIN/keystile-load" \
    --issuer "http://127.0.0.1:$port" --mode client-credentials --client-id bench \
    --duration "$DURATION" --concurrency "$CONCURRENCY" >"$OUT/$name.pass$pass.txt" 2>&1 || true
  local after; after=$(rss_kb "$PID")
  stop
  local rps; rps=$(awk '$1=="token" {print $4}' "$OUT/$name.pass$pass.txt")
  echo "${rps:-0} $idle $after"
}

# CELLS="keystile-HS256-memory floor-HS256" runs a subset.
read -r -a cells <<<"${CELLS:-keystile-HS256-memory keystile-HS256-sqlite keystile-RS256-sqlite keystile-ES256-sqlite keystile-EdDSA-sqlite floor-HS256 floor-RS256 floor-ES256 floor-EdDSA gooauth2-HS256}"
declare -A results
port=9300
for pass in $(seq "$PASSES"); do
  for cell in "${cells[@]}"; do
    port=$((port + 1))
    IFS=- read -r kind alg store <<<"$cell"
    case $kind in
      keystile) cfg=$(keystile_config "$alg" "$store" "$port")
                r=$(one "$cell" "$port" "$BIN/keystile" serve --config "$cfg") ;;
      floor)    r=$(one "$cell" "$port" "$BIN/floor" -listen "127.0.0.1:$port" -alg "$alg" -client-secret "$SECRET") ;;
      gooauth2) r=$(one "$cell" "$port" "$BIN/gooauth2" -listen "127.0.0.1:$port" -client-secret "$SECRET") ;;
    esac
    results[$cell]="${results[$cell]:-} $r"
    echo "pass $pass $cell: $r" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v n="$1" '{for (i=n; i<=NF; i+=3) print $i}' <<<"${results[$2]}"; }

echo "| server | client_credentials req/s (median of $PASSES, c=$CONCURRENCY) | ratio to floor | idle RSS MB | RSS after load MB |"
echo "|---|---:|---:|---:|---:|"
for cell in "${cells[@]}"; do
  IFS=- read -r kind alg store <<<"$cell"
  rps=$(col 1 "$cell" | median)
  floor=$(col 1 "floor-$alg" | median)
  idle=$(col 2 "$cell" | median); after=$(col 3 "$cell" | median)
  printf '| %s | %.0f | %.2f | %.1f | %.1f |\n' "$cell" "$rps" "$(echo "$rps / $floor" | bc -l)" \
    "$(echo "$idle / 1024" | bc -l)" "$(echo "$after / 1024" | bc -l)"
done
echo
echo "binary sizes (default build):"
for b in keystile floor gooauth2; do printf '%s %.1f MB\n' "$b" "$(echo "$(stat -c %s "$BIN/$b") / 1000000" | bc -l)"; done
echo "raw reports: $OUT" >&2
