// busy_guest.cc - see busy_guest.h.
#include "busy_guest.h"

namespace xstest {

std::string wr(const std::string &path, const std::string &value)
{
    return path + std::string(1, '\0') + value;
}

bool strict(XsConn &c, uint32_t type, uint32_t tx, const std::string &body, WireMsg *reply,
            std::string *why, std::atomic<int> *events)
{
    WireMsg m;
    m.type = type;
    m.req_id = c.next_req_id++;
    m.tx_id = tx;
    m.body = body;
    if (!c.send(m)) {
        *why = "send: " + c.error();
        return false;
    }
    for (;;) {
        int r = c.recv(reply, 10000);
        if (r <= 0) {
            *why = type_name(type) + " " + escape(body) + ": no reply (" + c.error() + ")";
            return false;
        }
        if (reply->type == XS_WATCH_EVENT) {
            if (events)
                (*events)++;
            continue;
        }
        if (reply->req_id != m.req_id) {
            *why = "reply " + std::to_string(reply->req_id) + " to request " +
                   std::to_string(m.req_id) + " (" + type_name(reply->type) + " " +
                   escape(reply->body) + ")";
            return false;
        }
        return true;
    }
}

void busy_guest(Store &store, unsigned domid, Worker *w, const std::atomic<bool> &stop,
                int max_rounds)
{
    auto g = store.guest(domid);
    if (!g) {
        w->problem = "no ring";
        return;
    }
    WireMsg r;
    auto ask = [&](uint32_t type, uint32_t tx, const std::string &body) {
        if (!strict(*g, type, tx, body, &r, &w->problem, &w->events))
            return false;
        w->log.push_back(type_name(r.type) + " " +
                         (type == XS_TRANSACTION_START && r.type != XS_ERROR ? "T"
                                                                              : escape(r.body)));
        return true;
    };
    if (!ask(XS_WATCH, 0, nul_join({ "data/seq", "w" })))
        return;
    int i = 0;
    for (; !stop && i != max_rounds && w->problem.empty(); i++) {
        const std::string v = std::to_string(i);
        if (!ask(XS_WRITE, 0, wr("data/seq", v)) || !ask(XS_READ, 0, nul_join({ "data/seq" })))
            return;
        w->rounds_done = i + 1;
        if (i % 5 == 0) {
            if (!ask(XS_TRANSACTION_START, 0, std::string(1, '\0')))
                return;
            uint32_t tx = (uint32_t)std::stoul(r.body);
            if (!ask(XS_WRITE, tx, wr("data/t", v)) || !ask(XS_READ, tx, nul_join({ "data/t" })) ||
                !ask(XS_TRANSACTION_END, tx, nul_join({ "T" })))
                return;
            w->txs++;
        }
    }
    w->rounds = i;
    // a last request: the events of every write came before its reply
    if (w->problem.empty() &&
        strict(*g, XS_READ, 0, nul_join({ "data/seq" }), &r, &w->problem, &w->events))
        w->writes = i;
}

}  // namespace xstest
