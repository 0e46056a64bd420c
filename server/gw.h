/*
 * gw.h -- what the gateway's modules share (acore serve, server/).
 *
 * The gateway is an HTTP front (libmicrohttpd) over the public API of
 * libabstractcore: it turns OpenAI Chat Completions and Anthropic
 * Messages requests into ac_agenerate_messages calls and writes the
 * events back, as they come, in the client's own wire format.
 *
 * One thread does everything (gw_loop.c): it waits on one epoll set
 * holding libmicrohttpd's epoll descriptor, the core's backend
 * descriptor (the core runs in host mode), a wake eventfd (signals,
 * gw_stop) and the sockets of connections parked while they wait for
 * their backend (to see a client leave).  Every callback of the core and
 * of libmicrohttpd runs on that thread, so nothing here takes a lock;
 * the only entry from another thread is gw_stop (an atomic flag and an
 * eventfd write, safe in a signal handler).
 *
 * Modules: gw_config.c (the `server` section), gw_auth.c (client keys,
 * rate limits), gw_json.c (output buffer, reading fields), gw_openai.c and
 * gw_anthropic.c (requests in), gw_out_openai.c and gw_out_anthropic.c
 * (responses out: SSE and JSON), gw_chat.c (one generation's life),
 * gw_models.c (/v1/models), gw_embed.c (/v1/embeddings: ac_aembed), gw_metrics.c
 * (/metrics and the core's hook), gw_log.c (the access log), gw_http.c
 * (libmicrohttpd: routing, bodies, limits, suspend/resume, streaming),
 * gw_loop.c (the loop, start and graceful stop).
 */
#ifndef GW_H
#define GW_H
#include <abstractcore/abstractcore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

struct json_object;
struct MHD_Connection;
struct MHD_Daemon;

/* ------------------------------------------------------------------ */
/* Configuration (gw_config.c)                                         */
/* ------------------------------------------------------------------ */

typedef struct gw_key {
    char   *id;
    char   *key;
    size_t  key_len;
    char  **providers;   /* allow-list; NULL: every served provider */
    size_t  n_providers;
    long    rpm;         /* 0: no limit */
} gw_key;

typedef struct gw_alias {
    char *name, *provider, *model;
} gw_alias;

typedef struct gw_config {
    char      *listen;              /* "ADDR:PORT" */
    long long  max_request_bytes;
    long long  max_header_bytes;
    long long  max_messages;
    long long  max_connections;
    long long  idle_timeout_ms;
    long long  shutdown_timeout_ms;
    long long  models_cache_ms;
    char      *access_log;          /* "-": stderr, "": off, else a file */
    char     **providers;           /* served */
    size_t     n_providers;
    gw_alias  *aliases;
    size_t     n_aliases;
    gw_key    *keys;
    size_t     n_keys;
} gw_config;

/* Read the `server` section of config_path (NULL: defaults only) and the
 * keys file it names; the served providers default to the file's
 * `providers` groups.  0, or -1 with one line in err. */
int  gw_config_load(gw_config *c, const char *config_path, char *err, size_t n);
void gw_config_free(gw_config *c);
/* 1 if provider is served. */
int  gw_config_serves(const gw_config *c, const char *provider);

/* ------------------------------------------------------------------ */
/* Errors sent to clients                                              */
/* ------------------------------------------------------------------ */

/* One error, in neither wire shape yet (gw_out_*.c write it). */
typedef struct gw_err {
    int  status;          /* HTTP status */
    char type[40];        /* OpenAI's type ("invalid_request_error", ...);
                             the Anthropic writer maps the status */
    char code[48];        /* "" for null */
    char param[160];      /* the field, "" for null */
    char message[640];
    long retry_after_s;   /* Retry-After, -1: none */
} gw_err;

