/* ipvs_lines.c: listing lines written straight from dump records (the
 * per-service listings' real-server lines: -Ln --stats, --rate,
 * --thresholds, --persistent-conn), so that no Python object is made per
 * real server. What a line holds is a column program handed over from
 * Python (src/ipvs/cli/_render.py declares the formats, lines.py compiles
 * them); nothing here knows a format or a record layout.
 *
 * Rule: the same text as the twin's compiled program (src/ipvs/lines.py)
 * for any record; tests/test_lines.py holds them together.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

static uint64_t col_uint(const uint8_t *p, unsigned size)
{
    uint8_t b8;
    uint16_t b16;
    uint32_t b32;
    uint64_t b64;
    switch (size) {
    case 1: memcpy(&b8, p, 1); return b8;
    case 2: memcpy(&b16, p, 2); return b16;
    case 4: memcpy(&b32, p, 4); return b32;
    default: memcpy(&b64, p, 8); return b64;
    }
}

static int64_t col_int(const uint8_t *p, unsigned size, int is_signed)
{
    uint64_t v = col_uint(p, size);
    if (!is_signed)
        return (int64_t)v;
    switch (size) {
    case 1: return (int8_t)v;
    case 2: return (int16_t)v;
    case 4: return (int32_t)v;
    default: return (int64_t)v;
    }
}

/* v in decimal at o (no NUL); the number of digits (ipvs_render.c's
 * dec64: the same translation unit, ipvs_module.c) */
static size_t put_u64(char *o, uint64_t v)
{
    return dec64(v, (uint8_t *)o);
}

static size_t put_i64(char *o, int64_t v)
{
    if (v >= 0)
        return put_u64(o, (uint64_t)v);
    *o = '-';
    return 1 + put_u64(o + 1, (uint64_t)(-(v + 1)) + 1);
}

/* s (n bytes) in width: left-justified (the padding after it) or right */
static char *put_padded(char *o, const char *s, size_t n, size_t width, int left)
{
    size_t pad = width > n ? width - n : 0;
    if (!left) {
        memset(o, ' ', pad);
        o += pad;
    }
    memcpy(o, s, n);
    o += n;
    if (left) {
        memset(o, ' ', pad);
        o += pad;
    }
    return o;
}

/* A record's address as inet_ntop writes it (a family other than IPv6 as
 * IPv4, as unpack_address does) to o; its length. Through ipvs_connline.c's
 * addr_format (the same translation unit, ipvs_module.c), which writes the
 * usual forms by hand: glibc's inet_ntop formats IPv4 with sprintf, and a
 * scrape writes an address 14 times a real server (280,000 at 5000 x 4). */
static size_t address_text(const uint8_t *rec, const struct ipvs_col *c, char *o)
{
    int af = col_uint(rec + c->offset2, 2) == AF_INET6 ? AF_INET6 : AF_INET;
    int n = addr_format(af, rec + c->offset, o);
    return n > 0 ? (size_t)n : 0;
}

/* "a.b.c.d:port" or "[v6]:port" (rules.endpoint over unpack_address) */
static size_t endpoint_text(const uint8_t *rec, const struct ipvs_col *c, char *buf)
{
    unsigned af = (unsigned)col_uint(rec + c->offset2, 2);
    size_t n = 0;
    if (af != AF_INET)
        buf[n++] = '[';
    n += address_text(rec, c, buf + n);
    if (af != AF_INET)
        buf[n++] = ']';
    buf[n++] = ':';
    return n + put_u64(buf + n, col_uint(rec + c->offset3, 2));
}

/* label k of the table (text[labels[2k] .. +labels[2k+1])) at o, at most
 * 32 bytes; its length */
static size_t label_text(const uint8_t *text, const uint32_t *labels, size_t k, char *o)
{
    size_t n = labels[2 * k + 1] < 32 ? labels[2 * k + 1] : 32;
    memcpy(o, text + labels[2 * k], n);
    return n;
}

