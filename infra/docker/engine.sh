#!/usr/bin/env bash
# Starts a Docker engine for the tests when none answers, and stops the one it started.
#
#   engine.sh start   install docker.io from apt if dockerd is missing, then start dockerd
#   engine.sh stop    stop the dockerd that `start` started (none other)
#
# The engine runs with --bridge=none --iptables=false: the machines Hearth is developed and tested on
# allow no bridge network (its addresses are private-range) and no iptables changes, so containers
# use host networking. Its data lives under .cache/docker, so images built once (the workspace
# image) survive between runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state="$here/../../.cache/docker"
socket=/var/run/docker.sock
pidfile="$state/dockerd.pid"

answers() { docker -H "unix://$socket" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-}" in
start)
	if answers; then
		echo "docker: an engine answers on $socket; using it"
		exit 0
	fi
	if ! command -v dockerd >/dev/null; then
		echo "docker: installing docker.io from apt"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
	fi
	mkdir -p "$state/data"
	rm -f "$pidfile"
	nohup dockerd --bridge=none --iptables=false --ip6tables=false --data-root "$state/data" \
		--host "unix://$socket" --pidfile "$pidfile" >"$state/dockerd.log" 2>&1 &
	for _ in $(seq 1 100); do
		if answers; then
			echo "docker: started dockerd $(docker version --format '{{.Server.Version}}') on $socket (log: .cache/docker/dockerd.log)"
			exit 0
		fi
		sleep 0.2
	done
	echo "docker: dockerd did not answer on $socket within 20 s; its log:" >&2
	tail -20 "$state/dockerd.log" >&2
	exit 1
	;;
stop)
	if [ -f "$pidfile" ]; then
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		rm -f "$pidfile"
		echo "docker: stopped the dockerd this task started"
	fi
	;;
*)
	echo "usage: engine.sh start|stop" >&2
	exit 2
	;;
esac
