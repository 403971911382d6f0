/* ipvs_decoder.c: IPVS netlink dump replies and /proc/net/ip_vs_conn text
 * to flat records, many per call. The dump half is a generic engine run on
 * tables made from the spec (src/ipvs/_records.py, _layout.py): no IPVS
 * attribute id or record layout is written here.
 *
 * Rule: this file mirrors src/ipvs/_decode_py.py step for step, including
 * the order of the checks, so that both give the same records or the same
 * error code for any input. Change one, change the other (the differential
 * fuzz test in tests/test_decoder_fuzz.py holds them together).
 *
 * Safety: input offsets are size_t and every read is preceded by a check of
 * the form `end - pos >= n` (never `pos + n <= end`, which can wrap).
 * Multi-byte values are read with memcpy: netlink attributes are 4-aligned
 * but the buffer itself need not be.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ipvs_decoder.h"

#define NLA_TYPE_MASK_ 0x3FFF
#define NLMSG_HDRLEN_ 16 /* struct nlmsghdr */
#define GENL_HDRLEN_ 4 /* struct genlmsghdr */

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t rdbe16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* payload span of one attribute; present == 0 when absent */
struct span { size_t s, e; int present; };

/* Parse the attributes of buf[pos:end] into a[type] (last one wins, as the
 * kernel's nla_parse); types above max are checked but not kept.
 * Mirrors _attrs(): trailing 1..3 bytes after the last attribute are
 * ignored. */
static int parse_attrs(const uint8_t *buf, size_t pos, size_t end, struct span *a,
                       unsigned max)
{
    memset(a, 0, sizeof(struct span) * (max + 1));
    while (end - pos >= 4 && pos < end) {
        size_t alen = rd16(buf + pos);
        unsigned type = rd16(buf + pos + 2) & NLA_TYPE_MASK_;
        if (alen < 4 || alen > end - pos)
            return IPVS_E_ATTR_LEN;
        if (type <= max) {
            a[type].s = pos + 4;
            a[type].e = pos + alen;
            a[type].present = 1;
        }
        pos += (alen + 3) & ~(size_t)3;
        if (pos > end)
            break;
    }
    return 0;
}

/* _need(): the attribute must be there with at least size bytes */
static int need(const struct span *a, unsigned key, size_t size, size_t *pos)
{
    if (!a[key].present)
        return IPVS_E_MISSING;
    if (a[key].e - a[key].s < size)
        return IPVS_E_SHORT_ATTR;
    *pos = a[key].s;
    return 0;
}

/* _addr(): 4 to 16 bytes, kept as 16 (zero padded by the caller's memset) */
static int address(const uint8_t *buf, const struct span *a, unsigned key, uint8_t *out)
{
    size_t n;
    if (!a[key].present || a[key].e - a[key].s < 4)
        return IPVS_E_SHORT_ADDR;
    n = a[key].e - a[key].s;
    if (n > 16)
        n = 16;
    memcpy(out, buf + a[key].s, n);
    return 0;
}

/* _string(): the payload up to its first NUL, at most 15 bytes (IPVS
 * names fit 16 with the NUL); out is 16 bytes, NUL padded */
static int string(const uint8_t *buf, const struct span *a, unsigned key, int required,
                  uint8_t *out)
{
    size_t n;
    const uint8_t *z;
    if (!a[key].present)
        return required ? IPVS_E_MISSING : 0;
    n = a[key].e - a[key].s;
    z = memchr(buf + a[key].s, 0, n);
    if (z)
        n = (size_t)(z - (buf + a[key].s));
    if (n > 15)
        return IPVS_E_LONG_STRING;
    memcpy(out, buf + a[key].s, n);
    return 0;
}

static void store(uint8_t *p, unsigned size, uint64_t v)
{
    uint8_t b = (uint8_t)v;
    uint16_t h = (uint16_t)v;
    uint32_t w = (uint32_t)v;
    switch (size) {
    case 1: memcpy(p, &b, 1); break;
    case 2: memcpy(p, &h, 2); break;
    case 4: memcpy(p, &w, 4); break;
    default: memcpy(p, &v, 8); break;
    }
}

