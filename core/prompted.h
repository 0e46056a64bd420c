/*
 * prompted.h -- what the core does for a backend that lacks a feature the
 * caller asked for: tools offered in the system prompt and parsed out of
 * the reply text (prompted tool mode), and a JSON Schema given in the
 * system prompt (structured output without a native mode).
 *
 * The chat kind asks here, once per request, which mode applies
 * (ac__prompted_plan), rewrites the messages the plugin will see
 * (ac__prompted_messages: the extra system text; tool calls and results
 * of the history as text in the family's syntax), and puts a tool-call
 * parser in front of the sink (ac__prompted_sink_start).  Engine context
 * or the caller's thread, one request at a time.
 */
#ifndef AC_PROMPTED_H
#define AC_PROMPTED_H
#include "core.h"
#include "message.h"
#include "params.h"
#include "sink.h"

/* Read an llm's chat options from its settings (tool_mode, tool_family,
 * schema_attempts).  AC_OK, or AC_ECONFIG with err naming the setting. */
ac_status ac__chatopts_read(const ac_settings *s, chatopts *co, ac_error *err);

typedef struct prompted_plan {
    int tools;      /* 1: tools go in the prompt, calls come in the text */
    int schema;     /* 1: the schema goes in the prompt */
    int family;     /* ac__toolfam for both */
} prompted_plan;

/* What goes in the prompt although the plugin has a native form: the
 * backend refused the native one for this request (chat_fallback.c). */
#define AC__PROMPT_TOOLS  1u
#define AC__PROMPT_SCHEMA 2u

/* What applies to a request with params p on llm; force: AC__PROMPT_*. */
void ac__prompted_plan(const ac_llm *llm, const ac_gen_params *p, unsigned force,
                       prompted_plan *plan);

/* A try of such a request failed with `why`: the AC__PROMPT_* flags of
 * the native forms the backend said it does not support (a 4xx naming
 * them: "model X does not support tools", "response_format is not
 * supported"), which may go in the prompt instead -- tools only under
 * tool_mode auto.  0: not such a failure. */
unsigned ac__prompted_refused(const ac_llm *llm, const ac_gen_params *p,
                              const prompted_plan *plan, const ac_error *why);

/* The system text to add for plan (tools offered, schema asked for), or
 * NULL with *st AC_OK when none; NULL with *st set (and err) on failure. */
char *ac__prompted_system(const prompted_plan *plan, const ac_gen_params *p, ac_status *st,
                          ac_error *err);

/* Rewrite msgs[0..n) in place for prompted tools: an assistant message's
 * TOOL_CALL parts become text in the family's syntax; a TOOL message
 * becomes a USER message whose text is the result in the family's
 * wrapping.  AC_OK, AC_ENOMEM, AC_EINVAL (err set). */
ac_status ac__prompted_messages(const prompted_plan *plan, ac__msg *msgs, size_t n,
                                ac_error *err);

/* Put a tool-call parser in front of the sink's text (the tools offered
 * are the known names).  AC_OK or AC_ENOMEM. */
ac_status ac__prompted_sink_start(const prompted_plan *plan, ac_sink *k,
                                  const ac_gen_params *p, size_t max_call);
#endif