/* the SERVICE column's text (ipvs_decoder.h) at buf (160 bytes); its length */
static size_t service_text(const uint8_t *rec, const struct ipvs_col *c, const uint8_t *text,
                           const uint32_t *labels, char *buf)
{
    int v6 = col_uint(rec + c->offset2, 2) == AF_INET6;
    uint64_t mark = col_uint(rec + c->offset4, 4);
    size_t n;
    if (mark) {
        n = label_text(text, labels, c->a + c->b + 1, buf);
        n += put_u64(buf + n, mark);
        if (v6)
            n += label_text(text, labels, c->a + c->b + 2, buf + n);
    } else {
        char ep[80], name[32];
        uint64_t v = col_uint(rec + c->offset5, 2);
        size_t k = label_text(text, labels, c->a + (v < c->b ? v : c->b), name);
        size_t m = endpoint_text(rec, c, ep), cut = c->cut2 & 255;
        size_t pad = c->cut2 >> 8;
        char *o = put_padded(buf, name, k, pad < 32 ? pad : 32, 1);
        *o++ = ' ';
        memcpy(o, ep, m > cut ? cut : m);
        n = (size_t)(o - buf) + (m > cut ? cut : m);
    }
    return !v6 && n > c->cut ? c->cut : n;
}

/* ipvsadm's print_largenum: exact, or cut to K, M, G, T */
static char *largenum(char *o, uint64_t i, int exact)
{
    char d[20];
    size_t n;
    char unit = 0;
    if (exact) {
        n = put_u64(d, i);
        return put_padded(o, d, n, n <= 8 ? 9 : n + 1, 0);
    }
    if (i >= 100000000000000ULL) {
        i /= 1000000000000ULL;
        unit = 'T';
    } else if (i >= 100000000000ULL) {
        i /= 1000000000ULL;
        unit = 'G';
    } else if (i >= 1000000000ULL) {
        i /= 1000000ULL;
        unit = 'M';
    } else if (i >= 100000000ULL) {
        i /= 1000ULL;
        unit = 'K';
    }
    n = put_u64(d, i);
    o = put_padded(o, d, n, unit ? 8 : 9, 0);
    if (unit)
        *o++ = unit;
    return o;
}

/* the most one line of this program can take */
static size_t line_bound(const struct ipvs_col *cols, size_t ncols, const uint32_t *labels,
                         const struct ipvs_group *g)
{
    size_t n = 2, i; /* the newline, and one spare */
    for (i = 0; i < ncols; i++) {
        const struct ipvs_col *c = &cols[i];
        size_t w = c->width, k;
        switch (c->op) {
        case IPVS_L_TEXT: case IPVS_L_SEP: w = c->b; break;
        case IPVS_L_ENDPOINT: case IPVS_L_ADDRESS: w = w > 80 ? w : 80; break;
        case IPVS_L_INT: case IPVS_L_LARGENUM: w = w > 24 ? w : 24; break;
        case IPVS_L_GROUP: w = c->a ? g->l1 : g->l0; break;
        case IPVS_L_SERVICE: w = w > 160 ? w : 160; break;
        case IPVS_L_STRING: w = w > c->size ? w : c->size; break;
        case IPVS_L_LABEL:
            if (c->flags & IPVS_C_NUMBER && w < 24)
                w = 24;
            for (k = 0; k <= c->b; k++)
                if (labels[2 * (c->a + k) + 1] > w)
                    w = labels[2 * (c->a + k) + 1];
            break;
        }
        n += w;
    }
    return n;
}

static char *line(char *o, const uint8_t *rec, const struct ipvs_col *cols, size_t ncols,
                  const uint8_t *text, const uint32_t *labels, const struct ipvs_group *g,
                  const uint8_t *gtext, int first)
{
    size_t i;
    for (i = 0; i < ncols; i++) {
        const struct ipvs_col *c = &cols[i];
        int left = c->flags & IPVS_C_LEFT;
        switch (c->op) {
        case IPVS_L_SEP:
            if (first)
                break;
            /* fall through */
        case IPVS_L_TEXT:
            memcpy(o, text + c->a, c->b);
            o += c->b;
            break;
        case IPVS_L_ENDPOINT: {
            char buf[80];
            size_t n = endpoint_text(rec, c, buf);
            size_t cut = col_uint(rec + c->offset2, 2) == AF_INET6 ? c->b : c->a;
            o = put_padded(o, buf, n > cut ? cut : n, c->width, 1);
            break;
        }
        case IPVS_L_INT: {
            char d[24];
            size_t n = c->flags & IPVS_C_SIGNED ? put_i64(d, col_int(rec + c->offset, c->size, 1))
                                                : put_u64(d, col_uint(rec + c->offset, c->size));
            o = put_padded(o, d, n, c->width, left);
            break;
        }
        case IPVS_L_LARGENUM:
            o = largenum(o, col_uint(rec + c->offset, 8), c->flags & IPVS_C_EXACT);
            break;
        case IPVS_L_ADDRESS:
            o += address_text(rec, c, o);
            break;
        case IPVS_L_GROUP: {
            uint32_t at = c->a ? g->p1 : g->p0, n = c->a ? g->l1 : g->l0;
            memcpy(o, gtext + at, n);
            o += n;
            break;
        }
        case IPVS_L_SERVICE: {
            char buf[160];
            size_t n = service_text(rec, c, text, labels, buf);
            o = put_padded(o, buf, n, c->width, 1);
            break;
        }
        case IPVS_L_WHEN: {
            uint64_t v = col_uint(rec + c->offset, c->size) & c->mask;
            uint64_t set = (uint64_t)c->cut2 << 32 | c->cut;
            int ok = c->flags & IPVS_C_NONZERO ? v != 0 : v < 64 && (set >> v & 1);
            if (!ok)
                i += c->a < ncols - i ? c->a : ncols - i;
            break;
        }
        case IPVS_L_STRING: {
            const uint8_t *str = rec + c->offset, *nul = memchr(str, 0, c->size);
            o = put_padded(o, (const char *)str, nul ? (size_t)(nul - str) : c->size, c->width, 1);
            break;
        }
        case IPVS_L_LABEL: {
            uint64_t v = col_uint(rec + c->offset, c->size) & c->mask;
            size_t k = c->a + (v < c->b ? v : c->b);
            if (v >= c->b && c->flags & IPVS_C_NUMBER) {
                char d[24];
                o = put_padded(o, d, put_u64(d, v), c->width, 1);
                break;
            }
            o = put_padded(o, (const char *)text + labels[2 * k], labels[2 * k + 1], c->width, 1);
            break;
        }
        }
    }
    return o;
}

