/* ipvs_dumps.c: the dumps of many requests run one after another on the
 * caller's netlink socket in one call (the per-service GET_DEST dumps of a
 * listing: in a Python loop, the Python work of each request cost several
 * times what the kernel's work for it does). Each receive buffer goes
 * through the dump engine (ipvs_decode_dump); the socket, the sequence
 * numbers (already in the requests) and every buffer belong to the caller.
 *
 * Resumable: the call returns to Python whenever something has to be done
 * there (out full, a system call interrupted by a signal, an error) with
 * its place kept in struct ipvs_dumps; calling again goes on from there.
 * Python's twin: _decode_py.run_dumps.
 */
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>

int ipvs_run_dumps(int fd, const uint8_t *reqs, size_t len, size_t n, const uint64_t *args,
                   uint32_t pid, const struct ipvs_spec *spec, unsigned r,
                   uint8_t *rx, size_t rxcap, uint8_t *out, size_t cap,
                   struct ipvs_dumps *st, uint32_t *counts, int *statuses, int64_t *errors)
{
    size_t rec_size = spec->records[r].size;

    while (st->next < n) {
        size_t i = st->next, mlen, got, k;
        int status, rc;
        int64_t error;

        if (st->pos > len || len - st->pos < NLMSG_HDRLEN_)
            return IPVS_E_MSG_LEN;
        mlen = rd32(reqs + st->pos);
        if (mlen < NLMSG_HDRLEN_ || mlen > len - st->pos)
            return IPVS_E_MSG_LEN;
        if (!st->sent) {
            ssize_t sent = send(fd, reqs + st->pos, mlen, 0);
            if (sent < 0) {
                st->oserr = errno;
                return IPVS_E_OS;
            }
            if ((size_t)sent != mlen) {
                st->oserr = EMSGSIZE;
                return IPVS_E_OS;
            }
            st->sent = 1;
            counts[i] = 0;
            statuses[i] = 0;
            errors[i] = 0;
        }
        got = st->pending;
        if (!got) {
            ssize_t k2 = recv(fd, rx, rxcap, MSG_TRUNC);
            if (k2 < 0) {
                st->oserr = errno;
                return IPVS_E_OS;
            }
            if (k2 == 0) { /* not netlink's: a peer that went away */
                st->oserr = EPIPE;
                return IPVS_E_OS;
            }
            if ((size_t)k2 > rxcap)
                return IPVS_E_BIG;
            got = (size_t)k2;
            st->pending = got; /* until its records are out */
        }
        if (cap < st->count)
            return IPVS_E_FULL;
        rc = ipvs_decode_dump(rx, got, rd32(reqs + st->pos + 8), pid, spec, r, args[i],
                              out + st->count * rec_size, cap - st->count,
                              &k, &status, &error);
        if (rc)
            return rc; /* IPVS_E_FULL: the buffer stays pending */
        st->pending = 0;
        st->count += k;
        counts[i] += (uint32_t)k;
        statuses[i] |= status;
        if (error)
            errors[i] = error;
        if (status & IPVS_DONE) {
            st->next = i + 1;
            st->pos += (mlen + 3) & ~(size_t)3;
            st->sent = 0;
        }
    }
    return 0;
}
