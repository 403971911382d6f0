/* The floor of a per-service listing: one GET_DEST dump per service, sent
 * and received by a minimal client that shares no code with the project
 * (raw netlink socket, requests encoded before the clock starts, replies
 * only walked for DONE/ERROR, nothing decoded).
 *
 *   cc -O2 -o floor_dests benchmarks/floor_dests.c && ./floor_dests [ROUNDS]
 *
 * Prints: services, dest messages seen, the seconds of the fastest of
 * ROUNDS passes over every service (one socket, one request in flight),
 * then of the fastest of ROUNDS passes on two sockets at once (two
 * processes, each a half of the services: what a client that splits its
 * dumps over two sockets, as ours does, can reach). */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)
#define ALIGN4(n) (((n) + 3u) & ~3u)

static int fd;
static uint32_t seq = 1;
static uint8_t rbuf[BUF];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* A request: nlmsghdr + genlmsghdr + one attribute (type, payload). */
static size_t build(uint8_t *out, uint16_t family, uint16_t flags, uint8_t cmd,
                    uint16_t atype, const void *payload, size_t plen)
{
    struct nlmsghdr *h = (struct nlmsghdr *)out;
    struct genlmsghdr *g = (struct genlmsghdr *)(out + NLMSG_HDRLEN);
    size_t len = NLMSG_HDRLEN + GENL_HDRLEN;
    memset(out, 0, len);
    g->cmd = cmd;
    g->version = 1;
    if (atype) {
        struct nlattr *a = (struct nlattr *)(out + len);
        a->nla_type = atype;
        a->nla_len = NLA_HDRLEN + plen;
        memcpy(out + len + NLA_HDRLEN, payload, plen);
        len += ALIGN4(NLA_HDRLEN + plen);
    }
    h->nlmsg_len = len;
    h->nlmsg_type = family;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
    return len;
}

/* Receive until DONE or ERROR; call fn on each data message. */
static int drain(void (*fn)(struct nlmsghdr *, void *), void *arg, long *msgs)
{
    for (;;) {
        ssize_t n = recv(fd, rbuf, BUF, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("recv");
            return -1;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
                return e ? e : 0;
            }
            if (msgs)
                ++*msgs;
            if (fn)
                fn(h, arg);
        }
    }
}

static struct nlattr *attr(struct nlmsghdr *h, int hdr, uint16_t type)
{
    uint8_t *p = (uint8_t *)NLMSG_DATA(h) + hdr, *end = (uint8_t *)h + h->nlmsg_len;
    while (p + NLA_HDRLEN <= end) {
        struct nlattr *a = (struct nlattr *)p;
        if (a->nla_len < NLA_HDRLEN)
            break;
        if ((a->nla_type & NLA_TYPE_MASK) == type)
            return a;
        p += ALIGN4(a->nla_len);
    }
    return NULL;
}

static uint16_t family_id;
static void on_family(struct nlmsghdr *h, void *arg)
{
    (void)arg;
    struct nlattr *a = attr(h, GENL_HDRLEN, CTRL_ATTR_FAMILY_ID);
    if (a)
        memcpy(&family_id, (uint8_t *)a + NLA_HDRLEN, 2);
}

struct reqs {
    uint8_t *buf;
    size_t used, cap, n;
    size_t *off;
};

/* Each service of the GET_SERVICE dump becomes one pre-encoded GET_DEST
 * dump request carrying the service's nest as the kernel sent it. */
static void on_service(struct nlmsghdr *h, void *arg)
{
    struct reqs *r = arg;
    struct nlattr *a = attr(h, GENL_HDRLEN, IPVS_CMD_ATTR_SERVICE);
    if (!a)
        return;
    size_t plen = a->nla_len - NLA_HDRLEN;
    if (r->used + 64 + plen > r->cap || r->n % 1024 == 0) {
        if (r->used + 64 + plen > r->cap) {
            r->cap = r->cap * 2 + 65536;
            r->buf = realloc(r->buf, r->cap);
        }
        r->off = realloc(r->off, (r->n + 1024) * sizeof *r->off);
    }
    r->off[r->n++] = r->used;
    r->used += ALIGN4(build(r->buf + r->used, family_id, NLM_F_DUMP | NLM_F_ACK,
                            IPVS_CMD_GET_DEST, IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED,
                            (uint8_t *)a + NLA_HDRLEN, plen));
}

static int send_one(uint8_t *msg)
{
    struct nlmsghdr *h = (struct nlmsghdr *)msg;
    h->nlmsg_seq = seq++;
    if (send(fd, msg, h->nlmsg_len, 0) < 0) {
        perror("send");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    uint8_t msg[256];
    int size = BUF;
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0) {
        perror("socket");
        return 1;
    }
    send_one(msg + 0 * build(msg, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY,
                             CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME, sizeof IPVS_GENL_NAME));
    if (drain(on_family, NULL, NULL) || !family_id) {
        fprintf(stderr, "no IPVS family\n");
        return 1;
    }
    struct reqs r = {0};
    build(msg, family_id, NLM_F_DUMP | NLM_F_ACK, IPVS_CMD_GET_SERVICE, 0, NULL, 0);
    send_one(msg);
    if (drain(on_service, &r, NULL))
        return 1;
    double best = 1e9;
    long dests = 0;
    for (int k = 0; k < rounds; k++) {
        long seen = 0;
        double t0 = now();
        for (size_t i = 0; i < r.n; i++) {
            if (send_one(r.buf + r.off[i]) || drain(NULL, NULL, &seen))
                return 1;
        }
        double dt = now() - t0;
        if (dt < best)
            best = dt;
        dests = seen;
    }
    /* two sockets: this process the first half, a child the second */
    int fds[2] = {fd, socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)};
    if (fds[1] < 0 || setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0) {
        perror("socket");
        return 1;
    }
    double best2 = 1e9;
    for (int k = 0; k < rounds; k++) {
        long seen = 0;
        double t0 = now();
        pid_t child = fork();
        if (child < 0) {
            perror("fork");
            return 1;
        }
        int part = child == 0;
        fd = fds[part];
        for (size_t i = part ? r.n / 2 : 0; i < (part ? r.n : r.n / 2); i++) {
            if (send_one(r.buf + r.off[i]) || drain(NULL, NULL, &seen))
                _exit(1);
        }
        if (part)
            _exit(0);
        int st;
        if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            return 1;
        double dt = now() - t0;
        if (dt < best2)
            best2 = dt;
    }
    printf("%zu %ld %.6f %.6f\n", r.n, dests, best, best2);
    return 0;
}
