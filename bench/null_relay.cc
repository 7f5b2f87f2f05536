// null_relay.cc - see null_relay.h.  A child process with one poll() loop.
#include "null_relay.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace xstest {
namespace {

bool fill_addr(struct sockaddr_un &a, const std::string &path)
{
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof(a.sun_path))
        return false;
    memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return true;
}

// Copies what FROM has to TO; false at EOF or an error.
bool copy_once(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

void serve(int client, const std::string &upstream)
{
    struct sockaddr_un a;
    int up = socket(AF_UNIX, SOCK_STREAM, 0);
    if (up < 0 || !fill_addr(a, upstream) || connect(up, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(client);
        if (up >= 0)
            close(up);
        return;
    }
    struct pollfd p[2] = { { client, POLLIN, 0 }, { up, POLLIN, 0 } };
    while (poll(p, 2, -1) > 0) {
        if ((p[0].revents && !copy_once(client, up)) || (p[1].revents && !copy_once(up, client)))
            break;
    }
    close(client);
    close(up);
}

}  // namespace

NullRelay null_relay_start(const std::string &path, const std::string &upstream)
{
    NullRelay r;
    struct sockaddr_un a;
    unlink(path.c_str());
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || !fill_addr(a, path) || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(s, 8) < 0) {
        if (s >= 0)
            close(s);
        return r;
    }
    pid_t pid = fork();
    if (pid == 0) {
        for (;;) {
            int c = accept(s, nullptr, nullptr);
            if (c >= 0)
                serve(c, upstream);
        }
    }
    close(s);
    if (pid > 0) {
        r.pid = pid;
        r.path = path;
    }
    return r;
}

void null_relay_stop(NullRelay &r)
{
    if (r.pid > 0) {
        kill(r.pid, SIGKILL);
        waitpid(r.pid, nullptr, 0);
        unlink(r.path.c_str());
    }
    r.pid = -1;
}

}  // namespace xstest