/* (address by family, then port) as rules.dest_sort_key orders them: the
 * packed address (4 or 16 bytes; a prefix before a longer one), then the
 * port */
static int dest_before(const uint8_t *a, const uint8_t *b, const struct ipvs_col *k)
{
    size_t la = col_uint(a + k->offset2, 2) == AF_INET6 ? 16 : 4;
    size_t lb = col_uint(b + k->offset2, 2) == AF_INET6 ? 16 : 4;
    int c = memcmp(a + k->offset, b + k->offset, la < lb ? la : lb);
    if (c)
        return c < 0;
    if (la != lb)
        return la < lb;
    return col_uint(a + k->offset3, 2) < col_uint(b + k->offset3, 2);
}

/* stable merge sort of idx[0..n) (scratch: n more) */
static void sort_dests(uint32_t *idx, uint32_t *tmp, size_t n, const uint8_t *recs,
                       size_t size, const struct ipvs_col *key)
{
    size_t width, i;
    for (width = 1; width < n; width *= 2) {
        for (i = 0; i < n; i += 2 * width) {
            size_t lo = i, mid = i + width < n ? i + width : n;
            size_t hi = i + 2 * width < n ? i + 2 * width : n, a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = dest_before(recs + (size_t)idx[b] * size,
                                       recs + (size_t)idx[a] * size, key) ? idx[b++] : idx[a++];
            while (a < mid)
                tmp[o++] = idx[a++];
            while (b < hi)
                tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

int ipvs_render_lines(const uint8_t *recs, size_t nrecs, size_t size,
                      const struct ipvs_col *cols, size_t ncols, const struct ipvs_col *key,
                      const uint8_t *text, const uint32_t *labels, const uint8_t *gtext,
                      const struct ipvs_group *groups, size_t ngroups,
                      uint32_t *order, uint32_t *scratch,
                      uint8_t *out, size_t cap, struct ipvs_lines *st)
{
    char *o = (char *)out + st->written;

    while (st->group < ngroups) {
        const struct ipvs_group *g = &groups[st->group];
        size_t bound = line_bound(cols, ncols, labels, g);
        if (g->first > nrecs || g->count > nrecs - g->first)
            return IPVS_E_SPEC;
        if (st->item == 0) {
            if (cap - st->written < g->len + 1)
                return IPVS_E_FULL;
            memcpy(o, gtext + g->text, g->len);
            o += g->len;
            st->written += g->len;
            if (key)
                sort_dests(order + g->first, scratch, g->count, recs, size, key);
            st->item = 1;
        }
        while (st->item <= g->count) {
            uint32_t r = order[g->first + st->item - 1];
            if (r >= nrecs)
                return IPVS_E_SPEC;
            if (cap - st->written < bound)
                return IPVS_E_FULL;
            o = line(o, recs + (size_t)r * size, cols, ncols, text, labels, g, gtext,
                     st->item == 1);
            st->written = (size_t)(o - (char *)out);
            st->item++;
        }
        st->group++;
        st->item = 0;
    }
    return 0;
}
