/*
 * fatal.c - the log line and backtrace of a crash (fatal.h).  Only
 * async-signal-safe calls in the handler: write(2) and
 * backtrace_symbols_fd, whose library is loaded at installation.
 */
#define _GNU_SOURCE
#include "fatal.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif

#ifndef SANITIZED
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

static void say(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void on_fatal(int sig)
{
    say("xsproxy fatal: ");
    say(sigabbrev_np(sig) ? sigabbrev_np(sig) : "signal");
    say("; backtrace:\n");
    void *frames[48];
    int n = backtrace(frames, 48);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    signal(sig, SIG_DFL);   /* die of it, as without the handler */
    raise(sig);
}

#endif

void fatal_signals_logged(void)
{
#ifndef SANITIZED
    void *warm[1];
    backtrace(warm, 1);   /* loads libgcc now, not in the handler */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
        sigaction(fatal_signals[i], &sa, NULL);
#endif
}
