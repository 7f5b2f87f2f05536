// test_xenstore_suite.cc - Xen's own xenstore test program (test-xenstore
// from xen-utils-4.17) run against each daemon on the sim, as dom0 over the
// sim's socket: every test it has, repeated, and its random mode.
#include <sstream>
#include <string>
#include <vector>

#include "sim_host.h"

namespace xstest {
namespace {

const char kTestXenstore[] = "/usr/lib/xen-4.17/bin/test-xenstore";

// The names before the ':' of each line ("read 2000 : ..."), trimmed.
std::vector<std::string> names_before_colon(const std::string &text)
{
    std::vector<std::string> names;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string name = line.substr(0, colon);
        name.erase(name.find_last_not_of(' ') + 1);
        names.push_back(name);
    }
    return names;
}

// The tests `test-xenstore -l` lists.
std::vector<std::string> list_tests(const SimHost &host)
{
    RunResult r = host.run({ kTestXenstore, "-l" });
    EXPECT_TRUE(r.ok()) << r.err;
    return names_before_colon(r.out);
}

using XenstoreSuite = DaemonTest;

TEST_P(XenstoreSuite, AllTestsPass)
{
    std::vector<std::string> names = list_tests(host());
    ASSERT_GE(names.size(), 5u) << "test-xenstore -l listed too little";
    RunResult r = host().run({ kTestXenstore }, 60000);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "stderr:\n" << r.err;
    // each test reports its time on a line of its own: all of them ran
    EXPECT_EQ(names_before_colon(r.out), names) << r.out;
}

TEST_P(XenstoreSuite, EachTestRepeated)
{
    std::vector<std::string> names = list_tests(host());
    ASSERT_FALSE(names.empty());
    for (const auto &name : names) {
        RunResult r = host().run({ kTestXenstore, "-i", "5", "-t", name }, 60000);
        EXPECT_EQ(r.exit_code, 0) << name << ":\n" << r.out << r.err;
        EXPECT_NE(r.out.find("avg:"), std::string::npos) << name << ":\n" << r.out;
    }
}

TEST_P(XenstoreSuite, RandomMode)
{
    RunResult r = host().run({ kTestXenstore, "-r", "2" }, 60000);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// The control: with no daemon behind the socket the program fails, so its
// exit status means something.
TEST(XenstoreSuiteControl, FailsWithoutADaemon)
{
    TempDir tmp("xstest-nodaemon");
    RunResult r = run_program({ kTestXenstore }, { "XENSTORED_PATH=" + tmp.sub("socket") });
    EXPECT_NE(r.exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Daemons, XenstoreSuite, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
