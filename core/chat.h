/*
 * chat.h -- the chat kind of request: messages in, a reply (text,
 * reasoning, tool calls, usage, finish) out, as events and as an
 * ac_response.  ac_generate, ac_agenerate, pull streams and session turns
 * are all chat requests.
 */
#ifndef AC_CHAT_H
#define AC_CHAT_H
#include "request.h"
#include "sink.h"
#include "message.h"

/* A chat request on llm.  params and cb may be NULL; stream defaults to
 * params' choice, else to whether cb has on_event.  NULL on no memory. */
ac_request *ac__chat_new(ac_llm *llm, const ac_gen_params *params, const ac_callbacks *cb,
                         void *user);
/* Make the request's user message: the prompt (NULL: none) and its
 * parameters' attachments, images fitted to the llm (media.h).  Called on
 * the caller's thread, so no image is resized in the engine context; a
 * request whose ac__chat_build comes later (a queued session turn) calls
 * it first.  On failure records prestatus, as ac__chat_build does, and
 * returns it. */
ac_status   ac__chat_user(ac_request *q, const char *prompt);
/* The user message made by ac__chat_user, or NULL when it has no part (a
 * turn that continues after tool results).  Borrowed from q. */
const ac__msg *ac__chat_user_msg(const ac_request *q);
/* Build the messages (system prompt, then history, then the user message
 * of ac__chat_user -- made here from prompt when it was not made yet;
 * each may be NULL / 0) and the plugin's HTTP request.  On failure records
 * prestatus (the engine reports it through on_done) and returns it.  The
 * caller's thread, or the engine context for a queued session turn. */
ac_status   ac__chat_build(ac_request *q, const char *system, const ac__msg *history,
                           size_t n_history, const char *prompt);
/* Make and submit a chat request of history hist[0..n) (copied), as
 * ac_agenerate does for a prompt.  NULL with err when it could not
 * start. */
ac_request *ac__chat_start(ac_llm *llm, const ac__msg *hist, size_t n,
                           const ac_gen_params *params, const ac_callbacks *cb, void *user,
                           ac_error *err);
/* A request for the plugin's own count of the input tokens of
 * hist[0..n) (build_count_request), and after it succeeded, the count. */
ac_request *ac__chat_count(ac_llm *llm, const ac__msg *hist, size_t n,
                           const ac_gen_params *params, ac_error *err);
long        ac__chat_counted(const ac_request *q);
/* host->message and host->tool: message / tool i of the chat request a
 * plugin's ac_gen_request belongs to (NULL out of range). */
const ac_message  *ac__chat_message(const ac_gen_request *g, size_t i);
const ac_tool_def *ac__chat_tool(const ac_gen_request *g, size_t i);
/* The text of the last user message (for the trace file), or NULL. */
const char *ac__chat_prompt(const ac_request *q);
/* The request's own copy of its parameters. */
const ac_gen_params *ac__chat_params(const ac_request *q);
/* The chat kind's table (replay.c drives it). */
extern const rq_kind ac__chat_kind;
#endif
