/* e2e_rawpsk.h — e2e-helper rawpsk: a DTLS 1.2 PSK client whose
 * ClientHello carries no extensions (e2e_rawpsk.c).  Not part of the product.
 */
#ifndef DTLSGW_E2E_RAWPSK_H
#define DTLSGW_E2E_RAWPSK_H

/* argv[0] is "rawpsk"; exit status 0 when the handshake completed and every
 * record was echoed, 1 when not, 2 on bad arguments. */
int e2e_rawpsk_main(int argc, char **argv);
/* One hex digit's value, or -1 (shared with e2e_helper.c). */
int e2e_hexval(int c);

#endif
