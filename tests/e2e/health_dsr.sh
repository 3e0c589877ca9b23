#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# health.sh for an ipip (DSR) VIP: the backends answer the clients themselves, and limpet acts on
# their health from the clients' side only.
HC_MODE=ipip exec bash "$(dirname "$0")/health.sh"
