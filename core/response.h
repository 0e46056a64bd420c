/*
 * response.h -- the accumulated result of one request (ac_response).
 *
 * Built by the sink on the engine thread while the request runs; read by
 * the application only after the request is done, so it needs no lock.
 */
#ifndef AC_RESPONSE_H
#define AC_RESPONSE_H
#include "buf.h"
#include <abstractcore/abstractcore.h>

typedef struct tool_call_acc {
    int   key;        /* the backend's identification */
    char *id;
    char *name;
    buf   args;
    int   ended;      /* TOOL_CALL_END delivered */
    int   truncated;
} tool_call_acc;

struct ac_response {
    buf            content;
    buf            reasoning;
    tool_call_acc *calls;
    size_t         n_calls;
    char          *finish;      /* normalized, NULL until known */
    char          *raw_finish;
    long           input_tokens;
    long           output_tokens;
    char          *model;
    char          *provider;
    double         latency_ms;
    char          *raw_json;
    /* Structured output (a JSON Schema was set). */
    struct json_object *json;   /* the validated document */
    char          *json_text;
    char          *schema_errors;  /* the last reply's, when it did not match */
    struct resp_schema_error {     /* the same, one by one (at most
                                      AC__RESP_SCHEMA_ERRORS) */
        char *instance_path, *keyword, *schema_path, *message;
    } *serr;
    size_t         n_serr;
    int            attempts;       /* structured-output rounds: 1, more when asked again */
    char         **warnings;
    size_t         n_warnings;
    /* Every try (hook.h's records, owned), and their public view. */
    struct attempt_rec *tries;
    ac_attempt    *tries_v;
    size_t         n_tries;
};

/* A new empty response; limit caps content/reasoning/arguments (0: none). */
ac_response *ac__response_new(const char *provider, const char *model, size_t limit);
/* Back to empty (a retry starts over); keeps provider and model. */
void         ac__response_reset(ac_response *r);
int          ac__response_set_str(char **slot, const char *s);  /* 0 ok, -1 oom */
/* Take a request's list of tries (owned from now on, even when the view
 * cannot be made: then the count is 0). */
void         ac__response_take_attempts(ac_response *r, struct attempt_rec *tries, size_t n);
/* The most schema errors kept one by one (and listed in the text). */
#define AC__RESP_SCHEMA_ERRORS 20
/* Keep one schema error (the strings are copied).  0 ok, -1 oom. */
int          ac__response_add_schema_error(ac_response *r, const char *instance_path,
                                           const char *keyword, const char *schema_path,
                                           const char *message);
/* Add a warning line (printf-style).  0 ok, -1 oom. */
int          ac__response_warn(ac_response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#endif
