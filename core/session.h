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
typedef struct compaction compaction;

/* A queued item of a session: a chat turn (ac_session_agenerate: q set)
 * or an on-demand compaction (ac_session_acompact: job set). */
struct turn {
    ac_session  *s;
    ac_request  *q;        /* a reference, until submitted */
    char        *prompt;   /* NULL: continue after tool results */
    compaction  *job;
    char        *warning;  /* for the turn's response: its compaction failed */
    struct turn *next;
};

struct ac_session {
    atomic_int      refs;
    pthread_mutex_t mu;
    ac_llm         *llm;
    char           *system;
    ac__msg        *hist;
    size_t          n, cap;
    ac__msg        *archive;  /* what compactions replaced, oldest first */
    size_t          n_archive, cap_archive;
    unsigned        epoch;    /* changes when the start of the history does
                                 (cleared, compacted) */
    char            id[37];   /* a UUID, fixed at creation (or load) */
    long long       created_ms, updated_ms;
    compaction     *auto_compact; /* ac_session_set_compaction, or NULL */
    turn           *queue_head, *queue_tail;
    ac_request     *current;  /* the running request (a reference): a turn's,
                                 or a compaction's summary */
    ac_request     *waiting;  /* a turn waiting for its compaction (a
                                 reference): cancelled with the session */
    int             busy;
};

/* Append m to the history (takes ownership of *m on success, leaving it
 * empty), stamping its time if it has none and the session's updated
 * time.  Called with mu held.  AC_OK or AC_ENOMEM. */
ac_status ac__session_push(ac_session *s, ac__msg *m);
/* Append m to the archive, as ac__session_push does to the history. */
ac_status ac__session_archive_push(ac_session *s, ac__msg *m);
/* Milliseconds since the epoch, now. */
long long ac__wall_ms(void);

/* Submit turn t's request now (its history snapshot is built here).
 * AC_OK, or the status of a submit that did not take it: then the turn is
 * unfinished and its caller ends it. */
ac_status ac__turn_submit_now(turn *t);
/* Queue t behind the session's work: 1 when the session was idle (it is
 * busy now, and the caller runs t at once), 0 when t waits its turn. */
int       ac__session_enqueue(ac_session *s, turn *t);
/* The session's next queued item runs, or it goes idle.  Any thread. */
void      ac__session_advance(ac_session *s);

/* compact.c.  Before turn t is submitted: if the session compacts
 * automatically and the turn's input is over the threshold, start a
 * compaction that submits t when it ends (1), else 0 (submit t now;
 * t->warning may say why a compaction could not start). */
int       ac__compact_before(turn *t);
/* Run on-demand job t (t->job; the session is busy with it).  Ends by
 * calling the job's callback, freeing t and advancing the session. */
void      ac__compact_dispatch(turn *t);
/* A queued job is not to run (the session was freed): it ends with
 * AC_ECANCELED when its turn comes. */
void      ac__compact_cancel(compaction *c);
/* The settings of ac_session_set_compaction (NULL ok). */
void      ac__compact_settings_free(compaction *c);

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
