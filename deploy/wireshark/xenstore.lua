--[[
xenstore.lua - Wireshark/tshark dissector for xsproxy capture files.

What it decodes
  The pcap files xsproxy writes with --capture (link type LINKTYPE_USER0,
  147).  Each record is a 16-byte xsproxy pseudo-header followed by one whole
  xenstore message exactly as it was on the wire:

    pseudo-header (big-endian)
     0 u8   version (1)
     1 u8   direction: 0 to xenstored, 1 from xenstored
     2 u8   source: 1 a domain's ring, 2 a dom0 socket connection
     3 u8   flags: 0x01 answered by xsproxy, 0x02 xsproxy's own message
     4 u32  domid, or the connection number
     8 u32  transaction id as the guest sees it
    12 u32  transaction id as xenstored sees it
    xenstore message (little-endian u32s)
    16 type, 20 req_id, 24 tx_id, 28 len, then len payload bytes

  Message types are upstream Xen's (docs/misc/xenstore.txt, xs_wire.h) plus
  xsproxy's own (proxy/include/xsproxy_wire.h).  Requests and replies are
  paired per (source, domid or connection, req_id); see the filter fields
  xenstore.response_in, xenstore.response_to and xenstore.time.

How to use it
  One run:    tshark -X lua_script:deploy/wireshark/xenstore.lua -r FILE
              (wireshark takes the same -X option)
  Installed:  copy this file to ~/.local/lib/wireshark/plugins/ (one user) or
              /usr/lib/x86_64-linux-gnu/wireshark/plugins/ (everyone).
  Pairing fields of a request (response_in) are only known once its reply
  has been read: give tshark -2 (two passes) when printing them.
  Self-check: python3 deploy/wireshark/selftest.py

String fields hold the bytes as text; a NUL byte or a byte that is not part
of valid UTF-8 is shown as \xHH (a string field cannot hold either).
]]

-- Loaded twice (installed as a plugin and named with -X lua_script:), the
-- second copy steps aside instead of failing on a duplicate protocol.
local loaded_once, xs = pcall(Proto, "xenstore", "Xenstore (xsproxy capture)")
if not loaded_once then return end

---------------------------------------------------------------------------
-- Message types: the names of proxy/include/xsproxy_type_names.h, which
-- xsproxy and its tools use (the test
-- XsproxyCaptureDissector.NamesTheTypesAsTheCTable compares the two)

local XS_TYPES = {
    [0] = "CONTROL", "DIRECTORY", "READ", "GET_PERMS", "WATCH", "UNWATCH",
    "TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE",
    "GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS", "WATCH_EVENT",
    "ERROR", "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET", "RESTRICT",
    "RESET_WATCHES", "DIRECTORY_PART", "GET_FEATURE", "SET_FEATURE",
    "GET_QUOTA", "SET_QUOTA",
}
XS_TYPES[0xffff] = "INVALID"

-- xsproxy's own types sit far above upstream's ('X' 'P' << 16).
local XSP_BASE = 0x58500000
local XSP_TYPES = { "QUIESCE", "GET_DOMAIN_WATCHES", "ADD_DOMAIN_WATCHES",
                    "RESTORE_TRANSACTIONS", "XSP_RESUME", "XSP_INSERT",
                    "XSP_REMOVE" }
for i, name in ipairs(XSP_TYPES) do XS_TYPES[XSP_BASE + i] = name end

local T = {}                        -- name -> number
for n, name in pairs(XS_TYPES) do T[name] = n end

local function type_name(n)
    return XS_TYPES[n] or ("TYPE_" .. n)
end

local PAYLOAD_MAX = 4096            -- XENSTORE_PAYLOAD_MAX
local PSEUDO_LEN, HDR_LEN = 16, 16

---------------------------------------------------------------------------
-- Fields

