/*
 * error.h -- filling ac_error reports.
 *
 * ac_error is a plain caller-owned struct; these helpers format into it,
 * truncating safely, and copy text from json-c / libconfig / libcurl so its
 * lifetime is ours.  A NULL err is accepted everywhere.  Thread-safe.
 */
#ifndef AC_ERROR_H
#define AC_ERROR_H
#include <stdarg.h>
#include <abstractcore/abstractcore.h>

/* Fill every field of err: code, stage, message; the rest cleared
 * (provider "", retry_after_ms -1).  Name the provider afterwards. */
void ac__error_set(ac_error *err, ac_status code, ac_stage stage,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void ac__error_vset(ac_error *err, ac_status code, ac_stage stage,
                const char *fmt, va_list ap);
void ac__error_set_provider(ac_error *err, const char *provider);
/* Prefix the message with "what: " (keeps code and stage). */
void ac__error_prefix(ac_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
