/*
 * mock_proto.c -- request reading, error bodies and model lists for the
 * mock server's three protocols, plus the small buffer and json-c helpers
 * the reply generator (mock_gen.c) shares.
 *
 * Error shapes (docs/protocols.md §1 "Errors", §2 "Errors", §3 "Errors"):
 *   OpenAI     {"error":{"message","type","param":null,"code"}}
 *   Anthropic  {"type":"error","error":{"type","message"},"request_id"}
 *   Ollama     {"error":"message"}
 */
#include <config.h>

#include "mock_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

int mock_buf_append(mock_buf *b, const void *p, size_t n)
{
    if (n > ((size_t)-1) / 2 - b->len - 1)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mock_buf_puts(mock_buf *b, const char *s)
{
    return mock_buf_append(b, s, strlen(s));
}

void mock_buf_free(mock_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int mock_buf_json(mock_buf *b, const char *prefix, json_object *o, const char *suffix)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    size_t old = b->len;
    if (!s || mock_buf_puts(b, prefix) < 0 || mock_buf_append(b, s, n) < 0 ||
        mock_buf_puts(b, suffix) < 0) {
        b->len = old; /* all or nothing, so a retry does not duplicate */
        if (b->data)
            b->data[old] = '\0';
        return -1;
    }
    return 0;
}

/* ---- json-c helpers ---- */

bool mock_j_add(json_object *o, const char *key, json_object *v)
{
    if (!v)
        return false;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return false;
    }
    return true;
}

bool mock_j_str(json_object *o, const char *key, const char *s)
{
    return mock_j_add(o, key, json_object_new_string(s));
}

bool mock_j_int(json_object *o, const char *key, long long v)
{
    return mock_j_add(o, key, json_object_new_int64(v));
}

bool mock_j_null(json_object *o, const char *key)
{
    return json_object_object_add(o, key, NULL) == 0;
}

bool mock_j_push(json_object *arr, json_object *v)
{
    if (!v)
        return false;
    if (json_object_array_add(arr, v) != 0) {
        json_object_put(v);
        return false;
    }
    return true;
}

/* ---- requests ---- */

size_t mock_proto_words(const char *s, size_t len)
{
    size_t n = 0;
    bool in = false;
    for (size_t i = 0; i < len; i++) {
        bool space = strchr(" \t\n\r\f\v", s[i]) != NULL && s[i] != '\0';
        if (!space && !in)
            n++;
        in = !space;
    }
    return n;
}

/* What reading the messages gathers (mock_request_info's counts). */
typedef struct proto_walk {
    mock_request_info *info;
    mock_buf text;   /* all message text, for the byte count */
    char *err;
    size_t errlen;
} proto_walk;

static int proto_add_text(proto_walk *w, const char *s, size_t len)
{
    w->info->words += mock_proto_words(s, len);
    return mock_buf_append(&w->text, s, len);
}

static const char *proto_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Decoded size of standard base64 text (padding optional); -1 if it is
   not base64. */
static long long proto_b64_size(const char *s, size_t n)
{
    size_t pad = 0;
    while (n && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return -1;
    }
    if (n % 4 == 1 || (pad && (n + pad) % 4))
        return -1;
    return (long long)(n / 4 * 3 + (n % 4 == 2 ? 1 : n % 4 == 3 ? 2 : 0));
}

/* Count one image: base64 data (decoded size) or a URL (size 0, never
   fetched).  -1 with a message for a 400 when the data is not base64. */
static int proto_add_image(proto_walk *w, const char *data, bool is_url)
{
    mock_request_info *info = w->info;
    long long size = 0;
    if (is_url && !strncmp(data, "data:", 5)) {
        const char *comma = strchr(data, ',');
        if (!comma || comma - data < 12 || strncmp(comma - 7, ";base64", 7)) {
            snprintf(w->err, w->errlen, "image %zu: a data: URL must be ;base64", info->nimages + 1);
            return -1;
        }
        data = comma + 1;
        is_url = false;
    }
    if (!is_url && (size = proto_b64_size(data, strlen(data))) < 0) {
        snprintf(w->err, w->errlen, "image %zu: the data is not valid base64", info->nimages + 1);
        return -1;
    }
    size_t *z = realloc(info->image_sizes, (info->nimages + 1) * sizeof *z);
    if (!z)
        return -2;
    info->image_sizes = z;
    z[info->nimages++] = (size_t)size;
    return 0;
}

