# Kernel status: what a kernel says about its IPVS beyond the rules.
#
# Rule: pure parsing of the texts the kernel writes (/proc/net/ip_vs_status,
# the net.ipv4.vs sysctls) into a Status value; the Client reads the files
# (in its network namespace) and hands the texts here. What a kernel lacks
# (ip_vs_status before 7.x, est_* sysctls before 6.2, ...) is absent from
# the result, never an error.
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Optional, Union

from ._model import _value_class

SYSCTL_DIR = "/proc/sys/net/ipv4/vs"
STATUS_FILE = "ip_vs_status"  # under /proc/net, since the 7.x kernels


@_value_class()
class Status:
    """IPVS in one kernel (one network namespace).

    version: IPVS's version, e.g. "1.2.1". conn_tab_size: the connection
    table's size as GET_INFO reports it (ipvsadm's "size=N": on 7.x kernels
    the current number of buckets of this namespace's resizable table, 0
    before the first service; before, the fixed compile-time size).
    estimating: whether the kernel estimates rates (sysctl run_estimation;
    kernels without the sysctl always do): when False every rate reads 0
    and means nothing. tables: /proc/net/ip_vs_status parsed (connections,
    buckets, load factors, estimator threads; empty where the kernel has no
    such file), with status_text the file as the kernel wrote it. sysctls:
    every net.ipv4.vs sysctl this kernel has, as a number where its text is
    one (est_cpulist and the like stay text). Compared by value; not
    hashable (it holds dicts)."""
    version: str = ""
    conn_tab_size: int = 0
    estimating: bool = True
    tables: dict = None  # type: ignore[assignment]
    status_text: str = ""
    sysctls: dict = None  # type: ignore[assignment]

    def __post_init__(self):
        for name in ("tables", "sysctls"):
            if getattr(self, name) is None:
                self.__dict__[name] = {}


def _key(text: str) -> str:
    out = []
    for ch in text.strip().lower():
        out.append(ch if ch.isalnum() else "_")
    return "_".join(w for w in "".join(out).split("_") if w)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return None


def parse_status(text: str) -> Dict[str, int]:
    """/proc/net/ip_vs_status -> {key: number}. Each line is "Label:\\tN"
    with an optional "(...)" of comma-separated details, each either
    "N word" (-> label_word), "word N" (-> label_word) or "N%"
    (-> label_percent): "Conn buckets:\\t256 (8 bits, lfactor -4)" gives
    conn_buckets 256, conn_buckets_bits 8, conn_buckets_lfactor -4. A line
    or a detail in another shape is left out (the text keeps it)."""
    out: Dict[str, int] = {}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if not sep:
            continue
        key = _key(label)
        value = value.strip()
        details = ""
        if value.endswith(")") and "(" in value:
            value, _, details = value[:-1].partition("(")
            value = value.strip()
        n = _number(value)
        if not key or n is None:
            continue
        out[key] = n
        for part in details.split(","):
            words = part.split()
            if len(words) == 1 and words[0].endswith("%"):
                n = _number(words[0][:-1])
                name = "percent"
            elif len(words) == 2 and _number(words[0]) is not None:
                n, name = _number(words[0]), words[1]
            elif len(words) == 2 and _number(words[1]) is not None:
                n, name = _number(words[1]), words[0]
            else:
                continue
            if n is not None and _key(name):
                out[key + "_" + _key(name)] = n
    return out


def parse_sysctl(text: str) -> Union[int, str]:
    """A sysctl file's text: an int where it is one, else the text
    (whitespace between fields made single spaces, as sysctl(8) prints)."""
    value = " ".join(text.split())
    n = _number(value)
    return n if n is not None else value


def estimating(sysctls: Dict[str, str]) -> bool:
    """Does the kernel estimate rates, by its sysctl texts? run_estimation 0
    says no; kernels without that sysctl always estimate."""
    run = parse_sysctl(sysctls["run_estimation"]) if "run_estimation" in sysctls else None
    return run != 0 if isinstance(run, int) else True


def make_status(*, version: str, conn_tab_size: int, status_text: Optional[str],
                sysctls: Dict[str, str]) -> Status:
    """A Status from what the kernel reported: the GET_INFO fields, the
    status file's text (None where there is none) and {sysctl name: text}."""
    values = {name: parse_sysctl(text) for name, text in sorted(sysctls.items())}
    return Status(version=version, conn_tab_size=conn_tab_size, estimating=estimating(sysctls),
                  tables=parse_status(status_text or ""), status_text=status_text or "",
                  sysctls=values)


def read_sysctls(names=None, directory: str = SYSCTL_DIR) -> Dict[str, str]:
    """{name: text} of the readable files `names` (default: all) in
    `directory`; a missing one is left out. The calling thread's network
    namespace decides which values /proc/sys/net shows."""
    import os
    out: Dict[str, str] = {}
    if names is None:
        try:
            names = os.listdir(directory)
        except OSError:
            return out
    for name in names:
        try:
            with open(os.path.join(directory, name), "rb") as f:
                out[name] = f.read(4096).decode("ascii", "replace")
        except OSError:  # write-only or gone: not a value to show
            continue
    return out


__all__ = ["Status", "parse_status", "parse_sysctl", "estimating", "make_status",
           "read_sysctls"]
