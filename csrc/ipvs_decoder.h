/* ipvs_decoder.h: the C half of the decoder seam (the Python half is
 * src/ipvs/_decode_py.py). This header is also the cffi cdef: keep it to
 * plain declarations cffi can parse (no #include, no expressions in array
 * sizes other than literals).
 *
 * Rule: functions return 0 or one of the IPVS_E_* codes and never allocate;
 * the caller hands in output arrays and their capacities. Every offset read
 * from the input is checked against the input length before use.
 */

/* error codes: src/ipvs/_decode_py.py ERRORS maps each to its message */
#define IPVS_E_MSG_LEN 1
#define IPVS_E_AFTER_DONE 2
#define IPVS_E_SEQ 3
#define IPVS_E_SHORT_ERROR 4
#define IPVS_E_OVERRUN 5
#define IPVS_E_SHORT_GENL 6
#define IPVS_E_NO_NEST 7
#define IPVS_E_TRAILING 8
#define IPVS_E_ATTR_LEN 9
#define IPVS_E_MISSING 10
#define IPVS_E_SHORT_ATTR 11
#define IPVS_E_SHORT_ADDR 12
#define IPVS_E_LONG_STRING 13
#define IPVS_E_LINE_LONG 14
#define IPVS_E_CONN_SHORT 15
#define IPVS_E_CONN_FIELD 16
#define IPVS_E_BIG 17 /* a datagram longer than the receive buffer */
#define IPVS_E_PROC_LAYOUT 18 /* /proc/net/ip_vs not in the layout known */
#define IPVS_E_OS 97 /* a system call failed: errno in ipvs_dumps.oserr */
#define IPVS_E_FULL 99

/* status bits */
#define IPVS_DONE 1
#define IPVS_INTERRUPTED 2

/* The dump decoder is a generic engine: it knows netlink, not IPVS. The
 * records, their fields and attribute ids come from the spec
 * (src/ipvs/_records.py), handed over at import in these tables by
 * src/ipvs/_decode_c.py. */
#define IPVS_E_SPEC 98 /* a table the engine cannot run (a bug, not bad input) */
#define IPVS_MAX_ATTR 63 /* highest attribute id a table may use */

/* how a field is read: ints (stored in `store` bytes), flags & mask (8
 * bytes), an address (4..16 bytes, stored as 16), a string (at most 15
 * bytes, stored as 16, NUL padded), a nested record */
#define IPVS_R_U8 1
#define IPVS_R_U16 2
#define IPVS_R_BE16 3
#define IPVS_R_U32 4
#define IPVS_R_I32 5
#define IPVS_R_U64 6
#define IPVS_R_FLAGS 7
#define IPVS_R_ADDR 8
#define IPVS_R_STRING 9
#define IPVS_R_NEST 10

/* what the engine does with an int field, when the pair (read, bytes
 * stored) is a common one; else IPVS_OP_ANY (read, then store) */
#define IPVS_OP_ANY 0
#define IPVS_OP_U32_4 1
#define IPVS_OP_U64_8 2
#define IPVS_OP_U32_8 3
#define IPVS_OP_U16_2 4
#define IPVS_OP_BE16_2 5
#define IPVS_OP_FLAGS_4 6

/* field flags (none: required, IPVS_E_MISSING when absent): OPTIONAL
 * (absent: dflt; a nest: alt's content, else zeros), ARG (absent: the
 * call's arg), UNLESS (when attribute alt is present: dflt, unread) */
#define IPVS_F_OPTIONAL 1
#define IPVS_F_ARG 2
#define IPVS_F_UNLESS 4

struct ipvs_field {
    uint16_t attr;       /* attribute id in the record's nest */
    uint16_t alt;        /* UNLESS: the deciding attribute; NEST: the fallback */
    uint8_t read;        /* IPVS_R_* */
    uint8_t flags;       /* IPVS_F_* */
    uint8_t size;        /* least payload bytes of an int or flags field */
    uint8_t store;       /* bytes an int field takes in the record */
    uint8_t op;          /* IPVS_OP_* */
    uint32_t offset;     /* of the field in the record */
    uint16_t sub;        /* NEST: records[] index of attr's content */
    uint16_t alt_sub;    /* NEST: records[] index of alt's content */
    uint64_t dflt;
};

