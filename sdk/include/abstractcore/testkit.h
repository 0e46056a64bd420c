/*
 * testkit.h -- testing a provider plugin.
 *
 * Two tools, for the two halves of a plugin:
 *
 *   - The fake host (in libabstractcore-provider, no core needed): load a
 *     plugin with ac_fake_load and drive its functions one by one --
 *     init with the settings and environment you give it, build_request
 *     from a request you describe, parse_* on bodies and frames you feed
 *     -- then look at what it did: the HTTP request it built, what it
 *     emitted, what it reported.  The allocator it hands the plugin can be
 *     made to fail, to run every error path.
 *
 *   - ac_replay (in libabstractcore): recorded response bytes through the
 *     engine's real decoding path -- status, SSE or NDJSON framing in
 *     pieces of any size, the plugin, the response the caller would get --
 *     with no network.  It takes an ac_llm, so the plugin is loaded by the
 *     real loader from a core's plugin_path.
 *
 * The mock LLM server (acore-mockd, with its scripts installed under
 * share/abstractcore/mock) answers real HTTP for end-to-end tests, and
 * acore-provider-check runs the whole contract against a plugin.
 *
 * Thread safety: an ac_fake is used by one thread at a time; the host
 * table is shared and reentrant.
 */
#ifndef ABSTRACTCORE_TESTKIT_H
#define ABSTRACTCORE_TESTKIT_H

#include <stddef.h>
#include <abstractcore/provider.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* The fake host                                                        */
/* ------------------------------------------------------------------ */

/**
 * One fake host object.  It plays every opaque object a plugin's
 * functions take: pass ac_fake_settings(f) to init, ac_fake_http(f) to
 * build_request, ac_fake_sink(f) to parse_*, ac_fake_models(f) to
 * parse_models, ac_fake_embed_sink(f) to parse_embed_response and
 * run_embed, ac_fake_call(f) as the call of each.
 */
typedef struct ac_fake ac_fake;

/** A new fake (free with ac_fake_free), or NULL on no memory. */
ac_fake *ac_fake_new(void);
void     ac_fake_free(ac_fake *f);

/** The fake host table (static, every member of this SDK's ABI set). */
const ac_host_api *ac_fake_host(void);

/**
 * dlopen the plugin at path (RTLD_NOW | RTLD_LOCAL; *dl receives the
 * handle: dlclose it when done) and call its entry with ac_fake_host().
 * Returns its descriptor, or NULL with a line on stderr.
 *
 * A plugin keeps the one host table its entry was given, so a process
 * must not have the same file loaded by a core and by the fake at once:
 * dlclose the fake's handle before a core loads the file, or load a copy.
 */
const ac_provider *ac_fake_load(const char *path, void **dl);

/* ---- what the plugin will see ---- */

/** A setting of the instance, as a string, integer, boolean or double.
 *  0, or -1 on no memory.  The instance name is ac_fake_set_name. */
int  ac_fake_set(ac_fake *f, const char *key, const char *value);
int  ac_fake_set_int(ac_fake *f, const char *key, long long value);
int  ac_fake_set_bool(ac_fake *f, const char *key, int value);
int  ac_fake_set_double(ac_fake *f, const char *key, double value);
int  ac_fake_set_name(ac_fake *f, const char *name);
/** The descriptor whose default_base_url and default_model the settings
 *  "base_url" and "default_model" fall back to, as the core's do (NULL:
 *  none).  A new fake takes the one ac_fake_load returned last. */
void ac_fake_set_provider(ac_fake *f, const ac_provider *d);
/** A variable of the fake environment host->secret reads (the real
 *  environment is never read, so a developer's own keys are never used). */
int  ac_fake_setenv(ac_fake *f, const char *name, const char *value);
/** The host's allocations fail once n more succeeded; -1: never. */
void ac_fake_fail_after(ac_fake *f, long n);
/** Blocks allocated through the fake host's malloc, realloc and strdup
 *  and not yet freed through its free, over every fake in the process: a
 *  plugin that frees everything it made brings it back to where it was
 *  (after fini, after each failed init, after stream_free). */
long ac_fake_allocations(void);
/** host->cancelled(call) answers 1 from now on. */
void ac_fake_cancel(ac_fake *f);

/** The generic request: set its fields directly (model, stream,
 *  max_tokens, ...); messages and tools with the calls below. */
ac_gen_request *ac_fake_request(ac_fake *f);
/** Add a message with one TEXT part (text NULL: no part).  0 or -1. */
int  ac_fake_add_message(ac_fake *f, ac_role role, const char *text);
/** Add a copy of part p to the last message.  0 or -1. */
int  ac_fake_add_part(ac_fake *f, const ac_part *p);
/** Add a tool.  0 or -1. */
int  ac_fake_add_tool(ac_fake *f, const char *name, const char *description,
                      const char *parameters_json);

/** The batch of texts build_embed_request and run_embed get (ABI 2.1):
 *  set model and dimensions directly; texts with ac_fake_add_embed_text
 *  (n_texts follows).  A new fake's batch has model "" and no text. */
ac_embed_request *ac_fake_embed_request(ac_fake *f);
/** Add a text (copied) to the batch.  0 or -1. */
int  ac_fake_add_embed_text(ac_fake *f, const char *text);

