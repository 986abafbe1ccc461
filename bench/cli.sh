#!/bin/sh
# bench/cli.sh — `make bench` for the CLI, side by side with its anchors:
#   winmem report on a 5-million-call trace  vs  cat of the same file
#   winmem maps of a 60,000-VMA process      vs  cat /proc/PID/maps
#   winmem diff of two 1-million-call runs   vs  winmem report of both
# Medians of several runs; targets: report >= 5 M records/s, maps < 30 ms,
# diff within 3x of report on the same traces.
# Printed, never asserted (timing belongs here, not in tests).
set -eu
B=${BUILD:-build}
W=$B/winmem
N=${WINMEM_BENCH_CALLS:-5000000}
TRACE=$B/bench/cli-big.wmt
if [ ! -s "$TRACE" ] || [ "$B/bench/cli_gen" -nt "$TRACE" ]; then
    echo "generating $TRACE ($N calls) ..."
    "$B/bench/cli_gen" "$TRACE" "$N"
fi
DN=${WINMEM_BENCH_DIFF_CALLS:-1000000}
for seed in 1 2; do
    if [ ! -s "$B/bench/cli-diff$seed.wmt" ] || [ "$B/bench/cli_gen" -nt "$B/bench/cli-diff$seed.wmt" ]; then
        echo "generating $B/bench/cli-diff$seed.wmt ($DN calls, seed $seed) ..."
        "$B/bench/cli_gen" "$B/bench/cli-diff$seed.wmt" "$DN" $seed
    fi
done
exec python3 - "$W" "$TRACE" "$N" "$B/bench/cli_vmas" "$B/bench/cli-diff1.wmt" "$B/bench/cli-diff2.wmt" "$DN" <<'PY'
import os, statistics, subprocess, sys, time
w, trace, n, vmas = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
d1, d2, dn = sys.argv[5], sys.argv[6], int(sys.argv[7])
cpu = {}
def median_time(cmd, runs):
    """Median wall time; the median CPU time (user+sys) goes to cpu[cmd[1]],
    which says more than wall time when other work shares the machine."""
    ts, cs = [], []
    for _ in range(runs):
        r0 = os.times()
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        ts.append(time.perf_counter() - t)
        r1 = os.times()
        cs.append(r1.children_user - r0.children_user + r1.children_system - r0.children_system)
    cpu[" ".join(cmd[:2])] = statistics.median(cs)
    return statistics.median(ts)
print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times suffer when it exceeds the CPUs)")
subprocess.run(["cat", trace], stdout=subprocess.DEVNULL)   # warm the page cache
rep = median_time([w, "report", trace], 5)
cat = median_time(["cat", trace], 5)
rate = n / rep / 1e6
print(f"winmem report  {n} calls ({os.path.getsize(trace) >> 20} MiB): {rep*1000:8.1f} ms = {rate:5.1f} M records/s "
      f"(target >= 5)  {'ok' if rate >= 5 else 'BELOW TARGET'}")
print(f"  anchor: cat of the same file            {cat*1000:8.1f} ms   ratio report/cat = {rep/cat:5.1f}"
      f"   (CPU: report {cpu[w + ' report']*1000:.0f} ms)")
for f in (d1, d2):
    subprocess.run(["cat", f], stdout=subprocess.DEVNULL)
r1 = median_time([w, "report", d1], 5)
r2 = median_time([w, "report", d2], 5)
rcpu = cpu[w + " report"]
df = median_time([w, "diff", d1, d2], 5)
dcpu = cpu[w + " diff"]
ratio = df / (r1 + r2)
print(f"winmem diff    two runs of {dn} calls: {df*1000:8.1f} ms (target <= 2000, and <= 3x report)  "
      f"{'ok' if df <= 2.0 and ratio <= 3 else 'ABOVE TARGET'}")
print(f"  anchor: winmem report of both traces    {(r1+r2)*1000:8.1f} ms   ratio diff/report = {ratio:5.2f}"
      f"   (CPU: diff {dcpu*1000:.0f} ms)")
p = subprocess.Popen([vmas, "60000"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
pid = p.stdout.readline().strip()
with open(f"/proc/{pid}/maps") as f:
    nvma = sum(1 for _ in f)
mj = median_time([w, "maps", pid, "--json"], 11)
mp = median_time([w, "maps", pid], 11)   # after --json: its CPU time is the one kept
ct = median_time(["cat", f"/proc/{pid}/maps"], 11)
p.stdin.close(); p.wait()
print(f"winmem maps    {nvma} VMAs: {mp*1000:8.1f} ms (--json {mj*1000:.1f} ms) "
      f"(target < 30)  {'ok' if mp < 0.030 else 'ABOVE TARGET'}")
print(f"  anchor: cat /proc/PID/maps              {ct*1000:8.1f} ms   ratio maps/cat = {mp/ct:5.2f}"
      f"   (CPU: maps {cpu[w + ' maps']*1000:.1f} ms, cat {cpu['cat /proc/' + pid + '/maps']*1000:.1f} ms)")
PY
