/*
 * mock_proto.h -- what the mock server says, in each wire protocol.
 *
 * Pure functions of their input, no I/O, no locks: reading a request body
 * (mock_proto.c), the shapes of errors and model lists (mock_proto.c), the
 * reply itself as a sequence of stream events or one body (mock_gen.c,
 * mock_gen_wire.c), and embeddings (mock_embed.c).
 * Every JSON text is built with json-c, so reply text is always escaped.
 * The shapes follow docs/protocols.md and the recorded fixtures.
 */
#ifndef AC_MOCK_PROTO_H
#define AC_MOCK_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "mock_script.h"

typedef enum mock_proto {
    MOCK_PROTO_OPENAI = 0, /* /v1/chat/completions: SSE data: + [DONE] */
    MOCK_PROTO_ANTHROPIC,  /* /v1/messages: SSE event: + data: */
    MOCK_PROTO_OLLAMA,     /* /api/chat: NDJSON */
    MOCK_PROTO_TEI,        /* Text Embeddings Inference /embed (errors: error + error_type) */
    MOCK_PROTO_HF          /* HF router feature-extraction (errors as TEI's) */
} mock_proto;

/* ---- a growable byte buffer ---- */

typedef struct mock_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
} mock_buf;

int mock_buf_append(mock_buf *b, const void *p, size_t n); /* -1: out of memory */
int mock_buf_puts(mock_buf *b, const char *s);
void mock_buf_free(mock_buf *b);

/* Append `prefix`, the compact JSON text of `o`, `suffix`; -1 on OOM. */
int mock_buf_json(mock_buf *b, const char *prefix, json_object *o, const char *suffix);

/* ---- json-c helpers: false on out of memory (v is released) ---- */

bool mock_j_add(json_object *o, const char *key, json_object *v);
bool mock_j_str(json_object *o, const char *key, const char *s);
bool mock_j_int(json_object *o, const char *key, long long v);
bool mock_j_null(json_object *o, const char *key);
bool mock_j_push(json_object *arr, json_object *v);

/* ---- requests ---- */

typedef struct mock_request_info {
    char *model;        /* the request's "model"; NULL if absent */
    bool stream;        /* Ollama: true unless "stream": false */
    bool include_usage; /* OpenAI stream_options.include_usage */
    char *last_user;    /* text of the last user message; NULL if none */
    bool ends_with_tool_result; /* the last message answers a tool call */
    size_t prompt_bytes;/* bytes of message text, for a token estimate */
    size_t words;       /* words of the system and message text (count_tokens) */
    size_t assistant_msgs; /* messages with role "assistant": the step to answer with */
    size_t nimages;     /* images in the messages, in order ... */
    size_t *image_sizes;/* ... and their decoded sizes in bytes (0: a URL); malloc'd */
} mock_request_info;

/* Read a chat (or count_tokens) request body.  Returns 0, or -1 with a
   message for a 400 reply in err (a body that is not a JSON object, an
   image that is not base64), or -2 out of memory. */
int mock_proto_parse_request(mock_proto p, const char *body, size_t len,
                             mock_request_info *info, char *err, size_t errlen);
void mock_request_info_free(mock_request_info *info);

/* Words of s: runs of bytes that are not ASCII white space. */
size_t mock_proto_words(const char *s, size_t len);

/* Parse a JSON object body: the root (new ref), or NULL with a message for
   a 400 reply in err (*oom set when out of memory instead). */
json_object *mock_proto_parse_object(const char *body, size_t len, char *err, size_t errlen,
                                     bool *oom);

/* ---- errors and lists ---- */

/* The protocol's error body for an HTTP status.  message/type may be NULL
   (a default per status).  Returns -1 on OOM. */
int mock_proto_error_body(mock_proto p, long status, const char *message, const char *type,
                          const char *request_id, mock_buf *out);

/* The model list of the protocol: /v1/models (OpenAI, or Anthropic's
   shape when p is MOCK_PROTO_ANTHROPIC) or /api/tags (Ollama). */
int mock_proto_models(mock_proto p, const char *const *names, size_t n, mock_buf *out);

/* ---- replies (mock_gen.c) ---- */

/* What the next stream event is, for the server's pacing. */
typedef enum mock_ev {
    MOCK_EV_META = 0, /* framing: role chunk, block start/stop, ping, usage, [DONE] */
    MOCK_EV_CONTENT,  /* carries reply text or part of a tool call: paced by delay_ms */
    MOCK_EV_FINISH,   /* first event after the content: finish, or the in-stream error */
    MOCK_EV_END       /* nothing left */
} mock_ev;

typedef struct mock_gen mock_gen;

/*
 * A reply to one request, built from its scenario (borrowed: it must
 * outlive the generator) and the request (copied).  `seq` numbers ids.
 * NULL on out of memory.
 */
mock_gen *mock_gen_new(mock_proto p, const mock_scenario *sc, const mock_request_info *info,
                       unsigned long long seq);
void mock_gen_free(mock_gen *g);

mock_ev mock_gen_peek(const mock_gen *g);
/* Append the next event's bytes; 0, or -1 on OOM (nothing consumed). */
int mock_gen_next(mock_gen *g, mock_buf *out);
/* Append an SSE keep-alive comment; 1 if the protocol has none (NDJSON). */
int mock_gen_keepalive(const mock_gen *g, mock_buf *out);
/* The whole non-stream body (or the raw bytes).  -1 on OOM. */
int mock_gen_body(mock_gen *g, mock_buf *out);
/* Content-Type of the reply (stream or not, raw or not). */
const char *mock_gen_content_type(const mock_gen *g);
/* Id of the reply ("chatcmpl-...", "msg_..."), for request-id headers. */
const char *mock_gen_id(const mock_gen *g);

#endif
