/* ipvs_decoder.c: IPVS netlink dump replies to flat records, many per
 * call: a generic engine run on tables made from the spec
 * (src/ipvs/_records.py, _layout.py), so no IPVS attribute id or record
 * layout is written here. /proc/net/ip_vs_conn text is read by
 * ipvs_connline.c, ipvs_conns.c and ipvs_render.c.
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
 * rec is zeroed by the caller; the tables were checked once by
 * ipvs_check_spec(). */
static int record(const struct ipvs_spec *spec, unsigned r, const uint8_t *buf,
                  size_t s, size_t e, uint8_t *rec, uint64_t arg)
{
    const struct ipvs_record *R = &spec->records[r];
    const struct ipvs_field *f = spec->fields + R->first, *last = f + R->count;
    struct span a[IPVS_MAX_ATTR + 1];
    int rc = parse_attrs(buf, s, e, a, R->max_attr);

    if (rc)
        return rc;
    for (; f < last; f++) {
        const struct span *n = &a[f->attr];
        uint8_t *o = rec + f->offset;
        const uint8_t *p;
        uint64_t v;
        uint32_t w;
        uint16_t h;
        if (f->flags) { /* anything but a plain required field */
            if (f->flags & IPVS_F_UNLESS && a[f->alt].present) {
                store(o, f->store, f->dflt);
                continue;
            }
            if (!n->present && f->flags & (IPVS_F_OPTIONAL | IPVS_F_ARG)) {
                if (f->read == IPVS_R_NEST && a[f->alt].present) {
                    rc = record(spec, f->alt_sub, buf, a[f->alt].s, a[f->alt].e, o, arg);
                    if (rc)
                        return rc;
                } else if (f->read < IPVS_R_ADDR) {
                    store(o, f->store, f->flags & IPVS_F_ARG ? arg : f->dflt);
                } /* else zeros, the caller's */
                continue;
            }
        }
        switch (f->read) {
        case IPVS_R_ADDR:
            rc = address(buf, a, f->attr, o);
            if (rc)
                return rc;
            continue;
        case IPVS_R_STRING:
            rc = string(buf, a, f->attr, !(f->flags & IPVS_F_OPTIONAL), o);
            if (rc)
                return rc;
            continue;
        case IPVS_R_NEST: /* present, or required: alt's, else missing */
            if (!n->present && !a[f->alt].present)
                return IPVS_E_MISSING;
            rc = n->present ? record(spec, f->sub, buf, n->s, n->e, o, arg)
                            : record(spec, f->alt_sub, buf, a[f->alt].s, a[f->alt].e, o, arg);
            if (rc)
                return rc;
            continue;
        }
        if (!n->present)
            return IPVS_E_MISSING;
        if (n->e - n->s < f->size)
            return IPVS_E_SHORT_ATTR;
        p = buf + n->s;
        switch (f->op) { /* the common (read, width stored) pairs, unswitched */
        case IPVS_OP_U32_4: memcpy(o, p, 4); continue; /* and I32 */
        case IPVS_OP_U64_8: memcpy(o, p, 8); continue;
        case IPVS_OP_U32_8: w = rd32(p); v = w; memcpy(o, &v, 8); continue;
        case IPVS_OP_U16_2: memcpy(o, p, 2); continue;
        case IPVS_OP_BE16_2: h = rdbe16(p); memcpy(o, &h, 2); continue;
        case IPVS_OP_FLAGS_4: w = rd32(p) & rd32(p + 4); memcpy(o, &w, 4); continue;
        }
        switch (f->read) {
        case IPVS_R_U8: v = p[0]; break;
        case IPVS_R_U16: v = rd16(p); break;
        case IPVS_R_BE16: v = rdbe16(p); break;
        case IPVS_R_U64: v = rd64(p); break;
        case IPVS_R_FLAGS: v = rd32(p) & rd32(p + 4); break;
        default: v = rd32(p); break; /* U32, and I32 stored as int32 */
        }
        store(o, f->store, v);
    }
    return 0;
}

/* Tables the engine can run: ids within IPVS_MAX_ATTR and their record's
 * max_attr, sub-records that exist and do not nest more than 4 deep,
 * fields within their record. 0 or IPVS_E_SPEC. */
static int check_record(const struct ipvs_spec *spec, size_t nrecords, size_t nfields,
                        unsigned r, unsigned depth)
{
    const struct ipvs_record *R;
    size_t i;
    if (r >= nrecords || depth > 4)
        return IPVS_E_SPEC;
    R = &spec->records[r];
    if (R->max_attr > IPVS_MAX_ATTR || R->first > nfields || R->count > nfields - R->first)
        return IPVS_E_SPEC;
    for (i = R->first; i < R->first + R->count; i++) {
        const struct ipvs_field *f = &spec->fields[i];
        if (f->attr > R->max_attr || f->alt > R->max_attr || f->read < IPVS_R_U8 ||
            f->read > IPVS_R_NEST || f->offset > R->size)
            return IPVS_E_SPEC;
        if (f->read == IPVS_R_NEST &&
            (check_record(spec, nrecords, nfields, f->sub, depth + 1) ||
             check_record(spec, nrecords, nfields, f->alt_sub, depth + 1)))
            return IPVS_E_SPEC;
    }
    return 0;
}

int ipvs_check_spec(const struct ipvs_spec *spec, size_t nrecords, size_t nfields)
{
    size_t r;
    for (r = 0; r < nrecords; r++) {
        if (spec->records[r].nest > IPVS_MAX_ATTR)
            return IPVS_E_SPEC;
        if (check_record(spec, nrecords, nfields, (unsigned)r, 0))
            return IPVS_E_SPEC;
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
                        out + n * rec_size, arg);
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
