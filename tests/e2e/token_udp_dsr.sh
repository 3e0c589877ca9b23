#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# token_udp.sh through an ipip (DSR) VIP: limpet sees only the clients' datagrams, the backends
# answer from the VIP themselves.
TOKU_MODE=ipip exec bash "$(dirname "$0")/token_udp.sh"
