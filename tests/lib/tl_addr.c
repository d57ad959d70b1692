/* tl_addr.c — see tl_addr.h.
 *
 * Grammar (RFC 3986 §3.2.2 writes an IPv6 literal in brackets so its
 * colons are not taken for the port separator):
 *   addr  = ipv4 ":" port / "[" ipv6 "]" ":" port
 *   port  = 1*5DIGIT, value 1..65535 (0 with TL_ADDR_PORT_ZERO)
 * The address parts go to inet_pton, which takes dotted-quad IPv4 only (no
 * octal, hex or shortened forms) and RFC 4291 §2.2 text for IPv6.
 */
#include "tl_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int tl_addr_parse_port(const char *s, unsigned flags, uint16_t *out)
{
    *out = 0;
    if (s == NULL || s[0] == '\0')
        return TL_ADDR_ERR_NO_PORT;
    /* strtoul would take blanks, a sign and "0x": digits only, then it. */
    for (const char *c = s; *c != '\0'; c++)
        if (*c < '0' || *c > '9')
            return TL_ADDR_ERR_BAD_PORT;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '\0')
        return TL_ADDR_ERR_BAD_PORT;
    if (errno == ERANGE || v > TL_ADDR_PORT_MAX || (v == 0 && !(flags & TL_ADDR_PORT_ZERO)))
        return TL_ADDR_ERR_PORT_RANGE;
    *out = (uint16_t)v;
    return TL_ADDR_OK;
}

static int parse(const char *s, unsigned flags, struct tl_addr *out)
{
    char host[TL_ADDR_HOST_MAX_LEN];
    const char *host_start, *port_s;
    size_t host_len;
    bool v6 = false;

    if (s == NULL || s[0] == '\0')
        return TL_ADDR_ERR_EMPTY;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return TL_ADDR_ERR_BAD_HOST;
        if (close[1] == '\0')
            return TL_ADDR_ERR_NO_PORT;
        if (close[1] != ':')
            return TL_ADDR_ERR_BAD_PORT;
        host_start = s + 1;
        host_len = (size_t)(close - host_start);
        port_s = close + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            return TL_ADDR_ERR_NO_PORT;
        host_start = s;
        host_len = (size_t)(colon - s);
        port_s = colon + 1;
        if (memchr(s, ':', host_len) != NULL)
            return TL_ADDR_ERR_V6_BRACKETS;
    }
    if (host_len >= sizeof(host))
        return TL_ADDR_ERR_TOO_LONG;
    if (host_len == 0)
        return TL_ADDR_ERR_BAD_HOST;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    if (v6 && (flags & TL_ADDR_IPV4_ONLY))
        return TL_ADDR_ERR_FAMILY;

    uint16_t port;
    int rc = tl_addr_parse_port(port_s, flags, &port);
    if (rc != TL_ADDR_OK)
        return rc;
    if (v6) {
        out->u.in6.sin6_family = AF_INET6;
        out->u.in6.sin6_port = htons(port);
        if (inet_pton(AF_INET6, host, &out->u.in6.sin6_addr) != 1)
            return TL_ADDR_ERR_BAD_HOST;
        out->len = sizeof(out->u.in6);
        out->family = AF_INET6;
    } else {
        out->u.in4.sin_family = AF_INET;
        out->u.in4.sin_port = htons(port);
        if (inet_pton(AF_INET, host, &out->u.in4.sin_addr) != 1)
            return TL_ADDR_ERR_BAD_HOST;
        out->len = sizeof(out->u.in4);
        out->family = AF_INET;
    }
    out->port = port;
    return TL_ADDR_OK;
}

int tl_addr_parse(const char *s, unsigned flags, struct tl_addr *out)
{
    memset(out, 0, sizeof(*out));
    int rc = parse(s, flags, out);
    if (rc != TL_ADDR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int tl_addr_parse_in4(const char *s, unsigned flags, struct sockaddr_in *out)
{
    struct tl_addr a;
    int rc = tl_addr_parse(s, flags | TL_ADDR_IPV4_ONLY, &a);
    *out = a.u.in4; /* zeroed on failure */
    return rc;
}

const char *tl_addr_strerror(int rc)
{
    switch (rc) {
    case TL_ADDR_OK:
        return "ok";
    case TL_ADDR_ERR_EMPTY:
        return "empty address (expected IP:PORT or [IPv6]:PORT)";
    case TL_ADDR_ERR_NO_PORT:
        return "missing port (expected IP:PORT or [IPv6]:PORT)";
    case TL_ADDR_ERR_BAD_PORT:
        return "port is not a decimal number";
    case TL_ADDR_ERR_PORT_RANGE:
        return "port out of range 1..65535";
    case TL_ADDR_ERR_BAD_HOST:
        return "not a numeric IPv4 or IPv6 address";
    case TL_ADDR_ERR_V6_BRACKETS:
        return "an IPv6 address needs brackets: [addr]:port";
    case TL_ADDR_ERR_FAMILY:
        return "IPv6 address where only IPv4 is supported";
    case TL_ADDR_ERR_TOO_LONG:
        return "address too long";
    default:
        return "unknown address error";
    }
}
