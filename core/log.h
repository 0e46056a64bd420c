/*
 * log.h -- every line the library writes for an operator goes through
 * here, to the application's handler (ac_log_set_handler) or to stderr.
 *
 * Thread-safe: the handler and level are read under a lock, so a message
 * written while another thread changes them goes to one handler whole.
 */
#ifndef AC_LOG_H
#define AC_LOG_H
#include <abstractcore/abstractcore.h>

/* 1 if a message of `level` would be written (to skip building it). */
int  ac__log_enabled(int level);
/* Write one message (printf-style; made one line: control characters
 * become spaces).  provider may be NULL. */
void ac__log(int level, const char *provider, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#endif
