/*
 * session.h -- what session.c (conversations and their turns) and
 * session_file.c (saving and loading them) share: the session itself.
 *
 * Every field below is guarded by `mu` except `refs` (atomic).  A turn is
 * a queued ac_session_agenerate (session.c).
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
#endif
