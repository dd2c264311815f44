#!/usr/bin/env bash
# GET /api/v2/users/me with an API token, 50 connections, on loopback. Starts its own server with an
# embedded PostgreSQL in a temporary directory and removes it afterwards.
#   loadtests/wrk/users-me.sh [duration, default 10s]
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
go build -o bin/hearth ./cmd/hearth
dir=$(mktemp -d); chmod 711 "$dir"
addr=127.0.0.1:3199
./bin/hearth server --data-dir "$dir" --http-address "$addr" --log-level warn >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill -INT $pid; wait $pid || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 500); do curl -sf "http://$addr/api/v2/health" >/dev/null && break; sleep 0.02; done
api=http://$addr/api/v2; json="Content-Type: application/json"
curl -sf -XPOST "$api/users/first" -H "$json" -d '{"username":"bench","email":"bench@example.com","password":"bench-password"}' >/dev/null
session=$(curl -sf -XPOST "$api/users/login" -H "$json" -d '{"login":"bench","password":"bench-password"}' | sed -E 's/.*"session_token":"([^"]+)".*/\1/')
token=$(curl -sf -XPOST "$api/users/me/tokens" -H "$json" -H "Authorization: Bearer $session" -d '{"name":"bench"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
wrk -t2 -c50 -d"${1:-10s}" --latency -H "Authorization: Bearer $token" "$api/users/me"
