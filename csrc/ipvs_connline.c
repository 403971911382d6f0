/* ipvs_connline.c: one line of /proc/net/ip_vs_conn tokenized and checked,
 * and its addresses parsed and formatted: the part the column decoder
 * (ipvs_conns.c) and the -Lnc renderer (ipvs_render.c) share.
 *
 * Rule: mirrors _conn_line() and _conn_addr() of src/ipvs/_decode_py.py,
 * check for check (see ipvs_decoder.c's rule and safety notes).
 */
/* compiled as part of ipvs_module.c, after ipvs_decoder.c (its headers) */
#include "ipvs_connline.h"

/* CT_WS: the bytes Python's bytes.split() treats as whitespace;
 * hex digit values + 1 (0: not a hex digit). One table lookup per byte. */
#define CT_WS 0x80
static const uint8_t ctab[256] = {
    ['\t'] = CT_WS, ['\n'] = CT_WS, ['\v'] = CT_WS, ['\f'] = CT_WS, ['\r'] = CT_WS, [' '] = CT_WS,
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};
#define IS_WS(c) (ctab[(uint8_t)(c)] & CT_WS)
#define HEX1(c) (ctab[(uint8_t)(c)] & 0x1F) /* hex value + 1, or 0 */

/* 1..4 hex digits */
static int port(const struct tok *t, uint64_t *out)
{
    size_t i;
    uint64_t v = 0;
    if (t->n < 1 || t->n > 4)
        return -1;
    for (i = 0; i < t->n; i++) {
        unsigned h = HEX1(t->p[i]);
        if (!h)
            return -1;
        v = v * 16 + (h - 1);
    }
    *out = v;
    return 0;
}

static size_t dec8(unsigned v, char *o)
{
    size_t n = 0;
    if (v >= 100)
        o[n++] = (char)('0' + v / 100);
    if (v >= 10)
        o[n++] = (char)('0' + (v / 10) % 10);
    o[n++] = (char)('0' + v % 10);
    return n;
}

static size_t ipv4_text(const uint8_t *raw, char *o)
{
    size_t n = dec8(raw[0], o);
    int i;
    for (i = 1; i < 4; i++) {
        o[n++] = '.';
        n += dec8(raw[i], o + n);
    }
    return n;
}

/* inet_ntop(AF_INET6) text (RFC 5952 zero compression: the first longest
 * run of two or more zero words), without the C library's sprintf calls.
 * Not for addresses whose first five words are zero: there the libraries
 * write IPv4-compatible and -mapped forms, each its own way (glibc
 * "::1.2.3.4", musl "::102:304"), and addr_text() asks the library. */
static size_t ipv6_text(const uint8_t *raw, char *o)
{
    static const char hex[] = "0123456789abcdef";
    unsigned w[8];
    int i, best = -1, bestlen = 0, cur = -1, curlen = 0;
    size_t n = 0;
    for (i = 0; i < 8; i++) {
        w[i] = (unsigned)(raw[2 * i] << 8 | raw[2 * i + 1]);
        if (w[i] == 0) {
            if (cur < 0) {
                cur = i;
                curlen = 1;
            } else {
                curlen++;
            }
            if (curlen > bestlen) {
                best = cur;
                bestlen = curlen;
            }
        } else {
            cur = -1;
        }
    }
    if (bestlen < 2)
        best = -1;
    for (i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + bestlen) {
            if (i == best)
                o[n++] = ':';
            continue;
        }
        if (i)
            o[n++] = ':';
        if (w[i] >= 0x1000)
            o[n++] = hex[w[i] >> 12];
        if (w[i] >= 0x100)
            o[n++] = hex[(w[i] >> 8) & 15];
        if (w[i] >= 0x10)
            o[n++] = hex[(w[i] >> 4) & 15];
        o[n++] = hex[w[i] & 15];
    }
    if (best >= 0 && best + bestlen == 8)
        o[n++] = ':';
    return n;
}

/* An address as the kernel prints it: IPv4 as 8 hex digits (host order of
 * ntohl), IPv6 in any form inet_pton takes (the kernel's %pI6 is the full
 * form, parsed here without inet_pton). Fills raw (network order) and
 * returns its family, or -1. */
