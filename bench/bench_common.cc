// bench_common.cc - see bench_common.h.
#include "bench_common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

namespace xsbench {

double seconds_since(Clock::time_point t)
{
    return std::chrono::duration<double>(Clock::now() - t).count();
}

double ms_since(Clock::time_point t)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double us_since(Clock::time_point t)
{
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + (long)i, v.end());
    return v[i];
}

double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

double cpu_seconds(pid_t pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // the fields after the command's name, which may hold anything but ends
    // at the last ')': utime and stime are the 14th and 15th
    size_t paren = s.rfind(')');
    if (paren == std::string::npos)
        return -1;
    std::istringstream in(s.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; i++) {
        if (i == 14)
            utime = strtoull(field.c_str(), nullptr, 10);
        if (i == 15)
            stime = strtoull(field.c_str(), nullptr, 10);
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

bool parse_daemons(const char *arg, std::vector<xssim_daemon> *daemons)
{
    if (strcmp(arg, "oxenstored") == 0)
        *daemons = { XSSIM_OXENSTORED };
    else if (strcmp(arg, "xenstored") == 0)
        *daemons = { XSSIM_XENSTORED };
    else if (strcmp(arg, "both") == 0)
        *daemons = { XSSIM_OXENSTORED, XSSIM_XENSTORED };
    else
        return false;
    return true;
}

xstest::RunResult create_domain_at(const xstest::Store &store, unsigned domid,
                                   const std::string &socket, bool introduce, int timeout_ms)
{
    std::vector<std::string> argv = { xstest::xssim_program(), "--dir", store.dir(), "domain",
                                      "create", std::to_string(domid) };
    if (!introduce)
        argv.push_back("--no-introduce");
    return xstest::run_program(argv, { "XSSIM_DIR=" + store.dir(), "XENSTORED_PATH=" + socket },
                               timeout_ms);
}

}  // namespace xsbench
