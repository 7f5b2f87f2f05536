// test_deploy.cc - the installation (deploy/): the Debian package cpack
// builds from this build tree (its files, control fields, conffiles), the
// systemd units in it (systemd-analyze verify on the unpacked package), and
// xsproxy-launch bringing up a daemon and xsproxy on a sim, serving a guest,
// and stopping everything.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim_host.h"

using namespace xstest;

namespace {

const std::string kBuild = XSP_BINARY_DIR;

bool contains(const std::string &hay, const std::string &needle)
{
    return hay.find(needle) != std::string::npos;
}

std::string trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

std::string describe(const RunResult &r)
{
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") +
           "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// deploy/CMakeLists.txt writes where everything is installed
std::map<std::string, std::string> layout()
{
    std::map<std::string, std::string> m;
    std::ifstream f(kBuild + "/deploy/layout.txt");
    std::string line;
    while (std::getline(f, line)) {
        size_t eq = line.find('=');
        if (eq != std::string::npos)
            m[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return m;
}

// "/usr/sbin" -> "./usr/sbin", as dpkg-deb -c names files
std::string in_deb(const std::string &abs)
{
    return "." + abs;
}

// The package, built by cpack from this build tree into a scratch dir.
class DeployPackage : public ::testing::Test {
protected:
    void SetUp() override
    {
        lay_ = layout();
        ASSERT_FALSE(lay_["version"].empty()) << "no " << kBuild << "/deploy/layout.txt";
        RunResult arch = run_program({ "dpkg", "--print-architecture" });
        ASSERT_TRUE(arch.ok()) << describe(arch);
        deb_ = tmp_.sub("xsproxy_" + lay_["version"] + "_" + trim(arch.out) + ".deb");
        sim_deb_ = tmp_.sub("xsproxy-sim_" + lay_["version"] + "_" + trim(arch.out) + ".deb");
        RunResult r = run_program({ XSP_CPACK, "-G", "DEB", "--config",
                                    kBuild + "/CPackConfig.cmake", "-B", tmp_.path() },
                                  {}, 60000);
        ASSERT_TRUE(r.ok()) << describe(r);
        ASSERT_TRUE(path_exists(deb_)) << deb_ << " missing; cpack said:\n" << r.out;
        ASSERT_TRUE(path_exists(sim_deb_)) << sim_deb_ << " missing; cpack said:\n" << r.out;
    }

    // unpack the package into DIR
    void unpack(const std::string &dir)
    {
        RunResult r = run_program({ "dpkg-deb", "-x", deb_, dir });
        ASSERT_TRUE(r.ok()) << describe(r);
    }

    TempDir tmp_{ "xsdeploy" };
    std::map<std::string, std::string> lay_;
    std::string deb_, sim_deb_;
};

// path -> mode column of each entry of a package
std::map<std::string, std::string> deb_files(const std::string &deb, std::string *listing)
{
    RunResult c = run_program({ "dpkg-deb", "-c", deb });
    EXPECT_TRUE(c.ok()) << describe(c);
    std::map<std::string, std::string> files;
    std::istringstream lines(c.out);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream w(line);
        std::string mode, owner, size, date, time, path;
        w >> mode >> owner >> size >> date >> time >> path;
        files[path] = mode;
    }
    *listing = c.out;
    return files;
}

TEST_F(DeployPackage, HoldsEveryFileWhereItBelongs)
{
    std::string listing;
    std::map<std::string, std::string> files = deb_files(deb_, &listing);
    auto expect_file = [&](const std::string &abs, bool exec) {
        auto it = files.find(in_deb(abs));
        if (it == files.end()) {
            ADD_FAILURE() << abs << " is not in the package:\n" << listing;
            return;
        }
        EXPECT_EQ(it->second, exec ? "-rwxr-xr-x" : "-rw-r--r--") << abs;
    };
    for (const char *p : { "xsproxy", "xsproxyctl", "xsproxy-launch" })
        expect_file(lay_["sbindir"] + "/" + p, true);
    expect_file(lay_["bindir"] + "/xsrecords", true);
    expect_file(lay_["shimdir"] + "/libxsshim.so", false);
    // the simulated Xen is not in it
    for (const auto &f : files)
        EXPECT_FALSE(contains(f.first, "xssim") || contains(f.first, "xensim")) << f.first;
    expect_file(lay_["unitdir"] + "/xsproxy.service", false);
    expect_file(lay_["unitdir"] + "/xsproxy-xenstored.service", false);
    expect_file(lay_["dropindir"] + "/xsproxy.conf", false);
    expect_file(lay_["conf"], false);
    for (const char *m : { "man8/xsproxy.8.gz", "man8/xsproxyctl.8.gz",
                           "man8/xsproxy-launch.8.gz", "man1/xsrecords.1.gz" })
        expect_file(lay_["mandir"] + "/" + m, false);
    if (path_exists(lay_["dissector_source"]))
        expect_file(lay_["plugindir"] + "/xenstore.lua", false);

    // the conf is a conffile, and the only one
    RunResult e = run_program({ "dpkg-deb", "-e", deb_, tmp_.sub("control") });
    ASSERT_TRUE(e.ok()) << describe(e);
    EXPECT_EQ(read_text(tmp_.sub("control/conffiles")), lay_["conf"] + "\n");

    // what the installed programs look for is where the package puts it
    unpack(tmp_.sub("root"));
    std::string root = tmp_.sub("root");
    std::string launcher = read_text(root + lay_["sbindir"] + "/xsproxy-launch");
    EXPECT_TRUE(contains(launcher, "CONF_DEFAULT=\"" + lay_["conf"] + "\"")) << launcher;
    EXPECT_TRUE(contains(launcher, "SHIM_DEFAULT=\"" + lay_["shimdir"] + "/libxsshim.so\""));
    std::string conf = read_text(root + lay_["conf"]);
    EXPECT_TRUE(contains(conf, "#XSPROXY_SHIM=" + lay_["shimdir"] + "/libxsshim.so"));
    for (const char *unit : { "xsproxy.service", "xsproxy-xenstored.service" }) {
        std::string text = read_text(root + lay_["unitdir"] + "/" + unit);
        EXPECT_TRUE(contains(text, "ExecStart=" + lay_["sbindir"] + "/xsproxy-launch ")) << text;
        EXPECT_FALSE(contains(text, "@")) << unit << " has an unconfigured @VAR@";
    }
    for (const char *m : { "man8/xsproxy.8.gz", "man8/xsproxyctl.8.gz" }) {
        RunResult z = run_program({ "zcat", root + lay_["mandir"] + "/" + m });
        ASSERT_TRUE(z.ok()) << describe(z);
        EXPECT_TRUE(contains(z.out, ".TH ")) << m;
        EXPECT_FALSE(contains(z.out, "@XSPROXY")) << m << " has an unconfigured @VAR@";
    }
}

// The binaries a Xen host runs are the ones under test, with no simulator
// in them: xsproxy links Xen's own libraries, not the shim; neither it nor
// libxsshim.so names the sim's directory variable or has a sim symbol; the
// shim exports its Xen calls and nothing else.
TEST_F(DeployPackage, TheProductHoldsNoSimulator)
{
    unpack(tmp_.sub("root"));
    const std::string root = tmp_.sub("root");
    const std::string xsproxy = root + lay_["sbindir"] + "/xsproxy";
    const std::string shim = root + lay_["shimdir"] + "/libxsshim.so";
    RunResult d = run_program({ "readelf", "-d", xsproxy });
    ASSERT_TRUE(d.ok()) << describe(d);
    for (const char *lib : { "libxenevtchn.so.1", "libxengnttab.so.1", "libxenctrl.so.4.17" })
        EXPECT_TRUE(contains(d.out, "Shared library: [" + std::string(lib) + "]"))
            << "xsproxy's NEEDED lacks " << lib << ":\n" << d.out;
    EXPECT_FALSE(contains(d.out, "xsshim")) << d.out;
    EXPECT_FALSE(contains(d.out, "RUNPATH")) << d.out;
    for (const std::string &bin : { xsproxy, shim }) {
        std::ifstream f(bin, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        ASSERT_FALSE(bytes.empty()) << bin;
        EXPECT_FALSE(contains(bytes, "XSSIM")) << bin << " names the sim's variables";
        EXPECT_FALSE(contains(bytes, "xensim")) << bin;
        for (const char *args : { "-D", "-a" }) {   // dynamic and all symbols
            RunResult n = run_program({ "nm", args, bin });
            std::istringstream syms(n.out);
            std::string line;
            while (std::getline(syms, line)) {
                std::string name = line.substr(line.rfind(' ') + 1);
                EXPECT_FALSE(name.rfind("xssim_", 0) == 0 || name.rfind("sim_", 0) == 0 ||
                             name.rfind("xsg_", 0) == 0)
                    << bin << " has the sim's symbol " << name;
            }
        }
    }
    RunResult exports = run_program({ "nm", "-D", "--defined-only", shim });
    std::istringstream syms(exports.out);
    std::string line;
    std::vector<std::string> defined;
    while (std::getline(syms, line))
        defined.push_back(line.substr(line.rfind(' ') + 1));
    std::vector<std::string> want = { "munmap", "xc_map_foreign_range",
                                      "xenevtchn_bind_interdomain", "xenevtchn_bind_unbound_port",
                                      "xenevtchn_bind_virq", "xenevtchn_close", "xenevtchn_notify",
                                      "xenevtchn_pending", "xenevtchn_unbind", "xenevtchn_unmask",
                                      "xengnttab_map_grant_ref", "xengnttab_unmap" };
    std::sort(defined.begin(), defined.end());
    EXPECT_EQ(defined, want) << "what libxsshim.so stands in front of";
}

// The simulated Xen is a package of its own, for trying xsproxy without
// Xen: the preloaded library, xssim and its manual, on top of xsproxy.
TEST_F(DeployPackage, TheSimulatorIsAPackageOfItsOwn)
{
    std::string listing;
    std::map<std::string, std::string> files = deb_files(sim_deb_, &listing);
    for (const std::string &f : { lay_["bindir"] + "/xssim", lay_["simlibdir"] + "/libxensim.so",
                                  lay_["mandir"] + "/man1/xssim.1.gz" })
        EXPECT_TRUE(files.count(in_deb(f))) << f << " is not in the sim's package:\n" << listing;
    RunResult dep = run_program({ "dpkg-deb", "-f", sim_deb_, "Package", "Depends" });
    EXPECT_TRUE(contains(dep.out, "Package: xsproxy-sim")) << dep.out;
    EXPECT_TRUE(contains(dep.out, "xsproxy (= " + lay_["version"] + ")")) << dep.out;
    const std::string root = tmp_.sub("simroot");
    ASSERT_TRUE(run_program({ "dpkg-deb", "-x", sim_deb_, root }).ok());
    std::ifstream xssim(root + lay_["bindir"] + "/xssim", std::ios::binary);
    std::string bin((std::istreambuf_iterator<char>(xssim)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(contains(bin, lay_["simlibdir"])) << "xssim does not look for libxensim.so in "
                                                  << lay_["simlibdir"];
    EXPECT_TRUE(contains(bin, lay_["shimdir"])) << "xssim does not look for the shim in "
                                                << lay_["shimdir"];
}

TEST_F(DeployPackage, ControlFieldsAndDepends)
{
    auto field = [&](const char *name) {
        RunResult r = run_program({ "dpkg-deb", "-f", deb_, name });
        EXPECT_TRUE(r.ok()) << describe(r);
        return trim(r.out);
    };
    EXPECT_EQ(field("Package"), "xsproxy");
    EXPECT_EQ(field("Version"), lay_["version"]);
    RunResult arch = run_program({ "dpkg", "--print-architecture" });
    EXPECT_EQ(field("Architecture"), trim(arch.out));
    EXPECT_FALSE(field("Description").empty());
    EXPECT_FALSE(field("Maintainer").empty());
    std::string dep = field("Depends");
    // from the binaries (dpkg-shlibdeps: xsproxy links the libraries the
    // shim reaches with dlsym) and the launcher's xenstore-read, each once
    for (const char *p : { "libc6", "libev4", "libpcap0.8", "libxenstore4", "libxenevtchn1",
                           "libxengnttab1", "libxenmisc4.17", "xenstore-utils" }) {
        EXPECT_TRUE(contains(dep, p)) << "Depends lacks " << p << ": " << dep;
        const std::string name = std::string(p) + " ";
        EXPECT_EQ(dep.find(name), dep.rfind(name)) << p << " named twice: " << dep;
    }
    // the package's own library is no dependency
    EXPECT_FALSE(contains(dep, "xsshim")) << dep;
    EXPECT_TRUE(contains(field("Recommends"), "xen-utils-4.17"));
    // every name in Depends is a package this Debian knows
    std::string names = dep;
    for (char &ch : names)
        if (ch == ',' || ch == '|')
            ch = ' ';
    std::istringstream w(names);
    std::string word;
    std::vector<std::string> query = { "dpkg-query", "-W", "-f=${Package}\n" };
    while (w >> word) {
        if (word[0] == '(') {   // skip a version constraint: "(>= 2.34)"
            while (word.back() != ')' && (w >> word))
                ;
            continue;
        }
        query.push_back(word);
    }
    RunResult q = run_program(query);
    EXPECT_TRUE(q.ok()) << "a dependency is not installed here: " << describe(q);
}

// systemd-analyze verify on the unpacked package: with --root it resolves
// ExecStart= and every unit inside the root, and (with MANPATH into the
// root) checks that each Documentation=man: page is there.
class DeployUnits : public DeployPackage {
protected:
    void SetUp() override
    {
        DeployPackage::SetUp();
        if (HasFatalFailure())
            return;
        root_ = tmp_.sub("root");
        unpack(root_);
        // the targets the units name, as the host has them
        std::string sysdir = root_ + "/lib/systemd/system";
        std::filesystem::create_directories(sysdir);
        std::filesystem::create_directories(root_ + "/etc/systemd/system");
        for (const auto &e : std::filesystem::directory_iterator("/lib/systemd/system"))
            if (e.path().extension() == ".target" && !e.is_symlink() && e.is_regular_file())
                std::filesystem::copy_file(e.path(), sysdir + "/" + e.path().filename().string(),
                                           std::filesystem::copy_options::skip_existing);
    }

    RunResult verify(const std::vector<std::string> &units)
    {
        std::vector<std::string> argv = { "systemd-analyze", "verify", "--root=" + root_ };
        argv.insert(argv.end(), units.begin(), units.end());
        return run_program(argv,
                           { "MANPATH=" + root_ + lay_["mandir"], "SYSTEMD_LOG_LEVEL=notice" },
                           60000);
    }

    std::string root_;
};

TEST_F(DeployUnits, VerifyCatchesABrokenUnitHere)
{
    // the check itself works in this sandbox: a unit with a typo fails it
    std::string text = read_text(root_ + lay_["unitdir"] + "/xsproxy-xenstored.service");
    ASSERT_TRUE(contains(text, "[Service]"));
    text.replace(text.find("[Service]"), 9, "[Service]\nExecStrat=/bin/true");
    std::ofstream(root_ + "/etc/systemd/system/xsproxy-broken.service") << text;
    RunResult r = verify({ "xsproxy-broken.service" });
    EXPECT_TRUE(contains(r.out + r.err, "Unknown key")) << describe(r);
    // and so does a missing man page
    std::filesystem::remove(root_ + lay_["mandir"] + "/man8/xsproxy-launch.8.gz");
    r = verify({ "xsproxy-xenstored.service" });
    EXPECT_FALSE(r.ok()) << describe(r);
    EXPECT_TRUE(contains(r.out + r.err, "xsproxy-launch(8)")) << describe(r);
}

TEST_F(DeployUnits, EnabledOnDebianTheyVerifyCleanly)
{
    // Debian 12 has no xenstored.service: enabling xsproxy-xenstored.service
    // makes it xenstored.service (Alias=) and enables xsproxy.service (Also=)
    RunResult en = run_program({ "systemctl", "--root=" + root_, "enable",
                                 "xsproxy-xenstored.service" });
    ASSERT_TRUE(en.ok()) << describe(en);
    std::string etc = root_ + "/etc/systemd/system";
    std::error_code ec;
    EXPECT_EQ(std::filesystem::read_symlink(etc + "/xenstored.service", ec).string(),
              lay_["unitdir"] + "/xsproxy-xenstored.service");
    EXPECT_TRUE(std::filesystem::is_symlink(etc + "/multi-user.target.wants/xsproxy.service", ec));
    EXPECT_TRUE(
        std::filesystem::is_symlink(etc + "/multi-user.target.wants/xsproxy-xenstored.service", ec));
    RunResult r = verify({ "xsproxy.service", "xsproxy-xenstored.service" });
    EXPECT_TRUE(r.ok()) << describe(r);
    EXPECT_EQ(r.out + r.err, "") << "systemd-analyze verify complained";
}

TEST_F(DeployUnits, DropInOnXensOwnXenstoredUnit)
{
    // a host with Xen's own xenstored.service (a stand-in of it here) and
    // the drop-in copied where the package's docs say
    std::string etc = root_ + "/etc/systemd/system";
    std::ofstream(etc + "/xenstored.service")
        << "[Unit]\nDescription=The Xen xenstore (stand-in)\n\n[Service]\nType=notify\n"
           "NotifyAccess=all\nRemainAfterExit=true\nExecStart="
        << lay_["sbindir"] << "/xsproxy-launch daemon\n\n[Install]\nWantedBy=multi-user.target\n";
    std::filesystem::create_directories(etc + "/xenstored.service.d");
    std::filesystem::copy_file(root_ + lay_["dropindir"] + "/xsproxy.conf",
                               etc + "/xenstored.service.d/xsproxy.conf");
    RunResult r = verify({ "xenstored.service", "xsproxy.service" });
    EXPECT_TRUE(r.ok()) << describe(r);
    EXPECT_EQ(r.out + r.err, "") << "systemd-analyze verify complained";
    std::string dropin = read_text(etc + "/xenstored.service.d/xsproxy.conf");
    EXPECT_TRUE(contains(dropin, "Environment=LD_PRELOAD=" + lay_["shimdir"] + "/libxsshim.so"));
    EXPECT_TRUE(contains(dropin, "Environment=XSSHIM_CLAIMS=/run/xsproxy/claims"));
}

// --- the launcher on a sim ---------------------------------------------

// Processes whose environment holds NEEDLE (XSSIM_DIR=<the test's sim>),
// zombies excepted.
std::vector<pid_t> processes_with_env(const std::string &needle)
{
    std::vector<pid_t> out;
    DIR *d = opendir("/proc");
    if (!d)
        return out;
    while (struct dirent *e = readdir(d)) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == getpid())
            continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/environ", std::ios::binary);
        std::string env((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        std::string entry = needle + '\0';
        if ((env.compare(0, entry.size(), entry) == 0 || contains(env, '\0' + entry)) &&
            pid_alive((pid_t)pid))
            out.push_back((pid_t)pid);
    }
    closedir(d);
    return out;
}

pid_t pid_in(const std::string &file)
{
    return (pid_t)atoi(read_text(file).c_str());
}

class DeployLauncher : public ::testing::TestWithParam<xssim_daemon> {
protected:
    void SetUp() override
    {
        sim_ = tmp_.sub("sim");
        conf_ = tmp_.sub("xsproxy.conf");
        std::ofstream(conf_) << "# a sim, the build tree's programs\n"
                             << "XSSIM_DIR=" << sim_ << "\n"
                             << "XENSTORED=" << xssim_daemon_name(GetParam()) << "\n"
                             << "XSPROXY_ARGS='--log-level debug --capture-filter \"dom=5 "
                                "type=WRITE\"'\n"
                             << "START_TIMEOUT=20\n";
        // the environment must not decide: a stray XSSIM_DIR is ignored
        env_ = { "PATH=" + kBuild + "/bin:" + getenv("PATH"), "XSSIM_DIR=/nonexistent",
                 "XSPROXY_CONF=/nonexistent", asan_options_for_preload() };
    }

    // Whatever happened, nothing of the sim is left: stop, xssim down, then
    // kill (by pid) any process still running on it.
    void TearDown() override
    {
        if (path_exists(sim_)) {
            launch({ "stop" });
            run_program({ kBuild + "/bin/xssim", "--dir", sim_, "down" }, env_, 20000);
        }
        for (pid_t pid : processes_with_env("XSSIM_DIR=" + sim_)) {
            ADD_FAILURE() << "process " << pid << " of the sim survived";
            kill(pid, SIGKILL);
        }
    }

    RunResult launch(const std::vector<std::string> &args, int timeout_ms = 30000)
    {
        std::vector<std::string> argv = { kBuild + "/bin/xsproxy-launch", "--config", conf_ };
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv, env_, timeout_ms);
    }

    // a program with the env file's environment (as a toolstack sources it)
    RunResult with_env(const std::vector<std::string> &argv)
    {
        std::map<std::string, std::string> vars;
        std::vector<std::string> lines = env_;
        std::istringstream file(read_text(sim_ + "/proxy/env"));
        std::string line;
        while (std::getline(file, line))
            lines.push_back(line);
        for (const auto &l : lines)
            vars[l.substr(0, l.find('='))] = l;   // the env file's win
        std::vector<std::string> env;
        for (const auto &v : vars)
            env.push_back(v.second);
        return run_program(argv, env, 15000);
    }

    std::string prog(const char *name) const { return kBuild + "/bin/" + name; }

    TempDir tmp_{ "xsdeploy" };
    std::string sim_, conf_;
    std::vector<std::string> env_;
};

TEST_P(DeployLauncher, StartsServesAndStops)
{
    const std::string daemon = xssim_daemon_name(GetParam());
    RunResult up = launch({ "start" });
    ASSERT_TRUE(up.ok()) << describe(up);
    EXPECT_TRUE(contains(up.out, "daemon:  " + daemon + " running")) << up.out;
    EXPECT_TRUE(contains(up.out, "xsproxy: running")) << up.out;

    // the env file for toolstacks points at xsproxy
    const std::string proxy_sock = sim_ + "/proxy/socket";
    std::string envfile = read_text(sim_ + "/proxy/env");
    EXPECT_TRUE(contains(envfile, "XENSTORED_PATH=" + proxy_sock + "\n")) << envfile;
    EXPECT_TRUE(contains(envfile, "XSSIM_DIR=" + sim_ + "\n")) << envfile;

    // the daemon: the shim preloaded, xsproxy's claims; xsproxy: its options
    pid_t dpid = pid_in(sim_ + "/daemon.pid"), ppid = pid_in(sim_ + "/proxy/xsproxy.pid");
    ASSERT_TRUE(pid_alive(dpid));
    ASSERT_TRUE(pid_alive(ppid));
    std::string denv = read_text("/proc/" + std::to_string(dpid) + "/environ");
    EXPECT_TRUE(contains(denv, std::string("XSSHIM_CLAIMS=") + sim_ + "/proxy/claims" + '\0'));
    EXPECT_TRUE(contains(denv, "libxsshim.so")) << "no LD_PRELOAD of the shim";
    std::string pargv = read_text("/proc/" + std::to_string(ppid) + "/cmdline");
    EXPECT_TRUE(contains(pargv, std::string("--backend") + '\0' + sim_ + "/run/socket" + '\0'));
    EXPECT_TRUE(contains(pargv, std::string("--run-dir") + '\0' + sim_ + "/proxy" + '\0'));
    EXPECT_TRUE(contains(pargv, std::string("--capture-filter") + '\0' + "dom=5 type=WRITE" + '\0'))
        << "XSPROXY_ARGS' quoted word was split";

    // a domain created through xsproxy, a guest on its ring, dom0's tools
    RunResult mk = with_env({ prog("xssim"), "domain", "create", "5" });
    ASSERT_TRUE(mk.ok()) << describe(mk);
    RunResult ls = with_env({ prog("xsproxyctl"), "--socket", proxy_sock, "list" });
    ASSERT_TRUE(ls.ok()) << describe(ls);
    EXPECT_TRUE(contains(ls.out, "domain 5 active")) << "INTRODUCE did not go through xsproxy:\n"
                                                     << ls.out;
    RunResult w = with_env({ prog("xssim"), "guest", "5", "write", "data/x", "hello" });
    ASSERT_TRUE(w.ok()) << describe(w);
    RunResult r = with_env({ prog("xssim"), "guest", "5", "read", "data/x" });
    ASSERT_TRUE(r.ok()) << describe(r);
    EXPECT_EQ(r.out, "hello\n");
    RunResult xr = with_env({ "xenstore-read", "/local/domain/5/data/x" });
    ASSERT_TRUE(xr.ok()) << describe(xr);
    EXPECT_EQ(xr.out, "hello\n");
    RunResult after = with_env({ prog("xsproxyctl"), "--socket", proxy_sock, "list", "5" });
    EXPECT_TRUE(contains(after.out, "requests 2 replies 2")) << after.out;

    RunResult st = launch({ "status" });
    EXPECT_EQ(st.exit_code, 0) << describe(st);
    EXPECT_TRUE(contains(st.out, "daemon:  " + daemon + " running, pid " + std::to_string(dpid)))
        << st.out;
    EXPECT_TRUE(contains(st.out, "xsproxy: running, pid " + std::to_string(ppid))) << st.out;

    // a second start leaves what runs alone
    RunResult again = launch({ "start" });
    EXPECT_TRUE(again.ok()) << describe(again);
    EXPECT_EQ(pid_in(sim_ + "/proxy/xsproxy.pid"), ppid);

    RunResult down = launch({ "stop" });
    EXPECT_TRUE(down.ok()) << describe(down);
    EXPECT_TRUE(wait_pid_gone(ppid, 5000)) << "xsproxy survived stop";
    EXPECT_TRUE(wait_pid_gone(dpid, 5000)) << daemon << " survived stop";
    EXPECT_FALSE(path_exists(sim_)) << "the sim was not removed";
    EXPECT_TRUE(processes_with_env("XSSIM_DIR=" + sim_).empty());
    RunResult gone = launch({ "status" });
    EXPECT_EQ(gone.exit_code, 3) << describe(gone);
    EXPECT_TRUE(contains(gone.out, "xsproxy: not running")) << gone.out;
}

TEST_P(DeployLauncher, StopProxyKeepsTheDaemonAndStartBringsItBack)
{
    ASSERT_TRUE(launch({ "start" }).ok());
    pid_t dpid = pid_in(sim_ + "/daemon.pid"), ppid = pid_in(sim_ + "/proxy/xsproxy.pid");
    RunResult sp = launch({ "stop", "proxy" });
    ASSERT_TRUE(sp.ok()) << describe(sp);
    EXPECT_TRUE(wait_pid_gone(ppid, 5000));
    EXPECT_TRUE(pid_alive(dpid));
    EXPECT_FALSE(path_exists(sim_ + "/proxy/env"));
    // xssim's own commands go to the daemon again
    EXPECT_TRUE(contains(read_text(sim_ + "/env"), "XENSTORED_PATH=" + sim_ + "/run/socket\n"));
    RunResult st = launch({ "status" });
    EXPECT_EQ(st.exit_code, 3) << describe(st);
    RunResult up = launch({ "start" });
    ASSERT_TRUE(up.ok()) << describe(up);
    EXPECT_EQ(pid_in(sim_ + "/daemon.pid"), dpid);
    pid_t ppid2 = pid_in(sim_ + "/proxy/xsproxy.pid");
    EXPECT_NE(ppid2, ppid);
    EXPECT_TRUE(pid_alive(ppid2));
    EXPECT_EQ(launch({ "status" }).exit_code, 0);
    ASSERT_TRUE(launch({ "stop" }).ok());
    EXPECT_TRUE(wait_pid_gone(ppid2, 5000));
    EXPECT_TRUE(wait_pid_gone(dpid, 5000));
}

INSTANTIATE_TEST_SUITE_P(Daemons, DeployLauncher, both_daemons(), DaemonName());

// The README's first command, on this build: two hosts started by the
// launcher, a guest migrated with its watch and open transaction, the
// capture decoded by tshark.  The demo checks each claim it prints and
// exits non-zero when one does not hold.
TEST(DeployDemo, TellsTheWholeStoryAndEveryClaimHolds)
{
    // the demo's hosts go in a directory of this test's own (TMPDIR)
    TempDir tmp("xsdemo");
    auto leftovers = [&] { return run_program({ "ls", "-A", tmp.path() }).out; };
    RunResult r = run_program({ "sh", XSP_SOURCE_DIR "/deploy/demo.sh" },
                              { "XSPROXY_BUILD=" + kBuild, "TMPDIR=" + tmp.path(),
                                asan_options_for_preload() },
                              120000);
    ASSERT_TRUE(r.ok()) << r.out << r.err;
    for (const char *claim : {
             "transaction 1 is still open on B and sees its own write",
             "the watch guest 5 registered on A fires on B, with its token",
             "writes during the migration, the last one in the store",
             "every message decoded:",
             "[internal]",
         })
        EXPECT_TRUE(contains(r.out, claim)) << claim << "\n" << r.out;
    EXPECT_EQ(leftovers(), "");   // nothing of the two hosts is left behind
}

}  // namespace
