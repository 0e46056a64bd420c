/*
 * mock_server.h -- a scriptable mock LLM server, in-process.
 *
 * A real HTTP/1.1 server (libmicrohttpd) bound to 127.0.0.1 that speaks
 * the three wire protocols the plugins talk: OpenAI Chat Completions
 * (POST /v1/chat/completions, GET /v1/models), Anthropic Messages
 * (POST /v1/messages, /v1/messages/count_tokens) and Ollama's native API
 * (POST /api/chat, GET /api/tags), streaming and not, plus embeddings
 * (OpenAI, Ollama, Text Embeddings Inference, the Hugging Face router).
 * A libconfig "script" decides what it answers: reply text, chunking,
 * latency, errors and Retry-After, failures that clear after N tries,
 * per-round replies, dropped and reset connections, stalls, in-stream
 * errors, malformed, compressed or endless bodies, hanging streams.
 * docs/mock-server.md is the scenario reference.
 *
 * The CUnit suites, the acore CLI's demo mode and the benchmarks start it
 * in-process; acore-mockd(1) is the same server as a program.
 *
 * Threads: the server runs one libmicrohttpd polling thread (epoll) plus
 * one timer thread; delays and hanging streams park their connection
 * (MHD suspend/resume), so a thousand slow streams cost no CPU and no
 * thread each.  Every function here may be called from any thread, also
 * while requests are in flight, except that mock_server_stop() must be the
 * last call on a server.
 *
 * Strings passed in are copied.  Functions that return `char *` return a
 * malloc'd copy the caller frees with free().
 */
#ifndef AC_MOCK_SERVER_H
#define AC_MOCK_SERVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mock_server mock_server;

/*
 * Start a server.
 *   script_text  libconfig text (see docs/mock-server.md); NULL or "" means
 *                the built-in defaults: reply "Hello from the AbstractCore
 *                mock server.", 8 chunks, no delay.
 *   port         TCP port on 127.0.0.1; 0 picks a free one (read it back
 *                with mock_server_port()).
 *   errbuf       may be NULL; on failure receives a one-line message, for a
 *                script error "script:LINE: what is wrong".
 * Returns the running server (stop it with mock_server_stop()), or NULL on
 * a script error, a port that cannot be bound, or out of memory.
 */
mock_server *mock_server_start(const char *script_text, int port, char *errbuf, size_t errlen);

/*
 * A request log line, called on the server's thread once per request when
 * its response is queued, and once more if the client goes away before the
 * response ended.  `line` is borrowed for the duration of the call; the
 * callback must not block and must not call mock_server_stop().
 */
typedef void (*mock_log_fn)(void *user, const char *line);

/*
 * mock_server_start() with the knobs acore-mockd needs.
 *   script_name     name used in error messages instead of "script"
 *                   (e.g. the file name); may be NULL.
 *   overrides_text  libconfig text whose top-level settings override the
 *                   script's top-level ones (the program's --reply,
 *                   --chunks, --delay-ms); may be NULL.  Settings inside the
 *                   script's scenarios still win over it.
 *   log, log_user   request log callback; log may be NULL (silent).
 */
mock_server *mock_server_start_ex(const char *script_text, const char *script_name,
                                  const char *overrides_text, int port,
                                  mock_log_fn log, void *log_user,
                                  char *errbuf, size_t errlen);

/* Every knob at once; a zeroed struct is the defaults. */
typedef struct mock_server_options {
    const char *script_text;    /* as mock_server_start_ex() */
    const char *script_name;
    const char *overrides_text;
    int port;
    mock_log_fn log;
    void *log_user;
    /* Connections served at once; 0: 65536.  Past it, new connections
       wait in the listen backlog until one closes. */
    unsigned max_connections;
    /* Close a keep-alive connection idle this many seconds; 0: 30;
       negative: never.  A connection whose reply is waiting (delays,
       stalls, a hanging stream) is not idle and is never closed by it. */
    int idle_timeout_s;
} mock_server_options;

