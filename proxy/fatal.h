/*
 * fatal.h - a fatal signal (a crash) is written to xsproxy's log with a
 * backtrace before xsproxy dies of it, so that a crash on a host or in a
 * test run is not a silent exit.
 */
#ifndef XSPROXY_FATAL_H
#define XSPROXY_FATAL_H

/* Install the handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT.
 * Not in a sanitizer build: the sanitizer's own report says more. */
void fatal_signals_logged(void);

#endif