/* One record from the attributes of buf[s:e], by its field table (in
 * check order: the twin's generated function does the same steps).
 * rec is zeroed by the caller. */
static int record(const struct ipvs_spec *spec, unsigned r, const uint8_t *buf,
                  size_t s, size_t e, uint8_t *rec, uint64_t arg, unsigned depth)
{
    const struct ipvs_record *R = &spec->records[r];
    struct span a[IPVS_MAX_ATTR + 1];
    unsigned i;
    int rc;

    if (depth > 4 || R->max_attr > IPVS_MAX_ATTR)
        return IPVS_E_SPEC;
    rc = parse_attrs(buf, s, e, a, R->max_attr);
    if (rc)
        return rc;
    for (i = 0; i < R->count; i++) {
        const struct ipvs_field *f = &spec->fields[R->first + i];
        uint8_t *o = rec + f->offset;
        size_t p;
        uint64_t v;
        if (f->attr > R->max_attr || f->alt > R->max_attr)
            return IPVS_E_SPEC;
        if (f->flags & IPVS_F_UNLESS && a[f->alt].present) {
            store(o, f->store, f->dflt);
            continue;
        }
        if (f->read == IPVS_R_NEST) {
            const struct span *n = &a[f->attr];
            unsigned sub = f->sub;
            if (!n->present) {
                n = &a[f->alt];
                sub = f->alt_sub;
            }
            if (!n->present)
                continue; /* zeros */
            rc = record(spec, sub, buf, n->s, n->e, o, arg, depth + 1);
            if (rc)
                return rc;
            continue;
        }
        if (f->read == IPVS_R_ADDR) {
            if (!(f->flags & IPVS_F_REQUIRED) && !a[f->attr].present)
                continue;
            rc = address(buf, a, f->attr, o);
            if (rc)
                return rc;
            continue;
        }
        if (f->read == IPVS_R_STRING) {
            rc = string(buf, a, f->attr, f->flags & IPVS_F_REQUIRED, o);
            if (rc)
                return rc;
            continue;
        }
        if (!(f->flags & IPVS_F_REQUIRED) && !a[f->attr].present) {
            store(o, f->store, f->flags & IPVS_F_ARG ? arg : f->dflt);
            continue;
        }
        rc = need(a, f->attr, f->size, &p);
        if (rc)
            return rc;
        switch (f->read) {
        case IPVS_R_U8: v = buf[p]; break;
        case IPVS_R_U16: v = rd16(buf + p); break;
        case IPVS_R_BE16: v = rdbe16(buf + p); break;
        case IPVS_R_U32:
        case IPVS_R_I32: v = rd32(buf + p); break; /* stored as int32 */
        case IPVS_R_U64: v = rd64(buf + p); break;
        case IPVS_R_FLAGS: v = rd32(buf + p) & rd32(buf + p + 4); break;
        default: return IPVS_E_SPEC;
        }
        store(o, f->store, v);
    }
    return 0;
}

/* _walk(): the message loop of every dump; each message's nest_type
 * attribute is a record of spec->records[r] */
