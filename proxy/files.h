/*
 * files.h - files an operator names (a migration stream, a capture, a
 * trace), opened without ever blocking xsproxy's event loop: only regular
 * files are taken.  A FIFO would block open() until its other end appears,
 * a device or a socket is no place for these; they are refused with a
 * reason before anything is opened or truncated.
 */
#ifndef XSPROXY_FILES_H
#define XSPROXY_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* open(PATH, FLAGS, MODE) (O_CLOEXEC added) if PATH is a regular file or
 * does not exist yet (with O_CREAT).  The descriptor, or -1 with why in ERR
 * ("PATH: not a regular file (a FIFO)", or the system's reason) and errno
 * set (EINVAL for a file that is not regular). */
int file_open_regular(const char *path, int flags, mode_t mode, char *err, size_t errlen);

/* Is PATH a regular file, or not there at all (a file to be made)?  0, or
 * -1 with why in ERR. */
int file_check_regular(const char *path, char *err, size_t errlen);

#endif
