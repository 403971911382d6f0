/* ipvs_proctext.c: /proc/net/ip_vs's real-server lines as `ipvsadm -Ln`
 * prints them (ipvs_proc_numeric), so that the plain listing of a large
 * table makes no Python object per real server.
 *
 * Rule: the lines accepted and the text written are the twin's
 * (ipvs._proctable.parse and numeric_block; tests/test_proctext.py).
 */
/* compiled as part of ipvs_module.c, after ipvs_decoder.c (its headers) */

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
