#!/usr/bin/env python3
"""Write the seed corpora of fuzz_msg, fuzz_relay, fuzz_claim and fuzz_follow
(tests/fuzz/<target>/): real xenstore messages, exchanges and live-switch
texts in the input formats the targets' header comments describe.  Run from anywhere:

    python3 tests/fuzz/make_seeds.py

The records seeds (tests/fuzz/records/) are streams libxsrecords wrote and
records/testdata's dump; they are kept as they are.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# enum xsd_sockmsg_type
CONTROL, DIRECTORY, READ, GET_PERMS, WATCH, UNWATCH, TRANSACTION_START, \
    TRANSACTION_END, INTRODUCE, RELEASE, GET_DOMAIN_PATH, WRITE, MKDIR, RM, \
    SET_PERMS, WATCH_EVENT, ERROR = range(17)
RESET_WATCHES, DIRECTORY_PART = 21, 22
ERRORS = ["EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
          "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM"]


def msg(type_, req_id, tx_id, body):
    return struct.pack("<IIII", type_, req_id, tx_id, len(body)) + body


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_msg ---------------------------------------------------------------

def stream(sizes, *msgs):
    """Even first byte: the stream, fed in chunks of SIZES (cycling)."""
    return bytes([0, len(sizes)]) + bytes(sizes) + b"".join(msgs)


def capture(spec, records, allow_files=False):
    """Odd first byte: a capture spec, then (source|dir|id, type, req_id)."""
    return bytes([3 if allow_files else 1]) + spec.encode() + b"\0" + bytes(
        b for r in records for b in r)


def rec(conn, from_xenstored, id_, type_, req_id):
    return ((id_ << 2) | (2 if from_xenstored else 0) | (1 if conn else 0), type_, req_id)


def msg_seeds():
    write("msg", "write", stream([], msg(WRITE, 1, 0, b"data/x\0hello")))
    write("msg", "read-and-reply", stream(
        [1, 5, 16, 3], msg(READ, 2, 0, b"data/x\0"), msg(READ, 2, 0, b"hello")))
    write("msg", "watch-event", stream(
        [7], msg(WATCH, 3, 0, b"device/vif\0tok\0"), msg(WATCH, 3, 0, b"OK\0"),
        msg(WATCH_EVENT, 0, 0, b"device/vif/0\0tok\0")))
    write("msg", "transaction", stream(
        [16, 0, 4], msg(TRANSACTION_START, 4, 0, b"\0"), msg(TRANSACTION_START, 4, 0, b"7\0"),
        msg(WRITE, 5, 7, b"data/y\0v"), msg(WRITE, 5, 7, b"OK\0"),
        msg(TRANSACTION_END, 6, 7, b"T\0"), msg(TRANSACTION_END, 6, 7, b"OK\0")))
    write("msg", "error", stream(
        [], msg(READ, 8, 0, b"nonexistent\0"), msg(ERROR, 8, 0, b"ENOENT\0")))
    write("msg", "len-4097", stream([], struct.pack("<IIII", WRITE, 9, 0, 4097) + b"x" * 32))
    write("msg", "len-4096-partial", stream(
        [200], msg(DIRECTORY, 10, 0, b"a\0b\0" * 1024)[:3000]))
    write("msg", "xsproxy-types", stream(
        [], msg(0x58500001, 11, 0, b"5\0"), msg(CONTROL, 12, 0, b"list\x005\0"),
        msg(DIRECTORY_PART, 13, 0, b"QUIESCE\0TYPE_99\0debug\0004294967295\0")))
    write("msg", "capture-dom-types", capture(
        "dom=5,7 type=WRITE,READ", [rec(0, 0, 5, WRITE, 1), rec(0, 1, 5, ERROR, 1),
                                    rec(0, 0, 7, RM, 2), rec(0, 1, 7, RM, 2),
                                    rec(1, 0, 3, READ, 4), rec(1, 1, 3, READ, 4)]))
    write("msg", "capture-events-files", capture(
        "type=WATCH_EVENT,ERROR,TRANSACTION_START size=64MiB files=4",
        [rec(0, 1, 1, WATCH_EVENT, 0), rec(0, 0, 1, TRANSACTION_START, 9),
         rec(0, 1, 1, ERROR, 9), rec(0, 1, 1, ERROR, 10)], allow_files=True))
    write("msg", "capture-conns", capture(
        "conn=1,2 dom=none type=quiesce,TYPE_99,19,debug",
        [rec(1, 0, 1, 0xf8, 1), rec(1, 1, 1, 0xf8, 1), rec(0, 0, 1, CONTROL, 2)]))
    write("msg", "capture-bad", capture("dom=5 size=12 files=0 bogus", [], allow_files=True))


# ---- fuzz_relay ---------------------------------------------------------------

(RING_IDX, RING_FILL, RING_READ, RING_PEEK, RING_WRITE, RING_ENDS, GUEST_SEND, GUEST_RAW,
 GUEST_IDX, GUEST_STALL, BK_REPLY, BK_RAW, PUMP, REQUEST, REPLY, INTERNAL_WATCH, RESTORE_TX,
 LEARN, WATCH_PAGE, DESCRIBE, GUEST_TX, BACKEND_LOST, CLEAR, FLAGS) = range(24)


def raw(b):
    return bytes([0, len(b)]) + b


def strings(a, b):
    return bytes([1, len(a)]) + a + bytes([len(b)]) + b


def long_(n, pattern):
    return bytes([2]) + struct.pack("<H", n) + bytes([len(pattern)]) + pattern


def number(v):
    return bytes([3, v]) if v < 255 else bytes([3, 255]) + struct.pack("<I", v)


def send(type_, req_id, tx, payload):
    """The guest writes a request (tx < 0x80: that id)."""
    return bytes([GUEST_SEND, type_, req_id, tx]) + payload


def ok(payload):
    """xenstored answers its oldest request: OK, with a payload."""
    return bytes([BK_REPLY, 0]) + payload


def err(name):
    return bytes([BK_REPLY, 1, ERRORS.index(name)])


def event(payload):
    return bytes([BK_REPLY, 2]) + payload


def u16(v):
    return struct.pack("<H", v & 0xffff)


def relay_seeds():
    describe = bytes([DESCRIBE]) + u16(300) + bytes([WATCH_PAGE, 0]) + u16(200)
    write("relay", "write-read", send(WRITE, 1, 0, raw(b"data/x\0hello")) + ok(raw(b"OK\0"))
          + send(READ, 2, 0, raw(b"data/x\0")) + ok(raw(b"hello")) + describe)
    write("relay", "watch", send(WATCH, 1, 0, strings(b"device/vif", b"tok"))
          + ok(raw(b"OK\0")) + event(strings(b"device/vif/0", b"tok"))
          + bytes([WATCH_PAGE, 0]) + u16(64)
          + send(UNWATCH, 2, 0, strings(b"device/vif", b"tok")) + ok(raw(b"OK\0"))
          + describe)
    write("relay", "transaction", send(TRANSACTION_START, 1, 0, raw(b"\0")) + ok(number(7))
          + send(WRITE, 2, 7, raw(b"data/y\0v")) + ok(raw(b"OK\0"))
          + send(READ, 3, 7, raw(b"data/y\0")) + ok(raw(b"v"))
          + send(DIRECTORY, 4, 7, raw(b"data\0")) + ok(raw(b"x\0y\0"))
          + send(TRANSACTION_END, 5, 7, raw(b"T\0")) + ok(raw(b"OK\0")) + describe)
    write("relay", "errors", send(READ, 1, 0, raw(b"nonexistent\0")) + err("ENOENT")
          + send(TRANSACTION_START, 2, 0, raw(b"\0")) + ok(number(3))
          + send(TRANSACTION_END, 3, 3, raw(b"T\0")) + err("EAGAIN")
          + send(TRANSACTION_END, 4, 9, raw(b"X\0")) + err("EINVAL")
          + send(RESET_WATCHES, 5, 0, raw(b"")) + ok(raw(b"OK\0")))
    write("relay", "big-replies", send(READ, 1, 0, raw(b"data/big\0"))
          + ok(long_(3000, b"0123456789"))
          + send(TRANSACTION_START, 2, 0, raw(b"\0")) + ok(number(5))
          + send(DIRECTORY, 3, 5, raw(b"data\0")) + ok(long_(4096, b"entry\0"))
          + event(long_(2000, b"w/")) + bytes([PUMP]) + describe)
    write("relay", "len-4097", bytes([GUEST_RAW]) + u16(20)
          + struct.pack("<IIII", WRITE, 1, 0, 4097) + b"abcd" + bytes([PUMP]))
    # guest tx 5, replayable, 2 logged operations (0: READ, 1: WRITE)
    write("relay", "restore", bytes([RESTORE_TX, 4, 1 | (2 << 1), 0]) + raw(b"data/a\0")
          + raw(b"a0") + bytes([1]) + raw(b"data/b\0v") + raw(b"OK\0")
          + ok(number(12)) + ok(raw(b"a0")) + ok(raw(b"OK\0"))
          + send(WRITE, 1, 5, raw(b"data/c\0w")) + ok(raw(b"OK\0"))
          + send(TRANSACTION_END, 2, 5, raw(b"T\0")) + ok(raw(b"OK\0")) + describe)
    # DIRECTORY replayed: the same children in another order
    write("relay", "restore-directory", bytes([RESTORE_TX, 6, 1 | (1 << 1), 4])
          + raw(b"data\0") + raw(b"x\0y\0") + ok(number(12)) + ok(raw(b"y\0x\0"))
          + send(DIRECTORY, 1, 7, raw(b"data\0")) + ok(raw(b"x\0y\0")) + describe)
    # a transaction whose log outgrows SHADOW_TX_LOG_MAX
    write("relay", "tx-log-cut", send(TRANSACTION_START, 1, 0, raw(b"\0")) + ok(number(3))
          + b"".join(send(WRITE, 2 + i, 3, long_(4000, b"data/a\0v")) + ok(long_(4000, b"OK"))
                     for i in range(9)) + describe)
    watches = b"watch D3: data/a tok1\nwatch D4: x y\nwatch D3: @releaseDomain r\n"
    write("relay", "live-insertion", bytes([FLAGS, 3, LEARN, 3]) + u16(len(watches)) + watches
          + send(READ, 1, 42, raw(b"data/a\0")) + ok(raw(b"1"))
          + send(READ, 2, 43, raw(b"data/a\0")) + err("EIO") + describe)
    m = msg(WRITE, 1, 0, b"data/x\0value012345")
    write("relay", "ring-ops", bytes([RING_IDX, 0]) + struct.pack("<I", 0xfffffc00) + u16(0)
          + bytes([RING_WRITE, 0]) + u16(len(m)) + m
          + bytes([RING_ENDS, 0]) + u16(20) + bytes([3]) + b"abc" + bytes([WRITE])
          + bytes([RING_PEEK, 0]) + u16(16) + u16(24)
          + bytes([RING_READ, 0]) + u16(2048)
          + bytes([RING_FILL, 1]) + u16(1000) + bytes([30]) + b"r" * 30
          + bytes([RING_IDX, 1]) + struct.pack("<I", 990) + u16(1100)
          + bytes([RING_READ, 1]) + u16(100))
    write("relay", "internal-watch-reconnect", bytes([INTERNAL_WATCH, 1])
          + strings(b"@introduceDomain", b"xsp") + ok(raw(b"OK\0"))
          + send(WATCH, 1, 0, strings(b"data", b"t")) + bytes([BACKEND_LOST, INTERNAL_WATCH, 0])
          + strings(b"data", b"t") + ok(raw(b"OK\0")) + bytes([GUEST_TX, 0, CLEAR]) + describe)
    write("relay", "guest-quiesce-stall", bytes([GUEST_STALL]) + send(0xf8, 1, 0, raw(b"5\0"))
          + send(READ, 2, 0, raw(b"d\0")) + ok(long_(1500, b"x")) + bytes([GUEST_STALL])
          + bytes([GUEST_IDX, 2]) + u16(0x8000))
    write("relay", "direct", bytes([REQUEST, WATCH, 1, 0]) + strings(b"a", b"b")
          + bytes([REQUEST, TRANSACTION_START, 2, 0]) + raw(b"\0")
          + bytes([REPLY, 0, 0]) + raw(b"OK\0") + bytes([REPLY, 1, 0]) + number(9)
          + bytes([REQUEST, READ, 3, 9]) + raw(b"a\0") + bytes([REPLY, 1, 0]) + long_(1200, b"z")
          + describe)


# ---- fuzz_claim and fuzz_follow ------------------------------------------------

def claim_seeds():
    """Even first byte: a shim's answer; odd: a claim."""
    write("claim", "shadow-full", b"\x00shadow req_prod=120 rsp_prod=77 port=9\n"
          b"req_cons=100 req_part=5 rsp_part=3\nrsp_prefix=0a0b0c\n"
          b"pending 11 1 0 12 80\npending 4 2 5 7 98\n")
    write("claim", "shadow-guessed", b"\x00shadow req_prod=1 rsp_prod=2 port=3\n"
          b"req_cons=1 req_part=0 rsp_part=0\nrsp_prefix=\nguessed\n")
    write("claim", "busy", b"\x00busy the daemon has taken part of a request\n")
    write("claim", "direct", b"\x00direct\n")
    write("claim", "claim-live", b"\x01page=/run/xsproxy/shadow/dom5\nport=17\nlive=1\n")
    write("claim", "claim-bad", b"\x01page=/p\nport=12x\nlive=maybe\n")


