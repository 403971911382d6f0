"""Start-up of whole commands, timed interleaved: each round runs every
command once, in a new process, in turn, so a busy moment of a shared
machine hits all of them alike. Prints per command the median, the
quartiles and the minimum wall time in milliseconds, and the median's
excess over the first command (usually `python -c pass`).

    python3 benchmarks/startup.py [-n ROUNDS] -- 'CMD ARGS' -- 'CMD ARGS' ...

Commands are split on spaces (no shell); their output goes to /dev/null
and their exit status is ignored (ipvsadm -h exits 0, --bogus 255)."""
import subprocess
import sys
import time


def main(argv):
    rounds = 30
    if argv[:1] == ["-n"]:
        rounds, argv = int(argv[1]), argv[2:]
    commands = [c.split() for c in " ".join(argv).split(" -- ") if c.strip() and c != "--"]
    commands = [[w for w in c if w != "--"] for c in commands]
    times = [[] for _ in commands]
    for c in commands:  # one untimed run each: page cache warm, as for every later run
        subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(rounds):
        for i, c in enumerate(commands):
            t = time.perf_counter()
            subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[i].append((time.perf_counter() - t) * 1000)
    base = None
    for c, ts in zip(commands, times):
        ts.sort()
        med = ts[len(ts) // 2]
        base = med if base is None else base
        print("%8.2f ms median (q1 %.2f, q3 %.2f, min %.2f)  +%5.2f  %s" % (
            med, ts[len(ts) // 4], ts[3 * len(ts) // 4], ts[0], med - base, " ".join(c)))


if __name__ == "__main__":
    main(sys.argv[1:])
