/*
 * session.h -- what the tool loop (toolrun.c) needs of a session beyond
 * the public API: a reference across the rounds of a run, the llm for the
 * blocking-call check, tool results marked as errors, and the ids the
 * history gave to a reply's tool calls.  Defined in session.c; every
 * function may be called from any thread.
 */
#ifndef AC_SESSION_H
#define AC_SESSION_H
#include <abstractcore/abstractcore.h>

/* Keep s alive (ac_session_free only drops the caller's reference). */
void    ac__session_hold(ac_session *s);
void    ac__session_release(ac_session *s);
/* The llm of the next turn, with a reference the caller drops
 * (ac__llm_unref). */
ac_llm *ac__session_llm(ac_session *s);
/* ac_session_add_tool_result with an is_error flag (backends that have
 * one, as Anthropic does, send it). */
ac_status ac__session_add_result(ac_session *s, const char *tool_call_id, const char *name,
                                 const char *content, int is_error);
/* The id of tool call i of the last assistant message of the history, as
 * the history holds it (a call the backend gave no id gets one there):
 * an ac__strdup'd copy, or NULL (no such call, no memory). */
char   *ac__session_call_id(ac_session *s, size_t i);
#endif