struct ipvs_record {
    uint32_t first;      /* its fields: fields[first .. first + count), in check order */
    uint32_t count;
    uint32_t size;       /* bytes of one record */
    uint16_t max_attr;   /* highest id its fields name */
    uint16_t nest;       /* top-level records: the message attribute holding one */
};

struct ipvs_spec {
    const struct ipvs_field *fields;
    const struct ipvs_record *records;
    /* netlink's message types and the interrupted-dump flag (_netlink's) */
    uint16_t nlmsg_noop, nlmsg_error, nlmsg_done, nlmsg_overrun, nlm_f_dump_intr;
};

/* 0 when the engine can run these tables (checked once, when they are
 * made), else IPVS_E_SPEC */
int ipvs_check_spec(const struct ipvs_spec *spec, size_t nrecords, size_t nfields);

/* One receive buffer of a dump reply: each data message's record (of
 * spec->records[r]) to out (cap records of records[r].size bytes); arg is
 * what IPVS_F_ARG fields default to. */
int ipvs_decode_dump(const uint8_t *buf, size_t len, uint32_t seq, uint32_t pid,
                     const struct ipvs_spec *spec, unsigned r, uint64_t arg,
                     uint8_t *out, size_t cap, size_t *count, int *status, int64_t *error);

/* /proc/net/ip_vs_conn text, one chunk, to columns. Decodes lines until
 * the input ends (complete lines only unless final), cap records are made
 * or a dictionary is full; *consumed says how far it got.
 * String column k (0-6: protocol, caddr, vaddr, daddr, state, pe_name,
 * pe_data) is written from sout + col[2k], each item followed by '\n',
 * and must stay below sout + col[2k+1], which is then set to where the
 * column ends (IPVS_E_FULL when a column could overflow: give each
 * address column 46 bytes a record and each other column len + cap).
 * A column whose bit (1 << k) is set in dicts holds its distinct values
 * instead, and iout[k * cap + i] is record i's index among them; at most
 * 256 values: the call stops before a line when one is full and sets the
 * column's bit in *full (call again without it).
 * Number column k (af, cport, vport, dport, expires) is nout[k * cap + i]. */
int ipvs_decode_conns(const uint8_t *buf, size_t len, int final,
                      uint8_t *sout, size_t scap, size_t *col,
                      unsigned dicts, uint8_t *iout, unsigned *full,
                      uint64_t *nout, size_t cap, size_t *count, size_t *consumed);

/* /proc/net/ip_vs_conn text, one chunk, to the lines `ipvsadm -Lnc`
 * prints (no --persistent-conn; the persistence-engine columns are
 * ignored): protocol, expiry as minutes:seconds, state, and the client,
 * virtual and real endpoints as "a.b.c.d:port" or "[v6]:port", padded as
 * ipvsadm 1.31 pads them. The lines accepted and the error codes are
 * those of ipvs_decode_conns (one line parser serves both). Renders until
 * the input ends (complete lines only unless final) or out may not hold
 * the next line: a line of n bytes is rendered only while n +
 * IPVS_RENDER_ROOM bytes of out are left, otherwise *full is set (call
 * again from *consumed with room; a fresh out of MAX_LINE (4096) +
 * IPVS_RENDER_ROOM bytes always takes a line). The text is out[0 :
 * *written], no terminator. */
#define IPVS_RENDER_ROOM 256
int ipvs_render_conns_numeric(const uint8_t *buf, size_t len, int final,
                              uint8_t *out, size_t cap, size_t *written,
                              int *full, size_t *consumed);

