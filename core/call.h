/*
 * call.h -- struct ac_call: the core's record of one call into a plugin.
 *
 * Every vtable function of ABI 2 gets one (provider.h).  The plugin reports
 * a failure through host->fail(call, ...), never by writing a shared
 * struct; the core reads the report back with ac__call_error, which fills
 * in what the plugin left out (a message, the provider's name) and removes
 * every secret of the instance from the message.  host->cancelled(call)
 * reads the request's cancel flag.
 *
 * A call lives on the stack of the core function that calls the plugin,
 * and is used by that one thread.
 */
#ifndef AC_CALL_H
#define AC_CALL_H
#include <stdatomic.h>
#include <abstractcore/provider.h>

struct ac_call {
    ac_error           err;        /* the plugin's report, when failed */
    int                failed;     /* host->fail was called */
    int                refining;   /* parse_error: err holds the core's HTTP error */
    const char        *provider;   /* the instance's name, for every report */
    const ac_settings *settings;   /* the instance's secrets (may be NULL) */
    atomic_int        *cancel;     /* the request's cancel flag (may be NULL) */
    unsigned long long order;      /* host->call_order: the request's id, 0 none */
};

/* A call on behalf of the instance named `provider` with settings s (its
 * secrets are scrubbed; may be NULL), for a request whose cancel flag is
 * `cancel` (may be NULL). */
void      ac__call_init(ac_call *c, const char *provider, const ac_settings *s,
                        atomic_int *cancel);
/* A parse_error call: the report starts as the core's HTTP error. */
void      ac__call_init_refine(ac_call *c, const char *provider, const ac_settings *s,
                               const ac_error *http_error);
/*
 * The plugin returned st from the function named `fn`.  AC_OK: nothing.
 * Otherwise fill *err with its report (or, if it reported nothing, a
 * message saying which function failed with which code), naming the
 * provider, secrets removed; returns st.  For a parse_error call (st is
 * ignored): *err is the refined HTTP error, and its code is returned.
 */
ac_status ac__call_error(ac_call *c, ac_status st, const char *fn, ac_error *err);

/* Remove each of s's secrets from the NUL-terminated text (in place):
 * every occurrence reads "[redacted]", truncated to fit cap bytes; and
 * when the text fills cap, so may have been cut inside a secret, a tail
 * that is a secret's first 4 or more bytes reads so too. */
void      ac__scrub_secrets(const ac_settings *s, char *text, size_t cap);

/* The host table's reporting members (host.c points at them). */
ac_status ac__host_fail(ac_call *c, ac_status code, ac_stage stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void      ac__host_set_retryable(ac_call *c, int retryable);
void      ac__host_set_http_status(ac_call *c, int http_status);
int       ac__host_cancelled(ac_call *c);
void      ac__host_log(ac_call *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#endif
