"""A minimal IPVS netlink client that shares no code with the project: the
floors of the benchmarks are measured with it (and with floor_dests.c), so
what they report is what the kernel and the system calls cost, not ours.

Only what the benchmarks need: resolve the family, dump services, and send
pre-encoded requests in batches of about 32 KiB with one ack a batch.
Constants from <linux/ip_vs.h> and <linux/genetlink.h>.
"""
import socket
import struct

_HDR = struct.Struct("=IHHII")
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_FAMILY_ID = 16, 3, 2, 1
CMD_NEW_SERVICE, CMD_GET_SERVICE, CMD_NEW_DEST, CMD_GET_DEST, CMD_GET_INFO = 1, 4, 5, 8, 15
ATTR_SERVICE, ATTR_DEST = 1, 2
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_SCHED, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK = \
    1, 2, 3, 4, 6, 7, 8, 9
DEST_ADDR, DEST_PORT, DEST_FWD, DEST_WEIGHT, DEST_UTH, DEST_LTH, DEST_AF = 1, 2, 3, 4, 5, 6, 11
NESTED = 0x8000


def attr(t, payload):
    return struct.pack("=HH", 4 + len(payload), t) + payload + b"\0" * (-len(payload) % 4)


def u16(t, v):
    return attr(t, struct.pack("=H", v))


def be16(t, v):
    return attr(t, struct.pack("!H", v))


def u32(t, v):
    return attr(t, struct.pack("=I", v))


class Raw:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind((0, 0))
        self.seq = 0
        reply = self.exchange(GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY,
                              attr(CTRL_ATTR_FAMILY_NAME, b"IPVS\0"))
        self.family = struct.unpack("=H", find(reply[0], CTRL_ATTR_FAMILY_ID))[0]

    def message(self, family, flags, cmd, attrs):
        self.seq += 1
        body = struct.pack("=BBH", cmd, 1, 0) + attrs
        return _HDR.pack(16 + len(body), family, NLM_F_REQUEST | flags, self.seq, 0) + body

    def exchange(self, family, flags, cmd, attrs=b""):
        """Send one request (with an ack); the payloads after the genl
        header of its data messages."""
        return self.roundtrip(self.message(family, flags | NLM_F_ACK, cmd, attrs))

    def roundtrip(self, msg, keep=True):
        """Send an encoded request and read its reply to DONE or the ack:
        its data messages' payloads, or with keep=False nothing (a floor
        that only walks the reply)."""
        self.s.send(msg)
        out = []
        while True:
            buf = self.s.recv(1 << 20)
            pos = 0
            while pos + 16 <= len(buf):
                ln, typ = struct.unpack_from("=IH", buf, pos)
                if typ == 2 or typ == 3:  # ERROR (an ack too), DONE
                    err = struct.unpack_from("=i", buf, pos + 16)[0]
                    if err:
                        raise OSError(-err, "kernel refused the request")
                    return out
                if keep:
                    out.append(bytes(buf[pos + 20:pos + ln]))
                pos += (ln + 3) & ~3

    def dest_dump_requests(self):
        """One GET_DEST dump request per service of the table, encoded
        (each carries the service's nest as the kernel sent it)."""
        return [self.message(self.family, NLM_F_DUMP | NLM_F_ACK, CMD_GET_DEST,
                             attr(ATTR_SERVICE | NESTED, nest)) for nest in self.services()]

    def services(self):
        """The service nests of a GET_SERVICE dump, as the kernel sent them."""
        return [find(p, ATTR_SERVICE) for p in
                self.exchange(self.family, NLM_F_DUMP, CMD_GET_SERVICE)]

    def send_batches(self, messages, size=32 << 10):
        """Send pre-encoded messages (without acks) packed into buffers of
        about `size` bytes, then one GET_INFO with an ack, and wait for it:
        the kernel handles a buffer's messages in order, so its answer
        comes after every error of the ones before (counted, returned)."""
        errors = 0
        i = 0
        while i < len(messages):
            j, n = i, 0
            while j < len(messages) and n < size:
                n += len(messages[j])
                j += 1
            self.s.send(b"".join(messages[i:j]))
            i = j
        self.s.send(self.message(self.family, NLM_F_ACK, CMD_GET_INFO, b""))
        last = self.seq
        while True:
            buf = self.s.recv(1 << 20)
            pos = 0
            while pos + 16 <= len(buf):
                ln, typ, _, seq = struct.unpack_from("=IHHI", buf, pos)
                if seq == last and typ == 2:
                    return errors  # the ack of GET_INFO (its data message came first)
                if typ == 2 and struct.unpack_from("=i", buf, pos + 16)[0]:
                    errors += 1
                pos += (ln + 3) & ~3


def find(payload, t):
    pos = 0
    while pos + 4 <= len(payload):
        ln, typ = struct.unpack_from("=HH", payload, pos)
        if ln < 4:
            break
        if typ & 0x3FFF == t:
            return payload[pos + 4:pos + ln]
        pos += (ln + 3) & ~3
    return None


def fill_messages(raw, rules_text):
    """The requests for fill.py's rule lines (-A -t VIP:80 -s wlc and
    -a -t VIP:80 -r RIP:8080 -m -w W), encoded by hand."""
    out = []
    for line in rules_text.splitlines():
        w = line.split()
        vip, vport = w[2].rsplit(":", 1)
        key = (u16(SVC_AF, socket.AF_INET) + u16(SVC_PROTOCOL, socket.IPPROTO_TCP)
               + attr(SVC_ADDR, socket.inet_aton(vip)) + be16(SVC_PORT, int(vport)))
        if w[0] == "-A":
            svc = key + attr(SVC_SCHED, b"wlc\0") + attr(SVC_FLAGS, struct.pack("=II", 0, ~0 & 0xFFFFFFFF)) \
                + u32(SVC_TIMEOUT, 0) + u32(SVC_NETMASK, 0xFFFFFFFF)
            out.append(raw.message(raw.family, 0, CMD_NEW_SERVICE, attr(ATTR_SERVICE | NESTED, svc)))
        else:
            rip, rport = w[4].rsplit(":", 1)
            dest = (attr(DEST_ADDR, socket.inet_aton(rip)) + be16(DEST_PORT, int(rport))
                    + u32(DEST_FWD, 0) + u32(DEST_WEIGHT, int(w[7])) + u32(DEST_UTH, 0)
                    + u32(DEST_LTH, 0) + u16(DEST_AF, socket.AF_INET))
            out.append(raw.message(raw.family, 0, CMD_NEW_DEST,
                                   attr(ATTR_SERVICE | NESTED, key) + attr(ATTR_DEST | NESTED, dest)))
    return out
