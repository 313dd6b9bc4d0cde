#!/usr/bin/env bash
# bench/run.sh — the whole side-by-side table of issue 12, on this machine only.
#
# Builds Keystile (this tree, and with BEFORE=<git ref> that ref's
# cmd/keystile too), the load command (cmd/keystile-load, this tree's, for
# both), and the peers of this module from the Go module proxy: zitadel/oidc
# v3's example OP, go-oauth2/oauth2 v4 as its example server is set up, and a
# chi + golang-jwt "floor" that stores and logs nothing. Each server runs
# pinned to CPU 0 with taskset; the load and the timers run on CPU 1. Passes
# are interleaved (every cell once, then again), so that a noisy minute hurts
# all of them alike; the table gives medians and ratios.
#
#   bash bench/run.sh                                   # this tree, 3 passes of 10 s
#   BEFORE=db65cd4 bash bench/run.sh                    # and db65cd4 beside it
#   BEFORE=db65cd4 PASSES=1 DURATION=2s bash bench/run.sh   # a quick look
#   CELLS='^cc-|^start' bash bench/run.sh               # some cells only
#
# The knobs and the method are in bench/README.md. Output: the Markdown table
# on stdout; raw reports, server logs and the table in $OUT. Load goes to
# 127.0.0.1 only, and every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PASSES=${PASSES:-3}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-16}
CELLS=${CELLS:-.}                 # extended regex over cell ids, GROUP@SERVER
BEFORE=${BEFORE:-}                # a git ref; empty: this tree alone
LOAD_RSS_DURATION=${LOAD_RSS_DURATION:-23s}
BURST=${BURST:-50}                # sign-ins in the burst
BURST_WAIT=${BURST_WAIT:-60}      # seconds from the burst's end to the second reading
STARTS=${STARTS:-15}              # timed restarts per start-up cell, spread over the passes
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-$(mktemp -d)}
BIN=$OUT/bin RAW=$OUT/raw
mkdir -p "$BIN/release" "$RAW"

for tool in taskset curl awk git go; do
  command -v $tool >/dev/null || { echo "$tool is required (Debian: util-linux, curl, gawk, git)" >&2; exit 1; }
done
say() { echo "$*" >&2; }

# The one client secret of the benchmark (the peers' built-in default, so it
# is on no command line) and the users' password. Both are throwaway values
# of a loopback-only run; keystile-load reads them from its environment.
SECRET=bench-secret-0123456789abcdef0123456789
PASSWORD=bench-password-$RANDOM$RANDOM
REDIRECT=http://127.0.0.1:1/cb # never contacted: keystile-load reads the code off the 303

# ---------------------------------------------------------------- cleanup
PID= WT= PGDBS=()
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  for db in "${PGDBS[@]}"; do psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  if [ -n "$WT" ]; then git worktree remove --force "$WT/src" >/dev/null 2>&1 || true; rm -rf "$WT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- builds
# build_keystile SRC NAME: the default build and the release build
# (-trimpath -ldflags='-s -w'), and, where the tree has per-store build tags,
# a binary per tag set, kept for their sizes.
build_keystile() {
  local src=$1 name=$2
  (cd "$src" && go build -o "$BIN/$name" ./cmd/keystile &&
    go build -trimpath -ldflags='-s -w' -o "$BIN/release/$name" ./cmd/keystile)
  for tags in nopostgres nosqlite nopostgres,nosqlite; do
    local missing=
    for t in ${tags//,/ }; do
      grep -rqs --include='*.go' -e "^//go:build.*\b$t\b" "$src" || missing=1
    done
    if [ -n "$missing" ]; then continue; fi
    (cd "$src" && go build -tags "$tags" -o "$BIN/$name.$tags" ./cmd/keystile &&
      go build -tags "$tags" -trimpath -ldflags='-s -w' -o "$BIN/release/$name.$tags" ./cmd/keystile)
  done
}

SERVERS=(ks-after)
say "building into $BIN"
build_keystile "$ROOT" ks-after
after_ref=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo "+changes")
if [ -n "$BEFORE" ]; then
  before_ref=$(git rev-parse --short "$BEFORE^{commit}")
  WT=$(mktemp -d)
  git worktree add -q --detach "$WT/src" "$before_ref"
  build_keystile "$WT/src" ks-before
  git worktree remove --force "$WT/src"; rm -rf "$WT"; WT=
  SERVERS=(ks-before ks-after)
