"""Each fast path turned off, for the benchmarks only: nothing in the package
knows these switches.

A benchmark's child interpreter runs this file's text (`source()`, handed
to `python -c` ahead of the command, so the child reads no extra file) and
then `switch(names)` before ipvsadm's main(). Names:

  split      the second socket and its thread (SPLIT_DUMPS out of reach)
  nofork     the twin's child process (its second socket's dumps then run
             after the first's)
  noshapes   the twin's learned shapes (the generic reader only)
  noproc     /proc/net/ip_vs for -Ln (GET_DEST dumps instead)
  pylines    C's line writer (C decodes, the twin's programs write the
             lines from C's records)
  pyproc     C's pairing of -Ln (the twin's pairing, C decoding)
  pylnc      C's -Lnc renderer (C's decoder, the twin's formatter)
  pyrules    C's -R encoder (the twin's, C otherwise)
  onesend    packed sends of -R (one request a send: the send buffer holds
             only the longest request)
"""


def source():
    """This file's text, to run in a child ahead of the command."""
    with open(__file__) as f:
        return f.read().split("\nif __name__ ==")[0] + "\n"


def switch(names):
    names = set(filter(None, names))
    unknown = names - {"split", "nofork", "noshapes", "noproc", "pylines", "pyproc", "pylnc",
                       "pyrules", "onesend"}
    if unknown:
        raise SystemExit("unknown switch: %s" % ", ".join(sorted(unknown)))
    if "noproc" in names:
        import ipvs._client
        proc_file = ipvs._client.Client.proc_file
        ipvs._client.Client.proc_file = \
            lambda self, name: "/nonexistent" if name == "ip_vs" else proc_file(self, name)
    if "split" in names:
        import ipvs._transport
        ipvs._transport.SPLIT_DUMPS = 1 << 30
    if "nofork" in names:
        import ipvs._dumps_py
        ipvs._dumps_py._may_fork = lambda other: False
    if "noshapes" in names:
        import ipvs._shapes
        ipvs._shapes.shaped = lambda layout, parse: parse
        ipvs._shapes.buffered = lambda parse: ((lambda *a: None), (lambda *a: None))
    if "pyproc" in names:
        import ipvs._decoder
        import ipvs._decode_py
        import ipvs._fastlist
        ipvs._decoder.numeric_services = ipvs._decode_py.numeric_services
        ipvs._fastlist.numeric_services = ipvs._decode_py.numeric_services
        ipvs._decoder.proc_numeric = ipvs._decode_py.proc_numeric
    if "pylnc" in names:
        import ipvs._decoder
        import ipvs._decode_py
        import ipvs._conns
        ipvs._decode_py.decode_conns = ipvs._decoder.decode_conns
        ipvs._conns.render_conns_numeric = ipvs._decode_py.render_conns_numeric
    if "pylines" in names:
        import ipvs._tablemethods
        import ipvs._lines_c
        import ipvs._dumps_py
        run_dumps = ipvs._tablemethods.run_dumps

        def records_then_lines(sock, requests, pid, args, lines=None, more=(), counts=None):
            records, statuses, errors = run_dumps(sock, requests, pid, args, None, more, counts)
            if lines is None:
                return records, statuses, errors
            return [ipvs._dumps_py._chunks(one, records) for one in lines], statuses, errors
        ipvs._tablemethods.run_dumps = records_then_lines
        ipvs._lines_c.record_lines = lambda *a: ""  # (no lines: the twin's)
    if "pyrules" in names:
        import ipvs._decoder
        import ipvs._decode_py
        ipvs._decoder.encode_rules = ipvs._decode_py.encode_rules
    if "onesend" in names:
        import ipvs._transport
        ipvs._transport.BATCH_BYTES = 164  # the longest request of the rules: one a send


# What a child runs after source(): the switches its environment names,
# then ipvsadm's main() with the child's arguments.
RUN = ("import os as _os, sys as _sys\n"
       "switch(_os.environ.pop('IPVS_BENCH_SWITCHES', '').split(','))\n"
       "_sys.argv = ['ipvsadm'] + _sys.argv[1:]\n"
       "from ipvs.cli import main as _main\n"
       "_sys.exit(_main())\n")


if __name__ == "__main__":
    print(source() + RUN)
