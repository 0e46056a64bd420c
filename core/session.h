/*
 * session.h -- what session.c (conversations and their turns),
 * session_file.c (saving and loading them) and toolrun.c (the tool loop)
 * share.
 *
 * Every field of the session is guarded by `mu` except `refs` (atomic).
 * A turn is a queued ac_session_agenerate (session.c).  The functions
 * below may be called from any thread unless they say otherwise.
 */
#ifndef AC_SESSION_H
#define AC_SESSION_H
#include <pthread.h>
#include <stdatomic.h>
#include "message.h"
#include "request.h"

typedef struct turn turn;

struct ac_session {
    atomic_int      refs;
    pthread_mutex_t mu;
    ac_llm         *llm;
    char           *system;
    ac__msg        *hist;
    size_t          n, cap;
    turn           *queue_head, *queue_tail;
    ac_request     *current;  /* the running turn (a reference) */
    int             busy;
};

/* Append m to the history (takes ownership of *m on success, leaving it
 * empty).  Called with mu held.  AC_OK or AC_ENOMEM. */
ac_status ac__session_push(ac_session *s, ac__msg *m);

/* For the tool loop: keep s alive across the rounds of a run
 * (ac_session_free only drops the caller's reference). */
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
