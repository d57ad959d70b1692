#!/usr/bin/env python3
"""make_corpus.py — writes the handcrafted seed corpus of fuzz-record.

Each file: byte 0 is the listener's cid_len, then one UDP payload made of
DTLS 1.2 records.  Header (RFC 6347 §4.1): type ver(2) epoch(2) seq(6)
length(2); tls12_cid (RFC 9146 §4): type ver epoch seq cid[cid_len] length.
Run from anywhere: python3 tests/fuzz/make_corpus.py
"""
import os
import struct

DTLS10, DTLS12 = 0xFEFF, 0xFEFD


def rec(ctype, epoch, seq, body, version=DTLS12, cid=b"", length=None):
    n = len(body) if length is None else length
    return (struct.pack(">BHH", ctype, version, epoch) + seq.to_bytes(6, "big")
            + cid + struct.pack(">H", n) + body)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "record")
    os.makedirs(out, exist_ok=True)
    ch_body = bytes([1]) + (14).to_bytes(3, "big") + b"\x00\x00" + b"\x00" * 3 \
        + (14).to_bytes(3, "big") + b"\xfe\xfd" + bytes(range(12))
    gcm = lambda n: b"\x00" * 7 + bytes([n]) + b"hello" + b"\xee" * 16
    cid8 = bytes(range(0xC1, 0xC9))
    cid23 = bytes(range(1, 24))
    seeds = {
        # DTLS 1.0-versioned ClientHello in epoch 0.
        "clienthello": b"\x00" + rec(22, 0, 0, ch_body, version=DTLS10),
        # Handshake, ChangeCipherSpec and an encrypted Finished in one datagram.
        "three_records": b"\x00" + rec(22, 0, 5, b"\x10" + b"\x00" * 11)
        + rec(20, 0, 6, b"\x01") + rec(22, 1, 0, gcm(0) + b"\xaa" * 11),
        # Application data in epoch 1 (explicit nonce, data, tag).
        "appdata": b"\x00" + rec(23, 1, 256, gcm(1)),
        # Two tls12_cid records with an 8-byte CID.
        "cid8": b"\x08" + rec(25, 1, 7, gcm(7), cid=cid8) + rec(25, 1, 8, gcm(8), cid=cid8),
        # Largest CID, highest sequence number, CCM-8 sized body.
        "cid23": bytes([23]) + rec(25, 2, (1 << 48) - 1, b"\x00" * 8 + b"AB" + b"\xe0" * 8,
                                   cid=cid23),
        # A plain record and a CID record on a CID listener.
        "mixed_cid": b"\x04" + rec(22, 0, 1, ch_body) + rec(25, 1, 1, gcm(2), cid=b"\x0a\x0b\x0c\x0d"),
        # close_notify in epoch 0, then 3 bytes of garbage.
        "alert_trailing": b"\x00" + rec(21, 0, 9, b"\x01\x00") + b"\xde\xad\xbe",
        # Empty application data (allowed in epoch 0), then an empty handshake.
        "empty": b"\x00" + rec(23, 0, 1, b"") + rec(22, 0, 2, b""),
        # Header cut short; body shorter than its length field.
        "short_header": b"\x00" + rec(23, 1, 0, b"")[:7],
        "short_body": b"\x00" + rec(23, 1, 1, b"\x00\x01\x02", length=256),
        # Length over the ciphertext limit.
        "too_long": b"\x00" + rec(23, 1, 3, b"\x00" * 8, length=16384 + 2049),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
