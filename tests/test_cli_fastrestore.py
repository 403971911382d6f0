"""The -R fast path gives the bytes of the full parser's operation, or none."""
import io
import random

import pytest

from ipvs._requests import encode_operation
from ipvs.cli import _run
from ipvs import FastRestore


class NoKernel(_run.Runner):
    client = None  # the operations are compared; nothing is sent


def full(line):
    r = NoKernel("ipvsadm", io.StringIO(), io.StringIO(), None)
    words = _run.restore_words(line)
    return r._batchable(["ipvsadm"] + words)


def ip(rnd):
    pick = rnd.random()
    if pick < 0.05:
        return rnd.choice(["010.0.0.1", "1.2.3", "256.1.1.1", "0.0.0.0", "a.b.c.d", "::1",
                           "[1.2.3.4]", "1.2.3.4.5"])
    return "%d.%d.%d.%d" % tuple(rnd.choice([0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255,
                                             rnd.randrange(256)]) for _ in range(4))


def port(rnd):
    return rnd.choice(["0", "1", "80", "65535", "65536", "99999", "080", "http", "",
                       str(rnd.randrange(1, 65536))])


def plain(rnd):
    """A line as ipvsadm -S -n writes it for a plain rule."""
    a = lambda: "%d.%d.%d.%d" % tuple(rnd.randrange(256) for _ in range(4))  # noqa: E731
    p = lambda: rnd.randrange(1, 65536)  # noqa: E731
    proto = rnd.choice(["-t", "-u"])
    if rnd.random() < 0.3:
        return "-A %s %s:%d -s %s\n" % (proto, a(), p(), rnd.choice(["wlc", "rr", "sh"]))
    return "-a %s %s:%d -r %s:%d %s -w %d\n" % (proto, a(), p(), a(), p(),
                                               rnd.choice(["-m", "-g", "-i"]),
                                               rnd.randrange(0, 100000))


def line(rnd):
    if rnd.random() < 0.4:
        return plain(rnd)
    proto = rnd.choice(["-t", "-u", "-t", "--sctp-service", "-f"])
    if rnd.random() < 0.4:
        sched = rnd.choice(["wlc", "rr", "sh", "mh", "x" * 15, "x" * 16, "RR", "w1", ""])
        text = "-A %s %s:%s -s %s" % (proto, ip(rnd), port(rnd), sched)
        extra = rnd.choice(["", "", "", " -p", " -p 60", " -o", " -b sh-port", " -M 255.0.0.0"])
    else:
        fwd = rnd.choice(["-m", "-g", "-i", "-x"])
        weight = rnd.choice(["0", "1", "7", "65535", "65536", "2147483647", "2147483648",
                             "99999999999", "-1", "01"])
        text = "-a %s %s:%s -r %s:%s %s -w %s" % (proto, ip(rnd), port(rnd), ip(rnd), port(rnd),
                                                 fwd, weight)
        extra = rnd.choice(["", "", "", " -x 10", " --tun-type gue", " -y 1"])
    text += extra
    if rnd.random() < 0.05:
        text = text.replace(" ", "  ", 1)
    return text + rnd.choice(["\n", "", " \n", "\t\n"])


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_matches_full_parser(seed):
    rnd = random.Random(seed)
    fast = FastRestore().operation
    accepted = 0
    for _ in range(3000):
        text = line(rnd)
        got = fast(text)
        if got is not None:
            accepted += 1
            assert got == encode_operation(full(text)), text
    assert accepted > 1000  # the generator does reach the fast path


@pytest.mark.parametrize("text", [
    "-A -t 10.0.0.1:80 -s wlc\n",
    "-A -u 192.168.1.255:53 -s rr",
    "-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 3\n",
    "-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -g -w 0\n",
    "-a -u 10.0.0.1:53 -r 10.0.1.1:5353 -i -w 2147483647\n",
])
def test_plain_lines_take_the_fast_path(text):
    got = FastRestore().operation(text)
    assert got is not None and got == encode_operation(full(text))
