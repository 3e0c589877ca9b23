#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# make install: binaries, the systemd unit (checked by systemd-analyze verify), the example
# configuration (it applies) and the man pages (they render, and their commands and options are
# those --help lists, both ways).
. "$(dirname "$0")/lib.sh"
TB=lppkg$$
T=$(mktemp -d)
trap 'tb_cleanup; rm -rf "$T"' EXIT

make -s -C "$E2E_ROOT" install PREFIX="$T/usr" SYSCONFDIR="$T/etc" >"$T/install.log" 2>&1
check "make install (PREFIX, SYSCONFDIR)" [ $? -eq 0 ]
missing=
for f in usr/sbin/limpet usr/sbin/limpetctl usr/lib/systemd/system/limpet@.service etc/limpet/example.conf \
	usr/share/man/man8/limpet.8 usr/share/man/man8/limpetctl.8 usr/share/man/man5/limpet.conf.5; do
	[ -s "$T/$f" ] || missing="$missing $f"
done
check "installed: binaries, unit, example configuration, three man pages (missing:${missing:- none})" [ -z "$missing" ]
cp "$T/usr/lib/systemd/system/limpet@.service" "$T/limpet@edge.service"
out=$(MANPATH="$T/usr/share/man" systemd-analyze verify "$T/limpet@edge.service" 2>&1)
check "systemd-analyze verify limpet@edge.service: clean (${out:-no findings})" [ $? -eq 0 -a -z "$out" ]
check "the unit runs /etc/limpet/%i.conf with the installed limpet" \
	grep -qx "ExecStart=$T/usr/sbin/limpet -i %i run -c /etc/limpet/%i.conf" "$T/limpet@edge.service"
bad=
for m in man8/limpet.8 man8/limpetctl.8 man5/limpet.conf.5; do
	MANWIDTH=100 man -l "$T/usr/share/man/$m" 2>/dev/null | col -b >"$T/$(basename "$m").txt"
	grep -q '^NAME' "$T/$(basename "$m").txt" && grep -q '^SEE ALSO' "$T/$(basename "$m").txt" ||
		bad="$bad $m"
done
check "man -l renders limpet(8), limpetctl(8), limpet.conf(5) (failed:${bad:- none})" [ -z "$bad" ]

# the man pages' commands and options are --help's, both ways
"$T/usr/sbin/limpet" help >"$T/limpet.help"
"$T/usr/sbin/limpetctl" help >"$T/limpetctl.help"
$PY - "$T" "$E2E_ROOT/docs/man" <<'PY'
import re, sys
t, src = sys.argv[1], sys.argv[2]
failed = 0
def result(ok, name, detail=''):
    global failed
    failed += not ok
    print('#', ('ok' if ok else 'DRIFT'), '-', name + ('' if ok else ': ' + detail))
def man_entries(scd):
    """Each entry of COMMANDS (or LINES): its bold words, '*a b*|*c*' giving 'a b' and 'a c'."""
    text = open(scd).read()
    sec = re.search(r'^# (COMMANDS|LINES)\n(.*?)^# ', text, re.S | re.M).group(2)
    out = set()
    for l in sec.splitlines():
        m = re.match(r'\*([a-z -]+)\*((?:\|\*[a-z]+\*)*)', l)
        if m:
            base = m.group(1).split()
            out.add(' '.join(base))
            for alt in re.findall(r'\|\*([a-z]+)\*', m.group(2)):
                out.add(' '.join(base[:-1] + [alt]))
    return out
def man_options(scd):
    sec = re.search(r'^# OPTIONS\n(.*?)^# ', open(scd).read(), re.S | re.M).group(1)
    return set(re.findall(r'\*(-[a-z])\*', sec))
def help_entries(lines):
    """'limpetctl affinity { list | flush } [VIP]' gives 'affinity list' and 'affinity flush'."""
    out = set()
    for l in lines:
        toks, words = l.split()[1:], []
        for i, tk in enumerate(toks):
            if tk == '{':
                alts = toks[i + 1:toks.index('}', i)]
                out |= {' '.join(words + [a]) for a in alts if a != '|'}
                break
            if not re.fullmatch(r'[a-z-]+', tk):
                out.add(' '.join(words))
                break
            words.append(tk)
        else:
            out.add(' '.join(words))
    return out
h = open(t + '/limpet.help').read()
cmds = set(re.findall(r'(?:COMMAND := \{|^\s+\|) ([a-z]+)', h.split('OPTIONS :=')[0], re.M))
got = {c.split()[0] for c in man_entries(src + '/limpet.8.scd')}
result(cmds == got, 'limpet(8) commands = limpet help (%s)' % ' '.join(sorted(cmds)),
       'help only %s, man only %s' % (cmds - got, got - cmds))
opts = set(re.findall(r'(-[a-z])\|--', h))
mo = man_options(src + '/limpet.8.scd')
result(opts == mo, 'limpet(8) options = limpet help (%s)' % ' '.join(sorted(opts)), str(opts ^ mo))
h = open(t + '/limpetctl.help').read()
want = help_entries(l for l in h.splitlines() if l.startswith('limpetctl ')) | {'help'}
got = man_entries(src + '/limpetctl.8.scd')
result(want == got, 'limpetctl(8) commands = limpetctl help (%d)' % len(want),
       'help only %s, man only %s' % (want - got, got - want))
opts = set(re.findall(r'(-[a-z])\|--', h))
mo = man_options(src + '/limpetctl.8.scd')
result(opts == mo, 'limpetctl(8) options = limpetctl help (%s)' % ' '.join(sorted(opts)), str(opts ^ mo))
conf = {'attach dev', 'vip add', 'backend add', 'backend drain', 'flows sweep', 'metrics listen',
        'announce dev'}
got = man_entries(src + '/limpet.conf.5.scd')
result(conf == got, 'limpet.conf(5) lines = what a configuration takes', str(conf ^ got))
sys.exit(1 if failed else 0)
PY
check "the man pages' commands and options are --help's, both ways (above)" [ $? -eq 0 ]

# the example configuration is one limpet takes
TB_DIR=$T
ip netns add "$TB-lb"
ip -n "$TB-lb" link add eth0 type veth peer name eth1
ip -n "$TB-lb" link set eth0 up
ip -n "$TB-lb" link set eth1 up
limpet attach dev eth0 >/dev/null
out=$(limpetctl -j apply "$T/etc/limpet/example.conf" 2>&1)
check "the installed example configuration applies ($(echo "$out" | head -c 120))" \
	[ "$(jget "$out" "len(d['changes'])" 2>/dev/null)" -gt 0 ]
t_done
