#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Turn tools/bench/peers.sh's raw results into a markdown report and PNG plots (gnuplot).

  report.py DIR     reads DIR/meta, DIR/results.tsv, DIR/sessions/*/; writes DIR/peers.md and
                    DIR/rps.png, DIR/cpu.png, DIR/moved.png (plots only if gnuplot is installed)
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections import Counter, defaultdict

NAMES = {
    "direct": ("direct to one backend (no balancer)", "direct"),
    "direct-3": ("direct to all three (the client spreads, no balancer)", "direct, three"),
    "limpet-ip": ("limpet ip-hash", "limpet ip"),
    "limpet-token": ("limpet token (query session_id)", "limpet token"),
    "nft": ("nftables DNAT jhash ip saddr, fixed seed", "nftables"),
    "haproxy-url": ("HAProxy url_param session_id + consistent, fixed ids", "HAProxy url"),
    "haproxy-url-defid": ("HAProxy url_param session_id + consistent, default ids", "HAProxy url (def. ids)"),
    "haproxy-src": ("HAProxy source + consistent, fixed ids", "HAProxy src"),
    "haproxy-src-defid": ("HAProxy source + consistent, default ids", "HAProxy src (def. ids)"),
    "nginx-http": ("NGINX http hash $remote_addr consistent", "NGINX http"),
    "nginx-stream": ("NGINX stream hash $remote_addr consistent", "NGINX stream"),
}
ORDER = list(NAMES)


def med(v):
    return statistics.median(v) if v else float("nan")


def span(v, fmt):
    return (fmt + "–" + fmt) % (min(v), max(v)) if len(v) > 1 else "–"


def pct(x):
    return "%.1f %%" % (100 * x)


def load_results(d):
    rows = []
    with open(os.path.join(d, "results.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            rows.append({"round": int(p[0]), "key": p[1], "mode": p[2], "rps": float(p[3]),
                         "p50": float(p[4]), "p99": float(p[5]), "n": int(p[6]), "err": int(p[7]),
                         "busy": float(p[8]), "softirq": float(p[9]), "procs": float(p[10]),
                         "steal": float(p[11]), "other": float(p[12])})
    return rows


def perf(rows):
    """per (key, mode): lists over rounds of rps, ratio to direct, CPU ms per 1k requests"""
    by = {(r["round"], r["key"], r["mode"]): r for r in rows}
    out = defaultdict(lambda: defaultdict(list))
    for (rnd, key, mode), r in by.items():
        o = out[(key, mode)]
        per_k = 1000.0 / r["n"] if r["n"] else float("nan")
        o["rps"].append(r["rps"])
        o["p50"].append(r["p50"])
        o["p99"].append(r["p99"])
        o["err"].append(r["err"])
        o["cpu"].append(r["busy"] * per_k)
        o["procs"].append(r["procs"] * per_k)
        o["softirq"].append(r["softirq"] * per_k)
        for base, sfx in (("direct", ""), ("direct-3", "3")):
            d = by.get((rnd, base, mode))
            if d and d["rps"] > 0 and d["n"]:
                dk = 1000.0 / d["n"]
                o["ratio" + sfx].append(r["rps"] / d["rps"])
                o["extra" + sfx].append(r["busy"] * per_k - d["busy"] * dk)
                o["extra_softirq" + sfx].append(r["softirq"] * per_k - d["softirq"] * dk)
    return out


def sessions(d, key):
    s = os.path.join(d, "sessions", key)
    if not os.path.isdir(s):
        return None

    def j(name):
        with open(os.path.join(s, name)) as f:
            return json.load(f)

    base, addr, add, rm, ws = j("base.json"), j("addr.json"), j("add.json"), j("remove.json"), j("ws.json")
    n = len(base)
    first = [x[0] for x in base]
    add1 = [x[0] for x in add]
    rm1 = [x[0] for x in rm]
    errs = sum(v == "err" for x in base + addr + add + rm for v in x)
    moved_add = [i for i in range(n) if add1[i] != first[i]]
    moved_rm = [i for i in range(n) if rm1[i] != add1[i]]
    return {
        "n": n, "conns": len(base[0]) if base else 0, "errors": errs,
        "sticky": sum(len(set(x)) == 1 and x[0] != "err" for x in base) / n,
        "spread": Counter(first),
        "addr_kept": sum(addr[i][0] == first[i] for i in range(n)) / n,
        "add_moved": len(moved_add) / n,
        "add_needless": sum(add1[i] != "be4" for i in moved_add) / n,
        "rm_moved": len(moved_rm) / n,
        "rm_ideal": sum(add1[i] == "be2" for i in range(n)) / n,
        "rm_needless": sum(add1[i] != "be2" for i in moved_rm) / n,
        "ws": ws,
    }


def gnuplot(d, name, script):
    if not shutil.which("gnuplot"):
        return False
    subprocess.run(["gnuplot"], input=script, text=True, cwd=d, check=True)
    return os.path.exists(os.path.join(d, name))


def bars(d, png, title, ylabel, cols, data, extra=""):
    """clustered bars: data = [(label, [v per col])]"""
    dat = png.replace(".png", ".dat")
    with open(os.path.join(d, dat), "w") as f:
        for label, vals in data:
            f.write('"%s" %s\n' % (label, " ".join("%.4f" % v for v in vals)))
    plots = ", ".join("'%s' using %d:xtic(1) title '%s'" % (dat, i + 2, c) for i, c in enumerate(cols))
    return gnuplot(d, png, """set terminal pngcairo size 900,480 font ",10"
set output '%s'
set title "%s"
set ylabel "%s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -25 scale 0
set key top right
set grid ytics
set yrange [0:*]
%s
plot %s
""" % (png, title, ylabel, extra, plots))


def main(d):
    meta = {}
    with open(os.path.join(d, "meta")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    rows = load_results(d)
    p = perf(rows)
    keys = [k for k in ORDER if (k, "ka") in p]
    skeys = [k for k in ORDER if os.path.isdir(os.path.join(d, "sessions", k))]
    S = {k: sessions(d, k) for k in skeys}
    o = []
    w = o.append
    w("Measured %s on %s, kernel %s; %s." % (meta["date"], meta["machine"], meta["kernel"], meta["versions"]))
    w("Command: `%s`. Testbed: a client namespace with %s source addresses, a balancer namespace,"
      " four backend namespaces with nginx (one worker) and a WebSocket echo server; three backends"
      " in every pool, the fourth added for the disruption figures." % (meta["command"], meta["nsess"]))
    w("")
    w("### Requests per second and latency")
    w("")
    w("wrk -t2 -c%s for %s s per run, %s rounds (balancer order rotated per round). × direct is the"
      " median of per-round ratios to direct to one backend (min–max beside it), as the issue asks;"
      " × three is the ratio to the client spreading its connections over the three backends itself"
      " (no balancer): on 2 CPUs three nginx processes cost more than one, and every balancer pays"
      " that too. Latency: medians over rounds (wrk starts its clock when the request is written,"
      " after the client's handshake)." % (meta["wrk_conns"], meta["secs"], meta["rounds"]))
    w("")
    w("| balancer | keep-alive req/s | × direct | × three | p50 / p99 ms | new conn. req/s | × direct | × three | p50 / p99 ms | errors |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in keys:
        ka, nw = p[(k, "ka")], p[(k, "new")]
        cells = [NAMES[k][0]]
        for m in (ka, nw):
            cells += ["%.0f" % med(m["rps"]),
                      "%.2f (%s)" % (med(m["ratio"]), span(m["ratio"], "%.2f")) if k != "direct" else "1",
                      ("%.2f" % med(m["ratio3"]) if m["ratio3"] else "–") if k != "direct-3" else "1",
                      "%.2f / %.2f" % (med(m["p50"]), med(m["p99"]))]
        cells.append("%d" % (sum(ka["err"]) + sum(nw["err"])))
        w("| " + " | ".join(cells) + " |")
    w("")
    w("### CPU per 1,000 requests")
    w("")
    w("Busy CPU time (user, system, irq, softirq of the whole machine) over each run, per 1,000"
      " requests, medians over rounds. The balancer's cost is the machine's minus a direct baseline's"
      " in the same round (one backend, or the client spreading over three); *processes*"
      " = the proxies' own processes in the balancer namespace; softirq is where XDP, nftables and"
      " veth forwarding run. The machine is saturated in every run, so these are costs per request.")
    w("")
    w("| balancer | mode | machine ms | − direct's | − three's | processes ms | softirq − three's ms |")
    w("|---|---|---:|---:|---:|---:|---:|")

    def diff(m, key, k, base):
        return "%.1f" % med(m[key]) if k != base and m[key] else "–"

    for k in keys:
        for mode, label in (("ka", "keep-alive"), ("new", "new conn.")):
            m = p[(k, mode)]
            w("| %s | %s | %.1f | %s | %s | %.1f | %s |" % (
                NAMES[k][0], label, med(m["cpu"]), diff(m, "extra", k, "direct"),
                diff(m, "extra3", k, "direct-3"), med(m["procs"]),
                diff(m, "extra_softirq3", k, "direct-3")))
    w("")
    if S:
        first = next(iter(S.values()))
        w("### Sessions")
        w("")
        w("%d sessions (session i: its own client address and `session_id=s<i>`) × %d new"
          " connections; then the same ids from %d new addresses; then a fourth backend added (be4),"
          " then be2 removed. *Moved* compares each session's backend with the one before the change;"
          " *needless* = moved, but not to the new backend (add) or not from the removed one (remove)."
          " A stateless hash must move 1/4 of the sessions to fill the new backend; a balancer that"
          " keeps session state needs to move none. WebSocket: %s connections opened before the"
          " change, each sending a message every 0.5 s until after it." % (
              first["n"], first["conns"], first["n"], meta["ws_n"]))
        w("")
        w("| balancer | sticky | sessions per backend | same id, new address: kept | add: moved | add: needless"
          " | remove: moved | remove: on be2 (ideal) | remove: needless | WebSockets kept | errors |")
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for k in skeys:
            s = S[k]
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d | %d |" % (
                NAMES[k][0], pct(s["sticky"]),
                " / ".join("%d" % s["spread"].get(b, 0) for b in ("be1", "be2", "be3")),
                pct(s["addr_kept"]), pct(s["add_moved"]), pct(s["add_needless"]),
                pct(s["rm_moved"]), pct(s["rm_ideal"]), pct(s["rm_needless"]),
                s["ws"]["kept"], int(meta.get("ws_n", 0)), s["errors"]))
        w("")
    # noise: how far direct moved between rounds, and the hypervisor's steal time
    w("### Noise")
    w("")
    steal = sum(r["steal"] for r in rows)
    busy = sum(r["busy"] for r in rows)
    for mode, label in (("ka", "keep-alive"), ("new", "new-connection")):
        v = p[("direct", mode)]["rps"] if ("direct", mode) in p else []
        if len(v) > 1:
            dev = max(abs(x - med(v)) / med(v) for x in v)
            w("- direct, %s: %s req/s over %d rounds, at most %.1f %% from the median%s." % (
                label, span(v, "%.0f"), len(v), 100 * dev, " — **noisy**" if dev > 0.1 else ""))
        elif v:
            w("- direct, %s: one round only (%s req/s): no spread to report." % (label, "%.0f" % v[0]))
    w("- CPU stolen by the hypervisor during the runs: %.1f %% of busy time%s." % (
        100 * steal / busy if busy else 0, " — **noisy**" if busy and steal / busy > 0.02 else ""))
    flagged = ["%s %s round %d (%.1f %%)" % (NAMES[r["key"]][1], r["mode"], r["round"], 100 * r["other"] / r["busy"])
               for r in rows if r["busy"] and r["other"] / r["busy"] > 0.02]
    w("- Processes outside the testbed used %.2f %% of the busy CPU time over all runs; runs where they"
      " used more than 2 %%: %s." % (100 * sum(r["other"] for r in rows) / busy if busy else 0,
                                     ", ".join(flagged) if flagged else "none"))
    w("")
    # the targets the issue reads the report against
    if ("limpet-ip", "ka") in p:
        li = p[("limpet-ip", "ka")], p[("limpet-ip", "new")]
        w("### limpet ip-hash against its targets")
        w("")
        w("- ≥ 0.95 × direct requests/s: keep-alive %.2f, new connection %.2f (× three: %.2f and %.2f)." % (
            med(li[0]["ratio"]), med(li[1]["ratio"]), med(li[0]["ratio3"]), med(li[1]["ratio3"])))
        if ("nft", "new") in p:
            for mode, label in (("ka", "keep-alive"), ("new", "new connection")):
                a, b = med(p[("limpet-ip", mode)]["extra3"]), med(p[("nft", mode)]["extra3"])
                w("- balancer CPU ≤ 1/4 of nftables' (%s, machine − three's): limpet %.1f ms, nftables %.1f ms per 1k requests (%s)." % (
                    label, a, b, "%.2f ×" % (a / b) if b > 0 else "nftables' is not above direct's"))
        if "limpet-ip" in S:
            s = S["limpet-ip"]
            w("- 100 %% sticky: %s; 0 %% moved on add: %s; on removal only be2's sessions move: %s moved, %s were on be2, %s needless." % (
                pct(s["sticky"]), pct(s["add_moved"]), pct(s["rm_moved"]), pct(s["rm_ideal"]), pct(s["rm_needless"])))
        w("")
    plots = []
    rk = [k for k in keys if k != "direct"]
    ck = [k for k in rk if k != "direct-3"]
    if rk and bars(d, "rps.png", "Requests/s as a ratio to direct to one backend (median of rounds)", "× direct",
                   ["keep-alive", "new connection per request"],
                   [(NAMES[k][1], [med(p[(k, "ka")]["ratio"]), med(p[(k, "new")]["ratio"])]) for k in rk],
                   "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2"):
        plots.append(("rps.png", "Requests/s as a ratio to direct"))
    ex = "extra3" if ("direct-3", "ka") in p else "extra"
    if ck and bars(d, "cpu.png", "Balancer CPU per 1,000 requests (machine − %s's)" % (
                   "direct to three" if ex == "extra3" else "direct"), "ms",
                   ["keep-alive", "new connection per request"],
                   [(NAMES[k][1], [max(0, med(p[(k, "ka")][ex])), max(0, med(p[(k, "new")][ex]))]) for k in ck]):
        plots.append(("cpu.png", "Balancer CPU per 1,000 requests"))
    if S and bars(d, "moved.png", "Sessions moved by a backend change", "% of sessions",
                  ["adding be4", "removing be2", "removing be2: needless"],
                  [(NAMES[k][1], [100 * S[k]["add_moved"], 100 * S[k]["rm_moved"], 100 * S[k]["rm_needless"]]) for k in skeys],
                  "set yrange [0:105]"):
        plots.append(("moved.png", "Sessions moved by a backend change"))
    for f, alt in plots:
        w("![%s](%s)" % (alt, f))
    with open(os.path.join(d, "peers.md"), "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