int ipvs_decode_dump(const uint8_t *buf, size_t len, uint32_t seq, uint32_t pid,
                     const struct ipvs_spec *spec, unsigned r, uint64_t arg,
                     uint8_t *out, size_t cap, size_t *count, int *status, int64_t *error)
{
    size_t pos = 0, n = 0;
    int st = 0, rc;
    int64_t err = 0;
    unsigned nest_type = spec->records[r].nest;
    size_t rec_size = spec->records[r].size;
    struct span top[IPVS_MAX_ATTR + 1];

    *count = 0;
    *status = 0;
    *error = 0;
    if (nest_type > IPVS_MAX_ATTR)
        return IPVS_E_SPEC;
    while (len - pos >= NLMSG_HDRLEN_ && pos < len) {
        size_t mlen = rd32(buf + pos);
        uint16_t mtype = rd16(buf + pos + 4);
        uint16_t mflags = rd16(buf + pos + 6);
        uint32_t mseq = rd32(buf + pos + 8);
        uint32_t mpid = rd32(buf + pos + 12);
        size_t body = pos + NLMSG_HDRLEN_, mend;
        if (mlen < NLMSG_HDRLEN_ || mlen > len - pos)
            return IPVS_E_MSG_LEN;
        if (st & IPVS_DONE)
            return IPVS_E_AFTER_DONE;
        if (mseq != seq || (pid && mpid != pid))
            return IPVS_E_SEQ;
        if (mflags & spec->nlm_f_dump_intr)
            st |= IPVS_INTERRUPTED;
        mend = pos + mlen;
        if (mtype == spec->nlmsg_done || mtype == spec->nlmsg_error) {
            if (mend - body < 4)
                return IPVS_E_SHORT_ERROR;
            err = -(int64_t)(int32_t)rd32(buf + body);
            st |= IPVS_DONE;
        } else if (mtype == spec->nlmsg_overrun) {
            return IPVS_E_OVERRUN;
        } else if (mtype != spec->nlmsg_noop) {
            if (mend - body < GENL_HDRLEN_)
                return IPVS_E_SHORT_GENL;
            rc = parse_attrs(buf, body + GENL_HDRLEN_, mend, top, nest_type);
            if (rc)
                return rc;
            if (!top[nest_type].present)
                return IPVS_E_NO_NEST;
            if (n >= cap)
                return IPVS_E_FULL;
            memset(out + n * rec_size, 0, rec_size);
            rc = record(spec, r, buf, top[nest_type].s, top[nest_type].e,
                        out + n * rec_size, arg, 0);
            if (rc)
                return rc;
            n++;
        }
        pos += (mlen + 3) & ~(size_t)3;
        if (pos > len)
            break;
    }
    if (pos < len)
        return IPVS_E_TRAILING;
    *count = n;
    *status = st;
    *error = err;
    return 0;
}

/* ------------------------------------------------------ /proc/net/ip_vs_conn */

#define MAX_LINE 4096
#define NTOK 11
#define ADDR_MAX 46 /* longest inet_ntop text (45) and its separator */

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

struct tok { const uint8_t *p; size_t n; };

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

/* An address token's inet_ntop text and a '\n' to *w (room for ADDR_MAX
 * bytes is the caller's to check); returns its family, or -1. */
static int addr_text(const struct tok *t, uint8_t **w)
{
    uint8_t raw[16];
    int af = addr_parse(t, raw), n;
    if (af < 0)
        return -1;
    n = addr_format(af, raw, (char *)*w);
    if (n < 0)
        return -1;
    (*w)[n] = '\n';
    *w += (size_t)n + 1;
    return af;
}

static void put(uint8_t **w, const struct tok *t)
{
    if (t->n)
        memcpy(*w, t->p, t->n);
    (*w)[t->n] = '\n';
    *w += t->n + 1;
}

/* String columns, in record order; the numbers' columns follow af, ports,
 * expires. */
enum { C_PROTO, C_CADDR, C_VADDR, C_DADDR, C_STATE, C_PE_NAME, C_PE_DATA, NCOL };

/* A column's dictionary: its distinct input tokens, in order of first
 * appearance, each written once to the column; a record holds its index.
 * Repeated values (protocol, state, virtual and real addresses) then
 * become one Python object each, and a repeated address is formatted
 * once. Open addressing, at most half full. */
#define DICT_MAX 256 /* an index is one byte */
#define DICT_SLOTS 512
struct dict {
    unsigned n;
    uint16_t slot[DICT_SLOTS]; /* value index + 1, 0 when free */
    const uint8_t *key[DICT_MAX];
    uint16_t klen[DICT_MAX];
    int8_t af[DICT_MAX];
};

struct conn_out {
    uint8_t *w[NCOL];         /* where each string column's next item goes */
    struct dict *d[NCOL];     /* NULL: the column is written in full */
    uint8_t *idx;             /* dictionary index of column k, record i: idx[k * cap + i] */
    uint64_t *num;            /* number column k, record i: num[k * cap + i] */
    size_t cap, rec;
};

