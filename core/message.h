/*
 * message.h -- owned ac_message values (history, request messages).
 *
 * An owned ac_message holds heap copies of all its strings; ac__msg_clear
 * frees them.  Not thread-safe by themselves: owners lock.
 */
#ifndef AC_MESSAGE_H
#define AC_MESSAGE_H
#include <abstractcore/provider.h>

ac_status ac__msg_init(ac_message *m, ac_role role, const char *content);
ac_status ac__msg_copy(ac_message *dst, const ac_message *src);
/* The assistant turn of a response: its text and tool calls.  A call the
 * backend gave no id (Ollama) gets "call_<seq>_<i>", so the history stays
 * valid for backends that require ids (OpenAI, Anthropic). */
ac_status ac__msg_from_response(ac_message *dst, const ac_response *r, size_t seq);
void      ac__msg_clear(ac_message *m);
void      ac__msgs_free(ac_message *v, size_t n);
/* 1 if s (NUL-terminated) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF); NULL counts as valid. */
int       ac__utf8_valid(const char *s);
#endif