/* /proc/net/ip_vs after its three title lines (body, len bytes) to what
 * `ipvsadm -Ln` prints of each service's real servers. Each service (a
 * non-empty line not starting with "  -> ", then its "  -> " lines; empty
 * lines are skipped) goes to out as its own line verbatim and a '\n'
 * (heads[i]: the offset of that '\n'), then, when every one of its real
 * servers is an IPv4 line in the kernel's layout ("  -> %08X:%04X" and six
 * spaces, hex digits of either case), each as "  -> %-28s REST\n" with the
 * address as a.b.c.d:port and REST the line after its 24th byte, in the
 * lines' byte order when sort (ipvsadm's: address, then port), and ok[i]
 * = 1; otherwise nothing and ok[i] = 0. ends[i] is where service i's text
 * ends; *count services, *written bytes. IPVS_E_PROC_LAYOUT: a "  -> "
 * line before any service or shorter than 24 bytes. IPVS_E_FULL: cap <
 * len + len / 2 + 64, more than nmax services, or a service with more than
 * nscratch real servers (the lines are sorted in scratch). */
struct ipvs_pline {
    const uint8_t *p;
    size_t n;
};
int ipvs_proc_numeric(const uint8_t *body, size_t len, int sort,
                      uint8_t *out, size_t cap, struct ipvs_pline *scratch, size_t nscratch,
                      size_t *heads, size_t *ends, uint8_t *ok, size_t nmax,
                      size_t *count, size_t *written);

/* `ipvsadm -Ln`'s services (after its title lines) from service records
 * and ipvs_proc_numeric's output (text, its heads, ends and ok, nent
 * services): for record order[j] (j < total; records of v->size bytes back
 * to back at recs) one after another, when it is a plain IPv4 service (af
 * v->af_inet, no firewall mark, no flag of v->general, no persistence
 * engine, a protocol of v->proto) that the text names (its label, the
 * address and port as "%08X:%04X"; a later service line wins) with the
 * same scheduler and ok, its line ("%-4s a.b.c.d:port sched", then
 * " persistent T" and " mask a.b.c.d" unless the mask is 255.255.255.255
 * when v->persistent is set in its flags, and '\n') and its real servers'
 * text; otherwise nothing, and (where its text would be, the record's
 * index) goes to holes (*nholes pairs). Where the record keeps a field is
 * v->field[IPVS_SV_*] (offset, size), from the spec. ents and slots are
 * scratch: nent entries, and nslots (a power of two above nent) zeroed
 * slots. IPVS_E_PROC_LAYOUT: a service line of fewer than three words
 * (str.split()'s); IPVS_E_FULL: out (cap) too small (cap of the text's
 * size + 160 bytes a record always does when no two records name the same
 * service); IPVS_E_SPEC: an index in order out of range, nslots not as
 * said, more than IPVS_SV_PROTOS protocols, a hole past 4 GiB of text. */
#define IPVS_SV_AF 0
#define IPVS_SV_PROTOCOL 1
#define IPVS_SV_ADDR 2
#define IPVS_SV_PORT 3
#define IPVS_SV_FWMARK 4
#define IPVS_SV_FLAGS 5
#define IPVS_SV_SCHED 6
#define IPVS_SV_PE 7
#define IPVS_SV_TIMEOUT 8
#define IPVS_SV_NETMASK 9
#define IPVS_SV_COUNT 10
#define IPVS_SV_PROTOS 8
struct ipvs_svcview {
    uint32_t offset[IPVS_SV_COUNT];
    uint32_t size[IPVS_SV_COUNT];
    uint32_t rec_size, af_inet, general, persistent, nproto;
    uint32_t proto[IPVS_SV_PROTOS];
    uint8_t label[IPVS_SV_PROTOS][8];
    uint8_t label_len[IPVS_SV_PROTOS];
};
struct ipvs_pent {
    size_t at[3];
    size_t len[3];
};
int ipvs_proc_services(const uint8_t *text, const size_t *heads, const size_t *ends,
                       const uint8_t *ok, size_t nent,
                       const uint8_t *recs, size_t total, const struct ipvs_svcview *v,
                       const uint32_t *order, struct ipvs_pent *ents,
                       uint32_t *slots, size_t nslots,
                       uint8_t *out, size_t cap, uint32_t *holes, size_t *nholes,
                       size_t *written);

