// test_xensim.cc - the simulated Xen below Xen's own libraries.
//  - Debian's libxenevtchn, libxengnttab, libxenctrl and libxenforeignmemory,
//    driven directly (tests/xensim_probe.c), get what Xen and Linux give,
//    failures included: a grant the domain never made, a stale gntdev
//    offset, a mapping replaced under gntdev, a domctl of another interface
//    version, a hypercall the sim does not model.
//  - Each daemon and xsproxy run on those libraries for real: every event
//    channel, grant and hypercall call of theirs reaches the simulated
//    devices through the library it belongs to (libxsshim.so above them in
//    xenstored), none any other way, and the simulator defines none of the
//    libraries' functions.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <xen/xen.h>   // VIRQ_DOM_EXC

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "busy_guest.h"
#include "sim_host.h"
#include "workload.h"

namespace xstest {
namespace {

std::vector<std::string> lines_of(const std::string &text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

TEST(XenSim, DebiansLibrariesGetWhatXenGives)
{
    TempDir tmp("xensim");
    const std::string dir = tmp.sub("sim");
    struct xssim *sim = xssim_create(dir.c_str());
    ASSERT_NE(sim, nullptr) << strerror(errno);
    ASSERT_EQ(xssim_domain_create(sim, 7), 0);
    struct xssim_dominfo di;
    ASSERT_EQ(xssim_domain_info(sim, 7, &di), 0);
    RunResult r = run_program({ self_dir() + "/xensim_probe", "7", std::to_string(di.store_port) },
                              { "XSSIM_DIR=" + dir, std::string("LD_PRELOAD=") + xssim_lib_path() },
                              20000);
    xssim_detach(sim);
    ASSERT_TRUE(r.ok()) << r.err;
    const std::vector<std::string> want = {
        "xc open: 0",
        "xc getinfo: 1 domid 7 running",
        "xc getinfo above the last: -1 No such process",
        "xc getinfolist: 2",
        "xc evtchn status: 0",
        "xc evtchn status: unbound remote 0",
        "xc evtchn alloc unbound: 0",
        "xc map foreign ring: 0",
        "xc map foreign other gfn: -1 Invalid argument",
        "privcmd domctl of another version: -1 Permission denied",
        "privcmd unmodelled hypercall: -1 Function not implemented",
        "evtchn open: 0",
        "evtchn bind guest: 0",
        "evtchn bound port pending: yes",
        "evtchn bind guest twice: -1 Invalid argument",
        "evtchn loopback: 0",
        "evtchn notify: 0",
        "evtchn pending is the loopback's: yes",
        "evtchn unmask: 0",
        "evtchn pending none: -1 Resource temporarily unavailable",
        "evtchn unbind: 0",
        "evtchn notify unbound: -1 Transport endpoint is not connected",
        "evtchn rebind: 0",
        "evtchn bind virq: 0",
        "gnttab open: 0",
        "gnttab set max: 0",
        "gnttab map ref 1: 0",
        "gnttab map ref 7: -1 Invalid argument",
        "gnttab map no domain: -1 Invalid argument",
        "gnttab same page: yes",
        "gnttab unmap: 0",
        "gnttab unmap again: -1 Invalid argument",
        "gntdev map ioctl: 0",
        "gntdev mmap: 0",
        "gntdev offset after MAP_FIXED over it: -1 Invalid argument",
        "gntdev mmap again at the same address: 0",
        "gntdev unmap ioctl: 0",
        "gntdev mmap a stale offset: -1 Invalid argument",
        "gntdev unknown ioctl: -1 Inappropriate ioctl for device",
        "proc capabilities: control_d",
        "proc xsd_port: a port",
        "proc xsd_kva mmap: 0",
    };
    EXPECT_EQ(lines_of(r.out), want) << r.out;
    // what the sim does not model it says, rather than hiding the gap
    EXPECT_NE(r.err.find("hypercall 0x11 is not modelled by the simulated Xen"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("gntdev ioctl"), std::string::npos) << r.err;
}

// The simulator defines none of Xen's library functions: the libraries
// above it are Debian's own.
TEST(XenSim, DefinesNoneOfTheXenLibrariesFunctions)
{
    RunResult n = run_program({ "nm", "-D", "--defined-only", xssim_lib_path() });
    ASSERT_TRUE(n.ok()) << n.err;
    for (const std::string &l : lines_of(n.out)) {
        const std::string name = l.substr(l.rfind(' ') + 1);
        EXPECT_FALSE(name.rfind("xenevtchn_", 0) == 0 || name.rfind("xengnttab_", 0) == 0 ||
                     name.rfind("xc_", 0) == 0 || name.rfind("xenforeignmemory_", 0) == 0 ||
                     name.rfind("xencall", 0) == 0)
            << "libxensim.so defines " << name;
    }
}

// Where a process has the library SONAME mapped from ("": nowhere); the
// file may carry a minor version (libxenevtchn.so.1.2).
std::string mapped(pid_t pid, const std::string &soname)
{
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    for (std::string l; std::getline(maps, l);) {
        size_t slash = l.find('/');
        if (slash != std::string::npos && l.find("/" + soname, slash) != std::string::npos)
            return l.substr(slash);
    }
    return "";
}

uint64_t sum(const xssim_calls &c, enum xssim_call call)
{
    uint64_t n = 0;
    for (unsigned w = 0; w < XSSIM_NR_CALLERS; w++)
        n += c.n[call][w];
    return n;
}

std::string describe(const xssim_calls &c)
{
    std::string out;
    for (unsigned k = 0; k < XSSIM_NR_CALLS; k++)
        for (unsigned w = 0; w < XSSIM_NR_CALLERS; w++)
            if (c.n[k][w])
                out += std::string(xssim_call_name((enum xssim_call)k)) + " by " +
                       xssim_caller_name((enum xssim_caller)w) + ": " +
                       std::to_string(c.n[k][w]) + "\n";
    return out;
}

class Layering : public ::testing::TestWithParam<xssim_daemon> {};

// A guest through xsproxy (its watch fired), a domain inserted live and
// handed back, one created and destroyed: then what each process did on
// the simulated devices, and who did it.
TEST_P(Layering, EveryCallComesThroughXensOwnLibraries)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(5));   // through xsproxy
    ASSERT_TRUE(store.host().create_domain(6));   // served by the daemon directly
    auto g5 = store.guest(5), g6 = store.guest(6);
    ASSERT_TRUE(g5 && g6);
    std::string why;
    WireMsg r;
    ASSERT_TRUE(strict(*g5, XS_WATCH, 0, nul_join({ "data/x", "t" }), &r, &why)) << why;
    ASSERT_TRUE(strict(*g5, XS_WRITE, 0, wr("data/x", "1"), &r, &why)) << why;
    ASSERT_TRUE(strict(*g6, XS_WRITE, 0, wr("data/y", "1"), &r, &why)) << why;
    RunResult ins = store.xsproxyctl({ "insert", "6" });
    ASSERT_TRUE(ins.ok()) << ins.err << store.proxy_log();
    ASSERT_TRUE(strict(*g6, XS_READ, 0, nul_join({ "data/y" }), &r, &why)) << why;
    RunResult rm = store.xsproxyctl({ "remove", "6" });
    ASSERT_TRUE(rm.ok()) << rm.err << store.proxy_log();
    ASSERT_TRUE(strict(*g6, XS_READ, 0, nul_join({ "data/y" }), &r, &why)) << why;
    ASSERT_TRUE(store.create_domain(7));
    ASSERT_TRUE(store.destroy_domain(7));

    struct xssim *sim = store.sim();
    ASSERT_NE(sim, nullptr);
    const pid_t daemon = store.host().daemon_pid(), proxy = store.proxy_pid();
    for (pid_t pid : { daemon, proxy }) {
        const bool is_daemon = pid == daemon;
        SCOPED_TRACE(is_daemon ? store.host().daemon_name() : "xsproxy");
        // Debian's own libraries are what it runs on
        for (const char *lib : { "libxenevtchn.so.1", "libxengnttab.so.1",
                                 "libxenctrl.so.4.17" }) {
            const std::string path = mapped(pid, lib);
            EXPECT_NE(path.find("/usr/lib/"), std::string::npos) << lib << " not mapped";
        }
        EXPECT_EQ(mapped(pid, "libxsshim.so").empty(), !is_daemon) << "the shim is xenstored's";
        xssim_calls c;
        ASSERT_EQ(xssim_calls_of(sim, pid, &c), 0) << strerror(errno);
        // what it did reached the devices: channels bound and notified,
        // pending ports read, rings mapped, domains looked up
        for (enum xssim_call k : { XSSIM_EVTCHN_OPEN, XSSIM_EVTCHN_BIND_INTERDOMAIN,
                                   XSSIM_EVTCHN_BIND_VIRQ, XSSIM_EVTCHN_NOTIFY,
                                   XSSIM_EVTCHN_READ })
            EXPECT_GT(c.n[k][XSSIM_BY_XEN_LIB], 0u) << xssim_call_name(k) << "\n" << describe(c);
        // domain lookups: a domctl each (C xenstored, xsproxy), or the list
        EXPECT_GT(c.n[XSSIM_PRIVCMD_DOMCTL][XSSIM_BY_XEN_LIB] +
                      c.n[XSSIM_PRIVCMD_SYSCTL][XSSIM_BY_XEN_LIB],
                  0u)
            << describe(c);
        // each daemon maps a guest's ring its own way: C xenstored by grant,
        // oxenstored by the ring's gfn; xsproxy by grant
        const bool by_gfn = is_daemon && GetParam() == XSSIM_OXENSTORED;
        EXPECT_GT(c.n[by_gfn ? XSSIM_PRIVCMD_MMAPBATCH : XSSIM_GNTDEV_MAP][XSSIM_BY_XEN_LIB], 0u)
            << describe(c);
        // nothing reached the simulator any other way, nothing unmodelled
        for (unsigned k = 0; k < XSSIM_NR_CALLS; k++)
            EXPECT_EQ(c.n[k][XSSIM_BY_OTHER], 0u) << xssim_call_name((enum xssim_call)k)
                                                  << "\n" << describe(c);
        EXPECT_EQ(sum(c, XSSIM_UNSUPPORTED), 0u) << describe(c);
        // the shim's own device calls: mapping the guest's ring back at
        // the same address on the hand-back, as Xen lets a dom0 process do
        for (unsigned k = 0; k < XSSIM_NR_CALLS; k++) {
            bool switch_back_call = k == XSSIM_GNTDEV_OPEN || k == XSSIM_GNTDEV_MAP ||
                                    k == XSSIM_GNTDEV_MMAP || k == XSSIM_GNTDEV_UNMAP ||
                                    k == XSSIM_PRIVCMD_OPEN || k == XSSIM_PRIVCMD_MMAP ||
                                    k == XSSIM_PRIVCMD_MMAPBATCH;
            if (!is_daemon || !switch_back_call) {
                EXPECT_EQ(c.n[k][XSSIM_BY_SHIM], 0u) << xssim_call_name((enum xssim_call)k)
                                                     << "\n" << describe(c);
            }
        }
        if (is_daemon) {
            EXPECT_GT(c.n[by_gfn ? XSSIM_PRIVCMD_MMAPBATCH : XSSIM_GNTDEV_MAP][XSSIM_BY_SHIM],
                      0u)
                << describe(c);
        }
    }
}

// Xen's own lsevtchn (xen-utils), a client nobody here wrote, asks the
// hypervisor for every port's status: on the sim it sees what xsproxy and
// the daemon bound.  Domain 5's store port is connected to xsproxy's end
// in dom0, which names it back; the daemon's VIRQ_DOM_EXC is a virq port.
TEST_P(Layering, XensLsevtchnSeesTheChannelsXsproxyBound)
{
    Store store(GetParam(), true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(5));
    struct xssim_dominfo di;
    ASSERT_EQ(xssim_domain_info(store.sim(), 5, &di), 0);
    auto lsevtchn = [&](const char *dom) {
        return run_program({ "/usr/lib/xen-4.17/bin/lsevtchn", dom },
                           { "XSSIM_DIR=" + store.dir(),
                             std::string("LD_PRELOAD=") + xssim_lib_path() },
                           20000);
    };
    RunResult guest = lsevtchn("5"), dom0 = lsevtchn("0");
    ASSERT_TRUE(guest.ok() && dom0.ok()) << guest.err << dom0.err;
    const std::string prefix = std::to_string(di.store_port) +
                               ": VCPU 0: Interdomain (Connected) - Remote Domain 0, Port ";
    size_t at = guest.out.find(prefix);
    ASSERT_NE(at, std::string::npos) << guest.out;
    const unsigned proxy_port = (unsigned)std::stoul(guest.out.substr(at + prefix.size()));
    EXPECT_NE(dom0.out.find(std::to_string(proxy_port) +
                            ": VCPU 0: Interdomain (Connected) - Remote Domain 5, Port " +
                            std::to_string(di.store_port) + "\n"),
              std::string::npos)
        << dom0.out;
    EXPECT_NE(dom0.out.find(": VCPU 0: Virtual IRQ " + std::to_string(VIRQ_DOM_EXC) + "\n"),
              std::string::npos)
        << dom0.out;
    EXPECT_EQ(guest.err + dom0.err, "");   // nothing it asked is unmodelled
}

INSTANTIATE_TEST_SUITE_P(Daemons, Layering, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
