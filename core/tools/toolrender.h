/*
 * toolrender.h -- writing parsed tool calls back as text in a family's
 * syntax (the original AbstractCore's `tool_call_tags` rewriting: an
 * agentic client that reads calls out of the text gets them in the form
 * it knows).
 *
 * What comes out is exactly what the parser of that family (toolparse.h)
 * reads back as the same calls (same names and arguments, and the same
 * ids where the syntax carries one: MISTRAL), given the names as known
 * tools; the tests check it for every family.
 *   HERMES, AUTO  <tool_call>\n{"name": N, "arguments": A}\n</tool_call>
 *                 one per call, joined by "\n"
 *   LLAMA3        <|python_tag|>{"name": N, "parameters": A}; {...}
 *   MISTRAL       [TOOL_CALLS] [{"name": N, "arguments": A, "id": I}, ...]
 *   GEMMA         ```tool_code\nN(k=v, ...)\n...```  (Python literals;
 *                 keys that are not identifiers go in **{...})
 *   PHI           <|tool_call|>{"name": N, "arguments": A}</|tool_call|>
 *                 (the original's closing tag; <|/tool_call|> parses too)
 *   FUNCALL       <function_call>{"name": N, "arguments": A}</function_call>
 * Pure; thread-safe.
 */
#ifndef AC_TOOLRENDER_H
#define AC_TOOLRENDER_H
#include <stddef.h>
#include "toolparse.h"

/* The n calls as text (ac__malloc'd).  Each call's args must be a JSON
 * object text (NULL or "" = {}); id may be NULL.  NULL on AC_EINVAL (a
 * bad name or arguments) or AC_ENOMEM. */
char *ac__toolrender(ac__toolfam fam, const ac__toolcall *calls, size_t n, ac_error *err);
#endif