fi
go build -o "$BIN/keystile-load" ./cmd/keystile-load
(cd bench && go build -o "$BIN/" ./peers/... ./tools/... &&
  go build -trimpath -ldflags='-s -w' -o "$BIN/release/" ./peers/...)

# ---------------------------------------------------------------- configs
head -c 48 /dev/urandom | base64 >"$OUT/hs256.secret"
client_hash=sha256:$(printf %s "$SECRET" | sha256sum | cut -d' ' -f1)
# A "cheap user check": argon2id at m=8 KiB, t=1, p=1, the least Keystile
# accepts, so that the sign-in cells measure the server and not argon2id.
printf %s "$PASSWORD" | "$BIN/phc" -m 8 -t 1 -p 1 >"$OUT/cheap.hash"
# One user per worker, all with the one password: Keystile throttles the
# sign-ins in flight per account (five), as it should, so sixteen workers on
# one account would measure the throttle.
USERS=$(seq -f 'user%g' -s, "$CONCURRENCY")
users_file() { # FILE HASHFILE
  local h; h=$(cat "$2")
  { echo "users:"; for u in ${USERS//,/ }; do printf '  - username: %s\n    password_hash: "%s"\n' "$u" "$h"; done; } >"$1"
}
users_file "$OUT/users-cheap.yaml" "$OUT/cheap.hash"

# PostgreSQL: one throwaway database per Keystile (the two versions' schemas
# need not agree), made before the passes and dropped on exit.
pg_db() { echo "ks_bench_${1//-/_}_$$"; }
pg_url() { echo "${PG_ADMIN%%/postgres\?*}/$(pg_db "$1")?sslmode=disable"; }

# ks_config DIR PORT ALG STORE LOGLEVEL USERS: writes DIR/keystile.yaml.
# RS256/ES256/EdDSA with SQLite or PostgreSQL keep their keys in the store,
# Keystile's default for those stores; with the memory store, in a key file.
ks_config() {
  local dir=$1 port=$2 alg=$3 store=$4 level=$5 users=$6 spec key=
  mkdir -p "$dir"
  case $alg/$store in
    HS256/*) key="secret_file: $OUT/hs256.secret" ;;
    */memory) key="key_file: $dir/signing.pem" ;;
  esac
  case $store in
    memory) spec=memory ;;
    sqlite) spec=sqlite:$dir/keystile.db ;;
    postgres) spec=$(pg_url "$server") ;;
  esac
  cat >"$dir/keystile.yaml" <<EOF
issuer: http://127.0.0.1:$port
listen: 127.0.0.1:$port
store: "$spec"
log_level: $level
users_file: $users
signing:
  algorithm: $alg
  $key
clients:
  - id: bench
    secret_hash: "$client_hash"
    grant_types: [client_credentials]
  - id: spa
    public: true
    redirect_uris: ["$REDIRECT"]
    grant_types: [authorization_code, refresh_token]
EOF
}

# ---------------------------------------------------------------- cells
# A cell is GROUP@SERVER. setup_cell ID PORT DIR sets what a cell runs:
# CMD (the server), READY (the path that answers once it is up), and for the
# load: LOAD (keystile-load's flags), CSECRET (the client secret, empty for
# the public client) and STEP (the report's row that counts).
setup_cell() {
  local group=${1%@*} dir=$3
  server=${1#*@} port=$2
  local alg=HS256 store=memory level=info users=$OUT/users-cheap.yaml
  READY=/.well-known/openid-configuration CSECRET=$SECRET STEP=token
  LOAD=(--mode client-credentials --client-id bench)
  case $group in
    cc-HS256-nolog) level=warn ;; # the access log writes at info
    cc-*) alg=${group#cc-}; [ "$alg" = HS256 ] || store=sqlite ;;
    pkce-* | refresh-*)
      store=${group#*-} CSECRET= STEP=${group%%-*}
      if [ "$STEP" = pkce ]; then STEP=flow; fi
      LOAD=(--mode "${group%%-*}" --client-id spa --redirect-uri "$REDIRECT" --username "$USERS") ;;
    idle-memory) alg=RS256 ;;
    idle-sqlite | rss-load23) alg=RS256 store=sqlite ;;
    burst)
      alg=RS256 store=sqlite CSECRET= STEP=flow
      LOAD=(--mode pkce --client-id spa --redirect-uri "$REDIRECT" --username "$USERS") ;;
    start-*) alg=RS256 store=${group#start-} ;;
  esac
  if [ "$group" = burst ]; then users=$OUT/users-$server-real.yaml; fi
  if [ "$group" = rss-load23 ]; then alg=HS256; fi
  case $server in
    ks-*)
      if [ "$group" = idle-quickstart ]; then
        mkdir -p "$dir"
        CMD=("$BIN/$server" quickstart --listen "127.0.0.1:$port" --dir "$dir")
      else
        ks_config "$dir" "$port" "$alg" "$store" "$level" "$users"
        CMD=("$BIN/$server" serve --config "$dir/keystile.yaml")
      fi ;;
    zitadel)
      CMD=("$BIN/zitadel" -listen "127.0.0.1:$port")
      # The example storage's service user, with its example secret.
      LOAD=(--mode client-credentials --client-id sid1 --token-path /oauth/token) CSECRET=verysecret ;;
    gooauth2 | floor)
      local a=HS256; if [[ $group == cc-* ]]; then a=${group#cc-}; fi
      CMD=("$BIN/$server" -listen "127.0.0.1:$port" -alg "$a") READY=/healthz ;;
  esac
}

