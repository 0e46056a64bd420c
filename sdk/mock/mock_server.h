/*
 * mock_server.h -- a scriptable mock LLM server, in-process.
 *
 * A real HTTP/1.1 server (libmicrohttpd) bound to 127.0.0.1 that speaks
 * the three wire protocols the plugins talk: OpenAI Chat Completions
 * (POST /v1/chat/completions, GET /v1/models), Anthropic Messages
 * (POST /v1/messages) and Ollama's native API (POST /api/chat,
 * GET /api/tags), streaming and not.  A libconfig "script" decides what it
 * answers: reply text, chunking, latency, errors and Retry-After, failures
 * that clear after N tries, dropped connections, in-stream errors,
 * malformed bytes, hanging streams.  docs/mock-server.md is the scenario
 * reference.
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

#ifdef __cplusplus
}
#endif
#endif
