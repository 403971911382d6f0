/* ipvs_conns.c: /proc/net/ip_vs_conn text to columns (ipvs_decode_conns;
 * the line parser is ipvs_connline.c's).
 *
 * Rule: mirrors decode_conns() of src/ipvs/_decode_py.py (see
 * ipvs_decoder.c's rule and safety notes).
 */
/* compiled as part of ipvs_module.c, after ipvs_decoder.c (its headers) */
#include "ipvs_connline.h"

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
    int k, rc = 0, emitted;

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
        rc = next_line(buf, len, pos, final, &lend, &next);
        if (rc)
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
    if (rc > 0)
        return rc;
    for (k = 0; k < NCOL; k++)
        col[2 * k + 1] = (size_t)(o.w[k] - sout);
    *count = o.rec;
    *consumed = pos;
    return 0;
}