# start ID: starts CMD pinned to SERVER_CPU and waits (at most 10 s) until
# READY answers. Quickstart's banner (stdout) holds its demo password, so
# stdout goes nowhere; stderr is the server's log.
start() {
  taskset -c "$SERVER_CPU" "${CMD[@]}" >/dev/null 2>>"$RAW/${1/@/.}.log" &
  PID=$!
  for _ in $(seq 200); do
    if curl -s -o /dev/null "http://127.0.0.1:$port$READY"; then return 0; fi
    if ! kill -0 "$PID" 2>/dev/null; then break; fi # it exited: a bad configuration
    sleep 0.05
  done
  say "$1 did not start; see $RAW/${1/@/.}.log"; stop; return 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; }
status_kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; } # PID VmRSS|VmHWM

declare -A R # R[ID|metric] = the values of the passes, space-separated
add() { R[$1|$2]="${R[$1|$2]:-} $3"; }

# load_run ID DURATION [extra flags]: drives the started server from
# LOAD_CPU; prints the report's req/s of STEP (0 if nothing succeeded).
load_run() {
  local id=$1 d=$2; shift 2
  local raw=$RAW/${id/@/.}.pass$pass.txt
  KEYSTILE_LOAD_CLIENT_SECRET=$CSECRET KEYSTILE_LOAD_PASSWORD=$PASSWORD taskset -c "$LOAD_CPU" \
    "$BIN/keystile-load" --issuer "http://127.0.0.1:$port" "${LOAD[@]}" --duration "$d" \
    --concurrency "$CONCURRENCY" "$@" >"$raw" 2>&1 || say "$id: keystile-load failed; see $raw"
  RATE=$(awk -v s="$STEP" '$1==s {print $(NF-4)}' "$raw"); RATE=${RATE:-0}
}

# Every kind of cell, one pass: a load cell measures req/s and RSS after the
# load; an idle cell the RSS 1 s after start and one discovery request; a
# start cell the exec-to-first-200 times.
load_cell() {
  setup_cell "$1" $((++port)) "$RAW/${1/@/.}.p$pass"
  start "$1" || return 0
  load_run "$1" "$DURATION"
  add "$1" rate "$RATE"; add "$1" rss_after "$(status_kb "$PID" VmRSS)"
  stop
  say "pass $pass $1: $RATE/s"
}
idle_cell() {
  setup_cell "$1" $((++port)) "$RAW/${1/@/.}.p$pass"
  start "$1" || return 0
  sleep 1; curl -s -o /dev/null "http://127.0.0.1:$port$READY"
  add "$1" rss_idle "$(status_kb "$PID" VmRSS)"
  stop
  say "pass $pass $1: idle ${R[$1|rss_idle]##* } kB"
}
# start_cell: the configuration and its store (keys, database) are made by a
# first start that is not timed, so the timed ones start with a persisted key.
start_cell() {
  local dir=$RAW/${1/@/.}.state n=$(((STARTS + PASSES - 1) / PASSES))
  if [ ! -d "$dir" ]; then
    setup_cell "$1" $((++port)) "$dir"; echo "$port ${CMD[*]}" >"$dir.cmd"
    taskset -c "$LOAD_CPU" "$BIN/firstok" -url "http://127.0.0.1:$port$READY" -runs 1 -log "$RAW/${1/@/.}.log" \
      -- taskset -c "$SERVER_CPU" "${CMD[@]}" >/dev/null || { say "$1 did not start; see $RAW/${1/@/.}.log"; return 0; }
  fi
  read -r port _ <"$dir.cmd"; setup_cell "$1" "$port" "$dir"
  local out=$RAW/${1/@/.}.pass$pass.txt
  taskset -c "$LOAD_CPU" "$BIN/firstok" -url "http://127.0.0.1:$port$READY" -runs "$n" -log "$RAW/${1/@/.}.log" \
    -- taskset -c "$SERVER_CPU" "${CMD[@]}" >"$out" || { say "$1: see $out"; return 0; }
  for v in $(awk '/^run / {print $3}' "$out"); do add "$1" start_ms "$v"; done
  say "pass $pass $1: $(tail -1 "$out")"
}