# fuzz_follow's actions: (action, argument) byte pairs
GUEST_WRITES, DAEMON_TAKES, DAEMON_WRITES, EVENT, GUEST_READS, FEED, SWITCH = range(7)


def follow_seeds():
    def acts(pairs):
        return bytes(x for p in pairs for x in p)
    write("follow", "pipeline", acts([(GUEST_WRITES, 5)] * 30 + [(DAEMON_TAKES, 40)] * 10
                                     + [(FEED, 0)] + [(DAEMON_WRITES, 3)] * 20 + [(SWITCH, 0)]
                                     + [(GUEST_READS, 60)] * 5 + [(SWITCH, 0)]))
    write("follow", "half-request", acts([(GUEST_WRITES, 0x85), (FEED, 0), (DAEMON_TAKES, 10),
                                          (SWITCH, 0), (GUEST_WRITES, 0x85)] * 8 + [(SWITCH, 0)]))
    write("follow", "events", acts([(EVENT, 9), (DAEMON_WRITES, 5), (DAEMON_WRITES, 5),
                                    (GUEST_WRITES, 3), (DAEMON_TAKES, 20), (SWITCH, 0),
                                    (DAEMON_WRITES, 1), (SWITCH, 0)] * 10))
    write("follow", "lost", acts([(GUEST_WRITES, 30), (DAEMON_TAKES, 47)] * 60 + [(SWITCH, 0)]))


if __name__ == "__main__":
    msg_seeds()
    relay_seeds()
    claim_seeds()
    follow_seeds()
