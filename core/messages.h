/*
 * messages.h -- the insides of ac_messages (messages.c), for session.c,
 * which adds a list to a history.
 */
#ifndef AC_MESSAGES_H
#define AC_MESSAGES_H
#include "message.h"

struct ac_messages {
    ac__msg *v;
    size_t   n, cap;
};
#endif
