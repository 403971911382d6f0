/* ipvs_connline.h: what the /proc/net/ip_vs_conn readers share (the
 * column decoder, ipvs_conns.c, and the -Lnc renderer, ipvs_render.c):
 * one line parser, so that both accept and refuse exactly the same lines.
 * Internal to the C module (not part of the cffi cdef): the parts are one
 * translation unit (ipvs_module.c), so these stay static and inline as
 * they did when the parts were one file. */
#ifndef IPVS_CONNLINE_H
#define IPVS_CONNLINE_H
#include <stddef.h>
#include <stdint.h>

#define MAX_LINE 4096
#define NTOK 11
#define ADDR_MAX 46 /* longest inet_ntop text (45) and its separator */

struct tok { const uint8_t *p; size_t n; };

/* String columns, in record order; the numbers' columns follow af, ports,
 * expires. */
enum { C_PROTO, C_CADDR, C_VADDR, C_DADDR, C_STATE, C_PE_NAME, C_PE_DATA, NCOL };

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

/* An address as the kernel prints it -> raw (network order); its family,
 * or -1 */
static int addr_parse(const struct tok *t, uint8_t raw[16]);
/* the inet_ntop text of a parsed address (at most ADDR_MAX - 1 bytes,
 * no terminator) to o; its length, or -1 */
static int addr_format(int af, const uint8_t raw[16], char *o);
/* where the line at pos ends (see ipvs_connline.c): 0, NO_LINE or an
 * error code */
#define NO_LINE (-1)
static int next_line(const uint8_t *buf, size_t len, size_t pos, int final, size_t *lend,
              size_t *next);
/* one line (without its '\n') -> f; 0 or an error code */
static int conn_fields(const uint8_t *p, size_t n, struct conn_fields *f, conn_addr_fn addr, void *ctx);

#endif