void gw_err_set(gw_err *e, int status, const char *type, const char *param, const char *code,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The error of a failed upstream request, as the client should see it
 * (the status a proxy gives each failure; the core's message, which
 * never holds a key). */
void gw_err_from_ac(gw_err *e, const ac_error *ae);

/* ------------------------------------------------------------------ */
/* JSON (gw_json.c)                                                    */
/* ------------------------------------------------------------------ */

/* A growing output buffer.  A failed allocation sets oom and drops the
 * rest; the caller checks oom once at the end. */
typedef struct jbuf {
    char  *p;
    size_t len, cap;
    int    oom;
} jbuf;

void  jb_raw(jbuf *b, const char *s, size_t n);
void  jb_cstr(jbuf *b, const char *s);           /* raw, NUL-terminated */
void  jb_fmt(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s (n bytes) as a JSON string, quoted; invalid UTF-8 is replaced. */
void  jb_str(jbuf *b, const char *s, size_t n);
void  jb_qstr(jbuf *b, const char *s);           /* NUL-terminated; NULL: null */
void  jb_free(jbuf *b);
/* Drop the first n bytes (what was sent). */
void  jb_consume(jbuf *b, size_t n);

/* A member of an object, NULL when absent or JSON null. */
struct json_object *gw_jget(struct json_object *o, const char *key);
/* "a string", "an integer", ... for messages. */
const char *gw_jtype(struct json_object *v);
/* Parse a request body: a JSON object, or -1 with a 400 in e naming
 * where the text stops being JSON. */
struct json_object *gw_json_parse(const char *body, size_t len, gw_err *e);
/* Field readers: 0 when absent (out unchanged), 1 when read, -1 with a
 * 400 in e naming `path` and what it should be. */
int gw_jstring(struct json_object *o, const char *key, const char *path, const char **out,
               gw_err *e);
int gw_jbool(struct json_object *o, const char *key, const char *path, int *out, gw_err *e);
int gw_jint(struct json_object *o, const char *key, const char *path, long long lo,
            long long hi, long long *out, gw_err *e);
int gw_jnum(struct json_object *o, const char *key, const char *path, double lo, double hi,
            double *out, gw_err *e);
/* A field's path ("messages[2].content[0].text") into buf (cut to n). */
void gw_path(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The compact text of v (borrowed from v). */
const char *gw_jtext(struct json_object *v);

/* ------------------------------------------------------------------ */
/* A translated chat request (gw_openai.c, gw_anthropic.c)              */
/* ------------------------------------------------------------------ */

typedef enum gw_api { GW_API_OPENAI = 0, GW_API_ANTHROPIC } gw_api;

typedef struct gw_chat_req {
    gw_api         api;
    char          *model;        /* as the client wrote it (echoed back) */
    ac_messages   *msgs;
    ac_gen_params *params;
    int            stream;
    int            include_usage;  /* OpenAI stream_options.include_usage */
    int            structured;     /* a JSON Schema: the validated document
                                      is sent, not the raw text */
} gw_chat_req;

/* Translate a parsed body into *r.  0, or -1 with a 400 in e naming the
 * field.  max_messages bounds the list. */
int  gw_openai_parse(struct json_object *root, long long max_messages, gw_chat_req *r,
                     gw_err *e);
int  gw_anthropic_parse(struct json_object *root, long long max_messages, gw_chat_req *r,
                        gw_err *e);
void gw_chat_req_free(gw_chat_req *r);

/* ------------------------------------------------------------------ */
/* Writers (gw_out_openai.c, gw_out_anthropic.c)                        */
/* ------------------------------------------------------------------ */

#define GW_MAX_TOOLS 128

/* Per response: what has been written so far. */
typedef struct gw_tool_state {
    int    block;       /* Anthropic: its content block, -1 none yet */
    int    closed;      /* its block was closed */
    int    deferred;    /* Anthropic: waits for the open block to close */
    size_t sent;        /* argument bytes written */
    char  *id, *name, *args;  /* Anthropic, deferred: the whole call */
} gw_tool_state;

typedef struct gw_emit {
    gw_api      api;
    char        id[48];        /* chatcmpl-... / msg_... */
    const char *model;         /* echoed; borrowed from the request */
    long long   created;
    int         structured;
    int         include_usage;
    int         started;       /* the preamble is written */
    int         ended;         /* the end is written */
    /* Anthropic blocks. */
    int         next_block;
    int         open_block;    /* -1: none */
    int         open_kind;     /* 0 none, 1 text, 2 thinking, 3 tool */
    int         open_tool;
    gw_tool_state *tools;      /* GW_MAX_TOOLS of them, made at the first
                                  tool event (most replies have none) */
    long        in_tok, out_tok;   /* from the USAGE event, -1 unknown */
    const char *finish;            /* from the FINISH event */
    const char *raw_finish;
    char        finish_buf[32], raw_buf[48];
} gw_emit;

void gw_emit_init(gw_emit *m, gw_api api, const char *model, int structured, int include_usage);
void gw_emit_free(gw_emit *m);
/* One event of a streamed reply, as SSE bytes into out. */
void gw_emit_event(gw_emit *m, jbuf *out, const ac_chunk *c);
/* The end of a stream: st AC_OK finishes it; any other status writes
 * the error (e) as the API's in-stream error. */
void gw_emit_end(gw_emit *m, jbuf *out, ac_status st, const gw_err *e);
/* A whole non-streamed reply. */
void gw_emit_body(gw_emit *m, jbuf *out, const ac_response *r);
/* An error body in the API's shape. */
void gw_emit_error(gw_api api, jbuf *out, const gw_err *e);

void gw_oa_event(gw_emit *m, jbuf *out, const ac_chunk *c);
void gw_oa_end(gw_emit *m, jbuf *out, ac_status st, const gw_err *e);
void gw_oa_body(gw_emit *m, jbuf *out, const ac_response *r);
void gw_oa_error(jbuf *out, const gw_err *e);
void gw_an_event(gw_emit *m, jbuf *out, const ac_chunk *c);
void gw_an_end(gw_emit *m, jbuf *out, ac_status st, const gw_err *e);
void gw_an_body(gw_emit *m, jbuf *out, const ac_response *r);
void gw_an_error(jbuf *out, const gw_err *e);
/* The state of tool call i, NULL out of range or on no memory (then
 * out->oom is set). */
gw_tool_state *gw_emit_tool(gw_emit *m, jbuf *out, int i);
/* A call id for a backend that gave none ("call_<id>_<i>"), into buf. */
const char *gw_call_id(const gw_emit *m, const char *given, int index, char *buf, size_t n);

/* ------------------------------------------------------------------ */
/* Client keys (gw_auth.c)                                             */
/* ------------------------------------------------------------------ */

typedef struct gw_auth gw_auth;

#define GW_AUTH_OPEN   (-1)   /* no keys configured: everyone */
#define GW_AUTH_DENIED (-2)

gw_auth    *gw_auth_new(const gw_config *c);
void        gw_auth_free(gw_auth *a);
/* The key index the token matches, GW_AUTH_OPEN or GW_AUTH_DENIED.
 * Every key is compared, in time that depends on the token's length
 * only. */
int         gw_auth_check(const gw_auth *a, const char *token);
const char *gw_auth_id(const gw_auth *a, int k);    /* "-" for OPEN */
int         gw_auth_allows(const gw_auth *a, int k, const char *provider);
/* Take one request from k's rate (now in ms): 0, or the seconds to wait
 * (for Retry-After) when there is none left. */
long        gw_auth_take(gw_auth *a, int k, double now_ms);

/* ------------------------------------------------------------------ */
/* Metrics (gw_metrics.c)                                              */
/* ------------------------------------------------------------------ */

typedef struct gw_metrics gw_metrics;

gw_metrics *gw_metrics_new(void);
void        gw_metrics_free(gw_metrics *m);
/* The core's hook (ac_core_set_hook), user = the gw_metrics. */
void        gw_metrics_hook(const ac_hook_event *ev, void *user);
/* One HTTP request ended. */
void        gw_metrics_http(gw_metrics *m, const char *endpoint, int status, double seconds,
                            const char *key_id);
void        gw_metrics_gauge(gw_metrics *m, const char *which, int delta);
void        gw_metrics_count(gw_metrics *m, const char *which, const char *label);
/* The Prometheus text (malloc'd, *len bytes), NULL on no memory. */
char       *gw_metrics_render(gw_metrics *m, size_t *len);

/* ------------------------------------------------------------------ */
/* Access log (gw_log.c)                                               */
/* ------------------------------------------------------------------ */

typedef struct gw_log gw_log;

typedef struct gw_log_rec {
    const char *client;      /* peer address */
    const char *key_id;
    const char *method, *path;
    const char *provider, *model;  /* "" when none */
    int         status;
    int         stream;
    long        in_tok, out_tok;   /* -1 unknown */
    double      ms;
    const char *id;          /* response id, "" */
    const char *note;        /* "client_gone", "shutdown", "" */
} gw_log_rec;

/* spec: "-" standard error, "" off, else a file appended to.  NULL with
 * why in err. */
gw_log *gw_log_open(const char *spec, char *err, size_t n);
void    gw_log_write(gw_log *l, const gw_log_rec *r);
void    gw_log_close(gw_log *l);

/* ------------------------------------------------------------------ */
/* The gateway (gw_loop.c, gw_http.c)                                  */
/* ------------------------------------------------------------------ */

typedef struct gateway gateway;
typedef struct gw_conn gw_conn;
typedef struct gw_models gw_models;

/* Open the core (host mode) from config_path (NULL: the core's search),
 * read the `server` section, listen (listen: NULL for the config's).
 * NULL with one line in err, which starts "config: " when the
 * configuration is at fault. */
gateway *gw_new(const char *config_path, const char *listen, char *err, size_t n);
/* The port it listens on. */
int      gw_port(const gateway *g);
/* Serve until stopped and drained; 0, or -1 when the loop failed. */
int      gw_run(gateway *g);
/* Begin the graceful stop: stop accepting, finish what is in flight for
 * shutdown_timeout_ms, then cancel the rest.  Any thread; async-signal
 * safe. */
void     gw_stop(gateway *g);
void     gw_free(gateway *g);

/* ------------------------------------------------------------------ */
/* Inside the gateway: shared by gw_http.c, gw_chat.c, gw_models.c,     */
/* gw_embed.c and gw_loop.c (the loop thread only)                      */
/* ------------------------------------------------------------------ */

typedef enum gw_endpoint {
    GW_EP_NONE = 0, GW_EP_CHAT, GW_EP_MESSAGES, GW_EP_MODELS, GW_EP_EMBEDDINGS, GW_EP_HEALTH,
    GW_EP_READY, GW_EP_METRICS, GW_EP_NOT_FOUND, GW_EP_BAD_METHOD
} gw_endpoint;

struct gateway {
    ac_core            *core;
    gw_config           cfg;
    gw_auth            *auth;
    gw_metrics         *metrics;
    gw_log             *log;
    gw_models          *models;
    struct MHD_Daemon  *mhd;
    int                 ep;          /* the loop's epoll set */
    int                 wake;        /* eventfd: gw_stop */
    int                 mhd_fd, core_fd;
    int                 port;
    atomic_int          stop_asked;
    int                 stopping;    /* the drain began */
    double              stop_deadline;
    int                 cancelled;   /* the deadline passed: all cancelled */
    gw_conn            *conns;       /* every request being handled */
    size_t              n_conns;
    size_t              inflight;    /* with an upstream request running */
    unsigned long long  seq;         /* for response ids */
};

struct gw_conn {
    gateway               *g;
    struct MHD_Connection *mc;       /* NULL once libmicrohttpd is done */
    int                    refs;     /* libmicrohttpd's + the upstream's */
    gw_endpoint            ep;
    gw_api                 api;      /* the error shape */
    char                   method[8];
    char                   path[96];
    char                   client[64];
    double                 t0;
    /* The body. */
    char                  *body;
    size_t                 len, cap;
    int                    too_big;
    int                    refused;  /* answered before its body: discard it */
    /* Who. */
    int                    key;
    /* Where it is. */
    int                    state;    /* GW_ST_* */
    int                    suspended;
    int                    parked;   /* its socket is in the loop's epoll set */
    int                    gone;     /* the client left */
    int                    sock;
    /* The upstream request. */
    gw_chat_req            req;
    ac_request            *q;
    int                    done;     /* its on_done ran */
    ac_status              ust;
    gw_err                 err;      /* an error to send */
    ac_response           *resp;
    ac_embeddings         *emb;      /* /v1/embeddings: the vectors */
    int                    embed_b64;  /* ... as base64 float32 */
    /* Output. */
    gw_emit                em;
    jbuf                   out;      /* streamed bytes not yet sent */
    int                    held;     /* we paused the upstream */
    int                    streaming;  /* an SSE response is queued */
    /* For the log and the metrics. */
    int                    status;
    char                   provider[64];
    char                   model[128];
    long                   in_tok, out_tok;
    const char            *note;
    gw_conn               *next, *prev;
    void                  *waiter_next; /* gw_models: waiting for a listing */
};

enum { GW_ST_READING = 0, GW_ST_WAITING, GW_ST_RESPONDING, GW_ST_DONE };

/* Streamed bytes pending for a client before the upstream is paused, and
 * the level below which it goes on. */
#define GW_OUT_HIGH (64 * 1024)
#define GW_OUT_LOW  (16 * 1024)

double gw_now_ms(void);
void   gw_conn_ref(gw_conn *c);
void   gw_conn_unref(gw_conn *c);
/* Park a connection that waits for its upstream (suspend it, watch its
 * socket for the client leaving); wake it when there is news. */
void   gw_conn_park(gw_conn *c);
void   gw_conn_wake(gw_conn *c);
/* The client left while parked: cancel, and let libmicrohttpd close it. */
void   gw_conn_peer_gone(gw_conn *c);
/* Queue a JSON response now (body taken), with Retry-After when e says. */
int    gw_respond_json(gw_conn *c, int status, jbuf *body, long retry_after_s);
int    gw_respond_text(gw_conn *c, int status, const char *type, const char *text, size_t n);
int    gw_respond_error(gw_conn *c, const gw_err *e);
/* Queue the 200 SSE response whose content reader is gw_chat_read. */
int    gw_respond_stream(gw_conn *c);

/* gw_chat.c: a chat or messages request whose body is complete (the
 * client is authenticated).  Responds or parks. */
int    gw_chat_start(gw_conn *c);
/* A parked chat request was woken: respond if there is something. */
int    gw_chat_resume(gw_conn *c);
/* The content reader of a streamed reply: bytes copied (0: none yet, the
 * connection is parked until there are), GW_READ_END or GW_READ_ERROR. */
#define GW_READ_END   (-1L)
#define GW_READ_ERROR (-2L)
long   gw_chat_read(gw_conn *c, char *buf, size_t max);
/* Which provider/model a client's model name means: 0, or -1 with a 404
 * (or 400) in e. */
int    gw_route(const gateway *g, const char *name, char **provider, char **model, gw_err *e);

/* gw_models.c */
gw_models *gw_models_new(gateway *g);
void       gw_models_free(gw_models *m);
int        gw_models_start(gw_conn *c);
int        gw_models_resume(gw_conn *c);
/* A waiting connection went away. */
void       gw_models_forget(gw_models *m, gw_conn *c);
/* Cancel the listings in flight (the waiters get what has arrived). */
void       gw_models_cancel(gw_models *m);

/* gw_embed.c: POST /v1/embeddings, a complete body (the client is
 * authenticated); responds or parks.  Resume: a parked one was woken. */
int        gw_embed_start(gw_conn *c);
int        gw_embed_resume(gw_conn *c);

/* gw_http.c */
struct MHD_Daemon *gw_http_start(gateway *g, char *err, size_t n);
/* Readiness: the served providers that can be used now, as JSON. */
int        gw_ready(gateway *g, jbuf *out);
#endif
