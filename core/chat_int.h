/*
 * chat_int.h -- the chat request's insides, shared by chat.c (building,
 * structured-output rounds, the kind's table) and chat_fallback.c (moving
 * a request to its next provider).  Nothing else includes it.
 */
#ifndef AC_CHAT_INT_H
#define AC_CHAT_INT_H
#include "chat.h"
#include "prompted.h"

struct ac__schema;

typedef struct chat_request {
    ac_request      base;
    ac_gen_params  *params;     /* owned copy */
    ac__msg         user;       /* the prompt and its attachments (ac__chat_user) */
    int             user_made;  /* 1 once ac__chat_user ran */
    ac__msg        *msgs;       /* owned: what the plugin sees */
    size_t          n_msgs;
    ac_gen_request  greq;       /* what the plugin sees */
    ac_sink         sink;
    prompted_plan   plan;
    unsigned        force;      /* AC__PROMPT_*: native forms the backend
                                   refused, in the prompt instead */
    /* Structured output. */
    const struct ac__schema *schema;  /* params' compiled schema, or NULL */
    int             attempts;   /* tries allowed */
    int             round;      /* this try, 1-based */
    int             again;      /* end found a reply to ask again about */
    char           *feedback;   /* the user message of the next round */
    long            used_in, used_out;  /* usage of earlier rounds; -1 unknown */
    /* Fallback: the providers to move to, in order, and the messages as
     * the caller gave them (before any prompted rewriting for a plugin;
     * kept too for a request with tools or a schema, which may be made
     * again with them in the prompt). */
    char          **fb_provider;
    char          **fb_model;   /* NULL entries: mapped by the provider */
    size_t          n_fb, fb_next;
    ac__msg        *base_msgs;
    size_t          n_base;
    /* ac_count_tokens: the plugin's count request instead of a chat. */
    int             count_only;
    long            counted;
} chat_request;

#define CHAT(q) ((chat_request *)(q))

/* chat.c: fit the messages (from base_msgs when given, else as they are)
 * and the sink to what the llm's plugin takes natively; fill the plugin's
 * request; build the HTTP request (not for run_local plugins).  0 or the
 * failure, with q->preerr. */
ac_status ac__chat_fit(chat_request *c, const ac__msg *base, size_t n_base);
void      ac__chat_fill(chat_request *c);
ac_status ac__chat_http(ac_request *q);

/* chat_fallback.c: the chain for a new request (params', else its
 * provider's `fallback` setting); the kind's fallback. */
ac_status ac__chat_chain(chat_request *c);
int       ac__chat_fallback(ac_request *q, const ac_error *why, ac_error *err);
int       ac__chat_downgrade(ac_request *q, const ac_error *why, int apply, ac_error *err);
/* "tools", "schema" or "tools and schema", for AC__PROMPT_* flags. */
const char *ac__chat_forced_text(unsigned force);
void      ac__chat_chain_free(chat_request *c);
#endif
