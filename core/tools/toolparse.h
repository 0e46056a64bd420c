/*
 * toolparse.h -- tool calls written as text by open models ("prompted"
 * tool mode): the streaming parser, the syntax families, and picking a
 * family from a model name.
 *
 * Models served without a native tool API (Ollama's generate, llama.cpp,
 * LM Studio, vLLM without a tool parser, in-process GGUF) write their
 * tool calls into the reply text in their family's own syntax.  The
 * parser is fed that text as it streams, in pieces of any size, and
 * hands on, in order:
 *   - text that is safe to show: never any part of a tool-call tag or a
 *     call's body (it holds back only what could still become a tag,
 *     e.g. "<tool" at the end of a piece, and releases it as soon as it
 *     cannot);
 *   - calls: id, name, arguments as a JSON object text;
 *   - "bad" regions: a tag whose body is not a call, or (at finish) a
 *     tag or call left open, with the raw text, so the caller can show it
 *     and flag it -- nothing is dropped silently.
 * The syntaxes and where each fact comes from: core/tools/SYNTAXES.md.
 *
 * Text around calls: white space just before a call and just after it
 * is dropped; when text resumes after a call, one separator stands for
 * what was dropped ("\n\n" if it held a blank line, "\n" if a newline,
 * " " if spaces, nothing if nothing).  A reply without calls comes out
 * byte for byte as it went in, however it was cut.
 *
 * Wiring into the sink (prompted tool mode), per response:
 *   p = ac__toolparse_new(fam, tool_names, n_tools, max_response_bytes);
 *   the plugin's text goes to ac__toolparse_feed instead of straight to
 *   ac__sink_emit_text (reasoning does not go through the parser);
 *   on_text -> ac__sink_emit_text(k, s, n);
 *   on_call -> ac__sink_emit_tool_call(k, key, id, name, args, args_len, 1)
 *              then ac__sink_emit_tool_call_end(k, key), key a number no
 *              native call of the response uses (e.g. 1000000 + index);
 *   on_bad  -> ac__sink_emit_text(k, raw, n) and a warning on the response
 *              (the model meant a call the library could not read);
 *   at the end of the body, before ac__sink_finalize: ac__toolparse_finish
 *   with the same callbacks, then ac__toolparse_free.
 *
 * Not thread-safe: one parser per response, used by one thread.  The
 * family helpers are pure and thread-safe.
 */
#ifndef AC_TOOLPARSE_H
#define AC_TOOLPARSE_H
#include <stddef.h>
#include <abstractcore/abstractcore.h>

/* A syntax family: how a model family writes tool calls (and how it is
 * prompted to; see toolprompt.h).  AUTO recognises every syntax. */
typedef enum ac__toolfam {
    AC__TF_AUTO = 0,    /* every syntax below; prompts use the generic form */
    AC__TF_HERMES,      /* Qwen 2.5 / 3, Hermes: <tool_call>{json}</tool_call> */
    AC__TF_LLAMA3,      /* Llama 3.1-3.3: <|python_tag|>{json}; bare JSON;
                           <function=name>{json}</function> */
    AC__TF_MISTRAL,     /* [TOOL_CALLS] [{...}] and [TOOL_CALLS]name[ARGS]{...} */
    AC__TF_GEMMA,       /* ```tool_code name(k=v)``` and ```json {...}``` */
    AC__TF_PHI,         /* <|tool_call|>{json}<|/tool_call|>; functools[...] */
    AC__TF_FUNCALL,     /* <function_call>{json}</function_call>, <functioncall> */
    AC__TF_COUNT
} ac__toolfam;

/* The family's short name ("auto", "hermes", "llama3", "mistral",
 * "gemma", "phi", "function_call"); static. */
const char *ac__toolfam_name(ac__toolfam fam);
/* The family named `name` (those names, plus the aliases "qwen", "xml",
 * "llama", "special_token", "tool_code", "generic"), case-insensitive.
 * 0 and *out set, or -1 for an unknown name. */
int ac__toolfam_parse(const char *name, ac__toolfam *out);
/* The family of a model, from its name (the table in toolfamily.c, e.g.
 * "qwen3:4b" -> HERMES, "meta-llama/Llama-3.1-8B" -> LLAMA3); AUTO when
 * nothing matches or model is NULL. */
ac__toolfam ac__toolfam_from_model(const char *model);

/* One parsed call, valid during the callback only. */
typedef struct ac__toolcall {
    const char *id;        /* the syntax's own id, else "call_<n>" (n = 1, 2, ...
                              in the order calls appear in the response) */
    const char *name;
    const char *args;      /* a JSON object text, "{}" if none */
    size_t      args_len;
    int         known;     /* 1 if name is one of the parser's known tools */
} ac__toolcall;

/* What a "bad" region is. */
typedef enum ac__toolbad {
    AC__TB_INVALID = 1,    /* a complete tag or marker whose body is not a
                              call (garbage, not JSON, no name) */
    AC__TB_UNTERMINATED    /* at finish: a tag or call still open, or text
                              ending in what is most likely the start of a
                              tag ("<tool_c") */
} ac__toolbad;

/* The parser's outputs, in the order they occur in the reply.  A
 * callback returning anything but AC_OK stops the parser, which returns
 * that status (err is the callback's to fill). */
typedef struct ac__toolparse_cb {
    ac_status (*on_text)(void *ctx, const char *s, size_t n, ac_error *err);
    ac_status (*on_call)(void *ctx, const ac__toolcall *call, ac_error *err);
    /* raw: the region's bytes as the model wrote them (tag included). */
    ac_status (*on_bad)(void *ctx, ac__toolbad why, const char *raw, size_t n,
                        ac_error *err);
} ac__toolparse_cb;

typedef struct ac__toolparser ac__toolparser;

/* A new parser for one response.
 *   fam           the syntaxes to recognise (AUTO: all of them);
 *   known/n_known the tools offered to the model (copied).  A call in a
 *                 strong syntax (a special tag) is reported even for an
 *                 unknown name (known = 0); a bare JSON object, a
 *                 ```json or ```tool_code block or a pythonic list is
 *                 a call only if it names known tools, else it is text;
 *   max_call      the largest call region in bytes (tag and body); 0
 *                 means 1 MiB.  A larger call fails with AC_ETOOBIG.
 * NULL when out of memory. */
ac__toolparser *ac__toolparse_new(ac__toolfam fam, const char *const *known,
                                  size_t n_known, size_t max_call);
void            ac__toolparse_free(ac__toolparser *p);       /* NULL ok */

/* Feed n bytes of reply text.  Calls the callbacks for everything they
 * settle.  AC_ETOOBIG (a call over max_call), AC_ENOMEM, or a callback's
 * status; once failed, the parser stays failed (later calls return the
 * same status). */
ac_status ac__toolparse_feed(ac__toolparser *p, const char *s, size_t n,
                             const ac__toolparse_cb *cb, void *ctx, ac_error *err);

/* The reply ended: release what was held.  A tag or call left open is
 * reported through on_bad (AC__TB_UNTERMINATED) with its raw text; a
 * call whose body is complete but whose closing tag is missing (a stop
 * sequence ate it) is a call.  Call once; feed after finish is
 * AC_EINVAL. */
ac_status ac__toolparse_finish(ac__toolparser *p, const ac__toolparse_cb *cb, void *ctx,
                               ac_error *err);

/* Calls reported so far, and bad regions reported so far. */
size_t ac__toolparse_calls(const ac__toolparser *p);
size_t ac__toolparse_bad(const ac__toolparser *p);
#endif
