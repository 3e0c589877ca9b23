#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""CPU ticks used so far by user processes outside the bench's namespaces (those in the host's
network namespace, not kernel threads, not this bench's own shell): the noise make bench reports.
  othercpu.py PID    PID: the bench's shell, left out with its children
"""
import os
import sys

PF_KTHREAD = 0x00200000


def main(skip):
    host = os.readlink("/proc/self/ns/net")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if os.readlink("/proc/%s/ns/net" % pid) != host:
                continue
            with open("/proc/%s/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state, ppid, pgrp, session, tty, tpgid, flags, 4 fault counts, utime, stime
        if int(st[6]) & PF_KTHREAD or int(st[1]) == skip or int(pid) == skip:
            continue
        total += int(st[11]) + int(st[12])
    print(total)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
