# The text of `ipvsadm --status` (an extension: ipvsadm 1.31 has no such
# view). Rule: a pure function from an ipvs.Status (and a killed run's
# journal, when there is one) to text.


def status_text(st, killed=None, prog="ipvsadm") -> str:
    """killed: the KilledRun whose journal is there (Client.killed_run)."""
    out = ["IP Virtual Server version %s (size=%d)\n" % (st.version, st.conn_tab_size)]
    if killed is not None:
        out.append("Killed run: %s %s (pid %s) was killed after %d of %d operations; the "
                   "table holds its changes (%s --recover undoes them)\n"
                   % (prog, killed.command, killed.pid, killed.answered, killed.total, prog))
    run = st.sysctls.get("run_estimation")
    if st.estimating:
        out.append("Rate estimation: on\n")
    else:
        out.append("Rate estimation: off (net.ipv4.vs.run_estimation = %s): "
                   "every rate reads 0 and means nothing\n" % run)
    if st.status_text:
        # the kernel's own words (7.x): table sizes, load factors, estimator threads
        out.append("Kernel status (/proc/net/ip_vs_status):\n")
        out.extend("  %s\n" % " ".join(line.split()) for line in st.status_text.splitlines()
                   if line.strip())
    if st.sysctls:
        out.append("Sysctls (net.ipv4.vs):\n")
        width = max(len(k) for k in st.sysctls)
        out.extend("  %-*s = %s\n" % (width, k, v) for k, v in st.sysctls.items())
    return "".join(out)
