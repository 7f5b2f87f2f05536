// test_proxy_relay_step.cc - unit tests of one pass of the relay
// (proxy/relay_step.c), the code domain.c runs for every domain: a guest's
// ring page and a shadow page in memory, the guest's and xenstored's sides
// written and read by the test.  No daemon, no sim.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "msg.h"
#include "relay_step.h"
#include "ring.h"
#include "shadow.h"
}

namespace {

std::string str0(const std::string &s)
{
    return s + std::string(1, '\0');
}

// A message as its bytes on a ring.
std::string wire(uint32_t type, uint32_t req_id, uint32_t tx_id, const std::string &body)
{
    auto m = std::make_unique<msg>();
    msg_build(m.get(), type, req_id, tx_id, body.data(), static_cast<uint32_t>(body.size()));
    return std::string(reinterpret_cast<const char *>(m->bytes), msg_wire_len(m.get()));
}

// Write BYTES to a direction of a ring as its producer: how many went.
size_t put(ring_dir d, const std::string &bytes)
{
    int n = ring_write(d, bytes.data(), static_cast<uint32_t>(bytes.size()));
    return n < 0 ? 0 : static_cast<size_t>(n);
}

// Everything readable, as the consumer.
std::string take(ring_dir d)
{
    std::string out(XENSTORE_RING_SIZE, '\0');
    int n = ring_read(d, out.data(), XENSTORE_RING_SIZE);
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
}

// A domain's relay between two pages, its indexes published at once (as
// domain.c does after each pass), and what the pass told.
struct RelayStep : ::testing::Test {
    xenstore_domain_interface guest{}, page{};   // the guest's and the shadow
    std::unique_ptr<relay> r = std::make_unique<relay>();
    shadow sh;
    relay_env env{};
    std::vector<relay_note_kind> notes;
    std::vector<shadow_reply> hows;   // of the notes from xenstored's side
    bool gate_open = true;
    unsigned asks = 0, idles = 0;

    RelayStep()
    {
        shadow_init(&sh);
        r->next_internal_id = 0x80000000u;
        env.max_outstanding = 16;
        env.backend_up = true;
        env.ctx = this;
        env.may_start = [](void *ctx, bool) {
            auto *t = static_cast<RelayStep *>(ctx);
            t->asks++;
            return t->gate_open;
        };
        env.idle = [](void *ctx) { static_cast<RelayStep *>(ctx)->idles++; };
        env.note = [](void *ctx, const relay_note *n) {
            auto *t = static_cast<RelayStep *>(ctx);
            t->notes.push_back(n->kind);
            if (n->kind == RELAY_NOTE_RECEIVED || n->kind == RELAY_NOTE_STREAM)
                t->hows.push_back(n->how);
        };
    }
    ~RelayStep() override
    {
        shadow_clear(&sh);
        bq_free(&r->to_guest);
        bq_free(&r->inject);
    }

