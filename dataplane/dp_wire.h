/* dp_wire.h — every DTLS 1.2 wire constant and header offset, in one place.
 *
 * Owns: record-header layout (RFC 6347 §4.1, RFC 9146 §4), content types,
 * protocol versions, handshake-header layout (RFC 6347 §4.2.2), handshake
 * types (RFC 5246 §7.4, RFC 6347 §4.2.1), extension code points, alert levels
 * and descriptions (RFC 5246 §7.2), and the fixed lengths of ClientHello
 * fields.  Pure constants: no DPDK, no crypto, no code.  The dataplane, the
 * handshake engine (control/engine/) and the gateway all read these names;
 * no other file defines a wire number of its own.
 */
#ifndef DTLSGW_DP_WIRE_H
#define DTLSGW_DP_WIRE_H

/* ---- record layer (RFC 6347 §4.1) ---------------------------------------- */
#define DP_REC_HDR_LEN            13    /* type ver(2) epoch(2) seq(6) len(2) */
#define DP_REC_PLAINTEXT_MAX_LEN  16384 /* 2^14 */
#define DP_REC_CIPHERTEXT_MAX_LEN (16384 + 2048)
#define DP_REC_CID_MAX_LEN        23 /* == CR_AEAD_CID_MAX_LEN */
#define DP_REC_SEQ_MAX            ((UINT64_C(1) << 48) - 1)
#define DP_REC_MAX_PER_DGRAM      32

/* Offsets inside the RFC 6347 §4.1 header. */
#define DP_REC_OFF_TYPE      0
#define DP_REC_OFF_VERSION   1
#define DP_REC_OFF_EPOCH     3
#define DP_REC_OFF_SEQ       5
#define DP_REC_OFF_CID       11 /* tls12_cid records: the CID, then the length */
#define DP_REC_OFF_LENGTH    11 /* records without a CID */
#define DP_REC_LEN_FIELD_LEN 2

#define DP_VERSION_DTLS10 0xfeff
#define DP_VERSION_DTLS12 0xfefd

enum dp_content_type {
    DP_CT_CHANGE_CIPHER_SPEC = 20,
    DP_CT_ALERT = 21,
    DP_CT_HANDSHAKE = 22,
    DP_CT_APPLICATION_DATA = 23,
    DP_CT_HEARTBEAT = 24,
    DP_CT_TLS12_CID = 25,
};

/* ---- handshake header (RFC 6347 §4.2.2) ---------------------------------- */
#define DP_HS_HDR_LEN          12 /* type len(3) message_seq(2) frag_off(3) frag_len(3) */
#define DP_HS_OFF_TYPE         0
#define DP_HS_OFF_LENGTH       1
#define DP_HS_OFF_MESSAGE_SEQ  4
#define DP_HS_OFF_FRAGMENT_OFF 6
#define DP_HS_OFF_FRAGMENT_LEN 9
#define DP_HS_MSG_LEN_MAX      0xffffff /* uint24 */

/* HandshakeType (RFC 5246 §7.4, RFC 6347 §4.2.1) */
#define DP_HS_CLIENT_HELLO         1
#define DP_HS_SERVER_HELLO         2
#define DP_HS_HELLO_VERIFY_REQUEST 3
#define DP_HS_NEW_SESSION_TICKET   4 /* RFC 5077 §3.3 */
#define DP_HS_CERTIFICATE          11
#define DP_HS_SERVER_KEY_EXCHANGE  12
#define DP_HS_CERTIFICATE_REQUEST  13
#define DP_HS_SERVER_HELLO_DONE    14
#define DP_HS_CERTIFICATE_VERIFY   15
#define DP_HS_CLIENT_KEY_EXCHANGE  16
#define DP_HS_FINISHED             20

/* ChangeCipherSpec (RFC 5246 §7.1): one byte, value 1. */
#define DP_CCS_LEN   1
#define DP_CCS_VALUE 1

/* ---- ClientHello / ServerHello fields (RFC 5246 §7.4.1, RFC 6347 §4.2.1) - */
#define DP_HELLO_RANDOM_LEN     32
#define DP_HELLO_SESSION_ID_MAX 32
#define DP_HELLO_COOKIE_MAX     255 /* RFC 6347 §4.2.1: opaque cookie<0..2^8-1> */
#define DP_CH_OFF_VERSION       0   /* in the ClientHello body */
#define DP_CH_OFF_RANDOM        2
#define DP_CH_OFF_SESSION_ID    (DP_CH_OFF_RANDOM + DP_HELLO_RANDOM_LEN) /* its length byte */

/* ExtensionType code points (IANA TLS ExtensionType Values) */
#define DP_EXT_SERVER_NAME            0
#define DP_EXT_SUPPORTED_GROUPS       10
#define DP_EXT_EC_POINT_FORMATS       11
#define DP_EXT_SIGNATURE_ALGORITHMS   13
#define DP_EXT_EXTENDED_MASTER_SECRET 23
#define DP_EXT_SESSION_TICKET         35
#define DP_EXT_RENEGOTIATION_INFO     0xff01

#define DP_SCSV_EMPTY_RENEGOTIATION_INFO 0x00ff /* RFC 5746 §3.3 */
#define DP_CURVE_TYPE_NAMED              3      /* RFC 8422 §5.4 ECCurveType */
#define DP_POINT_FORMAT_UNCOMPRESSED     0      /* RFC 8422 §5.1.2 */
#define DP_CERT_TYPE_RSA_SIGN            1      /* RFC 5246 §7.4.4 */
#define DP_CERT_TYPE_ECDSA_SIGN          64     /* RFC 8422 §5.5 */

/* ---- alerts (RFC 5246 §7.2) ---------------------------------------------- */
#define DP_ALERT_LEN                   2 /* level, description */
#define DP_ALERT_LEVEL_WARNING         1
#define DP_ALERT_LEVEL_FATAL           2
#define DP_ALERT_CLOSE_NOTIFY          0
#define DP_ALERT_UNEXPECTED_MESSAGE    10
#define DP_ALERT_BAD_RECORD_MAC        20
#define DP_ALERT_HANDSHAKE_FAILURE     40
#define DP_ALERT_BAD_CERTIFICATE       42
#define DP_ALERT_ILLEGAL_PARAMETER     47
#define DP_ALERT_DECODE_ERROR          50
#define DP_ALERT_DECRYPT_ERROR         51
#define DP_ALERT_PROTOCOL_VERSION      70
#define DP_ALERT_INSUFFICIENT_SECURITY 71
#define DP_ALERT_INTERNAL_ERROR        80
#define DP_ALERT_NO_RENEGOTIATION      100
#define DP_ALERT_UNKNOWN_PSK_IDENTITY  115 /* RFC 4279 §2 */

#endif /* DTLSGW_DP_WIRE_H */