/* Start a server with options o (copied).  As mock_server_start(). */
mock_server *mock_server_start_opts(const mock_server_options *o, char *errbuf, size_t errlen);

/* The bound port (never 0 for a running server); 0 if m is NULL. */
int mock_server_port(const mock_server *m);

/* "http://127.0.0.1:PORT", borrowed; valid until mock_server_stop(m).
   "" if m is NULL. */
const char *mock_server_url(const mock_server *m);

/*
 * Stop the server: every connection is closed, including streams that are
 * delayed or hanging (those end at once; their clients see a truncated
 * transfer), then all memory is freed.  NULL is a no-op.  Must not be
 * called from a log callback.
 */
void mock_server_stop(mock_server *m);

/* Requests received so far, on every path (counted when the request has
   been read completely, before it is answered).  0 if m is NULL. */
size_t mock_server_request_count(const mock_server *m);

/* A malloc'd, NUL-terminated copy of the body of the last request ("" for a
   request without body).  NULL if no request has arrived yet, m is NULL,
   or out of memory. */
char *mock_server_last_body(const mock_server *m);

/* A malloc'd copy of header `name` (matched case-insensitively) of the
   last request.  NULL if that request had no such header, no request has
   arrived yet, an argument is NULL, or out of memory. */
char *mock_server_last_header(const mock_server *m, const char *name);

/*
 * Responses whose client went away before the response ended: a stream
 * cancelled mid-way, a client that gave up during first_byte_delay_ms or
 * on a hanging stream.  Streams the script itself cut (drop_after_chunks)
 * and connections closed by mock_server_stop() are not counted.  The count
 * rises as soon as the server notices, which for a parked stream (delay,
 * hang) is at once.  0 if m is NULL.
 */
size_t mock_server_disconnects(const mock_server *m);

/*
 * Requests in flight: begun (their request line and headers have arrived)
 * and not yet completely answered, whether waiting, streaming or being
 * read.  The peak is the maximum of that since the start or the last
 * mock_server_reset_peak(), which sets it to the current count.  A client
 * that sends N requests at once to a server that delays its headers sees
 * peak == N; a client that waits for each reply's headers sees 1.
 * 0 if m is NULL.
 */
size_t mock_server_inflight(const mock_server *m);
size_t mock_server_peak_inflight(const mock_server *m);
void mock_server_reset_peak(mock_server *m);

/* TCP connections open now, and accepted since the start.  An open one
   closes when the client closes it, the idle timeout passes, or a fault
   closes it.  0 if m is NULL. */
size_t mock_server_connections(const mock_server *m);
size_t mock_server_connections_total(const mock_server *m);

/* Embedding requests received on any embeddings path (also those answered
   with an error), the texts they carried, and the largest batch (texts in
   one request, refused ones included).  0 if m is NULL. */
size_t mock_server_embed_requests(const mock_server *m);
size_t mock_server_embed_inputs(const mock_server *m);
size_t mock_server_embed_max_batch(const mock_server *m);

/*
 * Images in the messages of the last request (OpenAI image_url parts,
 * Anthropic image blocks, Ollama "images"): returns their number and
 * writes the decoded size in bytes of the first `max` of them to sizes
 * (0 for an image given as an http(s) URL, which is never fetched).  A
 * request without messages carries none.  sizes may be NULL when max is
 * 0.  0 if m is NULL.
 */
size_t mock_server_last_images(const mock_server *m, size_t *sizes, size_t max);

/*
 * The embedding the server sends for text (len bytes) with embedding_seed
 * `seed` in `dim` dimensions, normalized, each value a float as on the
 * wire: so a test can check a vector, or recompute what a client stored.
 * docs/mock-server.md ("Embeddings") gives the recipe.  Thread-safe, no
 * server needed.
 */
void mock_embedding(const char *text, size_t len, long seed, size_t dim, float *out);

#ifdef __cplusplus
}
#endif
#endif