static uint32_t tok_hash(const struct tok *t)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ t->n, v;
    size_t i = 0;
    for (; t->n - i >= 8; i += 8) {
        memcpy(&v, t->p + i, 8);
        h = (h ^ v) * 0xFF51AFD7ED558CCDull;
    }
    for (; i < t->n; i++)
        h = (h ^ t->p[i]) * 0x100000001B3ull;
    h ^= h >> 33; /* the low bits pick the slot: mix the high ones down */
    h *= 0xC4CEB9FE1A85EC53ull;
    return (uint32_t)(h ^ (h >> 33));
}

/* Column k's item for token t: copied, or formatted when it is an address
 * (returns the family, -1 for a bad address), or found in the column's
 * dictionary. */
static int column_item(struct conn_out *o, int k, const struct tok *t, int address)
{
    struct dict *d = o->d[k];
    unsigned h = 0;
    int af = 0;
    if (d) {
        h = tok_hash(t) & (DICT_SLOTS - 1);
        while (d->slot[h]) {
            unsigned v = d->slot[h] - 1u;
            if (d->klen[v] == t->n && memcmp(d->key[v], t->p, t->n) == 0) {
                o->idx[k * o->cap + o->rec] = (uint8_t)v;
                return d->af[v];
            }
            h = (h + 1) & (DICT_SLOTS - 1);
        }
    }
    if (address) {
        af = addr_text(t, &o->w[k]);
        if (af < 0)
            return -1;
    } else {
        put(&o->w[k], t);
    }
    if (d) { /* the caller saw to it that d->n < DICT_MAX */
        d->slot[h] = (uint16_t)(d->n + 1);
        d->key[d->n] = t->p;
        d->klen[d->n] = (uint16_t)t->n;
        d->af[d->n] = (int8_t)af;
        o->idx[k * o->cap + o->rec] = (uint8_t)d->n;
        d->n++;
    }
    return af;
}

/* Where the line at pos ends: 0 with *got 1, [pos, *lend) the line without
 * its '\n' and *next where the one after it starts; 0 with *got 0 at a
 * last line without '\n' when the input is not final (the caller keeps
 * it for its next call); IPVS_E_LINE_LONG when that partial line is
 * already longer than any line may be. */
static int next_line(const uint8_t *buf, size_t len, size_t pos, int final, int *got,
                     size_t *lend, size_t *next)
{
    const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
    *got = 0;
    if (nl) {
        *lend = (size_t)(nl - buf);
        *next = *lend + 1;
    } else {
        if (!final)
            return len - pos > MAX_LINE ? IPVS_E_LINE_LONG : 0;
        *lend = *next = len;
    }
    *got = 1;
    return 0;
}

/* One line of the table, tokenized and checked: what the column decoder
 * and the -Lnc renderer both start from, so that they accept and refuse
 * exactly the same lines. */
struct conn_fields {
    struct tok t[NTOK];
    size_t k;             /* tokens; 0: not a connection (blank or header) */
    int af, daf;          /* of caddr and vaddr; of daddr */
    uint64_t cport, vport, dport, expires;
};

/* What a caller does with address token t of column col (C_CADDR,
 * C_VADDR, C_DADDR): its family, or -1 when it is not an address. Called
 * in column order, between the checks, so the first bad field decides the
 * error as it does in the twin. */
typedef int (*conn_addr_fn)(void *ctx, int col, const struct tok *t);

/* One line (without its '\n') -> f. Returns 0 (f->k is 0 when the line is
 * no connection) or an error code. Mirrors _conn_line() in the twin. */
static int conn_fields(const uint8_t *p, size_t n, struct conn_fields *f,
                       conn_addr_fn addr, void *ctx)
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

/* the column decoder's addresses: formatted into their columns (or found
 * in a column's dictionary) */
static int column_addr(void *o, int col, const struct tok *t)
{
    return column_item(o, col, t, 1);
}

/* One line (without its '\n') to the columns. Returns 0 with *emitted 0
 * or 1, or an error code. Room for the line's items in every column was
 * checked by the caller. */