/* The dumps of n requests, one after another, on netlink socket fd (the
 * caller's; the sequence numbers are in the requests). reqs holds the n
 * request messages back to back, each at a 4-byte boundary; args[i] is
 * what dump i's IPVS_F_ARG fields default to. Dump i's records (of
 * spec->records[r], checked as ipvs_decode_dump checks them) go to out
 * after the st->count records already there; counts[i], statuses[i] and
 * errors[i] say how many, its IPVS_DONE / IPVS_INTERRUPTED bits and the
 * kernel's errno. rx (rxcap bytes) is the receive buffer.
 * Returns 0 when all n are done; IPVS_E_FULL when out has no room for a
 * buffer's records (kept in rx: call again with room, e.g. a new out and
 * st->count = 0); IPVS_E_OS with errno in st->oserr when a system call
 * failed (EINTR: call again as it is); IPVS_E_BIG; or a decode error
 * (the socket then holds the rest of that reply). Start with st zeroed. */
struct ipvs_dumps {
    size_t next;     /* the dump under way */
    size_t pos;      /* its request's offset in reqs */
    size_t pending;  /* bytes in rx still to decode (0: none) */
    size_t count;    /* records in out */
    int sent;        /* its request has been sent */
    int oserr;
};
int ipvs_run_dumps(int fd, const uint8_t *reqs, size_t len, size_t n, const uint64_t *args,
                   uint32_t pid, const struct ipvs_spec *spec, unsigned r,
                   uint8_t *rx, size_t rxcap, uint8_t *out, size_t cap,
                   struct ipvs_dumps *st, uint32_t *counts, int *statuses, int64_t *errors);

/* Listing lines from dump records (ipvs_lines.c). A line is its columns
 * in order (its newline, if any, a TEXT column); a column is one of:
 *   TEXT      text[a .. a+b)
 *   SEP       text[a .. a+b), unless the line is its group's first
 *   ENDPOINT  the address at offset (family: u16 at offset2, port: u16 at
 *             offset3) as "a.b.c.d:port" or "[v6]:port", at most b bytes
 *             (not IPv6: at most a), left-justified in width
 *   INT       the int of size bytes at offset (IPVS_C_SIGNED: signed) in
 *             width, right-justified unless IPVS_C_LEFT
 *   LARGENUM  the u64 at offset as ipvsadm prints counters (IPVS_C_EXACT)
 *   ADDRESS   the address at offset (family: u16 at offset2) as text
 *   GROUP     the group's piece a (0 or 1: gtext[p0 .. +l0), gtext[p1 .. +l1))
 *   LABEL     label a + v for v = (the int at offset) & mask when v < b,
 *             else label a + b (IPVS_C_NUMBER: v in decimal), left-justified
 *             in width; label k is text[labels[2k] .. +labels[2k+1])
 *   WHEN      nothing; the next a columns are skipped unless v = (the int
 *             of size bytes at offset) & mask is not 0 (IPVS_C_NONZERO) or
 *             is below 64 with bit v of cut2 << 32 | cut set
 *   STRING    the string at offset (at most size bytes, up to a NUL),
 *             left-justified in width
 *   SERVICE   a service's name as ipvsadm lists it: when the u32 at offset4
 *             (the firewall mark) is not 0, label a + b + 1, the mark, and
 *             label a + b + 2 if the family is IPv6; else the protocol (the
 *             u16 at offset5: label a + v when v < b, else label a + b)
 *             left-justified in cut2 >> 8, a space, and the ENDPOINT at most
 *             cut2 & 255 bytes; the whole at most cut bytes unless IPv6,
 *             left-justified in width
 * Groups are rendered in order: each its text (gtext[text .. +len)) then
 * one line for each record order[first .. first+count) names (indexes
 * into recs, of size bytes each), those indexes first sorted by address
 * and port when key is given (an ENDPOINT column's offsets; scratch: room
 * for the largest count). Returns 0 when done, IPVS_E_FULL when out (cap
 * bytes) may not hold the next piece (call again with a new out and
 * st->written = 0; a fresh out always takes a line when it is 1 MiB and
 * larger than any group's text and pieces), IPVS_E_SPEC for an index out
 * of range.
 * The text is out[0 .. st->written). Start with st zeroed. */
