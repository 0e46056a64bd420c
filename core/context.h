/*
 * context.h -- fitting a history into a model's input: token estimates,
 * max_input_tokens, and trimming oldest turns first.
 *
 * The estimate is a documented heuristic (docs/api.md, "Context"): for
 * each message 4 tokens of framing, plus one token per 4 bytes of its
 * text, its tool calls' names and arguments and its tool results (UTF-8
 * bytes, rounded up), plus 85 per image (a low-detail image's cost at
 * OpenAI) and a document's text as text.  Real tokenizers give 3 to 5
 * bytes a token for English and code, fewer for other scripts: the
 * estimate is meant to keep a request under a limit with a margin, not
 * to bill by.
 *
 * Pure functions; thread-safe.
 */
#ifndef AC_CONTEXT_H
#define AC_CONTEXT_H
#include "message.h"

/* Estimated input tokens of msgs[0..n) plus a system prompt (may be
 * NULL). */
long ac__estimate_tokens(const ac__msg *msgs, size_t n, const char *system);

/* The turns to drop so that the rest fits in max_tokens: the count of
 * leading messages to remove (never a system message: the first message
 * is kept if it is one), always whole turns -- a turn begins at a user
 * message and runs to the next one, so a tool call never loses its
 * result -- and never the last turn.  Returns that count, or -1 when even
 * the last turn alone does not fit. */
long ac__trim_count(const ac__msg *msgs, size_t n, const char *system, long max_tokens);
#endif
