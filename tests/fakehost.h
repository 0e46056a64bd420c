/*
 * fakehost.h -- a fake host table for driving a provider plugin's .so
 * directly, without a core: what the plugin sends (method, URL, headers,
 * body), which settings and key variable it reads, and what it emits.
 *
 * Settings, requests and sinks are plain structs the test fills and reads;
 * the plugin gets them cast to its opaque types.  secret() reads a fake
 * environment in the settings, never the real one, so whoever runs the
 * tests never has a real key used or sent.  The allocator handed to the
 * plugin can be made to fail (fh_fail_after), so every allocation failure
 * path of a plugin can be run.
 */
#ifndef AC_FAKEHOST_H
#define AC_FAKEHOST_H
#include <stddef.h>
#include <abstractcore/provider.h>

/* A provider's settings: up to 15 key/value strings, a value "#INT"
 * standing for a setting of the wrong type (setting_string returns -1),
 * and up to 3 variables of the fake environment secret() reads. */
typedef struct fh_settings {
    const char *name;
    const char *kv[16][2];
    const char *env[4][2];
} fh_settings;

/* An HTTP request as the plugin built it (zero it before use; free body). */
typedef struct fh_request {
    char   method[16];
    char   url[512];
    int    framing;
    char   hdr[16][2][256];
    int    n_hdr;
    char  *body;            /* malloc'd, NUL-terminated */
    size_t body_len;
} fh_request;

/* One tool call as emitted, joined by key. */
typedef struct fh_call {
    int  key;
    char id[128];
    char name[128];
    char args[2048];
    int  ends;              /* emit_tool_call_end calls */
} fh_call;

/* What the plugin emitted (a sink) or listed (a model list); zero it
 * before use.  Large: make it static rather than put it on the stack. */
typedef struct fh_sink {
    char    text[8192];
    char    reasoning[8192];
    fh_call calls[8];
    int     n_calls;
    long    in, out;        /* the last usage report of each count */
    int     n_usage, n_finish;
    char    finish[32], raw[32];
    char    model[256];
    void   *slot;           /* the stream state slot */
    char    models[8][256];
    int     n_models;
} fh_sink;

/* The host table (every member set, struct_size of this build). */
extern const ac_host_api fh_host;

/* The host's malloc, realloc and strdup fail once this many more
 * allocations succeeded; -1 (the start): never. */
extern long fh_fail_after;

/* secret() calls so far, and the default variable the last one named
 * ("" for none): which key variable a plugin asks for. */
extern int  fh_secret_calls;
extern char fh_default_env[64];

/* dlopen the plugin at path (kept in *dl: dlclose it when done) and call
 * its entry with fh_host; NULL (with a line on stderr) on failure. */
const ac_provider *fh_load_plugin(const char *path, void **dl);

/* The value of the request's header name, or NULL. */
const char *fh_header(const fh_request *r, const char *name);
#endif
