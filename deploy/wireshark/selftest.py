#!/usr/bin/env python3
"""selftest.py - check deploy/wireshark/xenstore.lua against synthetic captures.

Builds pcap files in the format xsproxy writes (LINKTYPE_USER0, a 16-byte
pseudo-header, then one xenstore message), has tshark decode them with the
dissector, and checks every field, the request/reply pairing, the expert
infos, a few Info columns and a -V tree.  Exits 1 on any mismatch.

Usage: python3 deploy/wireshark/selftest.py [path/to/xenstore.lua]
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "xenstore.lua"))
AGG = "\x1e"   # aggregator between occurrences (must not occur in test values)

TYPES = ["CONTROL", "DIRECTORY", "READ", "GET_PERMS", "WATCH", "UNWATCH",
         "TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE",
         "GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS", "WATCH_EVENT",
         "ERROR", "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET", "RESTRICT",
         "RESET_WATCHES", "DIRECTORY_PART", "GET_FEATURE", "SET_FEATURE",
         "GET_QUOTA", "SET_QUOTA"]
T = {name: i for i, name in enumerate(TYPES)}
T["INVALID"] = 0xffff
for i, name in enumerate(["QUIESCE", "GET_DOMAIN_WATCHES", "ADD_DOMAIN_WATCHES",
                          "RESTORE_TRANSACTIONS", "XSP_RESUME", "XSP_INSERT",
                          "XSP_REMOVE"], 1):
    T[name] = 0x58500000 + i

HEADER_FIELDS = ["version", "dir", "source", "flags", "flags.local", "flags.internal",
                 "domid", "conn", "guest_tx", "backend_tx", "type", "req_id", "tx_id", "len"]
PART_FIELDS = ["path", "value", "token", "perm", "child", "error", "txid", "commit",
               "arg_domid", "gfn", "port", "target", "offset", "generation", "gencnt",
               "index", "feature", "quota", "quota_value", "control.cmd", "control.arg",
               "reply_text", "event_arg", "payload"]
PAIR_FIELDS = ["response_in", "response_to", "time"]
ALL = HEADER_FIELDS + PART_FIELDS + PAIR_FIELDS


def shown(b):
    """How tshark -T fields prints string bytes B from the dissector: NUL and
    invalid UTF-8 as \\xHH (the dissector), then \\b \\t \\n \\f \\r escaped
    (tshark); other bytes as they are."""
    s = b.decode("utf-8", "backslashreplace").replace("\0", "\\x00")
    for c, e in (("\b", "\\b"), ("\t", "\\t"), ("\n", "\\n"), ("\f", "\\f"), ("\r", "\\r")):
        s = s.replace(c, e)
    return s.encode()


class Rec:
    """One capture record and what the dissector should make of it."""

    def __init__(self, dir, src, id, mtype, req_id, payload=b"", tx=0, flags=0,
                 gtx=None, btx=None, version=1, expect=None, experts=(), info=None,
                 caplen=None, msg_len=None, raw=None, dt_us=1500):
        self.dir, self.src, self.id, self.mtype, self.req_id = dir, src, id, mtype, req_id
        self.tx, self.flags, self.version = tx, flags, version
        self.gtx = tx if gtx is None else gtx
        self.btx = self.gtx if btx is None else btx
        self.payload = payload
        self.msg_len = len(payload) if msg_len is None else msg_len
        self.expect = expect or {}
        self.experts = list(experts)
        self.info = info
        self.dt_us = dt_us
        if raw is not None:
            self.data = raw
        else:
            self.data = (struct.pack(">BBBBIII", version, dir, src, flags, id, self.gtx, self.btx)
                         + struct.pack("<IIII", mtype, req_id, tx, self.msg_len) + payload)
        self.caplen = len(self.data) if caplen is None else caplen
        self.decodable = raw is None and version == 1 and self.caplen >= 32

    def header_expect(self):
        if not self.caplen:
            return {}
        e = {"version": [str(self.version)]}
        if self.version != 1 or self.caplen < 16:
            return e
        e.update({"dir": [str(self.dir)], "source": [str(self.src)],
                  "flags": ["0x%02x" % self.flags], "flags.local": [str(self.flags & 1)],
                  "flags.internal": [str(self.flags >> 1 & 1)],
                  "guest_tx": [str(self.gtx)], "backend_tx": [str(self.btx)]})
        e["domid" if self.src == 1 else "conn"] = [str(self.id)]
        if self.caplen >= 32:
            e.update({"type": [str(self.mtype)], "req_id": [str(self.req_id)],
                      "tx_id": [str(self.tx)], "len": [str(self.msg_len)]})
        return e


def req(id, t, rid, payload, src=1, **kw):
    return Rec(0, src, id, T[t], rid, payload, **kw)


def rep(id, t, rid, payload, src=1, **kw):
    return Rec(1, src, id, T[t], rid, payload, **kw)


def P(*parts):
    """Expected string occurrences."""
    return [p if isinstance(p, bytes) else p.encode() for p in parts]


def records():
    R = []
    a = R.append
    big = bytes((i * 7 + 1) % 95 + 32 for i in range(4096 - 8))   # printable, no NUL
    # --- the usual traffic of dom5 -----------------------------------------
    a(req(5, "WRITE", 7, b"data/x\x001", expect={"path": P("data/x"), "value": P("1")},
          info="dom5 → WRITE req 7 tx 0 data/x = 1"))
    a(rep(5, "WRITE", 7, b"OK\0", expect={"reply_text": P("OK")}, info="dom5 ← WRITE req 7 OK"))
    a(req(5, "READ", 8, b"data/x\0", expect={"path": P("data/x")}))
    a(rep(5, "READ", 8, b"1", expect={"value": P("1")}))
    # binary value with NUL, invalid UTF-8, control characters, UTF-8 text
    binval = b"a\x00b\xff\x01\t\n\r\x7f\xc3\xa9\xe2\x82"
    a(req(5, "WRITE", 9, b"bin\0" + binval, expect={"path": P("bin"), "value": [binval]}))
    a(rep(5, "WRITE", 9, b"OK\0", expect={"reply_text": P("OK")}))
    a(req(5, "READ", 10, b"bin\0", expect={"path": P("bin")}))
    a(rep(5, "READ", 10, binval, expect={"value": [binval]}))
    # empty values
    a(req(5, "WRITE", 11, b"empty\0", expect={"path": P("empty"), "value": P("")}))
    a(rep(5, "WRITE", 11, b"OK\0", expect={"reply_text": P("OK")}))
    a(req(5, "READ", 12, b"empty\0", expect={"path": P("empty")}))
    a(rep(5, "READ", 12, b"", expect={"value": P("")}))
    # a 4096-byte payload
    a(req(5, "WRITE", 13, b"big/v\0" + big[:4090], expect={"path": P("big/v"), "value": [big[:4090]]}))
    a(rep(5, "WRITE", 13, b"OK\0", expect={"reply_text": P("OK")}))
    a(req(5, "READ", 14, b"big/v\0", expect={"path": P("big/v")}))
    a(rep(5, "READ", 14, big[:4090] + b"123456", expect={"value": [big[:4090] + b"123456"]}))
    a(req(5, "MKDIR", 15, b"d\0", expect={"path": P("d")}))
    a(rep(5, "MKDIR", 15, b"OK\0", expect={"reply_text": P("OK")}))
    a(req(5, "RM", 16, b"d\0", expect={"path": P("d")}))
    a(rep(5, "ERROR", 16, b"ENOENT\0", expect={"error": P("ENOENT")},
          info="dom5 ← ERROR req 16 ENOENT"))
    a(req(5, "DIRECTORY", 17, b"device\0", expect={"path": P("device")}))
    a(rep(5, "DIRECTORY", 17, b"vif\0vbd\0console\0", expect={"child": P("vif", "vbd", "console")}))
    a(req(5, "DIRECTORY", 18, b"leaf\0", expect={"path": P("leaf")}))
    a(rep(5, "DIRECTORY", 18, b"", expect={}))
    a(req(5, "DIRECTORY_PART", 19, b"device\x000\0", expect={"path": P("device"), "offset": P("0")}))
    a(rep(5, "DIRECTORY_PART", 19, b"1234\0vif\0vbd\0\0",
          expect={"generation": P("1234"), "child": P("vif", "vbd")}))
    a(req(5, "GET_PERMS", 20, b"data\0", expect={"path": P("data")}))
    a(rep(5, "GET_PERMS", 20, b"n5\0r0\0b7\0w3\0", expect={"perm": P("n5", "r0", "b7", "w3")}))
    a(req(5, "SET_PERMS", 21, b"data\0n5\0r0\0", expect={"path": P("data"), "perm": P("n5", "r0")}))
    a(rep(5, "SET_PERMS", 21, b"OK\0", expect={"reply_text": P("OK")}))
    a(req(5, "WATCH", 22, b"data/x\0tok\0", expect={"path": P("data/x"), "token": P("tok")}))
    a(rep(5, "WATCH", 22, b"OK\0", expect={"reply_text": P("OK")}))
    a(rep(5, "WATCH_EVENT", 0, b"data/x\0tok\0", expect={"path": P("data/x"), "token": P("tok")},
          info="dom5 ← WATCH_EVENT data/x tok"))
    a(rep(5, "WATCH_EVENT", 0, b"data/x/y\0tok\0extra1\0extra2\0",
          expect={"path": P("data/x/y"), "token": P("tok"), "event_arg": P("extra1", "extra2")}))
    a(req(5, "UNWATCH", 23, b"data/x\0tok\0", expect={"path": P("data/x"), "token": P("tok")}))
    a(rep(5, "UNWATCH", 23, b"OK\0", expect={"reply_text": P("OK")}))
    # transactions, with ids remapped after a migration (guest 3, xenstored 9)
    a(req(5, "TRANSACTION_START", 24, b"\0", expect={}))
    a(rep(5, "TRANSACTION_START", 24, b"3\0", expect={"txid": P("3")}))
    a(req(5, "WRITE", 25, b"t/a\x00v", tx=3, btx=9, expect={"path": P("t/a"), "value": P("v")},
          info="dom5 → WRITE req 25 tx 3 t/a = v"))
    a(rep(5, "WRITE", 25, b"OK\0", tx=3, btx=9, expect={"reply_text": P("OK")}))
    a(req(5, "TRANSACTION_END", 26, b"T\0", tx=3, btx=9, expect={"commit": P("T")}))
    a(rep(5, "ERROR", 26, b"EAGAIN\0", tx=3, btx=9, expect={"error": P("EAGAIN")}))
    a(req(5, "TRANSACTION_START", 27, b"", expect={}))
    a(rep(5, "TRANSACTION_START", 27, b"4\0", expect={"txid": P("4")}))
    a(req(5, "TRANSACTION_END", 28, b"F\0", tx=4, expect={"commit": P("F")}))
    a(rep(5, "TRANSACTION_END", 28, b"OK\0", tx=4, expect={"reply_text": P("OK")}))
    a(req(5, "RESET_WATCHES", 29, b"", expect={}))
    a(rep(5, "RESET_WATCHES", 29, b"OK\0", expect={"reply_text": P("OK")}))
    a(req(5, "GET_DOMAIN_PATH", 30, b"5\0", expect={"arg_domid": P("5")}))
    a(rep(5, "GET_DOMAIN_PATH", 30, b"/local/domain/5\0", expect={"path": P("/local/domain/5")}))
    # answered by xsproxy itself, and xsproxy's own watch as the domain
    a(req(5, "READ", 31, b"control/x\0", flags=1, expect={"path": P("control/x")}))
    a(rep(5, "READ", 31, b"val", flags=1, expect={"value": P("val")},
          info="dom5 ← READ req 31 val [xsproxy]"))
    a(req(5, "WATCH", 0x10000, b"@releaseDomain\0xsp\0", flags=2,
          expect={"path": P("@releaseDomain"), "token": P("xsp")}))
    a(rep(5, "WATCH", 0x10000, b"OK\0", flags=2, expect={"reply_text": P("OK")}))
    # the same req_id twice before the replies: oldest first
    a(req(5, "READ", 40, b"dup/1\0", expect={"path": P("dup/1")}))
    a(req(5, "READ", 40, b"dup/2\0", expect={"path": P("dup/2")}))
    a(rep(5, "READ", 40, b"first", expect={"value": P("first")}))
    a(rep(5, "READ", 40, b"second", expect={"value": P("second")}, dt_us=2500000))
    # parts that lack a final NUL, and an empty middle part
    a(req(5, "WATCH", 41, b"p\0t", expect={"path": P("p"), "token": P("t")},
          experts=["not NUL-terminated"]))
    a(rep(5, "WATCH", 41, b"OK", expect={"reply_text": P("OK")}))
    a(req(5, "SET_PERMS", 42, b"q\0n1\0\0r2\0", expect={"path": P("q"), "perm": P("n1", "", "r2")}))
    a(rep(5, "SET_PERMS", 42, b"OK\0", expect={"reply_text": P("OK")}))

    # --- dom0 connection 3: management types -------------------------------
    c = dict(src=2)
    a(req(3, "CONTROL", 1, b"print\0hello world\0", expect={"control.cmd": P("print"),
          "control.arg": P("hello world")}, **c))
    a(rep(3, "CONTROL", 1, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "CONTROL", 2, b"help\0", expect={"control.cmd": P("help")}, **c))
    a(rep(3, "CONTROL", 2, b"check\nlog on|off\n\0", expect={"reply_text": P("check\nlog on|off\n")}, **c))
    a(req(3, "CONTROL", 3, b"trace\x005\0on\0", expect={"control.cmd": P("trace"),
          "control.arg": P("5", "on")}, **c))
    a(rep(3, "CONTROL", 3, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "INTRODUCE", 4, b"7\x00123456\x0012\0", expect={"arg_domid": P("7"), "gfn": P("123456"),
          "port": P("12")}, **c))
    a(rep(3, "INTRODUCE", 4, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "IS_DOMAIN_INTRODUCED", 5, b"7\0", expect={"arg_domid": P("7")}, **c))
    a(rep(3, "IS_DOMAIN_INTRODUCED", 5, b"T\0", expect={"reply_text": P("T")}, **c))
    a(req(3, "SET_TARGET", 6, b"8\x007\0", expect={"arg_domid": P("8"), "target": P("7")}, **c))
    a(rep(3, "SET_TARGET", 6, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "RESUME", 7, b"7\0", expect={"arg_domid": P("7")}, **c))
    a(rep(3, "RESUME", 7, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "RELEASE", 8, b"7\0", expect={"arg_domid": P("7")}, **c))
    a(rep(3, "RELEASE", 8, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "RESTRICT", 9, b"7\0", expect={"arg_domid": P("7")}, **c))
    a(rep(3, "ERROR", 9, b"ENOSYS\0", expect={"error": P("ENOSYS")}, info="conn3 ← ERROR req 9 ENOSYS", **c))
    a(req(3, "GET_FEATURE", 10, b"7\0", expect={"arg_domid": P("7")}, **c))
    a(rep(3, "GET_FEATURE", 10, b"1\0", expect={"feature": P("1")}, **c))
    a(req(3, "SET_FEATURE", 11, b"7\x001\0", expect={"arg_domid": P("7"), "feature": P("1")}, **c))
    a(rep(3, "SET_FEATURE", 11, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "GET_QUOTA", 12, b"nodes\0", expect={"quota": P("nodes")}, **c))
    a(rep(3, "GET_QUOTA", 12, b"1000\0", expect={"quota_value": P("1000")}, **c))
    a(req(3, "GET_QUOTA", 13, b"7\0nodes\0", expect={"arg_domid": P("7"), "quota": P("nodes")}, **c))
    a(rep(3, "GET_QUOTA", 13, b"2000\0", expect={"quota_value": P("2000")}, **c))
    a(req(3, "SET_QUOTA", 14, b"nodes\x003000\0", expect={"quota": P("nodes"),
          "quota_value": P("3000")}, **c))
    a(rep(3, "SET_QUOTA", 14, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "SET_QUOTA", 15, b"7\0nodes\x004000\0", expect={"arg_domid": P("7"), "quota": P("nodes"),
          "quota_value": P("4000")}, **c))
    a(rep(3, "SET_QUOTA", 15, b"OK\0", expect={"reply_text": P("OK")}, **c))
    # xsproxy's own types
    a(req(3, "QUIESCE", 16, b"7\0", expect={"arg_domid": P("7")}, info="conn3 → QUIESCE req 16 tx 0 7", **c))
    a(rep(3, "QUIESCE", 16, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "GET_DOMAIN_WATCHES", 17, b"7\x000\0", expect={"arg_domid": P("7"), "index": P("0")}, **c))
    a(rep(3, "GET_DOMAIN_WATCHES", 17, b"42\0data/x\0tok\0@releaseDomain\0rd\0",
          expect={"gencnt": P("42"), "path": P("data/x", "@releaseDomain"), "token": P("tok", "rd")}, **c))
    a(req(3, "ADD_DOMAIN_WATCHES", 18, b"7\0data/x\0tok\0data/y\0t2\0",
          expect={"arg_domid": P("7"), "path": P("data/x", "data/y"), "token": P("tok", "t2")}, **c))
    a(rep(3, "ADD_DOMAIN_WATCHES", 18, b"OK\0", expect={"reply_text": P("OK")}, **c))
    a(req(3, "RESTORE_TRANSACTIONS", 19, b"7\x003\x004\0", expect={"arg_domid": P("7"),
          "txid": P("3", "4")}, **c))
    a(rep(3, "RESTORE_TRANSACTIONS", 19, b"OK\0", expect={"reply_text": P("OK")}, **c))
    for i, t in enumerate(["XSP_RESUME", "XSP_INSERT", "XSP_REMOVE"]):
        a(req(3, t, 20 + i, b"7\0", expect={"arg_domid": P("7")}, **c))
        a(rep(3, t, 20 + i, b"OK\0", expect={"reply_text": P("OK")}, **c))
    # a dom0 connection with the same req_id as a domain: kept apart
    a(req(5, "READ", 50, b"k\0", expect={"path": P("k")}, **c))
    a(req(5, "READ", 50, b"k\0", expect={"path": P("k")}))
    a(rep(5, "READ", 50, b"dom", expect={"value": P("dom")}))
    a(rep(5, "READ", 50, b"conn", expect={"value": P("conn")}, **c))

    # --- odd and broken records --------------------------------------------
    a(rep(6, "READ", 99, b"orphan", expect={"value": P("orphan")},
          experts=["no request for this reply"]))
    a(rep(3, "ERROR", 98, b"EINVAL\0", expect={"error": P("EINVAL")},
          experts=["no request for this reply"], **c))
    a(req(5, "INVALID", 60, b"\x01\x02", expect={"payload": P("0102")}))
    a(rep(5, "ERROR", 60, b"EINVAL\0", expect={"error": P("EINVAL")}))
    a(req(5, "CONTROL", 61, b"check\0", expect={"control.cmd": P("check")}))
    a(rep(5, "CONTROL", 61, b"OK\0", expect={"reply_text": P("OK")}))
    a(Rec(0, 1, 5, 12345, 62, b"abc\0", expect={"payload": P("61626300")},
          info="dom5 → TYPE_12345 req 62 tx 0"))
    a(Rec(1, 1, 5, 12345, 62, b"", expect={}))
    # extra data after a fixed layout
    a(req(5, "MKDIR", 63, b"m\0junk\0", expect={"path": P("m"), "payload": P("6a756e6b00")},
          experts=["Unexpected data"]))
    a(rep(5, "MKDIR", 63, b"OK\0", expect={"reply_text": P("OK")}))
    # truncated: pcap caplen < original length (snaplen cut)
    r = req(5, "WRITE", 64, b"trunc/path\0" + b"v" * 100, caplen=16 + 16 + 20,
            expect={"path": P("trunc/path"), "value": P("v" * 9)}, experts=["truncated"])
    a(r)
    a(rep(5, "WRITE", 64, b"OK\0", expect={"reply_text": P("OK")}))
    # truncated: the message says 50 bytes, the record holds 3
    a(req(5, "READ", 65, b"ab\0", msg_len=50, expect={"path": P("ab")}, experts=["truncated"]))
    a(rep(5, "READ", 65, b"x", expect={"value": P("x")}))
    # truncated inside the message header, and inside the pseudo-header
    a(Rec(0, 1, 5, 0, 0, raw=struct.pack(">BBBBIII", 1, 0, 1, 0, 5, 0, 0) + b"\x0b\0\0\0\x07",
          experts=["truncated"], expect={"payload": P("0b00000007")}))
    a(Rec(0, 1, 5, 0, 0, raw=b"\x01\x00\x01", experts=["truncated"]))
    # a header naming an over-long payload, recorded alone (as xsproxy does)
    a(req(5, "WRITE", 66, b"", msg_len=5000, experts=["over 4096"]))
    # an unknown pseudo-header version: nothing more decoded
    a(Rec(0, 1, 5, T["WRITE"], 67, b"x\0y", version=2, experts=["Unknown capture header version"],
          info="unknown xsproxy capture header version 2"))
    # a late reply to the header-only WRITE above still pairs
    a(rep(5, "ERROR", 66, b"E2BIG\0", expect={"error": P("E2BIG")}))
    return R


def write_pcap(path, recs):
    t0 = 1700000000 * 1000000 + 123456
    t = t0
    times = []
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 147))
        for r in recs:
            t += r.dt_us
            times.append(t)
            data = r.data[:r.caplen]
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(data), len(r.data)))
            f.write(data)
    return times


def expected_pairs(recs, times):
    """The pairing rule, modelled independently: oldest unanswered request
    of the same (source, id, req_id); WATCH_EVENTs are not replies."""
    pending, exp = {}, [dict() for _ in recs]
    for i, r in enumerate(recs):
        if not r.decodable:
            continue
        key = (r.src, r.id, r.req_id)
        if r.dir == 0:
            pending.setdefault(key, []).append(i)
        elif r.mtype != T["WATCH_EVENT"]:
            q = pending.get(key)
            if q:
                j = q.pop(0)
                exp[j]["response_in"] = [str(i + 1)]
                exp[i]["response_to"] = [str(j + 1)]
                d = times[i] - times[j]
                exp[i]["time"] = ["%d.%06d000" % (d // 1000000, d % 1000000)]
    return exp


def run(args):
    p = subprocess.run(["tshark", "-X", "lua_script:" + LUA] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = [l for l in p.stderr.decode(errors="replace").splitlines()
           if "Running as user" not in l]
    return p.returncode, p.stdout, err


def main():
    failures = []

    def fail(msg):
        failures.append(msg)

    recs = records()
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "xs.pcap")
        times = write_pcap(pcap, recs)
        pairs = expected_pairs(recs, times)
        names = ["xenstore." + f for f in ALL] + ["_ws.expert.message", "_ws.col.Info"]
        fargs = ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
                 "-E", "aggregator=" + AGG, "-E", "quote=n"]
        for f in names:
            fargs += ["-e", f]

        for twopass in (True, False):
            rc, out, err = run((["-2"] if twopass else []) + ["-r", pcap] + fargs)
            tag = "two-pass" if twopass else "one-pass"
            if rc != 0 or err:
                fail("%s: tshark rc %d, stderr: %s" % (tag, rc, " | ".join(err)))
            lines = out.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            if len(lines) != len(recs):
                fail("%s: %d lines for %d records" % (tag, len(lines), len(recs)))
                continue
            for i, (r, line) in enumerate(zip(recs, lines)):
                cols = line.split(b"\t")
                if len(cols) != len(names):
                    fail("frame %d: %d columns" % (i + 1, len(cols)))
                    continue
                got = dict(zip(names, cols))
                want = r.header_expect()
                for k, v in r.expect.items():
                    want[k] = [x.decode() if k == "payload" else x for x in v]
                want.update(pairs[i])
                if not twopass:
                    want.pop("response_in", None)   # unknown when the request is read
                for f in ALL:
                    w = [x if isinstance(x, bytes) else x.encode() for x in want.get(f, [])]
                    if f in PART_FIELDS and f != "payload":
                        w = [shown(x) for x in w]
                    if w == [b""]:
                        w = []      # one empty occurrence prints like none
                    g = got["xenstore." + f]
                    g = g.split(AGG.encode()) if g else []
                    if g != w:
                        fail("%s frame %d %s: got %r, want %r" % (tag, i + 1, f, g, w))
                ex = got["_ws.expert.message"]
                ex = ex.decode().split(AGG) if ex else []
                left = list(ex)
                for e in r.experts:
                    m = [x for x in left if e in x]
                    if m:
                        left.remove(m[0])
                    else:
                        fail("%s frame %d: no expert info %r in %r" % (tag, i + 1, e, ex))
                if left:
                    fail("%s frame %d: unexpected expert info %r" % (tag, i + 1, left))
                info = got["_ws.col.Info"].decode()
                if r.info is not None and info != r.info:
                    fail("%s frame %d Info: got %r, want %r" % (tag, i + 1, info, r.info))
                if r.decodable:
                    names_by_num = {v: k for k, v in T.items()}
                    head = "%s%d %s %s" % ("dom" if r.src == 1 else "conn", r.id,
                                           "→" if r.dir == 0 else "←",
                                           names_by_num.get(r.mtype, "TYPE_%d" % r.mtype))
                    if not info.startswith(head):
                        fail("%s frame %d Info: %r does not start with %r" % (tag, i + 1, info, head))
                if "Lua" in info:
                    fail("%s frame %d Info: %r" % (tag, i + 1, info))

        # The whole tree: no Lua error, no exception.
        rc, out, err = run(["-2", "-r", pcap, "-V"])
        text = out.decode(errors="replace")
        for bad in ("Lua Error", "[Malformed Packet", "Dissector bug", "Exception occurred"):
            if bad in text:
                fail("-V output has %r" % bad)
        if rc != 0 or err:
            fail("-V: tshark rc %d, stderr: %s" % (rc, " | ".join(err)))

        # One WRITE request in full.
        rc, out, err = run(["-2", "-r", pcap, "-V", "-Y", "frame.number == 1"])
        text = out.decode(errors="replace")
        for want in ("Xenstore (xsproxy capture), dom5 → WRITE req 7", "xsproxy capture header: dom5 to xenstored",
                     "Capture header version: 1", "Direction: to xenstored (0)",
                     "Source: domain (1)", "Domain: 5", "Type: WRITE (11)", "Request id: 7",
                     "Payload length: 8", "Path: data/x", "Value: 1", "Response in: 2"):
            if want not in text:
                fail("-V of frame 1 lacks %r" % want)
        if os.environ.get("SELFTEST_SHOW"):
            print(text)

    if failures:
        for f in failures:
            print("FAIL:", f)
        print("selftest: %d failures" % len(failures))
        sys.exit(1)
    print("selftest: ok, %d records, %d fields each, two-pass and one-pass, %s"
          % (len(recs), len(ALL), os.path.relpath(LUA)))


if __name__ == "__main__":
    main()
