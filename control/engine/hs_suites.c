/* hs_suites.c — the cipher suite table: IANA id and name, key exchange,
 * record AEAD, PRF hash; the default server preference; parsing of suite
 * lists from configuration.
 *
 * Owns: the constant table.  Must not: decide what a handshake negotiates
 * (hs_engine.c does, with this table and the credentials).
 */
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053 /* ipsec-mb's SHA1/... macros clash with libcrypto */
#endif
#include "hs.h"
#include "hs_priv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct suite_row {
    struct hs_suite_info info;
    const char *ossl_name; /* OpenSSL's name for the same suite */
};

/* Default server preference is the table order, by what ipsec-mb runs
 * fastest in the dataplane (bench-aead, AVX2 build, 64..1400-byte records):
 * AES-GCM and AES-CCM run at 1-1.5 cycles/byte, ChaCha20-Poly1305 at about
 * 2.5x that, so GCM first, then CCM (16-byte tag before CCM-8's 8-byte
 * tag), then ChaCha20-Poly1305; within one AEAD, ECDHE before plain PSK
 * (forward secrecy). */
static const struct suite_row suites[] = {
    {{HS_ECDHE_ECDSA_AES128_GCM, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", HS_KEX_ECDHE_ECDSA,
      CR_AEAD_AES128_GCM, false},
     "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {{HS_ECDHE_RSA_AES128_GCM, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", HS_KEX_ECDHE_RSA,
      CR_AEAD_AES128_GCM, false},
     "ECDHE-RSA-AES128-GCM-SHA256"},
    {{HS_ECDHE_ECDSA_AES256_GCM, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", HS_KEX_ECDHE_ECDSA,
      CR_AEAD_AES256_GCM, true},
     "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {{HS_ECDHE_RSA_AES256_GCM, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", HS_KEX_ECDHE_RSA,
      CR_AEAD_AES256_GCM, true},
     "ECDHE-RSA-AES256-GCM-SHA384"},
    {{HS_PSK_AES128_GCM, "TLS_PSK_WITH_AES_128_GCM_SHA256", HS_KEX_PSK, CR_AEAD_AES128_GCM, false},
     "PSK-AES128-GCM-SHA256"},
    {{HS_PSK_AES256_GCM, "TLS_PSK_WITH_AES_256_GCM_SHA384", HS_KEX_PSK, CR_AEAD_AES256_GCM, true},
     "PSK-AES256-GCM-SHA384"},
    {{HS_ECDHE_ECDSA_AES128_CCM, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", HS_KEX_ECDHE_ECDSA,
      CR_AEAD_AES128_CCM, false},
     "ECDHE-ECDSA-AES128-CCM"},
    {{HS_PSK_AES128_CCM, "TLS_PSK_WITH_AES_128_CCM", HS_KEX_PSK, CR_AEAD_AES128_CCM, false},
     "PSK-AES128-CCM"},
    {{HS_ECDHE_ECDSA_AES128_CCM8, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", HS_KEX_ECDHE_ECDSA,
      CR_AEAD_AES128_CCM8, false},
     "ECDHE-ECDSA-AES128-CCM8"},
    {{HS_PSK_AES128_CCM8, "TLS_PSK_WITH_AES_128_CCM_8", HS_KEX_PSK, CR_AEAD_AES128_CCM8, false},
     "PSK-AES128-CCM8"},
    {{HS_ECDHE_ECDSA_CHACHA20, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", HS_KEX_ECDHE_ECDSA,
      CR_AEAD_CHACHA20_POLY1305, false},
     "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {{HS_ECDHE_RSA_CHACHA20, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", HS_KEX_ECDHE_RSA,
      CR_AEAD_CHACHA20_POLY1305, false},
     "ECDHE-RSA-CHACHA20-POLY1305"},
    {{HS_ECDHE_PSK_CHACHA20, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", HS_KEX_ECDHE_PSK,
      CR_AEAD_CHACHA20_POLY1305, false},
     "ECDHE-PSK-CHACHA20-POLY1305"},
    {{HS_PSK_CHACHA20, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", HS_KEX_PSK,
      CR_AEAD_CHACHA20_POLY1305, false},
     "PSK-CHACHA20-POLY1305"},
};
#define N_SUITES (sizeof(suites) / sizeof(suites[0]))

const struct hs_suite_info *hs_suite_find(uint16_t id)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (suites[i].info.id == id)
            return &suites[i].info;
    return NULL;
}

const struct hs_suite_info *hs_suite_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_SUITES; i++)
        if (strcasecmp(suites[i].info.name, name) == 0 ||
            strcasecmp(suites[i].ossl_name, name) == 0)
            return &suites[i].info;
    return NULL;
}

unsigned hs_suite_default_order(uint16_t *out_ids, unsigned max)
{
    unsigned n = 0;
    for (size_t i = 0; i < N_SUITES && n < max; i++)
        out_ids[n++] = suites[i].info.id;
    return n;
}

/* One token: an IANA or OpenSSL name, or a 0xNNNN code. */
static const struct hs_suite_info *parse_token(const char *tok)
{
    if ((tok[0] == '0') && (tok[1] == 'x' || tok[1] == 'X')) {
        char *end = NULL;
        if (!isxdigit((unsigned char)tok[2]))
            return NULL;
        unsigned long v = strtoul(tok + 2, &end, 16);
        if (*end != '\0' || v > 0xffff)
            return NULL;
        return hs_suite_find((uint16_t)v);
    }
    return hs_suite_by_name(tok);
}

int hs_suite_list_parse(const char *list, uint16_t *out_ids, unsigned max)
{
    char tok[96];
    unsigned n = 0;
    const char *p = list;

    CR_ENSURE(list && out_ids, CR_ERR_INVAL);
    while (*p) {
        /* Separators: ':' (OpenSSL style), ',' and whitespace. */
        while (*p == ':' || *p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ":, \t\r\n");
        CR_ENSURE(len < sizeof(tok), CR_ERR_DECODE);
        memcpy(tok, p, len);
        tok[len] = '\0';
        p += len;
        const struct hs_suite_info *s = parse_token(tok);
        CR_ENSURE(s, CR_ERR_UNSUPPORTED);
        bool dup = false;
        for (unsigned i = 0; i < n; i++)
            dup = dup || out_ids[i] == s->id;
        if (dup)
            continue;
        CR_ENSURE(n < max, CR_ERR_LIMIT);
        out_ids[n++] = s->id;
    }
    CR_ENSURE(n > 0, CR_ERR_DECODE);
    return (int)n;
}