/* ---- the opaque objects ---- */
const ac_settings *ac_fake_settings(ac_fake *f);
ac_http_request   *ac_fake_http(ac_fake *f);
ac_sink           *ac_fake_sink(ac_fake *f);
ac_model_list     *ac_fake_models(ac_fake *f);
ac_call           *ac_fake_call(ac_fake *f);
ac_embed_sink     *ac_fake_embed_sink(ac_fake *f);

/* ---- what the plugin did (borrowed; valid until the next change) ---- */

/** The HTTP request: method, URL, framing, a header's value (NULL if
 *  absent), the body (NUL-terminated; *len its length, len may be NULL). */
const char *ac_fake_method(const ac_fake *f);
const char *ac_fake_url(const ac_fake *f);
ac_framing  ac_fake_framing(const ac_fake *f);
const char *ac_fake_header(const ac_fake *f, const char *name);
const char *ac_fake_body(const ac_fake *f, size_t *len);
/** Emitted text and reasoning, joined. */
const char *ac_fake_text(const ac_fake *f);
const char *ac_fake_reasoning(const ac_fake *f);
/** Tool calls, joined by key in the order first seen: count, then each
 *  one's id, name, arguments (joined fragments) and end count. */
size_t      ac_fake_call_count(const ac_fake *f);
const char *ac_fake_call_id(const ac_fake *f, size_t i);
const char *ac_fake_call_name(const ac_fake *f, size_t i);
const char *ac_fake_call_args(const ac_fake *f, size_t i);
int         ac_fake_call_ends(const ac_fake *f, size_t i);
/** The last usage report of each count (-1 if none), and how many
 *  reports came. */
long        ac_fake_input_tokens(const ac_fake *f);
long        ac_fake_output_tokens(const ac_fake *f);
int         ac_fake_usage_reports(const ac_fake *f);
/** The last finish (normalized and raw; "" if none) and how many came. */
const char *ac_fake_finish(const ac_fake *f);
const char *ac_fake_raw_finish(const ac_fake *f);
int         ac_fake_finish_reports(const ac_fake *f);
/** The model the plugin emitted ("" if none). */
const char *ac_fake_model(const ac_fake *f);
/** Models listed: count and each id. */
size_t      ac_fake_model_count(const ac_fake *f);
const char *ac_fake_model_id(const ac_fake *f, size_t i);
/** Vectors given to host->embed_vector, which checks them as the core
 *  does (index within the batch's texts and given once, one dimension,
 *  finite values; a broken rule fails the call with AC_EPROTOCOL): how
 *  many were taken, their dimension (0 before the first), and vector i
 *  (NULL if not given).  embed_usage reports through
 *  ac_fake_input_tokens and ac_fake_usage_reports, embed_model through
 *  ac_fake_model. */
size_t       ac_fake_embed_count(const ac_fake *f);
size_t       ac_fake_embed_dim(const ac_fake *f);
const float *ac_fake_embed_vector(const ac_fake *f, size_t i);
/** The call's report: AC_OK if the plugin failed nothing since the last
 *  ac_fake_reset, else code, stage, message (and, for parse_error,
 *  retryable as the plugin left it). */
const ac_error *ac_fake_error(const ac_fake *f);
/** The stream slot (what the plugin keeps per response). */
void      **ac_fake_slot(ac_fake *f);
/** host->secret calls so far, and the default variable the last one
 *  named ("" for none). */
int         ac_fake_secret_calls(const ac_fake *f);
const char *ac_fake_secret_default_env(const ac_fake *f);
/** Forget the HTTP request, the emits, the models and the report (the
 *  settings, environment, request and allocator stay).  Frees nothing
 *  the plugin owns: call its stream_free on *ac_fake_slot first. */
void        ac_fake_reset(ac_fake *f);
/** For a parse_error test: make the report the core's HTTP error for
 *  status (retryable from the status, retry_after_ms -1) before calling
 *  the plugin's parse_error. */
void        ac_fake_http_error(ac_fake *f, int status);

/* ------------------------------------------------------------------ */
/* Recorded bytes through the real engine (libabstractcore)            */
/* ------------------------------------------------------------------ */

/**
 * Parse `bytes` as the response of one request on llm, on the engine's
 * own decoding path, without a network.
 *   framing: AC_FRAMING_NONE (one body: the plugin's parse_response, or
 *            parse_error when http_status is not 2xx), AC_FRAMING_SSE or
 *            AC_FRAMING_NDJSON (a stream: parse_event per event);
 *   piece:   feed the bytes in pieces of this many (0: all at once), to
 *            exercise events split across reads;
 *   cb:      may be NULL; its on_event sees every event as a caller would;
 *            on_done is not called.
 * Returns the outcome a caller of ac_generate would see: AC_OK, or the
 * error (in err, which may be NULL).  *out (out may be NULL) receives the
 * response built so far, possibly partial (free with ac_response_free).
 * Thread: any; not from a callback.
 */
ac_status ac_replay(ac_llm *llm, ac_framing framing, int http_status,
                    const char *bytes, size_t len, size_t piece,
                    const ac_callbacks *cb, void *user,
                    ac_response **out, ac_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ABSTRACTCORE_TESTKIT_H */
