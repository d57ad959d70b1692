/* tl_addr.h — the one transport-address parser of the test programs
 * (tests/lib): "a.b.c.d:port" and "[v6]:port", numeric addresses only (no
 * name lookup), port as strict decimal 1..65535.  Every failure has its own
 * code and a sentence (tl_addr_strerror) for the tool's usage message.
 *
 * Owns: nothing.  Must not: resolve names, accept partial input (trailing
 * bytes, a sign, blanks, an empty part are errors), be used by the product.
 */
#ifndef DTLSGW_TL_ADDR_H
#define DTLSGW_TL_ADDR_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#define TL_ADDR_HOST_MAX_LEN 64 /* bytes of the address part, NUL included */
#define TL_ADDR_PORT_MAX     65535

/* Flags of tl_addr_parse. */
#define TL_ADDR_IPV4_ONLY 1u /* "[v6]:port" is TL_ADDR_ERR_FAMILY */
#define TL_ADDR_PORT_ZERO 2u /* port 0 allowed (bind addresses: any port) */

enum tl_addr_err {
    TL_ADDR_OK = 0,
    TL_ADDR_ERR_EMPTY = -1,       /* NULL or "" */
    TL_ADDR_ERR_NO_PORT = -2,     /* no ":port", or nothing after the ':' */
    TL_ADDR_ERR_BAD_PORT = -3,    /* port not all decimal digits */
    TL_ADDR_ERR_PORT_RANGE = -4,  /* port 0 (without TL_ADDR_PORT_ZERO) or > 65535 */
    TL_ADDR_ERR_BAD_HOST = -5,    /* not a numeric IPv4 / IPv6 address */
    TL_ADDR_ERR_V6_BRACKETS = -6, /* an IPv6 address without [ ] */
    TL_ADDR_ERR_FAMILY = -7,      /* IPv6 where only IPv4 is taken */
    TL_ADDR_ERR_TOO_LONG = -8,    /* address part of TL_ADDR_HOST_MAX_LEN bytes or more */
};

/* A parsed address: sa/len go straight to bind/connect/sendto. */
struct tl_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_storage ss;
    } u;
    socklen_t len; /* sizeof the family's sockaddr */
    int family;    /* AF_INET or AF_INET6 */
    uint16_t port; /* host byte order */
};

/* Parses s ("a.b.c.d:port" or "[v6]:port") into *out; TL_ADDR_OK or a
 * negative enum tl_addr_err (then *out is zeroed). */
int tl_addr_parse(const char *s, unsigned flags, struct tl_addr *out);

/* tl_addr_parse(s, TL_ADDR_IPV4_ONLY | flags) into a sockaddr_in. */
int tl_addr_parse_in4(const char *s, unsigned flags, struct sockaddr_in *out);

/* A decimal port alone ("4433"): 1..65535 (0 too with TL_ADDR_PORT_ZERO);
 * TL_ADDR_OK, TL_ADDR_ERR_NO_PORT (empty), _BAD_PORT or _PORT_RANGE. */
int tl_addr_parse_port(const char *s, unsigned flags, uint16_t *out);

/* What a tl_addr_parse* code means, one sentence without a newline. */
const char *tl_addr_strerror(int rc);

#endif
