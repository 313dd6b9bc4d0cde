#!/bin/bash
# memory.sh BIN LABEL: the resident-memory figures of issue 12 (goal 4) for
# one keystile binary, on loopback only, in about three minutes:
#
#   go build -o /tmp/keystile-load ./cmd/keystile-load
#   go build -o /tmp/keystile ./cmd/keystile
#   LOAD=/tmp/keystile-load bash tests/measure/memory.sh /tmp/keystile after
#
# idle serve (memory store, then SQLite; RS256 key file; one discovery
# request, 2 s); a burst of at least 50 PKCE sign-ins (10 users, 10 at a
# time, argon2id m=64 MiB) and the RSS 0/10/30/60 s after it; RSS during
# and after 23 s of client_credentials (concurrency 16); idle quickstart.
# docs/performance.md ("Memory") has the figures.
set -u
BIN=$1; L=$2; LOAD=${LOAD:-keystile-load}
W=$(mktemp -d)
SECRET=bench-secret-0123456789abcdef0123456789
hash=$(printf %s "$SECRET" | sha256sum | cut -d' ' -f1)
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$1/status; }
waitup() { for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/.well-known/openid-configuration" && return 0; sleep 0.05; done; return 1; }
cfg() { # store port
cat > $W/$2.yaml <<Y
issuer: http://127.0.0.1:$2
listen: 127.0.0.1:$2
store: "$1"
log_level: warn
signing: {algorithm: RS256, key_file: $W/signing.pem}
users_file: $W/users.yaml
clients:
  - id: bench
    secret_hash: "sha256:$hash"
    grant_types: [client_credentials]
  - id: web
    public: true
    redirect_uris: [http://127.0.0.1:1/cb]
    scopes: [openid]
Y
}
echo users: > $W/users.yaml
for i in 0 1 2 3 4 5 6 7 8 9; do printf '  - username: demo%s\n    password_hash: "$argon2id$v=19$m=65536,t=3,p=2$I6uaX7lpEHo01Bg17J44cw$WGt0hbt9Kjseid5UvBGP1ej6Eqo3kGX2GGhUTg5d9P8"\n' $i >> $W/users.yaml; done
# idle: memory store, sqlite store
for st in memory: sqlite; do
  port=$((9400 + RANDOM % 500)); s=$st; [ $st = sqlite ] && s="sqlite:$W/ks-$port.db"
  cfg "$s" $port
  $BIN serve --config $W/$port.yaml >$W/$port.log 2>&1 & P=$!
  waitup $port; sleep 2; echo "$L idle serve $st (1 discovery): $(rss $P) MB"
  if [ $st = sqlite ]; then
    # burst of sign-ins
    total=0; : > $W/burst.txt
    while [ $total -lt 50 ] && kill -0 $P 2>/dev/null; do
      KEYSTILE_LOAD_PASSWORD='walkthrough demo password' $LOAD --issuer http://127.0.0.1:$port --mode pkce --client-id web --redirect-uri http://127.0.0.1:1/cb --username demo0,demo1,demo2,demo3,demo4,demo5,demo6,demo7,demo8,demo9 --scope openid --duration 2s --concurrency 10 > $W/burst1.txt 2>&1
      cat $W/burst1.txt >> $W/burst.txt
      n=$(awk '$1=="flow"{print $4}' $W/burst1.txt); total=$((total + ${n:-0}))
      hwm=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$P/status)
    done
    echo "$L burst: sign-ins $total, peak RSS (VmHWM) $hwm MB, RSS t=0: $(rss $P) MB"
    for t in 10 30 60; do sleep $((t - ${prev:-0})); prev=$t; echo "$L   after burst t=${t}s: $(rss $P) MB"; done; prev=0
    kill $P; wait $P 2>/dev/null
    # 23 s client_credentials
    port=$((port+1)); cfg "sqlite:$W/cc-$port.db" $port
    $BIN serve --config $W/$port.yaml >$W/$port.log 2>&1 & P=$!
    waitup $port; sleep 1
    KEYSTILE_LOAD_CLIENT_SECRET=$SECRET $LOAD --issuer http://127.0.0.1:$port --mode client-credentials --client-id bench --duration 23s --concurrency 16 > $W/cc.txt 2>&1 &
    LP=$!; sleep 8; r8=$(rss $P); sleep 8; r16=$(rss $P); wait $LP
    echo "$L client_credentials RSS at 8 s: $r8 MB, 16 s: $r16 MB"
    echo "$L after 23s client_credentials (sqlite, RS256): $(rss $P) MB; $(awk '$1=="token"{print "tokens", $2, "req/s", $4}' $W/cc.txt)"
  fi
  kill $P; wait $P 2>/dev/null
done
# quickstart
port=$((9400 + RANDOM % 500)); mkdir $W/qs
$BIN quickstart --listen 127.0.0.1:$port --dir $W/qs >$W/qs.log 2>&1 & P=$!
waitup $port; sleep 2; echo "$L idle quickstart (1 discovery): $(rss $P) MB"
kill $P; wait $P 2>/dev/null
echo "raw: $W"
