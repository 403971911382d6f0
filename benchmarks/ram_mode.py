"""Inside the test VM: put what both tools load into the guest's RAM before
timing, so that no timed run reads the host's root over 9p.

Copied to a tmpfs and bind-mounted over the same paths (the VM's mounts
vanish with it): the Python runtime (the interpreter's binary and its
standard library, byte-code included), the venv our ipvsadm is installed
in, the reference ipvsadm, the independent floor client if one is given,
and every shared library `ldd` names for the binaries and for the
extension modules of the venv and the standard library (libnl-3,
libnl-genl-3, libpopt, libffi, the C library and the loader). What stays
on 9p: lookups of paths outside those (a missing file Python probes for,
/etc), and the benchmark drivers, which are not timed.

    python benchmarks/ram_mode.py --venv VENV [--also FILE ...] [--json F]

Prints `python -c pass` and the reference's `-h` before and after (medians
of 5), which shows what the 9p share was.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

REF = "/usr/sbin/ipvsadm"
RAM = "/run/ipvs-ram"


def libraries(binaries):
    """The shared libraries ldd names for these binaries (real paths)."""
    out = set()
    for b in binaries:
        p = subprocess.run(["ldd", b], capture_output=True, text=True)
        for m in re.finditer(r"(/\S+) \(0x", p.stdout):
            out.add(os.path.realpath(m.group(1)))
    return out


def what_to_move(venv, also=()):
    """(folders, files): what the timed commands load."""
    py = os.path.realpath(os.path.join(venv, "bin", "python"))
    stdlib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    folders = [stdlib, os.path.realpath(venv)]
    binaries = [py, REF] + [os.path.realpath(a) for a in also]
    for top in folders:
        for dirpath, _, names in os.walk(top):
            binaries += [os.path.join(dirpath, n) for n in names if n.endswith(".so")]
    files = {py, REF} | {os.path.realpath(a) for a in also} | libraries(binaries)
    return folders, sorted(f for f in files if not any(f.startswith(d + "/") for d in folders))


def move(folders, files):
    """Copy each into the tmpfs and bind-mount the copy over the original."""
    os.makedirs(RAM, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500M", "ipvs-ram", RAM], check=True)
    for path in folders + files:
        copy = RAM + path
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        subprocess.run(["cp", "-a", path, copy], check=True)
        subprocess.run(["mount", "--bind", copy, path], check=True)


def median_run(argv, n=5):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", required=True)
    ap.add_argument("--also", nargs="*", default=[], help="more binaries the timed runs load")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if not os.environ.get("IPVS_IN_VM"):
        raise SystemExit("ram_mode.py mounts over the system's paths: run it in the test VM")
    py = os.path.join(a.venv, "bin", "python")
    probes = {"python -c pass": [py, "-c", "pass"], "reference -h": [REF, "-h"]}
    before = {k: median_run(v) for k, v in probes.items()}
    folders, files = what_to_move(a.venv, a.also)
    t0 = time.perf_counter()
    move(folders, files)
    took = time.perf_counter() - t0
    size = int(subprocess.run(["du", "-sm", RAM], capture_output=True, text=True,
                              check=True).stdout.split()[0])
    after = {k: median_run(v) for k, v in probes.items()}
    print("RAM mode: %d MiB in %s (%.0f s): %s; %s" % (
        size, RAM, took, ", ".join(folders), ", ".join(files)))
    for k in probes:
        print("    %-16s over 9p %.3f s, from RAM %.3f s (medians of 5)" % (k, before[k], after[k]))
    sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"folders": folders, "files": files, "mib": size, "copy_s": took,
                       "over_9p_s": before, "from_ram_s": after}, f, indent=1)


if __name__ == "__main__":
    main()
