#!/usr/bin/env bash
# bench/instructions.sh — instructions per request of each server, counted by
# valgrind's callgrind, for the cc cells of bench/run.sh, and per sign-in and
# per refresh rotation of Keystile on each embedded store, for its pkce and
# refresh cells.
#
# Why: bench/run.sh's req/s ratios need a machine whose speed holds still for
# a pass; on a shared VM whose CPU speed swings 2× within minutes they are
# noise. An instruction count does not depend on how fast the machine is at
# the moment, so the same load gives the same figure on a busy or a quiet
# machine, and the ratios of the issue's goals can be read from it.
#
#   OUT=/tmp/bench-cc3 bash bench/instructions.sh              # every cell, ~8 min
#   OUT=/tmp/bench-cc3 CELLS='^cc-HS256@' bash bench/instructions.sh
#   OUT=/tmp/bench-cc3 CELLS='^(pkce|refresh)-' bash bench/instructions.sh
#
# OUT is the directory of a finished bench/run.sh run (made with BEFORE=...
# for the "before" column): its bin/ gives the binaries (ks-before, ks-after,
# gooauth2, floor, keystile-load), and its raw/ the Keystile configuration
# each cc cell ran with, of which this script takes a copy with a new port and
# a new SQLite file; the peers get run.sh's flags. So each server starts as
# its cc cell did: HS256 on the memory store, ES256/EdDSA on SQLite with the
# keys in the store. The pkce-* and refresh-* cells (HS256, the memory or the
# SQLite store, the cheap argon2id user check) get a users file of this
# script's own, with a throwaway password, since run.sh keeps its password to
# itself; a cell counts FLOWS whole sign-ins (authorize page, login form, code
# exchange) or REQUESTS refresh rotations. keystile-load's refresh workers each
# sign in once before they rotate, so the CONCURRENCY sign-ins of the counted
# run are in the figure (about 0.5 % of it at the defaults).
#
# Each cell: the server runs under callgrind (GODEBUG=asyncpreemptoff=1;
# GOGC left at its default, because a real server's garbage collection is part
# of what a request costs — so the figure includes GC work, which depends on
# each server's heap and allocations), pinned to SERVER_CPU; keystile-load,
# not under valgrind, sends WARMUP requests from LOAD_CPU, `callgrind_control
# -d` dumps (and zeroes) the counters — start-up, key generation, first-use
# work and the warm-up go into that dump, which is dropped — then REQUESTS more
# requests and a second dump. Instructions per request = the second dump's
# total ÷ REQUESTS. Shutdown is never counted.
#
# Not counted: the kernel. callgrind counts user-space instructions of the
# server process only, so syscalls (socket reads and writes, the access log's
# write, SQLite's file I/O and its WAL locks, futexes) cost nothing here; a
# server that makes more syscalls per request is cheaper here than on the
# clock — the SQLite cells most of all (docs/performance.md, "The SQLite
# path", gives their kernel share). Nor does an instruction count weigh cache
# misses or the cost of each instruction.
#
# Output: the Markdown table on stdout; callgrind files, server logs, load
# reports and the table in a new directory under $OUT. Load goes to
# 127.0.0.1 only, and is bounded by a request count and a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:?OUT=<the directory of a finished bench/run.sh run>}
WARMUP=${WARMUP:-500}             # requests before the first dump (dropped)
REQUESTS=${REQUESTS:-2500}        # requests between the two dumps (counted)
WARMUP_FLOWS=${WARMUP_FLOWS:-200} # sign-ins before the first dump, pkce cells
FLOWS=${FLOWS:-1000}              # sign-ins between the two dumps, pkce cells
CONCURRENCY=${CONCURRENCY:-4}     # keystile-load workers; valgrind runs the server ~50× slower
CELLS=${CELLS:-.}                 # extended regex over cell ids, GROUP@SERVER
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BIN=$OUT/bin
DIR=$(mktemp -d "$OUT/instructions.XXXX")

for tool in valgrind callgrind_control taskset curl awk; do
  command -v $tool >/dev/null || { echo "$tool is required (Debian: valgrind, util-linux, curl, gawk)" >&2; exit 1; }
done
say() { echo "$*" >&2; }