static int conn_line(const uint8_t *p, size_t n, struct conn_out *o, int *emitted)
{
    static const struct tok none = { (const uint8_t *)"", 0 };
    struct conn_fields f;
    uint64_t *nums = o->num + o->rec;
    /* address items are written before the line is known to be good: a
     * bad line ends the call with an error, so nothing reads them */
    int rc = conn_fields(p, n, &f, column_addr, o);

    *emitted = 0;
    if (rc || !f.k)
        return rc;
    column_item(o, C_PROTO, &f.t[0], 0);
    column_item(o, C_STATE, &f.t[7], 0);
    column_item(o, C_PE_NAME, f.k > 9 ? &f.t[9] : &none, 0);
    column_item(o, C_PE_DATA, f.k > 10 ? &f.t[10] : &none, 0);
    nums[0] = (uint64_t)f.af;
    nums[o->cap] = f.cport;
    nums[2 * o->cap] = f.vport;
    nums[3 * o->cap] = f.dport;
    nums[4 * o->cap] = f.expires;
    *emitted = 1;
    return 0;
}

int ipvs_decode_conns(const uint8_t *buf, size_t len, int final,
                      uint8_t *sout, size_t scap, size_t *col,
                      unsigned dicts, uint8_t *iout, unsigned *full,
                      uint64_t *nout, size_t cap, size_t *count, size_t *consumed)
{
    struct dict dict[NCOL]; /* 27 KB of stack, a fifth of the least a thread gets (musl: 128 KB) */
    struct conn_out o;
    size_t pos = 0;
    int k, rc, emitted;

    *count = 0;
    *consumed = 0;
    *full = 0;
    o.idx = iout;
    o.num = nout;
    o.cap = cap;
    o.rec = 0;
    for (k = 0; k < NCOL; k++) {
        if (col[2 * k] > col[2 * k + 1] || col[2 * k + 1] > scap)
            return IPVS_E_FULL;
        o.w[k] = sout + col[2 * k];
        o.d[k] = NULL;
        if (dicts & (1u << k)) {
            dict[k].n = 0;
            memset(dict[k].slot, 0, sizeof(dict[k].slot));
            o.d[k] = &dict[k];
        }
    }
    while (pos < len && o.rec < cap) {
        size_t lend, next;
        int got;
        rc = next_line(buf, len, pos, final, &got, &lend, &next);
        if (rc)
            return rc;
        if (!got)
            break;
        /* room for this line's items in every column: an address takes at
         * most ADDR_MAX, a copied token at most the line; a full
         * dictionary ends the call here (the caller goes on without it) */
        for (k = 0; k < NCOL; k++) {
            size_t need = (k >= C_CADDR && k <= C_DADDR) ? ADDR_MAX : lend - pos + 1;
            if ((size_t)(sout + col[2 * k + 1] - o.w[k]) < need)
                return IPVS_E_FULL;
            if (o.d[k] && o.d[k]->n == DICT_MAX)
                *full |= 1u << k;
        }
        if (*full)
            break;
        rc = conn_line(buf + pos, lend - pos, &o, &emitted);
        if (rc)
            return rc;
        o.rec += (size_t)emitted;
        pos = next;
    }
    for (k = 0; k < NCOL; k++)
        col[2 * k + 1] = (size_t)(o.w[k] - sout);
    *count = o.rec;
    *consumed = pos;
    return 0;
}

/* ------------------------------------------------ -Lnc lines, rendered here */

/* A line's output is at most the protocol and state tokens (both within
 * the line) plus 200 bytes: their padding (3, 11), the expiry (18 digits
 * of minutes, ':', 2), three endpoints of at most 53 bytes ('[', 45, ']',
 * ':', 5) and six separators. */
_Static_assert(IPVS_RENDER_ROOM >= 3 + 11 + 21 + 3 * (ADDR_MAX - 1 + 8) + 6, "render room");

/* the renderer's addresses: each one's text, kept for the line's end */
struct render_addrs {
    char text[3][ADDR_MAX];
    size_t n[3];
};

