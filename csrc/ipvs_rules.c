/* ipvs_rules.c: the plain lines of `ipvsadm -R` input straight to netlink
 * requests, many lines to a call (in Python, each line's match and
 * encoding cost a hundred times the kernel's work for it).
 *
 * A plain line is what _fastrestore's two regular expressions accept
 * (after stripping " \t\n\r" at both ends):
 *   -A P a.b.c.d:PORT -s SCHED
 *   -a P a.b.c.d:PORT -r a.b.c.d:PORT -F -w WEIGHT
 * P a protocol letter of g->proto_letter, F a forwarding letter of
 * g->fwd_letter, octets 0-255 without leading zeros, ports 1-65535 and
 * weights 0-INT_MAX likewise, SCHED 1-15 of a-z. Nothing of the wire
 * format is written here: each message is a template (made in Python
 * from the spec, with _fastrestore's own encoding of a sample line) whose
 * slots take the line's values. Python's twin: _decode_py.encode_rules,
 * which runs _fastrestore's FastRestore on each line.
 */

static int rule_octets(const uint8_t *p, const uint8_t *end, const uint8_t **next, uint8_t a[4])
{
    for (int k = 0; k < 4; k++) {
        const uint8_t *s = p;
        unsigned v = 0;
        while (p < end && *p >= '0' && *p <= '9' && p - s < 4)
            v = v * 10 + (unsigned)(*p++ - '0');
        if (p == s || p - s > 3 || (p - s > 1 && *s == '0') || v > 255)
            return 0;
        a[k] = (uint8_t)v;
        if (k < 3) {
            if (p >= end || *p != '.')
                return 0;
            p++;
        }
    }
    *next = p;
    return 1;
}

/* digits with no leading zero (a lone "0" only when zero_ok), at most
 * maxd of them, value at most max */
static int rule_number(const uint8_t *p, const uint8_t *end, const uint8_t **next,
                       int maxd, uint64_t max, int zero_ok, uint32_t *out)
{
    const uint8_t *s = p;
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9' && p - s <= maxd)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == s || p - s > maxd || (*s == '0' && (p - s > 1 || !zero_ok)) || v > max)
        return 0;
    *out = (uint32_t)v;
    *next = p;
    return 1;
}

static int rule_word(const uint8_t **p, const uint8_t *end, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(end - *p) < n || memcmp(*p, w, n))
        return 0;
    *p += n;
    return 1;
}

/* "P a.b.c.d:PORT" after "-A " or "-a " */
static int rule_service(const uint8_t **pp, const uint8_t *end, const struct ipvs_rgrammar *g,
                        uint32_t v[])
{
    const uint8_t *p = *pp;
    int k;
    if (end - p < 3 || p[0] != '-' || p[2] != ' ')
        return 0;
    for (k = 0; k < 2 && g->proto_letter[k] != p[1]; k++)
        ;
    if (k == 2)
        return 0;
    v[IPVS_RF_PROTO] = g->proto[k];
    p += 3;
    if (!rule_octets(p, end, &p, (uint8_t *)&v[IPVS_RF_VADDR]) || p >= end || *p++ != ':'
        || !rule_number(p, end, &p, 5, 65535, 0, &v[IPVS_RF_VPORT]))
        return 0;
    *pp = p;
    return 1;
}

/* v[] the line's values (addresses as their 4 bytes in network order);
 * tmpl its template; *sched / *slen the scheduler. 1: a plain line. */
