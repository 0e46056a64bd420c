/*
 * context.c -- token estimates and trimming (see context.h).
 */
#include "context.h"

#include <string.h>

#define FRAME_TOKENS 4
#define IMAGE_TOKENS 85

static long bytes_tokens(size_t n) { return (long)((n + 3) / 4); }

static long message_tokens(const ac__msg *m)
{
    long t = FRAME_TOKENS;
    for (size_t j = 0; j < m->pub.n_parts; j++) {
        const ac_part *p = &m->parts[j];
        switch (p->type) {
        case AC_PART_IMAGE:
            t += IMAGE_TOKENS;
            break;
        case AC_PART_TOOL_CALL:
            t += bytes_tokens((p->name ? strlen(p->name) : 0) +
                              (p->arguments ? strlen(p->arguments) : 0));
            break;
        default: /* text, documents, tool results: their text */
            t += bytes_tokens(p->text_len);
            break;
        }
    }
    return t;
}

long ac__estimate_tokens(const ac__msg *msgs, size_t n, const char *system)
{
    long t = system ? FRAME_TOKENS + bytes_tokens(strlen(system)) : 0;
    for (size_t i = 0; i < n; i++)
        t += message_tokens(&msgs[i]);
    return t;
}

long ac__trim_count(const ac__msg *msgs, size_t n, const char *system, long max_tokens)
{
    long total = ac__estimate_tokens(msgs, n, system);
    if (total <= max_tokens)
        return 0;
    size_t first = n && msgs[0].pub.role == AC_ROLE_SYSTEM ? 1 : 0;
    /* The last turn: from the last user message on. */
    size_t last = n;
    while (last > first && msgs[last - 1].pub.role != AC_ROLE_USER)
        last--;
    if (last > first)
        last--; /* at the user message */
    else
        last = first;
    size_t drop = first;
    while (total > max_tokens && drop < last) {
        /* Drop one whole turn: this message and every one up to the next
         * user message. */
        do {
            total -= message_tokens(&msgs[drop]);
            drop++;
        } while (drop < last && msgs[drop].pub.role != AC_ROLE_USER);
    }
    if (total > max_tokens)
        return -1;
    return (long)(drop - first);
}