static int addr_parse(const struct tok *t, uint8_t raw[16])
{
    size_t i;
    const uint8_t *p = t->p;
    if (t->n == 8) {
        for (i = 0; i < 4; i++) {
            unsigned hi = HEX1(p[2 * i]), lo = HEX1(p[2 * i + 1]);
            if (!hi || !lo)
                break; /* not IPv4, but "1:2::3:4" is IPv6 */
            raw[i] = (uint8_t)((hi - 1) * 16 + (lo - 1));
        }
        if (i == 4)
            return AF_INET;
    }
    {
        int full = t->n == 39;
        if (!memchr(p, ':', t->n))
            return -1;
        for (i = 0; full && i < 39; i++)
            full = (i % 5 == 4) ? p[i] == ':' : HEX1(p[i]) != 0;
        if (full) {
            for (i = 0; i < 16; i++) {
                const uint8_t *q = p + (i / 2) * 5 + (i % 2) * 2;
                raw[i] = (uint8_t)((HEX1(q[0]) - 1) * 16 + (HEX1(q[1]) - 1));
            }
        } else {
            char text[64];
            if (t->n >= sizeof(text) || memchr(p, 0, t->n))
                return -1;
            memcpy(text, p, t->n);
            text[t->n] = 0;
            if (inet_pton(AF_INET6, text, raw) != 1)
                return -1;
        }
    }
    return AF_INET6;
}

/* The inet_ntop text of a parsed address (at most ADDR_MAX - 1 bytes) to
 * o, without a terminator; returns its length, or -1. */
static int addr_format(int af, const uint8_t raw[16], char *o)
{
    if (af == AF_INET)
        return (int)ipv4_text(raw, o);
    if (memcmp(raw, "\0\0\0\0\0\0\0\0\0\0", 10) != 0)
        return (int)ipv6_text(raw, o);
    {
        /* ::a.b.c.d and the like: C libraries differ here (musl writes
         * ::102:304), and the twin prints what this one's inet_ntop does */
        char out[64];
        size_t n;
        if (!inet_ntop(AF_INET6, raw, out, sizeof(out)))
            return -1;
        n = strlen(out);
        memcpy(o, out, n);
        return (int)n;
    }
}

/* Where the line at pos ends: 0, [pos, *lend) the line without its '\n'
 * and *next where the one after it starts; NO_LINE at a last line
 * without '\n' when the input is not final (the caller keeps it for its
 * next call); IPVS_E_LINE_LONG when that partial line is already longer
 * than any line may be. */
static int next_line(const uint8_t *buf, size_t len, size_t pos, int final, size_t *lend,
              size_t *next)
{
    const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
    if (nl) {
        *lend = (size_t)(nl - buf);
        *next = *lend + 1;
    } else {
        if (!final)
            return len - pos > MAX_LINE ? IPVS_E_LINE_LONG : NO_LINE;
        *lend = *next = len;
    }
    return 0;
}

/* One line (without its '\n') -> f. Returns 0 (f->k is 0 when the line is
 * no connection) or an error code. Mirrors _conn_line() in the twin. */
static int conn_fields(const uint8_t *p, size_t n, struct conn_fields *f, conn_addr_fn addr, void *ctx)
{
    struct tok *t = f->t;
    size_t i = 0, k = 0, j;
    uint64_t expires = 0;

    f->k = 0;
    if (n > MAX_LINE)
        return IPVS_E_LINE_LONG;
    /* up to 10 tokens, then the rest of the line (trailing space removed) */
    while (k < NTOK) {
        while (i < n && IS_WS(p[i]))
            i++;
        if (i == n)
            break;
        t[k].p = p + i;
        if (k == NTOK - 1) {
            size_t e = n;
            while (e > i && IS_WS(p[e - 1]))
                e--;
            t[k].n = e - i;
            i = n;
        } else {
            j = i;
            while (j < n && !IS_WS(p[j]))
                j++;
            t[k].n = j - i;
            i = j;
        }
        k++;
    }
    if (k == 0)
        return 0;
    if (t[0].n == 3 && memcmp(t[0].p, "Pro", 3) == 0)
        return 0; /* the header line */
    if (k < 9)
        return IPVS_E_CONN_SHORT;
    f->af = addr(ctx, C_CADDR, &t[1]);
    if (f->af < 0 || port(&t[2], &f->cport))
        return IPVS_E_CONN_FIELD;
    if (addr(ctx, C_VADDR, &t[3]) != f->af || port(&t[4], &f->vport))
        return IPVS_E_CONN_FIELD;
    f->daf = addr(ctx, C_DADDR, &t[5]);
    if (f->daf < 0 || port(&t[6], &f->dport))
        return IPVS_E_CONN_FIELD;
    if (t[8].n < 1 || t[8].n > 20)
        return IPVS_E_CONN_FIELD;
    for (j = 0; j < t[8].n; j++) {
        uint8_t c = t[8].p[j];
        if (c < '0' || c > '9')
            return IPVS_E_CONN_FIELD;
        if (expires > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return IPVS_E_CONN_FIELD;
        expires = expires * 10 + (uint64_t)(c - '0');
    }
    f->expires = expires;
    f->k = k;
    return 0;
}
