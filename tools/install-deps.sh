#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Install what limpet needs to build, test and demo, from Debian's archive.
# Idempotent: installs only what is missing, and runs apt-get update only then.
set -euo pipefail

pkgs=(make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config
      libcmocka-dev libjson-c-dev bpftool iproute2 ethtool nginx-light curl
      python3 python3-websockets procps psmisc wrk gnuplot-nox iputils-ping
      libmicrohttpd-dev libcurl4-openssl-dev prometheus scdoc man-db systemd
      libmnl-dev bird2)
# make bench's peers: HAProxy, NGINX's stream module (nginx-light has http only), nftables
[ "${LIMPET_BENCH:-0}" = 1 ] && pkgs+=(haproxy libnginx-mod-stream nftables)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "Error: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The nginx, haproxy, prometheus and bird2 packages start system services (:80, :9090, BIRD); limpet's
# testbeds run their own in namespaces. Stop only a service this run just installed, never one
# the machine already had.
for svc in nginx haproxy prometheus bird; do
	case " ${missing[*]} " in
	*" $svc "* | *" $svc-light "* | *" ${svc}2 "*)
		if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
			systemctl disable --now "$svc" >/dev/null 2>&1 || true
		elif [ -f "/run/$svc.pid" ]; then
			kill "$(cat "/run/$svc.pid")" 2>/dev/null || true
		fi
		;;
	esac
done