/* One part of an array content: text, or an image (OpenAI image_url,
   Anthropic image block).  0, -1 (400, message in w->err), -2 OOM. */
static int proto_part(proto_walk *w, json_object *part)
{
    json_object *v, *src;
    if (!json_object_is_type(part, json_type_object))
        return 0;
    if (json_object_object_get_ex(part, "text", &v) && json_object_is_type(v, json_type_string))
        return proto_add_text(w, json_object_get_string(v), (size_t)json_object_get_string_len(v)) < 0
                   ? -2 : 0;
    const char *type = proto_str(part, "type");
    if (type && !strcmp(type, "image_url") && json_object_object_get_ex(part, "image_url", &v)) {
        const char *url = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                    : proto_str(v, "url");
        return url ? proto_add_image(w, url, true) : 0;
    }
    if (type && !strcmp(type, "image") && json_object_object_get_ex(part, "source", &src)) {
        const char *st = proto_str(src, "type"), *data = proto_str(src, "data");
        if (st && !strcmp(st, "base64") && data)
            return proto_add_image(w, data, false);
        return proto_add_image(w, "", true); /* a URL or file source */
    }
    return 0;
}

/* The text (and images) of a "content": a string, or an array of parts. */
static int proto_content(proto_walk *w, json_object *content)
{
    if (json_object_is_type(content, json_type_string))
        return proto_add_text(w, json_object_get_string(content),
                              (size_t)json_object_get_string_len(content)) < 0 ? -2 : 0;
    if (!json_object_is_type(content, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        int rc = proto_part(w, json_object_array_get_idx(content, i));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Ollama: "images" beside the content, each a base64 string. */
static int proto_ollama_images(proto_walk *w, json_object *m)
{
    json_object *imgs;
    if (!json_object_object_get_ex(m, "images", &imgs) || !json_object_is_type(imgs, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(imgs); i++) {
        json_object *x = json_object_array_get_idx(imgs, i);
        if (json_object_is_type(x, json_type_string)) {
            int rc = proto_add_image(w, json_object_get_string(x), false);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static bool proto_get_bool(json_object *o, const char *key, bool dflt)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
        return dflt;
    return json_object_get_boolean(v) != 0;
}

/* A message answering a tool call: role "tool" (OpenAI, Ollama), or a user
   message with a tool_result block (Anthropic). */
static bool proto_is_tool_result(json_object *m)
{
    json_object *content;
    const char *role = proto_str(m, "role");
    if (!role)
        return false;
    if (!strcmp(role, "tool"))
        return true;
    if (strcmp(role, "user") || !json_object_object_get_ex(m, "content", &content) ||
        !json_object_is_type(content, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        const char *type = proto_str(json_object_array_get_idx(content, i), "type");
        if (type && !strcmp(type, "tool_result"))
            return true;
    }
    return false;
}

json_object *mock_proto_parse_object(const char *body, size_t len, char *err, size_t errlen,
                                     bool *oom)
{
    json_object *root = NULL;
    json_tokener *tok = json_tokener_new();
    *oom = tok == NULL;
    if (!tok)
        return NULL;
    root = len ? json_tokener_parse_ex(tok, body, (int)(len > 0x7fffffff ? 0x7fffffff : len))
               : NULL;
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (!root || jerr != json_tokener_success) {
        const char *why = !len ? "empty body"
                          : (jerr == json_tokener_success || jerr == json_tokener_continue)
                              ? "unexpected end of data"
                              : json_tokener_error_desc(jerr);
        snprintf(err, errlen, "request body is not valid JSON: %s", why);
        goto bad;
    }
    for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
        if (!strchr(" \t\r\n", body[i])) {
            snprintf(err, errlen, "request body has data after the JSON value");
            goto bad;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "request body must be a JSON object");
        goto bad;
    }
    json_tokener_free(tok);
    return root;
bad:
    json_object_put(root);
    json_tokener_free(tok);
    return NULL;
}

/* Walk the messages: text, the last user message, images, counts. */
static int proto_messages(proto_walk *w, json_object *msgs)
{
    mock_request_info *info = w->info;
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *content;
        if (!json_object_is_type(m, json_type_object))
            continue;
        const char *role = proto_str(m, "role");
        info->ends_with_tool_result = proto_is_tool_result(m);
        if (role && !strcmp(role, "assistant"))
            info->assistant_msgs++;
        int rc = proto_ollama_images(w, m);
        if (rc < 0)
            return rc;
        if (!json_object_object_get_ex(m, "content", &content))
            continue;
        size_t before = w->text.len;
        if ((rc = proto_content(w, content)) < 0)
            return rc;
        if (role && !strcmp(role, "user")) {
            free(info->last_user);
            info->last_user = strndup(w->text.data ? w->text.data + before : "",
                                      w->text.len - before);
            if (!info->last_user)
                return -2;
        }
    }
    return 0;
}

int mock_proto_parse_request(mock_proto p, const char *body, size_t len,
                             mock_request_info *info, char *err, size_t errlen)
{
    json_object *root, *v;
    proto_walk w = { info, { 0 }, err, errlen };
    bool oom;
    int rc = -2;

    memset(info, 0, sizeof *info);
    if (!(root = mock_proto_parse_object(body, len, err, errlen, &oom))) {
        rc = oom ? -2 : -1;
        goto done;
    }
    if (json_object_object_get_ex(root, "model", &v) && json_object_is_type(v, json_type_string) &&
        !(info->model = strdup(json_object_get_string(v))))
        goto done;
    /* Ollama streams unless told not to (docs/protocols.md §3). */
    info->stream = proto_get_bool(root, "stream", p == MOCK_PROTO_OLLAMA);
    if (json_object_object_get_ex(root, "stream_options", &v) &&
        json_object_is_type(v, json_type_object))
        info->include_usage = proto_get_bool(v, "include_usage", false);

    if (p == MOCK_PROTO_ANTHROPIC && json_object_object_get_ex(root, "system", &v) &&
        (rc = proto_content(&w, v)) < 0)
        goto done;
    json_object *msgs;
    if (json_object_object_get_ex(root, "messages", &msgs) &&
        json_object_is_type(msgs, json_type_array) && (rc = proto_messages(&w, msgs)) < 0)
        goto done;
    info->prompt_bytes = w.text.len;
    rc = 0;
done:
    if (rc == -2 && errlen)
        snprintf(err, errlen, "out of memory");
    if (rc != 0)
        mock_request_info_free(info);
    mock_buf_free(&w.text);
    json_object_put(root);
    return rc;
}

void mock_request_info_free(mock_request_info *info)
{
    free(info->model);
    free(info->last_user);
    free(info->image_sizes);
    memset(info, 0, sizeof *info);
}

/* ---- errors ---- */

static const char *proto_openai_type(long status, const char **code)
{
    *code = NULL;
    switch (status) {
    case 401: *code = "invalid_api_key"; return "invalid_request_error";
    case 403: *code = "permission_denied"; return "invalid_request_error";
    case 429: *code = "rate_limit_exceeded"; return "requests";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *proto_anthropic_type(long status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

static const char *proto_tei_type(long status)
{
    switch (status) {
    case 413: return "validation";
    case 422: return "tokenizer";
    case 424: return "backend";
    case 429: return "overloaded";
    case 503: return "unhealthy";
    default: return status >= 500 ? "backend" : "empty";
    }
}

int mock_proto_error_body(mock_proto p, long status, const char *message, const char *type,
                          const char *request_id, mock_buf *out)
{
    char dflt[128];
    json_object *root = json_object_new_object(), *e = NULL;
    bool ok = root != NULL;
    int rc = -1;

    if (!message) {
        snprintf(dflt, sizeof dflt,
                 "The mock server was scripted to fail this request with HTTP %ld.", status);
        message = dflt;
    }
    if (ok && p == MOCK_PROTO_OLLAMA) {
        ok = mock_j_str(root, "error", message);
    } else if (ok && (p == MOCK_PROTO_TEI || p == MOCK_PROTO_HF)) {
        /* text-embeddings-inference's ErrorResponse */
        ok = mock_j_str(root, "error", message) &&
             mock_j_str(root, "error_type", type ? type : proto_tei_type(status));
    } else if (ok && p == MOCK_PROTO_ANTHROPIC) {
        ok = mock_j_str(root, "type", "error") && (e = json_object_new_object()) &&
             mock_j_add(root, "error", e) &&
             mock_j_str(e, "type", type ? type : proto_anthropic_type(status)) &&
             mock_j_str(e, "message", message) &&
             mock_j_str(root, "request_id", request_id ? request_id : "req_mock");
    } else if (ok) {
        const char *code;
        const char *t = proto_openai_type(status, &code);
        ok = (e = json_object_new_object()) && mock_j_add(root, "error", e) &&
             mock_j_str(e, "message", message) && mock_j_str(e, "type", type ? type : t) &&
             mock_j_null(e, "param") && (code ? mock_j_str(e, "code", code) : mock_j_null(e, "code"));
    }
    if (ok && mock_buf_json(out, "", root, "") == 0)
        rc = 0;
    json_object_put(root);
    return rc;
}

/* ---- model lists ---- */

static json_object *proto_model_entry(mock_proto p, const char *name)
{
    json_object *o = json_object_new_object(), *d = NULL, *fam = NULL;
    bool ok = o != NULL;
    if (ok && p == MOCK_PROTO_OPENAI) {
        ok = mock_j_str(o, "id", name) && mock_j_str(o, "object", "model") &&
             mock_j_int(o, "created", 1700000000) && mock_j_str(o, "owned_by", "mock");
    } else if (ok && p == MOCK_PROTO_ANTHROPIC) {
        ok = mock_j_str(o, "type", "model") && mock_j_str(o, "id", name) &&
             mock_j_str(o, "display_name", name) &&
             mock_j_str(o, "created_at", "2025-01-01T00:00:00Z");
    } else if (ok) {
        ok = mock_j_str(o, "name", name) && mock_j_str(o, "model", name) &&
             mock_j_str(o, "modified_at", "2025-01-01T00:00:00Z") && mock_j_int(o, "size", 0) &&
             mock_j_str(o, "digest", "0000000000000000000000000000000000000000000000000000000000000000") &&
             (d = json_object_new_object()) && mock_j_add(o, "details", d) &&
             mock_j_str(d, "parent_model", "") && mock_j_str(d, "format", "gguf") &&
             mock_j_str(d, "family", "mock") && (fam = json_object_new_array()) &&
             mock_j_add(d, "families", fam) && mock_j_push(fam, json_object_new_string("mock")) &&
             mock_j_str(d, "parameter_size", "0B") && mock_j_str(d, "quantization_level", "none");
    }
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int mock_proto_models(mock_proto p, const char *const *names, size_t n, mock_buf *out)
{
    json_object *root = json_object_new_object(), *arr = NULL;
    /* Once added, arr belongs to root; mock_j_add releases it on failure. */
    bool ok = root && (arr = json_object_new_array()) &&
              mock_j_add(root, p == MOCK_PROTO_OLLAMA ? "models" : "data", arr);
    int rc = -1;

    for (size_t i = 0; ok && i < n; i++)
        ok = mock_j_push(arr, proto_model_entry(p, names[i]));
    if (ok && p == MOCK_PROTO_OPENAI)
        ok = mock_j_str(root, "object", "list");
    if (ok && p == MOCK_PROTO_ANTHROPIC) {
        ok = mock_j_add(root, "has_more", json_object_new_boolean(0)) &&
             (n ? mock_j_str(root, "first_id", names[0]) && mock_j_str(root, "last_id", names[n - 1])
                : mock_j_null(root, "first_id") && mock_j_null(root, "last_id"));
    }
    if (ok && mock_buf_json(out, "", root, "") == 0)
        rc = 0;
    json_object_put(root);
    return rc;
}