# Cells in row order, each row's servers side by side, so that the figures a
# ratio divides were taken seconds apart, not minutes.
LOAD_CELLS=() IDLE_CELLS=() START_CELLS=()
cells() { # LIST GROUP SERVER...: appends GROUP@SERVER for each server
  local -n list=$1; local g=$2; shift 2
  for s in "$@"; do list+=("$g@$s"); done
}
cells IDLE_CELLS idle-memory "${SERVERS[@]}" zitadel gooauth2 floor
cells IDLE_CELLS idle-sqlite "${SERVERS[@]}"
cells IDLE_CELLS idle-quickstart "${SERVERS[@]}"
cells LOAD_CELLS cc-RS256 "${SERVERS[@]}" zitadel gooauth2 floor
cells LOAD_CELLS cc-HS256 "${SERVERS[@]}" gooauth2 floor
cells LOAD_CELLS cc-HS256-nolog "${SERVERS[@]}"
cells LOAD_CELLS cc-ES256 "${SERVERS[@]}" floor
cells LOAD_CELLS cc-EdDSA "${SERVERS[@]}" floor
for g in pkce-memory pkce-sqlite refresh-memory refresh-sqlite; do cells LOAD_CELLS $g "${SERVERS[@]}"; done
cells START_CELLS start-sqlite "${SERVERS[@]}"
cells START_CELLS start-postgres "${SERVERS[@]}"
cells START_CELLS start zitadel gooauth2 floor
want() {
  [[ $1 =~ $CELLS ]] || return 1
  # Without psql there is no throwaway database: the PostgreSQL cells say so
  # in the table ("—") instead of failing the run.
  [[ $1 != start-postgres@* ]] || command -v psql >/dev/null
}
for s in "${SERVERS[@]}"; do
  if want "start-postgres@$s"; then
    psql -q "$PG_ADMIN" -c "CREATE DATABASE $(pg_db "$s")" >/dev/null
    PGDBS+=("$(pg_db "$s")")
  fi
done

port=9300
for pass in $(seq "$PASSES"); do
  for c in "${IDLE_CELLS[@]}"; do if want "$c"; then idle_cell "$c"; fi; done
  for c in "${LOAD_CELLS[@]}"; do if want "$c"; then load_cell "$c"; fi; done
  for c in "${START_CELLS[@]}"; do if want "$c"; then start_cell "$c"; fi; done
done