static int render_addr(void *ctx, int col, const struct tok *t)
{
    struct render_addrs *r = ctx;
    uint8_t raw[16];
    int af = addr_parse(t, raw), n;
    if (af < 0)
        return -1;
    n = addr_format(af, raw, r->text[col - C_CADDR]);
    if (n < 0)
        return -1;
    r->n[col - C_CADDR] = (size_t)n;
    return af;
}

static size_t dec64(uint64_t v, uint8_t *o)
{
    uint8_t tmp[20];
    size_t n = 0, i;
    do {
        tmp[n++] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        o[i] = tmp[n - 1 - i];
    return n;
}

/* spaces from column `have` up to `width` (printf's %-*s) */
static uint8_t *pad(uint8_t *w, size_t have, size_t width)
{
    while (have < width) {
        *w++ = ' ';
        have++;
    }
    return w;
}

static uint8_t *padded(uint8_t *w, const struct tok *t, size_t width)
{
    memcpy(w, t->p, t->n);
    return pad(w + t->n, t->n, width);
}

/* ipvsadm's addrport_to_anyname with -n: "host:port", IPv6 in brackets */
static uint8_t *endpoint(uint8_t *w, int af, const char *host, size_t n, uint64_t port,
                         size_t width)
{
    uint8_t *s = w;
    if (af != AF_INET)
        *w++ = '[';
    memcpy(w, host, n);
    w += n;
    if (af != AF_INET)
        *w++ = ']';
    *w++ = ':';
    w += dec64(port, w);
    return pad(w, (size_t)(w - s), width);
}

/* One line (without its '\n') to *w as
 * "%-3s %02d:%02d(padded to 6) %-11s %-18s %-18s %s\n", nothing for a
 * blank or header line; room for IPVS_RENDER_ROOM + n bytes was checked
 * by the caller. */
static int render_line(const uint8_t *p, size_t n, uint8_t **w)
{
    struct conn_fields f;
    struct render_addrs a;
    uint8_t *o = *w, *s;
    uint64_t minutes;
    unsigned seconds;
    int rc = conn_fields(p, n, &f, render_addr, &a);

    if (rc || !f.k)
        return rc;
    o = padded(o, &f.t[0], 3);
    *o++ = ' ';
    s = o;
    minutes = f.expires / 60;
    seconds = (unsigned)(f.expires % 60);
    if (minutes < 10)
        *o++ = '0';
    o += dec64(minutes, o);
    *o++ = ':';
    *o++ = (uint8_t)('0' + seconds / 10);
    *o++ = (uint8_t)('0' + seconds % 10);
    o = pad(o, (size_t)(o - s), 6);
    *o++ = ' ';
    o = padded(o, &f.t[7], 11);
    *o++ = ' ';
    o = endpoint(o, f.af, a.text[0], a.n[0], f.cport, 18);
    *o++ = ' ';
    o = endpoint(o, f.af, a.text[1], a.n[1], f.vport, 18);
    *o++ = ' ';
    o = endpoint(o, f.daf, a.text[2], a.n[2], f.dport, 0);
    *o++ = '\n';
    *w = o;
    return 0;
}

int ipvs_render_conns_numeric(const uint8_t *buf, size_t len, int final,
                              uint8_t *out, size_t cap, size_t *written,
                              int *full, size_t *consumed)
{
    size_t pos = 0;
    uint8_t *w = out;
    int rc;

    *written = 0;
    *full = 0;
    *consumed = 0;
    while (pos < len) {
        size_t lend, next;
        int got;
        rc = next_line(buf, len, pos, final, &got, &lend, &next);
        if (rc)
            return rc;
        if (!got)
            break;
        /* a line too long is refused before it asks for room, so that a
         * fresh buffer of MAX_LINE + IPVS_RENDER_ROOM always makes progress */
        if (lend - pos > MAX_LINE)
            return IPVS_E_LINE_LONG;
        if ((size_t)(out + cap - w) < lend - pos + IPVS_RENDER_ROOM) {
            *full = 1;
            break;
        }
        rc = render_line(buf + pos, lend - pos, &w);
        if (rc)
            return rc;
        pos = next;
    }
    *written = (size_t)(w - out);
    *consumed = pos;
    return 0;
}
