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
#define IPVS_E_FULL 99

/* status bits */
#define IPVS_DONE 1
#define IPVS_INTERRUPTED 2

/* One service; natural alignment, no hidden padding (152 bytes), read in
 * Python with struct format "=HH16sH2xI16sIII16s10Q". */
struct ipvs_service_rec {
    uint16_t af;
    uint16_t protocol;
    uint8_t addr[16];
    uint16_t port;
    uint16_t pad0;
    uint32_t fwmark;
    uint8_t sched_name[16];
    uint32_t flags;
    uint32_t timeout;
    uint32_t netmask;
    uint8_t pe_name[16];
    uint64_t stats[10];
};

/* One destination (136 bytes), struct format "=16sH2xIiIIIIIHBxHH10Q". */
struct ipvs_dest_rec {
    uint8_t addr[16];
    uint16_t port;
    uint16_t pad0;
    uint32_t fwd_method;
    int32_t weight;
    uint32_t u_thresh;
    uint32_t l_thresh;
    uint32_t active;
    uint32_t inactive;
    uint32_t persist;
    uint16_t af;
    uint8_t tun_type;
    uint8_t pad1;
    uint16_t tun_port;
    uint16_t tun_flags;
    uint64_t stats[10];
};

int ipvs_decode_services(const uint8_t *buf, size_t len, uint32_t seq, uint32_t pid,
                         struct ipvs_service_rec *out, size_t cap, size_t *count,
                         int *status, int64_t *error);

int ipvs_decode_dests(const uint8_t *buf, size_t len, uint32_t seq, uint32_t pid,
                      uint16_t svc_af, struct ipvs_dest_rec *out, size_t cap,
                      size_t *count, int *status, int64_t *error);

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