local F = {
    version    = ProtoField.uint8("xenstore.version", "Capture header version", base.DEC),
    dir        = ProtoField.uint8("xenstore.dir", "Direction", base.DEC,
                                  { [0] = "to xenstored", [1] = "from xenstored" }),
    source     = ProtoField.uint8("xenstore.source", "Source", base.DEC,
                                  { [1] = "domain", [2] = "dom0 connection" }),
    flags      = ProtoField.uint8("xenstore.flags", "Flags", base.HEX),
    f_local    = ProtoField.bool("xenstore.flags.local", "Answered by xsproxy", 8,
                                 nil, 0x01),
    f_internal = ProtoField.bool("xenstore.flags.internal", "xsproxy's own message", 8,
                                 nil, 0x02),
    f_reserved = ProtoField.uint8("xenstore.flags.reserved", "Reserved", base.HEX, nil, 0xfc),
    domid      = ProtoField.uint32("xenstore.domid", "Domain", base.DEC),
    conn       = ProtoField.uint32("xenstore.conn", "Connection", base.DEC),
    peer       = ProtoField.uint32("xenstore.peer", "Domain or connection (unknown source)",
                                   base.DEC),
    guest_tx   = ProtoField.uint32("xenstore.guest_tx", "Transaction id (guest's)", base.DEC),
    backend_tx = ProtoField.uint32("xenstore.backend_tx", "Transaction id (xenstored's)",
                                   base.DEC),

    type       = ProtoField.uint32("xenstore.type", "Type", base.DEC, XS_TYPES),
    req_id     = ProtoField.uint32("xenstore.req_id", "Request id", base.DEC),
    tx_id      = ProtoField.uint32("xenstore.tx_id", "Transaction id", base.DEC),
    len        = ProtoField.uint32("xenstore.len", "Payload length", base.DEC),

    payload    = ProtoField.bytes("xenstore.payload", "Payload"),
    response_in = ProtoField.framenum("xenstore.response_in", "Response in", base.NONE,
                                      frametype and frametype.RESPONSE),
    response_to = ProtoField.framenum("xenstore.response_to", "Response to", base.NONE,
                                      frametype and frametype.REQUEST),
    time       = ProtoField.relative_time("xenstore.time", "Time since request"),
}

-- Payload parts, all strings; the key is what the layouts below name.
local S = {}
for _, d in ipairs({
    { "path", "Path" }, { "value", "Value" }, { "token", "Token" },
    { "perm", "Permission" }, { "child", "Child" }, { "error", "Error" },
    { "txid", "Transaction id" }, { "commit", "Commit (T) or abort (F)" },
    { "arg_domid", "Domain id" }, { "gfn", "Guest frame number" },
    { "port", "Event channel" }, { "target", "Target domain id" },
    { "offset", "Offset" }, { "generation", "Generation" },
    { "gencnt", "Watch generation count" }, { "index", "Index" },
    { "feature", "Feature value" }, { "quota", "Quota" },
    { "quota_value", "Quota value" }, { "control.cmd", "Control command" },
    { "control.arg", "Control argument" }, { "reply_text", "Reply" },
    { "event_arg", "Event argument" },
}) do
    S[d[1]] = ProtoField.string("xenstore." .. d[1], d[2])
end