# The benchmark's client secret (run.sh's, the peers' built-in default).
SECRET=bench-secret-0123456789abcdef0123456789
# The sign-in cells' users: one per worker (Keystile admits five sign-ins in
# flight per account), a throwaway password, argon2id at the least Keystile
# accepts, as run.sh's cheap user check.
PASSWORD=bench-password-$RANDOM$RANDOM
USERS=$(seq -f 'user%g' -s, "$CONCURRENCY")
REDIRECT=http://127.0.0.1:1/cb # never contacted, as in run.sh
users_file() { # FILE: written on first use (it needs $BIN/phc)
  [ -s "$1" ] && return 0
  local h; h=$(printf %s "$PASSWORD" | "$BIN/phc" -m 8 -t 1 -p 1) || return 1
  { echo "users:"; for u in ${USERS//,/ }; do printf '  - username: %s\n    password_hash: "%s"\n' "$u" "$h"; done; } >"$1"
}

PID=
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
trap stop EXIT
trap 'exit 130' INT TERM

# setup_cell ID PORT CELLDIR: sets CMD and READY as run.sh's cells do, and
# for the load: LOAD (keystile-load's flags), STEP (the report's row that
# counts), CSECRET (the client secret, empty for the public client), WARM
# and COUNT (iterations before and between the dumps).
setup_cell() {
  local group=${1%@*} server=${1#*@} port=$2 dir=$3 src
  READY=/.well-known/openid-configuration
  LOAD=(--mode client-credentials --client-id bench) STEP=token CSECRET=$SECRET WARM=$WARMUP COUNT=$REQUESTS
  case $group in
    pkce-* | refresh-*)
      LOAD=(--mode "${group%%-*}" --client-id spa --redirect-uri "$REDIRECT" --username "$USERS") STEP=refresh CSECRET=
      if [ "${group%%-*}" = pkce ]; then STEP=flow WARM=$WARMUP_FLOWS COUNT=$FLOWS; fi ;;
  esac
  mkdir -p "$dir"
  case $server in
    ks-*)
      # The configuration the cell ran with in $OUT, on a new port and with
      # a new SQLite file (so a new key, made at start, as in run.sh).
      src=$(ls -d "$OUT/raw/$group.$server".p*/keystile.yaml 2>/dev/null | head -1)
      if [ -z "$src" ]; then say "$1: no configuration under $OUT/raw"; return 1; fi
      # Every cell's configuration names a users file: this script's own.
      users_file "$DIR/users.yaml" || return 1
      sed -e "/^\(issuer\|listen\):/s#127\.0\.0\.1:[0-9]*#127.0.0.1:$port#" -e "s#\"sqlite:[^\"]*\"#\"sqlite:$dir/keystile.db\"#" \
        -e "s#^users_file: .*#users_file: $DIR/users.yaml#" "$src" >"$dir/keystile.yaml"
      CMD=("$BIN/$server" serve --config "$dir/keystile.yaml") ;;
    gooauth2 | floor)
      CMD=("$BIN/$server" -listen "127.0.0.1:$port" -alg "${group#cc-}") READY=/healthz ;;
  esac
  [ -x "${CMD[0]}" ] || { say "$1: no ${CMD[0]}"; return 1; }
}

# load ID N FILE: N iterations of the cell's LOAD from LOAD_CPU; fails unless
# all N of STEP succeeded and no request failed.
load() {
  KEYSTILE_LOAD_CLIENT_SECRET=$CSECRET KEYSTILE_LOAD_PASSWORD=$PASSWORD taskset -c "$LOAD_CPU" "$BIN/keystile-load" \
    --issuer "http://127.0.0.1:$port" "${LOAD[@]}" \
    --concurrency "$CONCURRENCY" --iterations "$2" --duration 5m >"$3" 2>&1 || true
  local ok; ok=$(awk -v s="$STEP" '$1==s && $(NF-5)==0 {print $(NF-6)}' "$3") # "flow (whole sign-in)" is three fields
  [ "${ok:-0}" = "$2" ] || { say "$1: $2 of $STEP wanted, ${ok:-0} succeeded; see $3"; return 1; }
}

# dump FILE: dumps the server's counters (callgrind zeroes them) and prints
# the instructions since the last dump, once callgrind has written FILE.
dump() {
  callgrind_control -d "$PID" >/dev/null 2>&1
  for _ in $(seq 100); do
    if [ -s "$1" ] && grep -q '^totals:' "$1"; then awk '/^totals:/ {print $2}' "$1"; return 0; fi
    sleep 0.1
  done
  say "no callgrind dump $1"; return 1
}

declare -A IPR # IPR[ID] = instructions per request
measure() {
  local id=$1 d=$DIR/${1/@/.}
  setup_cell "$id" $((++port)) "$d" || return 0
  GODEBUG=asyncpreemptoff=1 taskset -c "$SERVER_CPU" valgrind --tool=callgrind \
    --callgrind-out-file="$d/callgrind.out" "${CMD[@]}" >/dev/null 2>"$d/server.log" &
  PID=$!
  local up=
  for _ in $(seq 600); do # 60 s: start-up under valgrind is slow
    if curl -s -o /dev/null "http://127.0.0.1:$port$READY"; then up=1; break; fi
    if ! kill -0 "$PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$up" ]; then say "$id did not start; see $d/server.log"; stop; return 0; fi
  local warm total
  load "$id" "$WARM" "$d/load-warmup.txt" && warm=$(dump "$d/callgrind.out.1") &&
    load "$id" "$COUNT" "$d/load.txt" && total=$(dump "$d/callgrind.out.2") || { stop; return 0; }
  stop
  IPR[$id]=$((total / COUNT))
  say "$id: $((warm / 1000000)) M instructions to start and warm up, ${IPR[$id]} per $STEP"
}