# Taken once, after the passes (each takes tens of seconds): RSS after
# LOAD_RSS_DURATION of client_credentials, and after a burst of BURST
# sign-ins with each binary's own default argon2id settings (its
# hash-password), then BURST_WAIT seconds later.
pass=once
for s in "${SERVERS[@]}"; do
  if want "rss-load23@$s"; then
    setup_cell "rss-load23@$s" $((++port)) "$RAW/rss-load23.$s"
    if start "rss-load23@$s"; then
      load_run "rss-load23@$s" "$LOAD_RSS_DURATION"
      add "rss-load23@$s" rss_after "$(status_kb "$PID" VmRSS)"; add "rss-load23@$s" rate "$RATE"
      stop; say "rss-load23@$s: ${R[rss-load23@$s|rss_after]} kB"
    fi
  fi
  if want "burst@$s"; then
    printf %s "$PASSWORD" | "$BIN/$s" hash-password >"$OUT/$s-real.hash"
    users_file "$OUT/users-$s-real.yaml" "$OUT/$s-real.hash"
    setup_cell "burst@$s" $((++port)) "$RAW/burst.$s"
    if start "burst@$s"; then
      add "burst@$s" rss_idle "$(status_kb "$PID" VmRSS)"
      load_run "burst@$s" 2m --iterations "$BURST"
      add "burst@$s" rss_after "$(status_kb "$PID" VmRSS)"; add "burst@$s" rss_peak "$(status_kb "$PID" VmHWM)"
      sleep "$BURST_WAIT"
      add "burst@$s" rss_later "$(status_kb "$PID" VmRSS)"
      stop; say "burst@$s: idle/after/peak/+${BURST_WAIT}s kB: ${R[burst@$s|rss_idle]} ${R[burst@$s|rss_after]} ${R[burst@$s|rss_peak]} ${R[burst@$s|rss_later]}"
    fi
  fi
done

# ---------------------------------------------------------------- the table
median() { tr ' ' '\n' | awk NF | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
med() { median <<<"${R[$1|$2]:-}"; }
# cell ID METRIC UNIT: the median, formatted; "—" when not measured.
cell() {
  local v; v=$(med "$1" "$2")
  if [ -z "$v" ]; then printf '—'; return; fi
  case $3 in
    rate) printf '%.0f' "$v" ;;
    mb) awk -v v="$v" 'BEGIN {printf "%.1f", v/1024}' ;;
    ms) printf '%.0f' "$v" ;;
  esac
}
ratio() { # A B: A ÷ B, "—" when either is missing
  awk -v a="$1" -v b="$2" 'BEGIN {if (a=="" || b=="" || b==0) print "—"; else printf "%.2f", a/b}'
}
size() { [ -f "$1" ] && awk -v s="$(stat -c %s "$1")" 'BEGIN {printf "%.1f", s/1e6}' || printf '—'; }
peers() { printf '%s | %s | %s' "$(cell "$1@zitadel" "$2" "$3")" "$(cell "$1@gooauth2" "$2" "$3")" "$(cell "$1@floor" "$2" "$3")"; }

# row WHAT GROUP METRIC UNIT PEERGROUP RATIO GOAL: RATIO names the
# comparison: "after/before", "floor", "gooauth2", "mem/sqlite" (this row
# is the SQLite one; the memory row's group is given), "goal" (after ÷ the goal).
row() {
  local what=$1 g=$2 m=$3 u=$4 pg=$5 cmp=$6 goal=$7 b a ref rb ra
  b=$(med "$g@ks-before" "$m"); a=$(med "$g@ks-after" "$m")
  case $cmp in
    floor | gooauth2) ref=$(med "$pg@$cmp" "$m"); rb=$(ratio "$b" "$ref"); ra=$(ratio "$a" "$ref"); cmp="÷ $cmp" ;;
    mem/sqlite:*) local mg=${cmp#*:}
      rb=$(ratio "$(med "$mg@ks-before" "$m")" "$b"); ra=$(ratio "$(med "$mg@ks-after" "$m")" "$a"); cmp="memory ÷ SQLite" ;;
    goal:*) ref=${cmp#goal:}; rb=$(ratio "$b" "$ref"); ra=$(ratio "$a" "$ref"); cmp="÷ goal" ;;
    *) rb=; ra=$(ratio "$a" "$b"); cmp="after ÷ before" ;;
  esac
  local pc="— | — | —"; if [ -n "$pg" ]; then pc=$(peers "$pg" "$m" "$u"); fi
  printf '| %s | %s | %s | %s | %s: %s%s | %s |\n' "$what" "$(cell "$g@ks-before" "$m" "$u")" "$(cell "$g@ks-after" "$m" "$u")" \
    "$pc" "$cmp" "$ra" "${rb:+ (before $rb)}" "$goal" | sed 's/ (before —)//' 
}
size_row() { # WHAT DIR-PREFIX KEYSTILE-SUFFIX GOAL-MB: peers only for the plain builds
  local b a p="— | — | —"; b=$(size "$BIN/$2ks-before$3"); a=$(size "$BIN/$2ks-after$3")
  if [ -z "$3" ]; then p="$(size "$BIN/$2zitadel") | $(size "$BIN/$2gooauth2") | $(size "$BIN/$2floor")"; fi
  printf '| %s | %s | %s | %s | ÷ goal: %s (before %s) | ≤ %s MB |\n' "$1" "$b" "$a" "$p" \
    "$(ratio "${a/—/}" "$4")" "$(ratio "${b/—/}" "$4")" "$4" | sed 's/ (before —)//'
}

