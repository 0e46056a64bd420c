/*
 * toolprompt.h -- telling a model, in its family's own words, which tools
 * it has and how to call them (prompted tool mode), and writing a tool
 * result back for templates that have no tool role.
 *
 * The texts follow each family's chat template or model card (sources in
 * core/tools/SYNTAXES.md); the call syntax each one asks for is one the
 * parser of that family accepts (toolparse.h).  Pure functions,
 * thread-safe; results are ac__malloc'd, the caller frees them.
 */
#ifndef AC_TOOLPROMPT_H
#define AC_TOOLPROMPT_H
#include <stddef.h>
#include "toolparse.h"

/* A tool as the caller defined it. */
typedef struct ac__tooldef {
    const char *name;          /* required */
    const char *description;   /* may be NULL */
    const char *parameters;    /* JSON Schema object text; NULL = no parameters */
} ac__tooldef;

/*
 * The system-prompt text that offers `tools` to a model of family fam
 * (AUTO: a generic text asking for <tool_call> tags, which every family's
 * parser of AUTO accepts).  The caller appends it to its own system
 * prompt (after a blank line) or sends it as the system prompt.  NULL on
 * error: AC_EINVAL (no tools, a tool without a name, parameters that are
 * not a JSON object) or AC_ENOMEM.
 */
char *ac__toolprompt_system(ac__toolfam fam, const ac__tooldef *tools, size_t n,
                            ac_error *err);

/*
 * A tool result as the text of a user message, for chat templates with
 * no tool role (or a server that drops it):
 *   HERMES, AUTO, PHI, FUNCALL  <tool_response>\n{content}\n</tool_response>
 *   LLAMA3                      {"output": "<content>"}   (the ipython turn)
 *   MISTRAL                     [TOOL_RESULTS] {"content": "<content>",
 *                               "call_id": "<id>"}[/TOOL_RESULTS]
 *   GEMMA                       ```tool_output\n{content}\n```
 * Several results for one turn are joined by "\n" by the caller.  id
 * and name may be NULL.  NULL on AC_EINVAL (content NULL) or AC_ENOMEM.
 */
char *ac__toolprompt_result(ac__toolfam fam, const char *id, const char *name,
                            const char *content, ac_error *err);
#endif