CELL_LIST=()
for s in ks-before ks-after gooauth2 floor; do CELL_LIST+=("cc-HS256@$s"); done
for s in ks-before ks-after; do CELL_LIST+=("cc-HS256-nolog@$s"); done
for g in cc-ES256 cc-EdDSA; do for s in ks-before ks-after floor; do CELL_LIST+=("$g@$s"); done; done
for g in pkce-memory pkce-sqlite refresh-memory refresh-sqlite; do for s in ks-before ks-after; do CELL_LIST+=("$g@$s"); done; done

port=9400
for c in "${CELL_LIST[@]}"; do if [[ $c =~ $CELLS ]]; then measure "$c"; fi; done

# ---------------------------------------------------------------- the table
k() { [ -n "${IPR[$1]:-}" ] && awk -v v="${IPR[$1]}" 'BEGIN {printf "%.1f", v/1000}' || printf '—'; }
ratio() { # A B: A ÷ B of IPR, "—" when either is missing
  local a=${IPR[$1]:-} b=${IPR[$2]:-}
  awk -v a="$a" -v b="$b" 'BEGIN {if (a=="" || b=="" || b==0) print "—"; else printf "%.2f", a/b}'
}
# row WHAT GROUP PEERGROUP CMP GOAL: CMP is "gooauth2" (Keystile ÷ go-oauth2)
# or "floor" (floor ÷ Keystile), the direction each goal is stated in.
row() {
  local g=$2 pg=$3 ra rb cmp
  case $4 in
    gooauth2) ra=$(ratio "$g@ks-after" "$pg@gooauth2"); rb=$(ratio "$g@ks-before" "$pg@gooauth2"); cmp="Keystile ÷ go-oauth2" ;;
    floor) ra=$(ratio "$pg@floor" "$g@ks-after"); rb=$(ratio "$pg@floor" "$g@ks-before"); cmp="floor ÷ Keystile" ;;
  esac
  printf '| %s | %s | %s | %s | %s | %s: %s (before %s) | %s |\n' "$1" "$(k "$g@ks-before")" "$(k "$g@ks-after")" \
    "$(k "$pg@gooauth2")" "$(k "$pg@floor")" "$cmp" "$ra" "$rb" "$5" | sed 's/ (before —)//'
}
# store_row WHAT GROUP: the memory and SQLite rows of GROUP, and SQLite ÷
# memory, the direction goal 1 is stated in.
store_row() {
  local m
  for m in memory sqlite; do
    local r="—" rb=
    if [ $m = sqlite ]; then
      r="SQLite ÷ memory: $(ratio "$2-sqlite@ks-after" "$2-memory@ks-after")"
      rb=$(ratio "$2-sqlite@ks-before" "$2-memory@ks-before")
      [ "$rb" = — ] || r="$r (before $rb)"
    fi
    printf '| %s, %s | %s | %s | %s | %s |\n' "$1" "$m" "$(k "$2-$m@ks-before")" "$(k "$2-$m@ks-after")" "$r" \
      "$([ $m = sqlite ] && echo "≤ 1.5" || echo "—")"
  done
}
{
  echo "Thousands of user-space instructions per client_credentials request (callgrind Ir) of each server process, $REQUESTS requests after $WARMUP of warm-up, c=$CONCURRENCY; GOGC default (GC included), GODEBUG=asyncpreemptoff=1. Kernel time (socket I/O, the log write, SQLite's file I/O) is not counted. Binaries and configurations: $OUT."
  echo
  echo "| what | Keystile before | Keystile after | go-oauth2 v4 | floor | ratio | goal |"
  echo "|---|---:|---:|---:|---:|---|---|"
  row "client_credentials HS256, request log on (memory)" cc-HS256 cc-HS256 gooauth2 "≤ 0.67 (go-oauth2 ≥ 1.5 × Keystile)"
  row "client_credentials HS256, request log off" cc-HS256-nolog cc-HS256 gooauth2 "≤ 0.67 (go-oauth2 ≥ 1.5 × Keystile)"
  row "client_credentials ES256 (SQLite)" cc-ES256 cc-ES256 floor "≥ 0.95"
  row "client_credentials EdDSA (SQLite)" cc-EdDSA cc-EdDSA floor "≥ 0.95"
  echo
  echo "Thousands of user-space instructions per whole PKCE sign-in ($FLOWS after $WARMUP_FLOWS) and per refresh rotation ($REQUESTS after $WARMUP), HS256, the cheap argon2id user check, c=$CONCURRENCY; the same counting. SQLite's file I/O and WAL locks are kernel work, not counted here."
  echo
  echo "| what | Keystile before | Keystile after | ratio | goal |"
  echo "|---|---:|---:|---|---|"
  store_row "PKCE sign-in" pkce
  store_row "refresh rotation" refresh
  echo
  echo "Callgrind files, server logs and load reports: $DIR"
} | tee "$DIR/table.md"
