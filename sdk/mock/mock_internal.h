/*
 * mock_internal.h -- the mock server's state, shared by its three files:
 *   mock_server.c  the daemon, its callbacks, start/stop, the counters
 *   mock_reply.c   routing a request and deciding the reply
 *   mock_send.c    sending it: headers, pacing, faults on the wire
 * Nothing outside the server includes this.
 *
 * Threads: every function here runs on libmicrohttpd's one polling thread
 * (the waiter thread only resumes connections), except the counters in
 * struct mock_server, which any thread reads under `mu`.
 */
#ifndef AC_MOCK_INTERNAL_H
#define AC_MOCK_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mock_embed.h"
#include "mock_fault.h"
#include "mock_proto.h"
#include "mock_script.h"
#include "mock_server.h"
#include "mock_waiter.h"

#define SERVER_MAX_BODY (32u * 1024 * 1024)
#define SERVER_BLOCK 4096

typedef struct mock_hdr {
    char *name, *value;
} mock_hdr;

struct mock_server {
    struct MHD_Daemon *daemon;
    mock_waiter *waiter;
    mock_script script;
    mock_log_fn log;
    void *log_user;
    int port;
    char url[48];
    const char **models; /* names for the model lists, borrowed from script */
    size_t nmodels;
    atomic_bool stopping;
    atomic_bool started; /* MHD messages go to the log only once running */
    char mhd_err[256];   /* last libmicrohttpd message, for start errors */

    pthread_mutex_t mu;  /* guards everything below */
    size_t nreq, ndisc;
    size_t inflight, peak_inflight;   /* requests begun and not yet completed */
    size_t conns_open, conns_total;   /* TCP connections */
    size_t embed_requests, embed_inputs, embed_max_batch;
    unsigned long long seq;
    long *fails;         /* per scenario or step slot */
    char *last_body;     /* NULL until the first request */
    size_t last_body_len;
    mock_hdr *last_hdrs;
    size_t nlast_hdrs;
    size_t *last_images; /* decoded sizes of the last request's images */
    size_t nlast_images;
};

enum req_state { RQ_READING = 0, RQ_WAITING, RQ_RESPONDED };
enum req_route { RT_CHAT, RT_COUNT, RT_EMBED, RT_MODELS, RT_ROOT, RT_BAD_METHOD, RT_NOT_FOUND };

/* One request, from MHD's first access-handler call to its completion
   callback, which frees it; the content readers borrow it. */
typedef struct mock_req {
    mock_server *m;
    struct MHD_Connection *conn;
    int fd;
    mock_wait wait;
    char method[16];
    char *url;
    mock_buf body;
    bool too_big;
    mock_hdr *hdrs;
    size_t nhdrs;
    bool hdrs_oom;
    enum req_state state;

    /* the decided reply (mock_reply.c) */
    enum req_route route;
    bool embed_legacy;       /* Ollama /api/embeddings */
    char *path_model;        /* HF: the model named in the path; malloc'd */
    const char *allow;       /* Allow header for a 405 */
    mock_proto proto;
    mock_request_info info;
    const mock_scenario *sc; /* NULL for routes without a scenario */
    mock_scenario after_tool; /* sc without its tool calls (after_tool_result) */
    long status;
    bool is_error;
    const char *ctype;       /* Content-Type; NULL: application/json */
    mock_gen *gen;
    mock_buf body_out;       /* a complete body, when not streaming */
    bool streaming;
    uint64_t due;            /* when the next wait ends (mock_now_ms) */

    /* sending (mock_send.c) */
    mock_buf out;            /* wire bytes not yet handed to MHD */
    size_t out_off;
    mock_buf plain;          /* an event before gzip */
    mock_gzip *gz;           /* gzip = true on a stream */
    bool gz_done;
    size_t wire_sent;        /* body bytes handed to MHD */
    size_t cut;              /* close after this many body bytes; SIZE_MAX: never */
    size_t stall_at;         /* complete bodies: stall once at this offset; SIZE_MAX: never */
    bool stalled;
    size_t content_sent;
    int gap;                 /* 1: keep-alive comment due at half the delay */
    bool park_failed;        /* out of memory while parking: end the reply */
    bool deliberate;         /* the server ended it (drop, fault, stop, OOM): not a disconnect */
} mock_req;

/* ---- mock_server.c ---- */

void mock_server_logf(mock_server *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wait until `deadline` (or until the client leaves): suspend and park.
   The caller returns at once as if waiting; MHD calls it again when the
   waiter resumes the connection.  If parking failed, the connection was
   resumed right away and q->park_failed says so. */
void mock_server_park(mock_req *q, uint64_t deadline);

/* Count an embeddings request of n texts (n = 0: not readable). */
void mock_server_count_embed(mock_server *m, size_t n);

/* The images of the request now being answered become "the last
   request's" (takes nothing; copies the sizes).  -1 on OOM. */
int mock_server_set_images(mock_server *m, const mock_request_info *info);

/* ---- mock_reply.c ---- */

/* Which route the request's path and method name; sets q->proto,
   q->allow and, for the HF path, the model it names. */
enum req_route mock_reply_route(mock_req *q);

/* Decide status, headers and body (or generator) of the reply, and
   q->due, the time the headers may go.  -1: out of memory. */
int mock_reply_decide(mock_req *q);

/* ---- mock_send.c ---- */

/* Queue the decided reply on q->conn (or, for a fault, refuse to).
   An MHD result for the access handler to return. */
enum MHD_Result mock_send_queue(mock_req *q);

#endif
