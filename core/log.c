/*
 * log.c -- the library's messages, to the application's handler or to
 * stderr (see log.h).
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static ac_log_fn log_fn;
static void *log_user;
static int log_level = AC_LOG_WARN;

/* $AC_LOG_LEVEL, read once: the level before any ac_log_set_level. */
static void log_env(void)
{
    const char *e = getenv("AC_LOG_LEVEL");
    if (e && *e >= '0' && *e <= '3' && !e[1])
        log_level = *e - '0';
    /* The older switch for the HTTP trace, which is at debug level. */
    e = getenv("AC_CURL_VERBOSE");
    if (e && *e && strcmp(e, "0") != 0)
        log_level = AC_LOG_DEBUG;
}

void ac_log_set_handler(ac_log_fn fn, void *user)
{
    pthread_mutex_lock(&log_mu);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_mu);
}

void ac_log_set_level(ac_log_level level)
{
    pthread_once(&log_once, log_env);
    pthread_mutex_lock(&log_mu);
    log_level = level < AC_LOG_ERROR ? AC_LOG_ERROR : level > AC_LOG_DEBUG ? AC_LOG_DEBUG
                                                                           : (int)level;
    pthread_mutex_unlock(&log_mu);
}

int ac__log_enabled(int level)
{
    pthread_once(&log_once, log_env);
    pthread_mutex_lock(&log_mu);
    int on = level <= log_level;
    pthread_mutex_unlock(&log_mu);
    return on;
}

void ac__log(int level, const char *provider, const char *fmt, ...)
{
    if (!ac__log_enabled(level))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (level < AC_LOG_ERROR)
        level = AC_LOG_ERROR;
    if (level > AC_LOG_DEBUG)
        level = AC_LOG_DEBUG;
    /* Under the lock: a handler being replaced is not called after
     * ac_log_set_handler returned, and lines do not interleave. */
    pthread_mutex_lock(&log_mu);
    if (log_fn) {
        log_fn((ac_log_level)level, provider ? provider : "", line, log_user);
    } else {
        static const char *const names[] = {"error", "warning", "info", "debug"};
        fprintf(stderr, "abstractcore: %s%s%s: %s\n", provider && *provider ? provider : "",
                provider && *provider ? ": " : "", names[level], line);
    }
    pthread_mutex_unlock(&log_mu);
}