local fields = {}
for _, f in pairs(F) do fields[#fields + 1] = f end
for _, f in pairs(S) do fields[#fields + 1] = f end
xs.fields = fields

local E = {
    bad_version = ProtoExpert.new("xenstore.bad_version", "Unknown capture header version",
                                  expert.group.MALFORMED, expert.severity.ERROR),
    truncated   = ProtoExpert.new("xenstore.truncated", "truncated",
                                  expert.group.MALFORMED, expert.severity.ERROR),
    bad_header  = ProtoExpert.new("xenstore.bad_header", "Unknown direction or source",
                                  expert.group.MALFORMED, expert.severity.WARN),
    too_long    = ProtoExpert.new("xenstore.too_long", "Payload longer than 4096 bytes",
                                  expert.group.PROTOCOL, expert.severity.WARN),
    trailing    = ProtoExpert.new("xenstore.trailing", "Bytes after the end of the message",
                                  expert.group.MALFORMED, expert.severity.WARN),
    extra       = ProtoExpert.new("xenstore.extra", "Unexpected data after the arguments",
                                  expert.group.PROTOCOL, expert.severity.WARN),
    no_nul      = ProtoExpert.new("xenstore.no_nul", "Argument is not NUL-terminated",
                                  expert.group.PROTOCOL, expert.severity.NOTE),
    no_request  = ProtoExpert.new("xenstore.no_request", "no request for this reply",
                                  expert.group.SEQUENCE, expert.severity.NOTE),
}
xs.experts = { E.bad_version, E.truncated, E.bad_header, E.too_long, E.trailing,
               E.extra, E.no_nul, E.no_request }

---------------------------------------------------------------------------
-- Payload layouts.  A layout names the NUL-terminated parts in order
-- (`fixed`), then a group repeated for every remaining part (`rep`).
-- `stop_empty`: an empty part ends the list (DIRECTORY_PART replies).
-- Layouts given as functions decode parts that are not simply a list.

local function L(fixed, rep, stop_empty)
    return { fixed = fixed or {}, rep = rep, stop_empty = stop_empty }
end

local special = {}                  -- filled in below, once helpers exist

local REQUEST = {
    [T.CONTROL]              = L({ "control.cmd" }, { "control.arg" }),
    [T.DIRECTORY]            = L({ "path" }),
    [T.READ]                 = L({ "path" }),
    [T.GET_PERMS]            = L({ "path" }),
    [T.WATCH]                = L({ "path", "token" }),
    [T.UNWATCH]              = L({ "path", "token" }),
    [T.TRANSACTION_START]    = L(),
    [T.TRANSACTION_END]      = L({ "commit" }),
    [T.INTRODUCE]            = L({ "arg_domid", "gfn", "port" }),
    [T.RELEASE]              = L({ "arg_domid" }),
    [T.GET_DOMAIN_PATH]      = L({ "arg_domid" }),
    [T.WRITE]                = "write",
    [T.MKDIR]                = L({ "path" }),
    [T.RM]                   = L({ "path" }),
    [T.SET_PERMS]            = L({ "path" }, { "perm" }),
    [T.IS_DOMAIN_INTRODUCED] = L({ "arg_domid" }),
    [T.RESUME]               = L({ "arg_domid" }),
    [T.SET_TARGET]           = L({ "arg_domid", "target" }),
    [T.RESTRICT]             = L({ "arg_domid" }),
    [T.RESET_WATCHES]        = L(),
    [T.DIRECTORY_PART]       = L({ "path", "offset" }),
    [T.GET_FEATURE]          = L({ "arg_domid" }),
    [T.SET_FEATURE]          = L({ "arg_domid", "feature" }),
    [T.GET_QUOTA]            = "get_quota",
    [T.SET_QUOTA]            = "set_quota",
    [T.QUIESCE]              = L({ "arg_domid" }),
    [T.GET_DOMAIN_WATCHES]   = L({ "arg_domid", "index" }),
    [T.ADD_DOMAIN_WATCHES]   = L({ "arg_domid" }, { "path", "token" }),
    [T.RESTORE_TRANSACTIONS] = L({ "arg_domid" }, { "txid" }),
    [T.XSP_RESUME]           = L({ "arg_domid" }),
    [T.XSP_INSERT]           = L({ "arg_domid" }),
    [T.XSP_REMOVE]           = L({ "arg_domid" }),
}

-- Replies not listed here are free text, usually "OK".
local REPLY = {
    [T.DIRECTORY]          = L({}, { "child" }),
    [T.READ]               = "read_reply",
    [T.GET_PERMS]          = L({}, { "perm" }),
    [T.TRANSACTION_START]  = L({ "txid" }),
    [T.GET_DOMAIN_PATH]    = L({ "path" }),
    [T.DIRECTORY_PART]     = L({ "generation" }, { "child" }, true),
    [T.GET_FEATURE]        = L({ "feature" }),
    [T.GET_QUOTA]          = L({}, { "quota_value" }),
    [T.GET_DOMAIN_WATCHES] = L({ "gencnt" }, { "path", "token" }),
}
local REPLY_TEXT = L({}, { "reply_text" })

-- The same either way.
local ANY_DIR = {
    [T.WATCH_EVENT] = L({ "path", "token" }, { "event_arg" }),
    [T.ERROR]       = L({ "error" }),
}

---------------------------------------------------------------------------
-- Helpers

-- Text of raw bytes for a string field: valid UTF-8 is kept; NUL and bytes
-- that are not valid UTF-8 become \xHH, since a field's string stops at NUL
-- and must be UTF-8.
local function to_text(s)
    if not s:find("[%z\128-\255]") then return s end
    local out, i, n = {}, 1, #s
    while i <= n do
        local b = s:byte(i)
        local need, lo, hi = 0, 0x80, 0xbf     -- continuation bytes, range of the 2nd
        if b >= 0xc2 and b <= 0xdf then need = 1
        elseif b >= 0xe0 and b <= 0xef then
            need = 2
            if b == 0xe0 then lo = 0xa0 elseif b == 0xed then hi = 0x9f end
        elseif b >= 0xf0 and b <= 0xf4 then
            need = 3
            if b == 0xf0 then lo = 0x90 elseif b == 0xf4 then hi = 0x8f end
        end
        local ok = b >= 0x01 and b <= 0x7f
        if need > 0 and i + need <= n then
            ok = true
            for k = 1, need do
                local c = s:byte(i + k)
                local l, h = 0x80, 0xbf
                if k == 1 then l, h = lo, hi end
                if c < l or c > h then ok = false break end
            end
        end
        if ok then
            out[#out + 1] = s:sub(i, i + need)
            i = i + need + 1
        else
            out[#out + 1] = string.format("\\x%02x", b)
            i = i + 1
        end
    end
    return table.concat(out)
end

-- Short form of a value for the Info column, control characters escaped.
local function brief(s, max)
    max = max or 40
    s = s:gsub("[%c]", function(c) return string.format("\\x%02x", c:byte()) end)
    if #s > max then
        -- cut on a character boundary (no UTF-8 continuation byte first)
        local cut = max
        while cut > 1 and s:byte(cut + 1) and s:byte(cut + 1) >= 0x80
              and s:byte(cut + 1) < 0xc0 do
            cut = cut - 1
        end
        return s:sub(1, cut) .. "…"
    end
    return s
end

-- Split LEN payload bytes at OFF into NUL-terminated parts.  A final NUL ends
-- the last part (it does not start an empty one); the last part may lack it.
local function split(tvb, off, len)
    local parts = {}
    if len <= 0 then return parts end
    local raw = tvb:raw(off, len)
    local pos = 1
    while pos <= len do
        local z = raw:find("\0", pos, true)
        local stop = z and (z - 1) or len
        parts[#parts + 1] = { off = off + pos - 1, len = stop - pos + 1,
                              s = raw:sub(pos, stop), term = z ~= nil }
        if not z then break end
        pos = z + 1
    end
    return parts
end

-- Add one part as string field KEY; returns its text.
local function add_part(tree, tvb, key, p)
    local text = to_text(p.s)
    tree:add(S[key], tvb(p.off, p.len), text)
    return text
end

-- Decode PARTS by layout LAY; returns the texts added (for Info) and the
-- index of the first part it did not use.
local function apply(tree, tvb, parts, lay)
    local texts, i = {}, 1
    for _, key in ipairs(lay.fixed) do
        if not parts[i] then return texts, i end
        texts[#texts + 1] = add_part(tree, tvb, key, parts[i])
        i = i + 1
    end
    if lay.rep then
        local k = 0
        while parts[i] do
            local p = parts[i]
            if p.len == 0 and (lay.stop_empty or not parts[i + 1]) then
                -- an empty string ends a DIRECTORY_PART list; elsewhere a
                -- final empty part is a stray terminator
                i = i + 1
                break
            end
            texts[#texts + 1] = add_part(tree, tvb, lay.rep[k % #lay.rep + 1], p)
            k, i = k + 1, i + 1
        end
    end
    return texts, i
end

-- WRITE: path\0 then the value, raw bytes to the end (NULs and all).
special.write = function(tree, tvb, parts, off, avail)
    local texts = {}
    local p = parts[1]
    if not p then return texts, 1 end
    texts[1] = add_part(tree, tvb, "path", p)
    if p.term then
        local voff = p.off + p.len + 1
        local vlen = off + avail - voff
        local raw = vlen > 0 and tvb:raw(voff, vlen) or ""
        texts[2] = add_part(tree, tvb, "value", { off = voff, len = vlen, s = raw })
    end
    return texts, #parts + 1, true
end

-- READ reply: the whole payload is the value.
special.read_reply = function(tree, tvb, parts, off, avail)
    local raw = avail > 0 and tvb:raw(off, avail) or ""
    return { add_part(tree, tvb, "value", { off = off, len = avail, s = raw }) }, #parts + 1, true
end

-- GET_QUOTA [domid\0]quota\0 and SET_QUOTA [domid\0]quota\0value\0: the
-- domid is there when there is one part more than without it.
local function count_nonempty_tail(parts)
    local n = #parts
    if n > 0 and parts[n].len == 0 then n = n - 1 end
    return n
end
special.get_quota = function(tree, tvb, parts)
    local keys = count_nonempty_tail(parts) >= 2 and { "arg_domid", "quota" } or { "quota" }
    return apply(tree, tvb, parts, L(keys))
end
special.set_quota = function(tree, tvb, parts)
    local keys = count_nonempty_tail(parts) >= 3 and { "arg_domid", "quota", "quota_value" }
                 or { "quota", "quota_value" }
    return apply(tree, tvb, parts, L(keys))
end

---------------------------------------------------------------------------
-- Request/response pairing, computed on the first pass (pinfo.visited
-- false) and kept per frame number for later passes and the GUI.

local st

local function reset()
    st = {
        pending = {},      -- key -> FIFO of { frame, rel_ts } unanswered requests
        response_in = {},  -- request frame -> response frame
        response_to = {},  -- response frame -> request frame
        delta = {},        -- response frame -> seconds since the request
        orphan = {},       -- response frame -> true when no request was found
    }
end
reset()
xs.init = reset                     -- a new file, or a reload

local function pair(pinfo, key, dir, mtype)
    local n = pinfo.number
    if dir == 0 then
        local q = st.pending[key]
        if not q then q = { first = 1, last = 0 }; st.pending[key] = q end
        q.last = q.last + 1
        q[q.last] = { n, pinfo.rel_ts }
    elseif dir == 1 and mtype ~= T.WATCH_EVENT then
        -- replies come in order per connection: take the oldest request
        local q = st.pending[key]
        if q and q.first <= q.last then
            local r = q[q.first]
            q[q.first] = nil
            q.first = q.first + 1
            st.response_in[r[1]] = n
            st.response_to[n] = r[1]
            -- rel_ts (seconds since the first frame) keeps nanoseconds exact
            st.delta[n] = pinfo.rel_ts - r[2]
        else
            st.orphan[n] = true
        end
    end
end

local function nstime_of(secs)
    local ns = math.floor(math.abs(secs) * 1e9 + 0.5)
    local s, f = math.floor(ns / 1e9), ns % 1e9
    if secs < 0 then s, f = -s, -f end
    return NSTime.new(s, f)
end

---------------------------------------------------------------------------
-- The dissector

local data_dissector = Dissector.get("data")

function xs.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol = "XENSTORE"
    local caplen = tvb:len()
    local root = tree:add(xs, tvb())

    if caplen < 1 then
        root:add_proto_expert_info(E.truncated, "truncated: empty record")
        pinfo.cols.info = "truncated record"
        return
    end

    -- pseudo-header
    local ph = root:add(tvb(0, math.min(PSEUDO_LEN, caplen)), "xsproxy capture header")
    local version = tvb(0, 1):uint()
    local vitem = ph:add(F.version, tvb(0, 1))
    if version ~= 1 then
        vitem:add_proto_expert_info(E.bad_version,
                                    "Unknown capture header version " .. version)
        pinfo.cols.info = "unknown xsproxy capture header version " .. version
        if caplen > 1 then data_dissector:call(tvb(1):tvb(), pinfo, tree) end
        return
    end
    if caplen < PSEUDO_LEN then
        ph:add_proto_expert_info(E.truncated, "truncated: capture header has "
                                 .. caplen .. " of 16 bytes")
        pinfo.cols.info = "truncated capture header"
        return
    end

    local dir, source = tvb(1, 1):uint(), tvb(2, 1):uint()
    local flags, id = tvb(3, 1):uint(), tvb(4, 4):uint()
    local ditem = ph:add(F.dir, tvb(1, 1))
    local sitem = ph:add(F.source, tvb(2, 1))
    local fitem = ph:add(F.flags, tvb(3, 1))
    fitem:add(F.f_local, tvb(3, 1))
    fitem:add(F.f_internal, tvb(3, 1))
    fitem:add(F.f_reserved, tvb(3, 1))
    local who
    if source == 1 then
        ph:add(F.domid, tvb(4, 4)); who = "dom" .. id
    elseif source == 2 then
        ph:add(F.conn, tvb(4, 4)); who = "conn" .. id
    else
        ph:add(F.peer, tvb(4, 4)); who = "src" .. source .. "/" .. id
        sitem:add_proto_expert_info(E.bad_header, "Unknown source " .. source)
    end
    if dir > 1 then ditem:add_proto_expert_info(E.bad_header, "Unknown direction " .. dir) end
    ph:add(F.guest_tx, tvb(8, 4))
    ph:add(F.backend_tx, tvb(12, 4))
    local arrow = dir == 0 and "→" or (dir == 1 and "←" or "?")
    -- the Source and Destination columns: the guest or client, and xenstored
    if dir == 0 then
        pinfo.cols.src, pinfo.cols.dst = who, "xenstored"
    elseif dir == 1 then
        pinfo.cols.src, pinfo.cols.dst = "xenstored", who
    end
    ph:append_text(": " .. who .. " " .. (dir == 0 and "to xenstored"
                   or dir == 1 and "from xenstored" or "direction " .. dir))

    local tags = ""
    if flags % 2 == 1 then tags = tags .. " [xsproxy]" end          -- answered locally
    if math.floor(flags / 2) % 2 == 1 then tags = tags .. " [internal]" end

    -- message header
    if caplen < PSEUDO_LEN + HDR_LEN then
        local have = caplen - PSEUDO_LEN
        if have > 0 then root:add(F.payload, tvb(PSEUDO_LEN, have)) end
        root:add_proto_expert_info(E.truncated, "truncated: message header has "
                                   .. have .. " of 16 bytes")
        pinfo.cols.info = who .. " " .. arrow .. " (truncated header)" .. tags
        return
    end
    local mtype  = tvb(16, 4):le_uint()
    local req_id = tvb(20, 4):le_uint()
    local tx_id  = tvb(24, 4):le_uint()
    local mlen   = tvb(28, 4):le_uint()
    local name = type_name(mtype)
    root:add_le(F.type, tvb(16, 4))
    root:add_le(F.req_id, tvb(20, 4))
    root:add_le(F.tx_id, tvb(24, 4))
    local litem = root:add_le(F.len, tvb(28, 4))

    local off = PSEUDO_LEN + HDR_LEN
    local have = caplen - off
    local avail = math.min(mlen, have)
    local truncated = have < mlen
    if mlen > PAYLOAD_MAX then
        -- xsproxy records an over-long message's header alone
        litem:add_proto_expert_info(E.too_long, "Payload length " .. mlen
                                    .. " is over 4096; its bytes are not recorded")
    elseif truncated then
        litem:add_proto_expert_info(E.truncated, "truncated: " .. have .. " of "
                                    .. mlen .. " payload bytes in the record")
    end
    if have > mlen then
        local t = root:add(tvb(off + mlen, have - mlen), "Bytes after the message")
        t:add_proto_expert_info(E.trailing)
    end

    -- pairing
    local key = source .. ":" .. id .. ":" .. req_id
    if not pinfo.visited then pair(pinfo, key, dir, mtype) end
    local n = pinfo.number
    if st.response_in[n] then
        root:add(F.response_in, st.response_in[n]):set_generated()
    end
    if st.response_to[n] then
        root:add(F.response_to, st.response_to[n]):set_generated()
        root:add(F.time, nstime_of(st.delta[n])):set_generated()
    end
    if st.orphan[n] then root:add_proto_expert_info(E.no_request) end

    -- payload
    local lay = ANY_DIR[mtype]
    if not lay then
        if dir == 1 then lay = REPLY[mtype] or REPLY_TEXT
        else lay = REQUEST[mtype] end
    end
    local parts = split(tvb, off, avail)
    local texts, used, raw_tail = {}, 1, false
    if lay == nil then
        -- unknown type: show the bytes as they are
        if avail > 0 then root:add(F.payload, tvb(off, avail)) end
        used = #parts + 1
    elseif type(lay) == "string" then
        texts, used, raw_tail = special[lay](root, tvb, parts, off, avail)
    else
        texts, used = apply(root, tvb, parts, lay)
    end
    -- leftover parts: ignore stray empty ones, show anything else as bytes
    local extra = false
    for i = used, #parts do
        if parts[i].len > 0 then extra = true end
    end
    if extra then
        local from = parts[used].off
        root:add(F.payload, tvb(from, off + avail - from))
            :add_proto_expert_info(E.extra)
    end
    -- a request's arguments are NUL-terminated (WRITE's value is not)
    if dir == 0 and not truncated and not raw_tail and lay ~= nil
       and #parts > 0 and not parts[#parts].term then
        root:add_proto_expert_info(E.no_nul)
    end

    -- Info column: "dom5 → WRITE req 7 tx 0 data/x = 1"
    local info = who .. " " .. arrow .. " " .. name
    if mtype ~= T.WATCH_EVENT then
        info = info .. " req " .. req_id
        if dir == 0 then info = info .. " tx " .. tx_id end
    end
    local b = {}
    for i, t in ipairs(texts) do b[i] = brief(t) end
    if dir == 0 and mtype == T.WRITE and #b == 2 then
        info = info .. " " .. b[1] .. " = " .. b[2]
    elseif #b > 0 then
        local s = table.concat(b, " ")
        info = info .. " " .. brief(s, 100)
    end
    if mlen > PAYLOAD_MAX then
        info = info .. " (len " .. mlen .. ", not recorded)"
    elseif truncated then
        info = info .. " (truncated)"
    end
    pinfo.cols.info = info .. tags
    root:append_text(", " .. who .. " " .. arrow .. " " .. name
                     .. (mtype ~= T.WATCH_EVENT and (" req " .. req_id) or ""))
end

-- Register for LINKTYPE_USER0 (wtap encapsulation USER0, 45 in 4.0).
local encaps = wtap_encaps or wtap
DissectorTable.get("wtap_encap"):add(encaps.USER0, xs)
