"""Shell commands for the kernel tests that build hosts in network
namespaces (forwarding, drain, metrics, live view): one command, its
output, and a clear failure when it fails."""
import subprocess
import time


def sh(cmd, check=True, timeout=60):
    p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode:
        raise AssertionError("%s -> %d\n%s%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


def ns(name, cmd, **kw):
    """cmd inside network namespace `name`."""
    return sh("ip netns exec %s %s" % (name, cmd), **kw)


def nat_hosts(names, net, vip):
    """Three hosts in namespaces names = (client, director, real server):
    the client at NET.1.2, the director at NET.1.1 and NET.2.1 with `vip`
    on its client side and forwarding on, the real server at NET.2.2
    routing through the director (the NAT topology; tests add what else
    they need)."""
    cl, dr, rs = names
    for n in names:
        sh("ip netns del %s" % n, check=False)
        sh("ip netns add %s" % n)
        ns(n, "ip link set lo up")
    sh("ip link add cl0 netns %s type veth peer name d1 netns %s" % (cl, dr))
    sh("ip link add rs0 netns %s type veth peer name d2 netns %s" % (rs, dr))
    ns(cl, "ip addr add %s.1.2/24 dev cl0" % net)
    ns(cl, "ip link set cl0 up")
    ns(dr, "ip addr add %s.1.1/24 dev d1" % net)
    ns(dr, "ip addr add %s.2.1/24 dev d2" % net)
    ns(dr, "ip addr add %s/32 dev d1" % vip)
    ns(dr, "ip link set d1 up")
    ns(dr, "ip link set d2 up")
    ns(dr, "sysctl -qw net.ipv4.ip_forward=1")
    ns(rs, "ip addr add %s.2.2/24 dev rs0" % net)
    ns(rs, "ip link set rs0 up")
    ns(rs, "ip route add default via %s.2.1" % net)


def wait_listening(name, ports, timeout=60):
    """Until something listens on every TCP port in namespace `name`
    (socat starts slowly under emulation); no error at the deadline: the
    test that needs the port says what is wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = ns(name, "ss -ltn", check=False).stdout
        if all(":%d " % p in out for p in ports):
            return
        time.sleep(0.5)


def stop(procs, timeout=10):
    """Terminate background processes; kill those that do not end."""
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
