/* ipvs_render.c: /proc/net/ip_vs_conn text to the lines `ipvsadm -Lnc`
 * prints (ipvs_render_conns_numeric; the line parser is ipvs_connline.c's).
 *
 * Rule: the text is _conntext.numeric_lines()'s for the records the
 * column decoder makes of the same lines (tests/test_decoder_render.py).
 */
/* compiled as part of ipvs_module.c, after ipvs_decoder.c (its headers) */
#include "ipvs_connline.h"


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
    int rc = 0;

    *written = 0;
    *full = 0;
    *consumed = 0;
    while (pos < len) {
        size_t lend, next;
        rc = next_line(buf, len, pos, final, &lend, &next);
        if (rc)
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
    if (rc > 0)
        return rc;
    *written = (size_t)(w - out);
    *consumed = pos;
    return 0;
}
