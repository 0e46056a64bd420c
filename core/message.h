/*
 * message.h -- owned messages made of content parts (history, requests).
 *
 * An ac__msg is the public ac_message (provider.h) its plugin sees, plus
 * its parts, every string of which it owns.  pub.text is kept equal to
 * its TEXT parts joined, so backends that take one string per message
 * need not join them.  Plugins reach the parts through host->message_part
 * (ac__msg_part), never by indexing, so the part's size is not compiled
 * into them.  Not thread-safe by themselves: owners lock.
 */
#ifndef AC_MESSAGE_H
#define AC_MESSAGE_H
#include <abstractcore/provider.h>

typedef struct ac__msg {
    ac_message pub;     /* role, n_parts, text (joined TEXT parts), name */
    ac_part   *parts;   /* pub.n_parts of them */
    /* What a history knows of the message beyond what is sent: never
     * seen by plugins, kept by ac__msg_copy and in saved sessions. */
    unsigned   flags;         /* AC_MESSAGE_SUMMARY */
    char      *provider;      /* a reply: the instance that answered */
    char      *model;         /* ... and its model */
    long       input_tokens;  /* a reply: its usage; -1 unknown */
    long       output_tokens;
    long long  time_ms;       /* when it joined the history (ms since the
                                 epoch); 0 unknown */
    unsigned   fitted;        /* media.h: the image limits its images were
                                 fitted to (a digest), 0 unknown; not saved */
} ac__msg;

/* An empty message of `role` (no parts, no usage). */
void      ac__msg_init(ac__msg *m, ac_role role);
/* A message of one TEXT part (text may be NULL: no part). */
ac_status ac__msg_text(ac__msg *m, ac_role role, const char *text);
/* Append a deep copy of part p (its struct_size is set here). */
ac_status ac__msg_add(ac__msg *m, const ac_part *p);
/* A TOOL message answering call_id (name may be NULL). */
ac_status ac__msg_tool_result(ac__msg *m, const char *call_id, const char *name,
                              const char *content, int is_error);
/* Set the participant name (copied; NULL clears it). */
ac_status ac__msg_set_name(ac__msg *m, const char *name);
ac_status ac__msg_copy(ac__msg *dst, const ac__msg *src);
/* Set the reply's origin (copied; either may be NULL). */
ac_status ac__msg_set_origin(ac__msg *m, const char *provider, const char *model);
/* The assistant turn of a response: its text and tool calls, with the
 * response's provider, model and usage.  A call the
 * backend gave no id (Ollama) gets "call_<seq>_<i>", in the history and in
 * the response too, so the history stays valid for backends that require
 * ids (OpenAI, Anthropic) and the caller answers the call by that id. */
ac_status ac__msg_from_response(ac__msg *dst, ac_response *r, size_t seq);
void      ac__msg_clear(ac__msg *m);
void      ac__msgs_free(ac__msg *v, size_t n);
/* Part i of the message behind a public ac_message (NULL out of range). */
const ac_part *ac__msg_part(const ac_message *m, size_t i);
/* The first part of type t, or NULL. */
const ac_part *ac__msg_find(const ac__msg *m, ac_part_type t);
/* 1 if s (NUL-terminated) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF); NULL counts as valid. */
int       ac__utf8_valid(const char *s);
#endif
