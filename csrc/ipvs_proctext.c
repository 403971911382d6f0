/* ipvs_proctext.c: /proc/net/ip_vs's real-server lines as `ipvsadm -Ln`
 * prints them (ipvs_proc_numeric), so that the plain listing of a large
 * table makes no Python object per real server.
 *
 * Rule: the lines accepted and the text written are the twin's
 * (ipvs._proctable.parse and numeric_block; tests/test_proctext.py).
 */
/* compiled as part of ipvs_module.c, after ipvs_decoder.c (its headers) */
#include <stdlib.h> /* qsort */

#define DEST_PREFIX "  -> "
#define DEST_MIN 24 /* "  -> %08X:%04X      ": the renderer indexes into it */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* the value of n (at most 8) hex digits at p, or -1 if one is not a hex
 * digit (64 bits: 8 digits overflow a 32-bit long) */
static int64_t hexnum(const uint8_t *p, size_t n)
{
    int64_t v = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        int d = hexval(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* the order of Python's sorted() on the lines: bytes, then length */
static int pline_cmp(const void *a, const void *b)
{
    const struct ipvs_pline *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* a line in the kernel's IPv4 layout ("  -> %08X:%04X      REST") */
static int v4_line(const struct ipvs_pline *l)
{
    return l->p[13] == ':' && memcmp(l->p + 18, "      ", 6) == 0 &&
           hexnum(l->p + 5, 8) >= 0 && hexnum(l->p + 14, 4) >= 0;
}

static uint8_t *dec(uint8_t *w, unsigned v)
{
    return w + dec64(v, w); /* ipvs_render.c's */
}

/* "  -> %-28s REST\n" with "a.b.c.d:port" (at most 21 bytes) */
static uint8_t *v4_numeric(uint8_t *w, const struct ipvs_pline *l)
{
    int64_t a = hexnum(l->p + 5, 8), port = hexnum(l->p + 14, 4);
    uint8_t *s;
    memcpy(w, DEST_PREFIX, 5);
    w += 5;
    s = w;
    w = dec(w, (unsigned)(a >> 24) & 255);
    *w++ = '.';
    w = dec(w, (unsigned)(a >> 16) & 255);
    *w++ = '.';
    w = dec(w, (unsigned)(a >> 8) & 255);
    *w++ = '.';
    w = dec(w, (unsigned)a & 255);
    *w++ = ':';
    w = dec(w, (unsigned)port);
    w = pad(w, (size_t)(w - s), 28);
    *w++ = ' ';
    memcpy(w, l->p + DEST_MIN, l->n - DEST_MIN);
    w += l->n - DEST_MIN;
    *w++ = '\n';
    return w;
}

/* one service's block of lines (k of them in lines[]) to *w */
static uint8_t *block(uint8_t *w, struct ipvs_pline *lines, size_t k, int sort, uint8_t *ok)
{
    size_t i;
    for (i = 0; i < k; i++)
        if (!v4_line(&lines[i])) {
            *ok = 0;
            return w;
        }
    if (sort && k > 1)
        qsort(lines, k, sizeof *lines, pline_cmp);
    for (i = 0; i < k; i++)
        w = v4_numeric(w, &lines[i]);
    *ok = 1;
    return w;
}

int ipvs_proc_numeric(const uint8_t *body, size_t len, int sort,
                      uint8_t *out, size_t cap, struct ipvs_pline *scratch, size_t nscratch,
                      size_t *heads, size_t *ends, uint8_t *ok, size_t nmax,
                      size_t *count, size_t *written)
{
    size_t pos = 0, n = 0, k = 0;
    uint8_t *w = out;

    *count = 0;
    *written = 0;
    /* an output line is at most its input line + 11 bytes (the address
     * field grows from 13 to 28 + 1, and the '\n'), on lines of at least 24 */
    if (cap < len + len / 2 + 64)
        return IPVS_E_FULL;
    while (pos < len) {
        const uint8_t *p = body + pos;
        const uint8_t *nl = memchr(p, '\n', len - pos);
        size_t ln = nl ? (size_t)(nl - p) : len - pos;

        if (ln >= 5 && memcmp(p, DEST_PREFIX, 5) == 0) {
            if (!n || ln < DEST_MIN)
                return IPVS_E_PROC_LAYOUT;
            if (k == nscratch)
                return IPVS_E_FULL;
            scratch[k].p = p;
            scratch[k].n = ln;
            k++;
        } else if (ln) { /* a service line (an empty line is skipped) */
            if (n) { /* the previous service's real servers */
                w = block(w, scratch, k, sort, &ok[n - 1]);
                ends[n - 1] = (size_t)(w - out);
                k = 0;
            }
            if (n == nmax)
                return IPVS_E_FULL;
            memcpy(w, p, ln);
            w += ln;
            heads[n++] = (size_t)(w - out);
            *w++ = '\n';
        }
        pos += ln + 1;
    }
    if (n) {
        w = block(w, scratch, k, sort, &ok[n - 1]);
        ends[n - 1] = (size_t)(w - out);
    }
    *count = n;
    *written = (size_t)(w - out);
    return 0;
}

/* ---- -Ln's services: records paired with the file's services ---- */

/* what str.split() takes for a space in latin-1 text */
static int py_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
           c == 0xa0;
}

/* the first three words of the line text[from:to] (offsets into text);
 * how many there are, at most 3 */
static int words3(const uint8_t *text, size_t from, size_t to, struct ipvs_pent *e)
{
    size_t i = from;
    int k = 0;
    while (k < 3) {
        size_t s;
        while (i < to && py_space(text[i]))
            i++;
        if (i == to)
            break;
        s = i;
        while (i < to && !py_space(text[i]))
            i++;
        e->at[k] = s;
        e->len[k] = i - s;
        k++;
    }
    return k;
}

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* the hash of a (label, address:port) key; the 0xff between them is in
 * neither (a label and a word of the file have no 0xff next to them in
 * the same place: a collision only costs a comparison) */
static uint32_t key_hash(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    uint32_t h = fnv(2166136261u, a, na);
    h = (h ^ 0xff) * 16777619u;
    return fnv(h, b, nb);
}

static int same(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && memcmp(a, b, na) == 0;
}

static uint64_t rec_uint(const uint8_t *rec, const struct ipvs_svcview *v, int f)
{
    const uint8_t *p = rec + v->offset[f];
    uint16_t b16;
    uint32_t b32;
    uint64_t b64;
    switch (v->size[f]) {
    case 1: return *p;
    case 2: memcpy(&b16, p, 2); return b16;
    case 4: memcpy(&b32, p, 4); return b32;
    default: memcpy(&b64, p, 8); return b64;
    }
}

/* a string field's length without its trailing NULs (the records' rstrip) */
static size_t rec_strlen(const uint8_t *rec, const struct ipvs_svcview *v, int f)
{
    const uint8_t *p = rec + v->offset[f];
    size_t n = v->size[f];
    while (n && !p[n - 1])
        n--;
    return n;
}

static uint8_t *dotted(uint8_t *w, const uint8_t *a)
{
    int i;
    for (i = 0; i < 4; i++) {
        if (i)
            *w++ = '.';
        w = dec(w, a[i]);
    }
    return w;
}

/* the entry (index + 1) the file has for key, or 0 */
static uint32_t lookup(const uint8_t *text, const struct ipvs_pent *ents, const uint32_t *slots,
                       size_t nslots, const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t s = key_hash(a, na, b, nb) & (nslots - 1);
    while (slots[s]) {
        const struct ipvs_pent *e = &ents[slots[s] - 1];
        if (same(text + e->at[0], e->len[0], a, na) && same(text + e->at[1], e->len[1], b, nb))
            return slots[s];
        s = (s + 1) & (nslots - 1);
    }
    return 0;
}

/* a service line but its scheduler: a label (8), ' ', "a.b.c.d:port" (21),
 * ' ', " persistent T" (12 + 20), " mask a.b.c.d" (6 + 15) and '\n' */
#define HEAD_ROOM (8 + 1 + 21 + 1 + 32 + 21 + 1)

int ipvs_proc_services(const uint8_t *text, const size_t *heads, const size_t *ends,
                       const uint8_t *ok, size_t nent,
                       const uint8_t *recs, size_t total, const struct ipvs_svcview *v,
                       const uint32_t *order, struct ipvs_pent *ents,
                       uint32_t *slots, size_t nslots,
                       uint8_t *out, size_t cap, uint32_t *holes, size_t *nholes,
                       size_t *written)
{
    static const uint8_t hex[] = "0123456789ABCDEF";
    size_t e, j, nh = 0;
    uint8_t *w = out, *end = out + cap;

    *nholes = 0;
    *written = 0;
    if (nslots <= nent || (nslots & (nslots - 1)) || v->nproto > IPVS_SV_PROTOS)
        return IPVS_E_SPEC;
    for (e = 0; e < nent; e++) {
        struct ipvs_pent *p = &ents[e];
        size_t s;
        if (words3(text, e ? ends[e - 1] : 0, heads[e], p) < 3)
            return IPVS_E_PROC_LAYOUT;
        s = key_hash(text + p->at[0], p->len[0], text + p->at[1], p->len[1]) & (nslots - 1);
        while (slots[s]) { /* the same key again: the later line is the newer */
            const struct ipvs_pent *q = &ents[slots[s] - 1];
            if (same(text + q->at[0], q->len[0], text + p->at[0], p->len[0]) &&
                same(text + q->at[1], q->len[1], text + p->at[1], p->len[1]))
                break;
            s = (s + 1) & (nslots - 1);
        }
        slots[s] = (uint32_t)(e + 1);
    }
    for (j = 0; j < total; j++) {
        const uint8_t *rec, *addr, *sched, *label = NULL;
        uint8_t key[13];
        size_t nlabel = 0, nsched, k;
        uint64_t proto, port, flags;
        uint32_t hit = 0;
        if (order[j] >= total)
            return IPVS_E_SPEC;
        rec = recs + (size_t)order[j] * v->rec_size;
        proto = rec_uint(rec, v, IPVS_SV_PROTOCOL);
        flags = rec_uint(rec, v, IPVS_SV_FLAGS);
        for (k = 0; k < v->nproto; k++)
            if (v->proto[k] == proto) {
                label = v->label[k];
                nlabel = v->label_len[k];
                break;
            }
        addr = rec + v->offset[IPVS_SV_ADDR];
        port = rec_uint(rec, v, IPVS_SV_PORT);
        sched = rec + v->offset[IPVS_SV_SCHED];
        nsched = rec_strlen(rec, v, IPVS_SV_SCHED);
        if (rec_uint(rec, v, IPVS_SV_AF) == v->af_inet && !rec_uint(rec, v, IPVS_SV_FWMARK) &&
            !(flags & v->general) && !rec_strlen(rec, v, IPVS_SV_PE) && label &&
            v->size[IPVS_SV_ADDR] >= 4 && port <= 0xFFFF) {
            for (k = 0; k < 4; k++) {
                key[2 * k] = hex[addr[k] >> 4];
                key[2 * k + 1] = hex[addr[k] & 15];
            }
            key[8] = ':';
            for (k = 0; k < 4; k++)
                key[9 + k] = hex[(port >> (12 - 4 * k)) & 15];
            hit = lookup(text, ents, slots, nslots, label, nlabel, key, sizeof key);
        }
        if (hit) {
            const struct ipvs_pent *p = &ents[hit - 1];
            if (!ok[hit - 1] || !same(text + p->at[2], p->len[2], sched, nsched))
                hit = 0;
        }
        if (!hit) {
            if ((size_t)(w - out) > UINT32_MAX)
                return IPVS_E_SPEC; /* (a place a hole cannot name: never more room) */
            holes[2 * nh] = (uint32_t)(w - out);
            holes[2 * nh + 1] = order[j];
            nh++;
            continue;
        }
        e = hit - 1;
        if ((size_t)(end - w) < HEAD_ROOM + nsched + (ends[e] - heads[e]))
            return IPVS_E_FULL;
        memcpy(w, label, nlabel);
        w = pad(w + nlabel, nlabel, 4);
        *w++ = ' ';
        w = dotted(w, addr);
        *w++ = ':';
        w = dec(w, (unsigned)port);
        *w++ = ' ';
        memcpy(w, sched, nsched);
        w += nsched;
        if (flags & v->persistent) {
            const uint8_t *mask = rec + v->offset[IPVS_SV_NETMASK];
            memcpy(w, " persistent ", 12);
            w += 12;
            w += dec64(rec_uint(rec, v, IPVS_SV_TIMEOUT), w);
            if (v->size[IPVS_SV_NETMASK] == 4 && memcmp(mask, "\xff\xff\xff\xff", 4)) {
                memcpy(w, " mask ", 6);
                w = dotted(w + 6, mask);
            }
        }
        *w++ = '\n';
        memcpy(w, text + heads[e] + 1, ends[e] - heads[e] - 1);
        w += ends[e] - heads[e] - 1;
    }
    *nholes = nh;
    *written = (size_t)(w - out);
    return 0;
}