#define IPVS_L_TEXT 1
#define IPVS_L_ENDPOINT 2
#define IPVS_L_INT 3
#define IPVS_L_LARGENUM 4
#define IPVS_L_LABEL 5
#define IPVS_L_ADDRESS 6
#define IPVS_L_GROUP 7
#define IPVS_L_SERVICE 8
#define IPVS_L_STRING 9
#define IPVS_L_WHEN 10
#define IPVS_L_SEP 11
#define IPVS_C_SIGNED 1
#define IPVS_C_LEFT 2
#define IPVS_C_EXACT 4
#define IPVS_C_NONZERO 8
#define IPVS_C_NUMBER 16
struct ipvs_col {
    uint8_t op, size, flags, width;
    uint32_t offset, offset2, offset3;
    uint32_t a, b;
    uint64_t mask;
    uint32_t offset4, offset5, cut, cut2;
};
struct ipvs_group {
    uint32_t text, len, first, count;
    uint32_t p0, l0, p1, l1;
};
struct ipvs_lines {
    size_t group, item, written;
};
int ipvs_render_lines(const uint8_t *recs, size_t nrecs, size_t size,
                      const struct ipvs_col *cols, size_t ncols, const struct ipvs_col *key,
                      const uint8_t *text, const uint32_t *labels, const uint8_t *gtext,
                      const struct ipvs_group *groups, size_t ngroups,
                      uint32_t *order, uint32_t *scratch,
                      uint8_t *out, size_t cap, struct ipvs_lines *st);

/* Plain `ipvsadm -R` lines to netlink requests (ipvs_rules.c). A line's
 * values go to the slots of its message's template: field (IPVS_RF_*) is
 * which value, kind (IPVS_RS_*) how it is written at byte off of the
 * message; a STRING slot (the scheduler) is size bytes of payload, its
 * attribute's length 4 bytes before it. */
#define IPVS_RF_PROTO 0
#define IPVS_RF_VADDR 1
#define IPVS_RF_VPORT 2
#define IPVS_RF_RADDR 3
#define IPVS_RF_RPORT 4
#define IPVS_RF_FWD 5
#define IPVS_RF_WEIGHT 6
#define IPVS_RF_SCHED 7
#define IPVS_RF_COUNT 8
#define IPVS_RS_U16 0
#define IPVS_RS_BE16 1
#define IPVS_RS_U32 2
#define IPVS_RS_ADDR4 3
#define IPVS_RS_STRING 4
struct ipvs_rslot {
    uint32_t off;
    uint32_t size;
    uint8_t kind;
    uint8_t field;
};
struct ipvs_rtmpl {
    const uint8_t *bytes; /* the whole message, its length and sequence number to be set */
    size_t len;
    const struct ipvs_rslot *slots;
    size_t nslots;
};
/* the letters of a plain line: protocols and forwarding methods with
 * their values, and the forwarding letter that keeps the real server's
 * port (the others take the service's) */
struct ipvs_rgrammar {
    uint8_t proto_letter[2];
    uint32_t proto[2];
    uint8_t fwd_letter[3];
    uint32_t fwd[3];
    uint8_t masq_letter;
};
/* The lines of text[pos:len] as requests, written to out from byte used
 * on, numbered from seq (0 skipped): tmpl[0] for a real server's line,
 * tmpl[1 + n / 4] for a service whose scheduler has n letters. A line of
 * only " \t\n\r" is skipped. Stops at the first line that is not plain
 * and returns 0, or returns IPVS_E_FULL when the next message would end
 * past cap (IPVS_E_SPEC: a scheduler slot too small for its class, a
 * bug of the templates). res[0]: where it stopped (len: at the end), res[1]: the
 * messages written, res[2]: the new used, res[3]: the offset of the last
 * message (left as given when none was written). */
int ipvs_encode_rules(const uint8_t *text, size_t len, size_t pos,
                      const struct ipvs_rgrammar *g, const struct ipvs_rtmpl *tmpl,
                      uint32_t seq, uint8_t *out, size_t used, size_t cap, size_t *res);
