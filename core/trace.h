/*
 * trace.h -- the trace file: one JSON line per try and per request, for
 * jq and for the operator (abstractcore.trace in the config, `acore
 * --trace FILE`).
 *
 *   {"type":"attempt","request":7,"attempt":1,"provider":"openai",
 *    "model":"gpt-4o-mini","status":"AC_EHTTP","http_status":503,
 *    "error":"...","started_ms":0.1,"latency_ms":210.4}
 *   {"type":"request","request":7,"provider":"anthropic","model":"...",
 *    "status":"AC_OK","attempts":2,"latency_ms":911.2,
 *    "input_tokens":12,"output_tokens":40[,"prompt":"...","reply":"..."]}
 *
 * The prompt and the reply are written only when `content` was asked for:
 * a trace is what operators share.  Keys are never written.  Lines are
 * written whole (one write each), so several cores may share a file.
 * Engine context; ac__trace_open / close on the core's thread.
 */
#ifndef AC_TRACE_H
#define AC_TRACE_H
#include <abstractcore/abstractcore.h>

struct trace;
/* Open path for appending (created 0600).  NULL with err naming the
 * file. */
struct trace *ac__trace_open(const char *path, int content, ac_error *err);
void          ac__trace_event(struct trace *t, const ac_hook_event *ev);
void          ac__trace_close(struct trace *t);   /* NULL is a no-op */
#endif
