/*
 * mock_gen_int.h -- inside the reply generator, shared by its two files:
 * mock_gen.c (setup, the stage machine, the public mock_gen_* functions)
 * and mock_gen_wire.c (each protocol's bytes for one stage).  Nothing
 * outside the generator includes this.  A generator belongs to one
 * request and is used by one thread at a time.
 */
#ifndef AC_MOCK_GEN_INT_H
#define AC_MOCK_GEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "mock_proto.h"

enum gen_stage {
    G_PRE = 0,    /* OpenAI quirks: comments before the first chunk */
    G_START,      /* OpenAI role chunk / Anthropic message_start */
    G_TEXT_START, /* Anthropic content_block_start (text) */
    G_PING,       /* Anthropic ping */
    G_EMPTY,      /* endless = "empty": an event that carries nothing (index i), forever */
    G_TEXT,       /* one text piece (index i); endless = "content" cycles them forever */
    G_TEXT_STOP,  /* Anthropic content_block_stop (text) */
    G_TOOL_START, /* tool call t begins (Ollama: all calls, once) */
    G_TOOL_EMPTY, /* Anthropic: the empty first input_json_delta */
    G_TOOL_FRAG,  /* argument fragment i of tool call t */
    G_TOOL_STOP,  /* Anthropic content_block_stop (tool) */
    G_FINISH,     /* finish chunk / message_delta / done line, or the error */
    G_USAGE,      /* OpenAI include_usage chunk */
    G_STOP,       /* OpenAI [DONE] / Anthropic message_stop */
    G_RAW,        /* raw bytes piece (index i) */
    G_BODY,       /* endless non-stream body: piece i of the text (or a blank line), forever */
    G_END
};

struct mock_gen {
    mock_proto proto;
    const mock_scenario *sc;
    bool stream, include_usage, error, raw;
    mock_endless endless;
    char *model;
    char *text; /* reply text, or the raw bytes; text_len bytes, may hold NULs when raw */
    size_t text_len;
    size_t *cuts; /* end offsets of the pieces of text */
    size_t ncuts;
    size_t **tcuts; /* per tool call: end offsets of argument fragments */
    size_t *ntcuts;
    json_object **targs; /* per tool call: arguments as an object, or NULL */
    long long prompt_tokens, completion_tokens;
    char id[64];
    long long created;
    struct timespec start;
    int stage;
    size_t t, i;
};

/* ---- shared pieces (mock_gen.c) ---- */

/* Offset and length of piece i of a text cut at `cuts`. */
size_t mock_gen_piece(const size_t *cuts, size_t i, size_t *len);
/* The finish reason in the protocol's own words. */
const char *mock_gen_finish(const mock_gen *g);
/* Tool call t's arguments as Anthropic and Ollama carry them (new ref). */
json_object *mock_gen_args_obj(const mock_gen *g, size_t t);
/* How many comments an OpenAI quirk sends before the first chunk. */
size_t mock_gen_npre(const mock_gen *g);
/* Nanoseconds since the generator was made (at least 1). */
long long mock_gen_elapsed_ns(const mock_gen *g);
/* json-c: keep o if ok, else drop it and return NULL. */
json_object *mock_gen_keep(json_object *o, bool ok);

/* ---- one stage's bytes, per protocol (mock_gen_wire.c): 0, or -1 on OOM ---- */

int mock_gen_oa_next(mock_gen *g, mock_buf *out);
int mock_gen_oa_body(mock_gen *g, mock_buf *out);
int mock_gen_an_next(mock_gen *g, mock_buf *out);
int mock_gen_an_body(mock_gen *g, mock_buf *out);
int mock_gen_ol_next(mock_gen *g, mock_buf *out);
int mock_gen_ol_body(mock_gen *g, mock_buf *out);

#endif