static int rule_parse(const uint8_t *p, const uint8_t *end, const struct ipvs_rgrammar *g,
                      uint32_t v[], const uint8_t **sched, size_t *slen, int *dest)
{
    int k;
    if (end - p < 3 || p[0] != '-' || p[2] != ' ' || (p[1] != 'A' && p[1] != 'a'))
        return 0;
    *dest = p[1] == 'a';
    p += 3;
    if (!rule_service(&p, end, g, v))
        return 0;
    if (!*dest) {
        const uint8_t *s;
        if (!rule_word(&p, end, " -s "))
            return 0;
        for (s = p; p < end && *p >= 'a' && *p <= 'z'; p++)
            ;
        if (p != end || p == s || p - s > 15)
            return 0;
        *sched = s;
        *slen = (size_t)(p - s);
        return 1;
    }
    if (!rule_word(&p, end, " -r ")
        || !rule_octets(p, end, &p, (uint8_t *)&v[IPVS_RF_RADDR]) || p >= end || *p++ != ':'
        || !rule_number(p, end, &p, 5, 65535, 0, &v[IPVS_RF_RPORT])
        || end - p < 4 || p[0] != ' ' || p[1] != '-' || p[3] != ' ')
        return 0;
    for (k = 0; k < 3 && g->fwd_letter[k] != p[2]; k++)
        ;
    if (k == 3)
        return 0;
    v[IPVS_RF_FWD] = g->fwd[k];
    if (p[2] != g->masq_letter)
        v[IPVS_RF_RPORT] = v[IPVS_RF_VPORT]; /* ipvsadm: DR and tunnel use the service port */
    p += 4;
    if (!rule_word(&p, end, "-w ")
        || !rule_number(p, end, &p, 10, 0x7fffffff, 1, &v[IPVS_RF_WEIGHT]) || p != end)
        return 0;
    return 1;
}

/* IPVS_E_SPEC: a template whose scheduler slot is too small (a bug) */
static int rule_fill(uint8_t *m, const struct ipvs_rtmpl *t, const uint32_t v[],
                     const uint8_t *sched, size_t slen)
{
    memcpy(m, t->bytes, t->len);
    for (size_t i = 0; i < t->nslots; i++) {
        const struct ipvs_rslot *s = &t->slots[i];
        uint8_t *o = m + s->off;
        uint32_t x = v[s->field];
        uint16_t h;
        switch (s->kind) {
        case IPVS_RS_U16: h = (uint16_t)x; memcpy(o, &h, 2); break;
        case IPVS_RS_BE16: o[0] = (uint8_t)(x >> 8); o[1] = (uint8_t)x; break;
        case IPVS_RS_U32: memcpy(o, &x, 4); break;
        case IPVS_RS_ADDR4: memcpy(o, &v[s->field], 4); break;
        case IPVS_RS_STRING: /* the attribute's length, the name, NULs to the slot's end */
            if (slen >= s->size || s->off < 4)
                return IPVS_E_SPEC;
            h = (uint16_t)(4 + slen + 1);
            memcpy(o - 4, &h, 2);
            memcpy(o, sched, slen);
            memset(o + slen, 0, s->size - slen);
            break;
        }
    }
    return 0;
}

int ipvs_encode_rules(const uint8_t *text, size_t len, size_t pos,
                      const struct ipvs_rgrammar *g, const struct ipvs_rtmpl *tmpl,
                      uint32_t seq, uint8_t *out, size_t used, size_t cap, size_t *res)
{
    size_t count = 0, last = res[3];
    int rc = 0;

    while (pos < len) {
        const uint8_t *nl = memchr(text + pos, '\n', len - pos);
        size_t next = nl ? (size_t)(nl - text) + 1 : len;
        const uint8_t *p = text + pos, *e = text + next, *sched = NULL;
        const struct ipvs_rtmpl *t;
        uint32_t v[IPVS_RF_COUNT] = {0};
        size_t slen = 0;
        int dest;

        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
            e--;
        if (p == e) { /* no words: ipvsadm skips the line */
            pos = next;
            continue;
        }
        if (!rule_parse(p, e, g, v, &sched, &slen, &dest))
            break;
        t = &tmpl[dest ? 0 : 1 + slen / 4]; /* services: by the name's padded size */
        if (t->len > cap || cap - t->len < used) {
            rc = IPVS_E_FULL;
            break;
        }
        if ((rc = rule_fill(out + used, t, v, sched, slen)) != 0)
            break;
        memcpy(out + used + 8, &seq, 4);
        seq = seq == 0xffffffffu ? 1 : seq + 1; /* 0 is skipped, as Conn.next_seq() does */
        last = used;
        used += (t->len + 3) & ~(size_t)3;
        count++;
        pos = next;
    }
    res[0] = pos;
    res[1] = count;
    res[2] = used;
    res[3] = last;
    return rc;
}
