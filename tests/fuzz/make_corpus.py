#!/usr/bin/env python3
"""make_corpus.py — writes the handcrafted seed corpora of fuzz-record,
fuzz-config, fuzz-ctl and fuzz-classify (fuzz-engine's comes from recorded
handshakes: tests/interop/record_engine_corpus.sh).

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
    more()


def ip6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def frame6(src, dst, sport, dport, payload, ext=b"", first_next=17,
           dst_mac=b"\x02\x00\x00\x00\x00\x01", src_mac=b"\x02\x00\x00\x00\x00\x02"):
    """Ethernet/IPv6 (+ extension headers ext, the first one first_next)/UDP,
    UDP checksum over the RFC 8200 pseudo-header."""
    udp_len = 8 + len(payload)
    ip = struct.pack("!IHBB", 0x60000000, len(ext) + udp_len, first_next if ext else 17, 64)
    ip += ip6(src) + ip6(dst)
    pseudo = ip6(src) + ip6(dst) + struct.pack("!IxxxB", udp_len, 17)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return dst_mac + src_mac + b"\x86\xdd" + ip + ext + udp


def icmp6_ns(src, target):
    """A Neighbor Solicitation for target to its solicited-node group."""
    t = ip6(target)
    dst = b"\xff\x02" + b"\x00" * 9 + b"\x01\xff" + t[13:]
    body = struct.pack("!BBHI", 135, 0, 0, 0) + t + b"\x01\x01\x02\x00\x00\x00\x00\x02"
    pseudo = ip6(src) + dst + struct.pack("!IxxxB", len(body), 58)
    c = csum(pseudo + body)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    ip = struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + ip6(src) + dst
    return b"\x33\x33\xff" + t[13:] + b"\x02\x00\x00\x00\x00\x02\x86\xdd" + ip + body


def write_all(name, seeds):
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", name)
    os.makedirs(out, exist_ok=True)
    for n, data in seeds.items():
        with open(os.path.join(out, n), "wb") as f:
            f.write(data)


def csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def frame(src, dst, sport, dport, payload, dst_mac=b"\x02\x00\x00\x00\x00\x01",
          src_mac=b"\x02\x00\x00\x00\x00\x02"):
    """Ethernet/IPv4/UDP with correct checksums."""
    udp_len = 8 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0x4000, 64, 17, 0,
                     ip4(src), ip4(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def client_hello(cookie=b""):
    """A DTLS 1.2 ClientHello (RFC 6347 §4.2.1) with two PSK suites."""
    body = (b"\xfe\xfd" + bytes(range(32)) + b"\x00" + bytes([len(cookie)]) + cookie
            + b"\x00\x04\xc0\xa8\x00\xae" + b"\x01\x00"
            + b"\x00\x04\x00\x17\x00\x00")  # extensions: extended_master_secret
    hs = b"\x01" + len(body).to_bytes(3, "big") + b"\x00\x00" + b"\x00\x00\x00" \
        + len(body).to_bytes(3, "big") + body
    return rec(22, 0, 0, hs, version=0xFEFF)


def more():
    write_all("config", {
        "minimal": b"listeners:\n  - address: 10.0.0.1\n    backend: 10.0.1.2:5683\n"
                   b"    psk_file: /etc/hostname\n",
        "full": (b"ports:\n  - port_id: 0\n    address: 10.0.0.1/24\n    gateway: 10.0.0.254\n"
                 b"    promiscuous: false\n"
                 b"listeners:\n  - name: coap\n    address: 10.0.0.1\n    port: 5684\n"
                 b"    backend: 10.0.1.2:5683\n    psk_file: /etc/hostname\n"
                 b"    suites: [TLS_PSK_WITH_AES_128_CCM_8, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n"
                 b"    mtu: 1200\n    cookie: true\n    require_ems: no\n    replay_window: 256\n"
                 b"    retransmit_initial: 500ms\n    retransmit_max: 30s\n"
                 b"    handshake_timeout: 20s\n    idle_timeout: 5m\n"
                 b"    bad_mac_limit: 8\n    nat_ports: 30000-30999\n"
                 b"    client_auth: optional\n    psk_reload_ends_sessions: false\n"
                 b"control_socket: /run/x.sock\nmax_sessions: 1000\nmax_handshakes: 100\n"
                 b"max_handshakes_per_source: 10\nstats_interval: 1s\n"
                 b"cookie_rotate: 30s\nchecksum_offload: true\n"),
        "deprecated": (b"listeners:\n  - idle_timeout_ms: 300\n    retransmit_initial_ms: 1s\n"
                       b"    retransmit_max: 20s\n    idle_timeout: 5m\n"
                       b"stats_interval_ms: 0\ncookie_rotate_ms: 60000\n"),
        "bad_indent": b"listeners:\n - address: 10.0.0.1\n   backend: [\n",
        "anchors": b"a: &x {b: *x}\nlisteners: *x\n",
    })
    write_all("ctl", {
        "stats": b"stats\n",
        "sessions": b"sessions\n",
        "help": b"help",
        "kill_port": b"kill 10.0.0.2:5555\n",
        "kill_addr": b"kill\t10.0.0.2 \r\n",
        "reload": b"reload-psk\nextra bytes",
        "rotate": b"  rotate-cookie  \n",
        "too_long": b"kill " + b"1" * 300 + b"\n",
        "nul": b"st\x00ats\n",
    })
    cl, gw = "10.0.0.2", "10.0.0.1"
    gcm = b"\x00" * 7 + b"\x01" + b"hello" + b"\xee" * 16
    be_mac = b"\x02\x00\x00\x00\x01\x02"
    gw1_mac = b"\x02\x00\x00\x00\x00\x00"
    arp = (b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x06"
           + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + b"\x02\x00\x00\x00\x00\x02"
           + ip4(cl) + b"\x00" * 6 + ip4(gw))
    icmp = b"\x08\x00\x00\x00\x12\x34\x00\x01" + b"ping"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0, ip4(cl), ip4(gw))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    ping = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00" + ip + icmp
    # Mode byte: bits 0-1 kind (0 raw client side, 1 raw backend side,
    # 2 sealed records, 3 backend payload); fuzz_classify.c says the rest.
    write_all("classify", {
        "client_hello": b"\x00" + frame("10.0.0.9", gw, 40000, 4433, client_hello()),
        "client_hello_cookie": b"\x00" + frame("10.0.0.9", gw, 40001, 4433,
                                               client_hello(bytes(range(32)))),
        "session_record": b"\x00" + frame(cl, gw, 5555, 4433, rec(23, 1, 9, gcm)),
        "session_two_records": b"\x10" + frame(cl, gw, 5555, 4433,
                                               rec(23, 1, 10, gcm) + rec(21, 1, 11, gcm)),
        "unknown_garbage": b"\x00" + frame("10.0.0.7", gw, 1234, 4433, b"\x17\xfe\xfd" + b"\x00" * 20),
        "backend_reply": b"\x01" + frame("10.0.1.2", "10.0.1.1", 7000, 20000, b"reply",
                                         dst_mac=gw1_mac, src_mac=be_mac),
        "arp": b"\x00" + arp,
        "ping": b"\x00" + ping,
        "sealed_appdata": b"\x02" + bytes([3, 1, 0, 5]) + b"hello",
        "sealed_mixed": b"\x02" + bytes([3, 2, 0, 3]) + b"abc" + bytes([1, 3, 0, 2]) + b"\x01\x00"
        + bytes([0x97, 4, 0, 4]) + b"junk",
        "sealed_handshake": b"\x0a" + bytes([2, 5, 0, 12]) + b"\x14" + b"\x00" * 11,
        "backend_payload": b"\x03" + b"payload from the backend",
        # IPv6 (issue 9): the IPv6 listener [2001:db8::1]:4433, extension
        # headers skipped and refused, Neighbor Discovery
        "v6_client_hello": b"\x00" + frame6("2001:db8::9", "2001:db8::1", 40000, 4433,
                                            client_hello()),
        "v6_hbh_client_hello": b"\x00" + frame6("2001:db8::9", "2001:db8::1", 40002, 4433,
                                                client_hello(), ext=b"\x11\x00\x01\x04" + b"\x00" * 4,
                                                first_next=0),
        "v6_fragment": b"\x00" + frame6("2001:db8::9", "2001:db8::1", 40003, 4433, b"frag",
                                        ext=b"\x11\x00\x00\x01\x00\x00\x00\x2a", first_next=44),
        "v6_ns": b"\x00" + icmp6_ns("fe80::2", "2001:db8::1"),
    })


if __name__ == "__main__":
    main()