    relay_result step()
    {
        relay_rings rings = { ring_req(&guest), ring_rsp(&guest), ring_req(&page),
                              ring_rsp(&page) };
        return relay_step(r.get(), &sh, &rings, &env);
    }
    // The guest's side and xenstored's side of the two rings.
    size_t guest_sends(const std::string &bytes) { return put(ring_req(&guest), bytes); }
    std::string guest_reads() { return take(ring_rsp(&guest)); }
    size_t xenstored_sends(const std::string &bytes) { return put(ring_rsp(&page), bytes); }
    std::string xenstored_reads() { return take(ring_req(&page)); }
};

TEST_F(RelayStep, ARequestGoesToTheShadowRingAndItsReplyComesBack)
{
    std::string req = wire(XS_READ, 7, 0, str0("/a"));
    ASSERT_EQ(req.size(), guest_sends(req));
    relay_result res = step();
    EXPECT_TRUE(res.moved && res.notify_shadow && res.journal);
    EXPECT_FALSE(res.notify_guest);   // its ring was never full
    EXPECT_EQ(guest.req_prod, guest.req_cons);
    EXPECT_EQ(req, xenstored_reads());
    EXPECT_EQ(1u, shadow_inflight(&sh));
    EXPECT_EQ(1u, asks);   // the fair share was asked once, for the new request

    std::string reply = wire(XS_READ, 7, 0, "value");
    ASSERT_EQ(reply.size(), xenstored_sends(reply));
    res = step();
    EXPECT_TRUE(res.moved && res.notify_guest);
    EXPECT_EQ(reply, guest_reads());
    EXPECT_EQ(0u, shadow_inflight(&sh));
    EXPECT_EQ(0u, page.rsp_cons);   // not yet: the guest had not read it
    res = step();
    EXPECT_EQ(page.rsp_prod, page.rsp_cons);   // xenstored sees it taken now
    EXPECT_TRUE(res.notify_shadow);
    EXPECT_EQ((std::vector<relay_note_kind>{ RELAY_NOTE_SENT, RELAY_NOTE_RECEIVED }), notes);
    EXPECT_EQ(std::vector<shadow_reply>{ SHADOW_REPLY }, hows);
}

TEST_F(RelayStep, AQuiescedDomainsRequestStaysOnTheGuestRing)
{
    r->quiesce = true;
    std::string req = wire(XS_WRITE, 3, 0, str0("/a") + "b");
    ASSERT_EQ(req.size(), guest_sends(req));
    relay_result res = step();
    EXPECT_FALSE(res.moved || res.notify_shadow || res.notify_guest);
    EXPECT_EQ(0u, guest.req_cons);
    EXPECT_EQ(0u, page.req_prod);
    EXPECT_EQ(0u, shadow_inflight(&sh));
    EXPECT_EQ(0u, asks);
    EXPECT_GT(idles, 0u);   // the fair share hears it takes nothing
    EXPECT_TRUE(notes.empty());

    r->quiesce = false;   // RESUME
    res = step();
    EXPECT_TRUE(res.notify_shadow);
    EXPECT_EQ(req, xenstored_reads());
}

TEST_F(RelayStep, ARequestTheFairShareHoldsBackStaysOnTheGuestRing)
{
    gate_open = false;
    std::string req = wire(XS_READ, 1, 0, str0("/a"));
    ASSERT_EQ(req.size(), guest_sends(req));
    EXPECT_FALSE(step().moved);
    EXPECT_EQ(0u, guest.req_cons);
    EXPECT_GT(asks, 0u);
    gate_open = true;   // its turn
    EXPECT_TRUE(step().notify_shadow);
    EXPECT_EQ(req, xenstored_reads());
}

TEST_F(RelayStep, AReplyWithNoRequestInFlightGoesToTheGuestAsItIs)
{
    std::string reply = wire(XS_READ, 42, 5, "stray");
    ASSERT_EQ(reply.size(), xenstored_sends(reply));
    relay_result res = step();
    EXPECT_TRUE(res.notify_guest);
    EXPECT_EQ(reply, guest_reads());
    EXPECT_EQ(std::vector<shadow_reply>{ SHADOW_UNEXPECTED }, hows);
    EXPECT_EQ(1u, sh.unexpected);
}

TEST_F(RelayStep, AReplyWithAnotherRequestsIdAnswersTheOldestInFlight)
{
    ASSERT_GT(guest_sends(wire(XS_READ, 7, 0, str0("/a"))), 0u);
    step();
    xenstored_reads();
    // xenstored answers a connection in order: whatever the id, it is the
    // answer to request 7, counted as out of order
    std::string reply = wire(XS_READ, 42, 0, "value");
    ASSERT_EQ(reply.size(), xenstored_sends(reply));
    step();
    EXPECT_EQ(reply, guest_reads());
    EXPECT_EQ(std::vector<shadow_reply>{ SHADOW_REPLY }, hows);
    EXPECT_EQ(0u, shadow_inflight(&sh));
    EXPECT_EQ(1u, sh.unexpected);
}

TEST_F(RelayStep, WhileTheShadowRingIsFullTheRequestWaitsInTheRelay)
{
    page.req_prod = XENSTORE_RING_SIZE;   // xenstored has a ring's worth to read
    std::string first = wire(XS_READ, 1, 0, str0("/first"));
    std::string second = wire(XS_READ, 2, 0, str0("/second"));
    ASSERT_EQ(first.size() + second.size(), guest_sends(first + second));
    relay_result res = step();
    // the first is taken, whole, and waits for room; the second stays on
    // the guest's ring behind it
    EXPECT_TRUE(res.moved);
    EXPECT_FALSE(res.notify_shadow);
    EXPECT_TRUE(r->in_queued);
    EXPECT_EQ(first.size(), guest.req_cons);
    EXPECT_EQ(XENSTORE_RING_SIZE, page.req_prod);

    page.req_cons = XENSTORE_RING_SIZE;   // xenstored read it all
    res = step();
    EXPECT_TRUE(res.notify_shadow);
    EXPECT_EQ(first + second, xenstored_reads());   // in order, each once
    EXPECT_EQ(guest.req_prod, guest.req_cons);
    EXPECT_EQ(2u, shadow_inflight(&sh));
}

TEST_F(RelayStep, WhileTheGuestsResponseRingIsFullTheReplyWaitsOnTheShadowRing)
{
    ASSERT_GT(guest_sends(wire(XS_READ, 7, 0, str0("/a"))), 0u);
    step();
    xenstored_reads();
    guest.rsp_prod = XENSTORE_RING_SIZE;   // a ring's worth the guest has not read
    std::string reply = wire(XS_READ, 7, 0, "value");
    ASSERT_EQ(reply.size(), xenstored_sends(reply));
    relay_result res = step();
    EXPECT_FALSE(res.moved || res.notify_guest);
    EXPECT_EQ(0u, r->out_rd);   // not even read: no faster than the guest takes
    EXPECT_EQ(0u, page.rsp_cons);
    EXPECT_EQ(1u, shadow_inflight(&sh));

    guest.rsp_cons = XENSTORE_RING_SIZE;   // the guest read it all
    res = step();
    EXPECT_TRUE(res.notify_guest);
    EXPECT_EQ(reply, guest_reads());
    EXPECT_EQ(0u, shadow_inflight(&sh));
}

} // namespace