c=$CONCURRENCY
{
  echo "Keystile before: ${before_ref:-not measured (BEFORE unset)}; after: $after_ref. $PASSES interleaved pass(es), ${DURATION} per load cell, c=$c, servers on CPU $SERVER_CPU, load on CPU $LOAD_CPU; medians. Sign-in cells: HS256, argon2id m=8 KiB t=1 p=1 (a cheap user check); the burst: each binary's default argon2id."
  echo
  echo "| what | Keystile before | Keystile after | zitadel/oidc v3 | go-oauth2 v4 | floor | ratio | goal |"
  echo "|---|---:|---:|---:|---:|---:|---|---|"
  row "client_credentials RS256 c=$c, req/s (Keystile: SQLite)" cc-RS256 rate rate cc-RS256 floor "—"
  row "client_credentials HS256 c=$c, req/s, request log on (memory)" cc-HS256 rate rate cc-HS256 gooauth2 "≥ 1.5 × go-oauth2"
  row "client_credentials HS256 c=$c, req/s, request log off" cc-HS256-nolog rate rate cc-HS256 gooauth2 "≥ 1.5 × go-oauth2"
  row "client_credentials ES256 c=$c, req/s (SQLite)" cc-ES256 rate rate cc-ES256 floor "≥ 0.95 × floor"
  row "client_credentials EdDSA c=$c, req/s (SQLite)" cc-EdDSA rate rate cc-EdDSA floor "≥ 0.95 × floor"
  row "PKCE sign-ins/s HS256 c=$c, memory" pkce-memory rate rate "" after/before "—"
  row "PKCE sign-ins/s HS256 c=$c, SQLite" pkce-sqlite rate rate "" mem/sqlite:pkce-memory "memory ÷ SQLite ≤ 1.5"
  row "refresh rotations/s HS256 c=$c, memory" refresh-memory rate rate "" after/before "—"
  row "refresh rotations/s HS256 c=$c, SQLite" refresh-sqlite rate rate "" mem/sqlite:refresh-memory "memory ÷ SQLite ≤ 1.5"
  row "idle RSS MiB, serve, memory store (peers: their own)" idle-memory rss_idle mb idle-memory goal:$((13 * 1024)) "≤ 13 MB"
  row "idle RSS MiB, serve, SQLite" idle-sqlite rss_idle mb "" goal:$((13 * 1024)) "≤ 13 MB"
  row "idle RSS MiB, quickstart" idle-quickstart rss_idle mb "" after/before "—"
  row "RSS MiB after $DURATION of client_credentials HS256 c=$c" cc-HS256 rss_after mb cc-HS256 after/before "—"
  row "RSS MiB after $LOAD_RSS_DURATION of client_credentials HS256 c=$c (SQLite)" rss-load23 rss_after mb "" after/before "—"
  row "RSS MiB before a burst of $BURST sign-ins (SQLite)" burst rss_idle mb "" after/before "—"
  row "RSS MiB right after the burst" burst rss_after mb "" after/before "—"
  row "peak RSS MiB (VmHWM) over the burst" burst rss_peak mb "" after/before "—"
  row "RSS MiB ${BURST_WAIT} s after the burst" burst rss_later mb "" after/before "—"
  size_row "binary MB, default build" "" "" 16
  size_row "binary MB, -trimpath -ldflags='-s -w'" release/ "" 16
  for tags in nopostgres nosqlite nopostgres,nosqlite; do
    if [ -f "$BIN/ks-after.$tags" ] || [ -f "$BIN/ks-before.$tags" ]; then
      size_row "binary MB, -tags $tags" "" ".$tags" 16
      size_row "binary MB, -tags $tags, -s -w" release/ ".$tags" 16
    fi
  done
  row "start to first 200 ms, persisted key, SQLite (peers: discovery or /healthz)" start-sqlite start_ms ms start after/before "—"
  row "start to first 200 ms, persisted key, PostgreSQL" start-postgres start_ms ms "" after/before "—"
  echo
  echo "Raw reports and logs: $OUT/raw"
} | tee "$OUT/table.md"
