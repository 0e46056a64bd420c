/*
 * session_file.c -- saving a session's history to a file and loading it
 * back (ac_session_save, ac_session_load).
 *
 * The file is JSON, format version 2 (docs/sessions.md):
 *   {"format":"abstractcore-session", "version":2, "id", "created",
 *    "updated", "system", "provider", "model",
 *    "messages":[{"role", "content", "tool_calls":[{"id", "name",
 *      "arguments"}], "tool_call_id", "is_error", "name", "images":[URL...],
 *      "files":[{"name", "mime_type", "text"}], "summary", "provider",
 *      "model", "usage":{"input_tokens", "output_tokens"}, "time"}, ...],
 *    "archive":[...messages compactions replaced, in the same form]}
 * with times as UTC ISO 8601 text ("2026-12-04T20:11:12.345Z"), and a user
 * message's attachments inline: images as data: URLs (or the http(s) URL
 * they were given by), documents as their text.  It never
 * holds an API key.  Version 1 files (no id, times, usage, summaries or
 * archive; written by 0.x releases before compaction) still load, with a
 * new id and the load's time as their creation.  Saving writes a
 * temporary file and renames it, so a file is either the old one or the
 * whole new one.
 *
 * Loading is strict: a file that would load with anything dropped or
 * changed is refused, with AC_EPROTOCOL, the file's name and the JSON path
 * of the value (`messages[2].tool_calls[0].arguments`), rather than loaded
 * as a different conversation.  So: every value of the right type; no
 * field the file's version does not know (a typo like "contents", or a
 * field of a newer version); a version other than 1 or 2; a role other than user,
 * assistant or tool; a field on a message whose role has no use for it;
 * strings without NUL bytes (C strings would cut them) and in UTF-8;
 * tool-call arguments that are a JSON object, or the text of one (the
 * OpenAI wire form).  What json-c changes while parsing is refused too,
 * found in the text: an object key with \u0000 in it (json-c cuts the key
 * there) and a UTF-16 surrogate escape without its pair (json-c makes it
 * U+FFFD).  A file that is not JSON fails with AC_EJSON.
 *
 * Relies on json-c (parsing), jsonw.h (writing), message.h.  Thread-safe
 * as the session is: the history is read under the session's lock.
 */
#include "session.h"
#include "alloc.h"
#include "error.h"
#include "jsonw.h"
#include "session_refs.h"
#include "media/media.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SESSION_FILE_MAX (64L * 1024 * 1024)
#define FORMAT_VERSION   2

/* ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
static void time_text(long long ms, char out[64])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&t, &tm) || tm.tm_year > 9999 - 1900) {
        snprintf(out, 64, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* The inverse: exactly that form, or without ".mmm".  0 ok, -1 not it. */
static int time_parse(const char *s, long long *ms)
{
    int y, mo, d, h, mi, sec, frac = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    const char *p = s + n;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9')
            return -1;
        frac = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
        p += 4;
    }
    if (strcmp(p, "Z") != 0 || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) /* timegm normalised a 31st of a short month */
        return -1;
    *ms = (long long)t * 1000 + frac;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Save                                                                */
/* ------------------------------------------------------------------ */

/* The saved file is written with jsonw, whose every append is checked:
 * a save that runs out of memory writes nothing, rather than a file
 * missing a message that would load as a different conversation. */
/* A save in progress. */
typedef struct saver {
    jsonw       w;
    const char *path;    /* the session file */
    int         by_ref;  /* AC_SAVE_ATTACHMENTS_BY_REFERENCE */
    ac_status   st;      /* an attachment file that could not be written */
    ac_error   *err;
} saver;

/* By reference: keep the bytes beside the session file and write the
 * "file" and "sha256" members that name them. */
static void ref_write(saver *sv, const void *bytes, size_t n, const char *ext)
{
    char *rel = NULL, sha[65];
    if (sv->st == AC_OK && !sv->w.failed)
        sv->st = ac__ref_store(sv->path, bytes, n, ext, &rel, sha, sv->err);
    if (sv->st == AC_ENOMEM)
        sv->w.failed = 1;
    if (!rel)
        return;
    ac__jw_key(&sv->w, "file");
    ac__jw_string(&sv->w, rel);
    ac__jw_key(&sv->w, "sha256");
    ac__jw_string(&sv->w, sha);
    ac__free(rel);
}

/* An image given by its bytes: inline, a data: URL; by reference, an
 * object {"file", "sha256", "mime_type"}. */
static void image_write(saver *sv, const ac_part *p)
{
    jsonw *w = &sv->w;
    const char *mime = p->mime_type ? p->mime_type : "image/png";
    const char *b64 = p->data_base64 ? p->data_base64 : "";
    size_t n = 0;
    int bad = 0;
    unsigned char *bytes = sv->by_ref ? ac__b64_decode(b64, strlen(b64), &n, &bad) : NULL;
    if (sv->by_ref && !bytes && !bad) {
        w->failed = 1;
        return;
    }
    if (!bytes) {
        /* Inline (also, by reference, bytes that are not base64: a file
         * that loaded them keeps them as they were). */
        char *u = ac__asprintf("data:%s;base64,%s", mime, b64);
        if (!u)
            w->failed = 1;
        ac__jw_string(w, u ? u : "");
        ac__free(u);
        return;
    }
    ac__jw_object(w);
    ref_write(sv, bytes, n, ac__ref_ext(mime, 0));
    ac__jw_key(w, "mime_type");
    ac__jw_string(w, mime);
    ac__jw_end(w);
    ac__free(bytes);
}

/* One message in the saved form: role, content (its text, or a tool
 * message's result), tool_calls, tool_call_id, is_error, name, images
 * (data: URLs or http(s) URLs; by reference, objects), files (documents:
 * name, mime_type, text; by reference file and sha256 for the text),
 * summary, provider, model, usage, time. */
static void message_write(saver *sv, const ac__msg *m)
{
    jsonw *w = &sv->w;
    const ac_part *res = ac__msg_find(m, AC_PART_TOOL_RESULT);
    ac__jw_object(w);
    ac__jw_key(w, "role");
    ac__jw_string(w, ac_role_name(m->pub.role));
    ac__jw_key(w, "content");
    ac__jw_string(w, *m->pub.text || !res ? m->pub.text : res->text);
    int calls = 0, images = 0, files = 0;
    for (size_t i = 0; i < m->pub.n_parts; i++) {
        calls += m->parts[i].type == AC_PART_TOOL_CALL;
        images += m->parts[i].type == AC_PART_IMAGE;
        files += m->parts[i].type == AC_PART_FILE;
    }
    if (calls) {
        ac__jw_key(w, "tool_calls");
        ac__jw_array(w);
        for (size_t i = 0; i < m->pub.n_parts; i++) {
            const ac_part *p = &m->parts[i];
            if (p->type != AC_PART_TOOL_CALL)
                continue;
            ac__jw_object(w);
            ac__jw_key(w, "id");
            ac__jw_string(w, p->id);
            ac__jw_key(w, "name");
            ac__jw_string(w, p->name);
            /* Stored arguments are always a JSON object (the sink
             * checked them): written as they are. */
            ac__jw_key(w, "arguments");
            ac__jw_raw(w, p->arguments ? p->arguments : "{}");
            ac__jw_end(w);
        }
        ac__jw_end(w);
    }
    if (res) {
        ac__jw_key(w, "tool_call_id");
        ac__jw_string(w, res->id);
    }
    if (res && res->is_error) {
        ac__jw_key(w, "is_error");
        ac__jw_bool(w, 1);
    }
    if (res && res->name) {
        ac__jw_key(w, "name");
        ac__jw_string(w, res->name);
    } else if (m->pub.name) {
        ac__jw_key(w, "name");
        ac__jw_string(w, m->pub.name);
    }
    if (files) {
        ac__jw_key(w, "files");
        ac__jw_array(w);
        for (size_t i = 0; i < m->pub.n_parts; i++) {
            const ac_part *p = &m->parts[i];
            if (p->type != AC_PART_FILE)
                continue;
            ac__jw_object(w);
            ac__jw_key(w, "name");
            ac__jw_string(w, p->name ? p->name : "document");
            if (p->mime_type) {
                ac__jw_key(w, "mime_type");
                ac__jw_string(w, p->mime_type);
            }
            if (sv->by_ref) {
                ref_write(sv, p->text ? p->text : "", p->text ? p->text_len : 0,
                          ac__ref_ext(NULL, 1));
            } else {
                ac__jw_key(w, "text");
                ac__jw_string(w, p->text ? p->text : "");
            }
            ac__jw_end(w);
        }
        ac__jw_end(w);
    }
    if (images) {
        ac__jw_key(w, "images");
        ac__jw_array(w);
        for (size_t i = 0; i < m->pub.n_parts; i++) {
            const ac_part *p = &m->parts[i];
            if (p->type != AC_PART_IMAGE)
                continue;
            if (p->url)
                ac__jw_string(w, p->url);
            else
                image_write(sv, p);
        }
        ac__jw_end(w);
    }
    if (m->flags & AC_MESSAGE_SUMMARY) {
        ac__jw_key(w, "summary");
        ac__jw_bool(w, 1);
    }
    if (m->provider) {
        ac__jw_key(w, "provider");
        ac__jw_string(w, m->provider);
    }
    if (m->model) {
        ac__jw_key(w, "model");
        ac__jw_string(w, m->model);
    }
    if (m->input_tokens >= 0 || m->output_tokens >= 0) {
        ac__jw_key(w, "usage");
        ac__jw_object(w);
        if (m->input_tokens >= 0) {
            ac__jw_key(w, "input_tokens");
            ac__jw_int(w, m->input_tokens);
        }
        if (m->output_tokens >= 0) {
            ac__jw_key(w, "output_tokens");
            ac__jw_int(w, m->output_tokens);
        }
        ac__jw_end(w);
    }
    if (m->time_ms > 0) {
        char t[64];
        time_text(m->time_ms, t);
        ac__jw_key(w, "time");
        ac__jw_string(w, t);
    }
    ac__jw_end(w);
}

/* A key and a time. */
static void time_write(jsonw *w, const char *key, long long ms)
{
    char t[64];
    time_text(ms, t);
    ac__jw_key(w, key);
    ac__jw_string(w, t);
}

/* What a save writes, read from the session (under its lock) or from a
 * copy of it. */
typedef struct snapshot {
    const char    *id, *system, *provider, *model;
    long long      created, updated;
    const ac__msg *hist, *archive;
    size_t         n, n_archive;
} snapshot;

static void document_write(saver *sv, const snapshot *x)
{
    jsonw *w = &sv->w;
    ac__jw_object(w);
    ac__jw_key(w, "format");
    ac__jw_string(w, "abstractcore-session");
    ac__jw_key(w, "version");
    ac__jw_int(w, FORMAT_VERSION);
    ac__jw_key(w, "id");
    ac__jw_string(w, x->id);
    time_write(w, "created", x->created);
    time_write(w, "updated", x->updated);
    if (x->system) {
        ac__jw_key(w, "system");
        ac__jw_string(w, x->system);
    }
    ac__jw_key(w, "provider");
    ac__jw_string(w, x->provider);
    ac__jw_key(w, "model");
    ac__jw_string(w, x->model);
    ac__jw_key(w, "messages");
    ac__jw_array(w);
    for (size_t i = 0; i < x->n; i++)
        message_write(sv, &x->hist[i]);
    ac__jw_end(w);
    if (x->n_archive) {
        ac__jw_key(w, "archive");
        ac__jw_array(w);
        for (size_t i = 0; i < x->n_archive; i++)
            message_write(sv, &x->archive[i]);
        ac__jw_end(w);
    }
    ac__jw_end(w);
}

/* Copies of v[0..n), or NULL (no memory; n == 0 gives a 1-element array). */
static ac__msg *msgs_copy(const ac__msg *v, size_t n)
{
    ac__msg *c = ac__calloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (ac__msg_copy(&c[i], &v[i]) != AC_OK) {
            ac__msgs_free(c, i);
            c = NULL;
        }
    return c;
}

ac_status ac_session_save(ac_session *s, const char *path, ac_error *err)
{
    return ac_session_save_ex(s, path, 0, err);
}

ac_status ac_session_save_ex(ac_session *s, const char *path, unsigned flags, ac_error *err)
{
    if (!s || !path || !*path) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_IO, "session or path is NULL");
        return AC_EINVAL;
    }
    if (flags & ~(unsigned)AC_SAVE_ATTACHMENTS_BY_REFERENCE) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_IO, "unknown save flags 0x%x", flags);
        return AC_EINVAL;
    }
    saver sv = {.path = path, .by_ref = !!(flags & AC_SAVE_ATTACHMENTS_BY_REFERENCE),
                .st = AC_OK, .err = err};
    ac__jw_init(&sv.w, 1);
    pthread_mutex_lock(&s->mu);
    snapshot x = {.id = s->id, .system = s->system, .provider = s->llm->inst->name,
                  .model = s->llm->model, .created = s->created_ms, .updated = s->updated_ms,
                  .hist = s->hist, .n = s->n, .archive = s->archive,
                  .n_archive = s->n_archive};
    ac__msg *hist = NULL, *archive = NULL;
    char *system = NULL, *provider = NULL, *model = NULL, id[sizeof s->id];
    if (!sv.by_ref) {
        /* All in memory: written under the lock. */
        document_write(&sv, &x);
        pthread_mutex_unlock(&s->mu);
    } else {
        /* Attachments go to disk: from a copy, so no turn waits on the
         * writes for the lock. */
        hist = msgs_copy(s->hist, s->n);
        archive = msgs_copy(s->archive, s->n_archive);
        system = s->system ? ac__strdup(s->system) : NULL;
        provider = ac__strdup(x.provider);
        model = ac__strdup(x.model);
        memcpy(id, s->id, sizeof id);
        pthread_mutex_unlock(&s->mu);
        if (!hist || !archive || (x.system && !system) || !provider || !model) {
            sv.w.failed = 1;
        } else {
            x.id = id;
            x.system = system;
            x.provider = provider;
            x.model = model;
            x.hist = hist;
            x.archive = archive;
            document_write(&sv, &x);
        }
        ac__msgs_free(hist, hist ? x.n : 0);
        ac__msgs_free(archive, archive ? x.n_archive : 0);
        ac__free(system);
        ac__free(provider);
        ac__free(model);
    }
    if (sv.st != AC_OK && sv.st != AC_ENOMEM) {
        ac__free(ac__jw_finish(&sv.w, NULL));
        return sv.st;
    }
    size_t len = 0;
    char *text = ac__jw_finish(&sv.w, &len);
    ac_status st = AC_OK;
    if (!text) {
        st = AC_ENOMEM;
        ac__error_set(err, st, AC_STAGE_IO, "out of memory");
    } else if (ac__write_atomic(path, text, len, "\n", 1) != 0) {
        st = errno == ENOMEM ? AC_ENOMEM : AC_EIO;
        ac__error_set(err, st, AC_STAGE_IO, "cannot save session to %s: %s", path,
                      strerror(errno));
    }
    ac__free(text);
    return st;
}


/* ------------------------------------------------------------------ */
/* Load                                                                */
/* ------------------------------------------------------------------ */

static ac_status refuse(ac_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "FILE: what" as AC_EPROTOCOL. */
static ac_status refuse(ac_error *err, const char *path, const char *fmt, ...)
{
    char what[AC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    ac__error_set(err, AC_EPROTOCOL, AC_STAGE_IO, "%s: %s", path, what);
    return AC_EPROTOCOL;
}

/* "a user", "an assistant", "a tool" (for messages). */
static const char *with_article(ac_role role)
{
    return role == AC_ROLE_ASSISTANT ? "an assistant" : role == AC_ROLE_TOOL ? "a tool" : "a user";
}

static int role_parse(const char *s, ac_role *out)
{
    static const ac_role roles[] = {AC_ROLE_SYSTEM, AC_ROLE_USER, AC_ROLE_ASSISTANT, AC_ROLE_TOOL};
    for (size_t i = 0; i < 4; i++)
        if (s && strcmp(s, ac_role_name(roles[i])) == 0) {
            *out = roles[i];
            return 0;
        }
    return -1;
}

/* The first key of object o not in known (n of them), or NULL. */
static const char *unknown_key(json_object *o, const char *const *known, size_t n)
{
    json_object_object_foreach(o, key, val) {
        (void)val;
        size_t i = 0;
        while (i < n && strcmp(key, known[i]) != 0)
            i++;
        if (i == n)
            return key;
    }
    return NULL;
}

/* The JSON type of v as a message says it. */
static const char *type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double:
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "something else";
}

/* A saved string, read exactly.  1: *out is it; 0: absent; -1: not a
 * string; -2: a string with a NUL inside (json-c keeps "\u0000", a C
 * string would end there); -3: not UTF-8 (an escape made it so). */
static int saved_string(json_object *o, const char *key, const char **out)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    const char *sv = json_object_get_string(v);
    if ((size_t)json_object_get_string_len(v) != strlen(sv))
        return -2;
    if (!ac__utf8_valid(sv))
        return -3;
    *out = sv;
    return 1;
}

/* Read key of o as an optional string; on a bad value refuse it with
 * its path (where, then ".key"). */
static ac_status opt_string(json_object *o, const char *key, const char **out, const char *file,
                            const char *where, ac_error *err)
{
    int rc = saved_string(o, key, out);
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    if (rc == -1)
        return refuse(err, file, "%s%s%s is %s, not a string", where, *where ? "." : "", key,
                      type_name(v));
    if (rc < 0)
        return refuse(err, file, "%s%s%s %s", where, *where ? "." : "", key,
                      rc == -2 ? "holds a NUL byte (\\u0000), which would cut the text there"
                               : "is not valid UTF-8");
    return AC_OK;
}

/* Text that is one JSON object and nothing else (blanks around it). */
static int object_text(const char *s, size_t len)
{
    json_tokener *t = json_tokener_new();
    if (!t)
        return -1;
    json_tokener_set_flags(t, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(t, s, (int)len);
    int ok = o && json_tokener_get_error(t) == json_tokener_success &&
             json_object_is_type(o, json_type_object);
    for (size_t j = ok ? (size_t)json_tokener_get_parse_end(t) : len; j < len; j++)
        if (s[j] != ' ' && s[j] != '\n' && s[j] != '\r' && s[j] != '\t')
            ok = 0;
    json_object_put(o);
    json_tokener_free(t);
    return ok;
}

/* An image as saved: a data: URL (split into its type and base64) or an
 * http(s) URL. */
static ac_status image_part(ac__msg *m, const char *u)
{
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_IMAGE};
    char *mime = NULL;
    if (strncmp(u, "data:", 5) == 0) {
        const char *semi = strstr(u, ";base64,");
        if (!semi)
            return AC_EPROTOCOL;
        if (!(mime = ac__strndup(u + 5, (size_t)(semi - u - 5))))
            return AC_ENOMEM;
        p.mime_type = mime;
        p.data_base64 = semi + 8;
        p.data_len = strlen(p.data_base64) / 4 * 3;
    } else if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) {
        p.url = u;
    } else {
        return AC_EPROTOCOL;
    }
    ac_status st = ac__msg_add(m, &p);
    ac__free(mime);
    return st;
}

static ac_status no_memory(ac_error *err)
{
    ac__error_set(err, AC_ENOMEM, AC_STAGE_IO, "out of memory");
    return AC_ENOMEM;
}

static char *ref_read(json_object *o, const char *file, const char *at, size_t *n,
                      ac_error *err);

/* An image kept by reference: {"file", "sha256", "mime_type"} (version 2,
 * AC_SAVE_ATTACHMENTS_BY_REFERENCE). */
static ac_status image_ref(json_object *o, ac__msg *m, const char *file, const char *at,
                           ac_error *err)
{
    static const char *const known[] = {"file", "sha256", "mime_type"};
    const char *bad = unknown_key(o, known, 3), *mime;
    if (bad)
        return refuse(err, file, "%s has a field \"%.60s\" that a saved image does not have "
                      "(file, sha256, mime_type)", at, bad);
    if (opt_string(o, "mime_type", &mime, file, at, err) != AC_OK)
        return AC_EPROTOCOL;
    if (!mime || strncmp(mime, "image/", 6) != 0)
        return refuse(err, file, "%s has no image mime_type", at);
    size_t n;
    char *bytes = ref_read(o, file, at, &n, err);
    if (!bytes)
        return err->code;
    char *b64 = ac__b64_encode(bytes, n);
    ac__free(bytes);
    if (!b64)
        return no_memory(err);
    ac_part p = {.struct_size = sizeof p, .type = AC_PART_IMAGE, .mime_type = mime,
                 .data_base64 = b64, .data_len = n};
    ac_status st = ac__msg_add(m, &p);
    ac__free(b64);
    return st == AC_OK ? AC_OK : no_memory(err);
}

/* The tool calls of an assistant message (at `where`, "messages[i]"). */
static ac_status calls_from_json(json_object *calls, ac__msg *m, const char *file,
                                 const char *where, ac_error *err)
{
    static const char *const known[] = {"id", "name", "arguments"};
    if (!json_object_is_type(calls, json_type_array))
        return refuse(err, file, "%s.tool_calls is %s, not an array", where, type_name(calls));
    for (size_t k = 0; k < json_object_array_length(calls); k++) {
        json_object *c = json_object_array_get_idx(calls, k), *args = NULL;
        char at[96];
        snprintf(at, sizeof at, "%s.tool_calls[%zu]", where, k);
        if (!json_object_is_type(c, json_type_object))
            return refuse(err, file, "%s is %s, not an object", at, type_name(c));
        const char *bad = unknown_key(c, known, sizeof known / sizeof known[0]);
        if (bad)
            return refuse(err, file, "%s has a field \"%.60s\" that a saved tool call does not "
                          "have (id, name, arguments)", at, bad);
        const char *id, *name, *text = "{}";
        if (opt_string(c, "id", &id, file, at, err) != AC_OK ||
            opt_string(c, "name", &name, file, at, err) != AC_OK)
            return AC_EPROTOCOL;
        if (!name || !*name)
            return refuse(err, file, "%s has no name", at);
        if (json_object_object_get_ex(c, "arguments", &args)) {
            if (json_object_is_type(args, json_type_object)) {
                text = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
                if (!text)
                    return no_memory(err);
            } else {
                /* The text of an object (OpenAI's form) is kept as it is. */
                int rc = saved_string(c, "arguments", &text);
                int ok = rc == 1 ? object_text(text, strlen(text)) : 0;
                if (ok < 0)
                    return no_memory(err);
                if (!ok)
                    return refuse(err, file, "%s.arguments is %s (a tool call's arguments are a "
                                  "JSON object, or the text of one)", at,
                                  rc == 1 ? "text that is not a JSON object"
                                  : rc < -1 ? "a string that is not UTF-8 or holds a NUL byte"
                                  : type_name(args));
            }
        }
        ac_part p = {.struct_size = sizeof p, .type = AC_PART_TOOL_CALL, .id = id ? id : "",
                     .name = name, .arguments = text};
        if (ac__msg_add(m, &p) != AC_OK)
            return no_memory(err);
    }
    return AC_OK;
}

/* A usage object: {"input_tokens", "output_tokens"}, counts >= 0. */
static ac_status usage_from_json(json_object *u, ac__msg *m, const char *file,
                                 const char *where, ac_error *err)
{
    static const char *const known[] = {"input_tokens", "output_tokens"};
    if (!json_object_is_type(u, json_type_object))
        return refuse(err, file, "%s.usage is %s, not an object", where, type_name(u));
    const char *bad = unknown_key(u, known, 2);
    if (bad)
        return refuse(err, file, "%s.usage has a field \"%.60s\" (only input_tokens and "
                      "output_tokens)", where, bad);
    long *out[2] = {&m->input_tokens, &m->output_tokens};
    for (int k = 0; k < 2; k++) {
        json_object *v;
        if (!json_object_object_get_ex(u, known[k], &v))
            continue;
        errno = 0;
        int64_t n = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || n < 0 || n > 0x7fffffffL ||
            errno == ERANGE)
            return refuse(err, file, "%s.usage.%s is not a count (a whole number from 0 to "
                          "2147483647)", where, known[k]);
        *out[k] = (long)n;
    }
    return AC_OK;
}

/* A boolean field: 1 true, 0 false or absent, -1 not a boolean. */
static int saved_bool(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return -1;
    return json_object_get_boolean(v) ? 1 : 0;
}

/* The fields version 2 added to a message (its role already known). */
static ac_status v2_fields(json_object *o, ac__msg *m, ac_role role, const char *file,
                           const char *where, ac_error *err)
{
    int summary = saved_bool(o, "summary");
    if (summary < 0)
        return refuse(err, file, "%s.summary is not a boolean", where);
    if (summary && role != AC_ROLE_USER)
        return refuse(err, file, "%s.summary on %s message (a summary is a user message)",
                      where, with_article(role));
    if (summary)
        m->flags |= AC_MESSAGE_SUMMARY;
    const char *prov, *model, *time;
    if (opt_string(o, "provider", &prov, file, where, err) != AC_OK ||
        opt_string(o, "model", &model, file, where, err) != AC_OK ||
        opt_string(o, "time", &time, file, where, err) != AC_OK)
        return AC_EPROTOCOL;
    json_object *usage = NULL;
    json_object_object_get_ex(o, "usage", &usage);
    if ((prov || model || usage) && role != AC_ROLE_ASSISTANT && !summary)
        return refuse(err, file, "%s.%s on %s message (only replies and summaries have "
                      "one)", where, prov ? "provider" : model ? "model" : "usage",
                      with_article(role));
    if (ac__msg_set_origin(m, prov, model) != AC_OK)
        return no_memory(err);
    if (usage && usage_from_json(usage, m, file, where, err) != AC_OK)
        return AC_EPROTOCOL;
    if (time && time_parse(time, &m->time_ms) != 0)
        return refuse(err, file, "%s.time \"%.40s\" is not a UTC time like "
                      "2026-12-04T20:11:12.345Z", where, time);
    return AC_OK;
}

/* The documents of a user message (version 2; at `where`). */
/* An attachment kept by reference (`at` the object naming it with "file"
 * and "sha256"): its bytes (ac__malloc'd, NUL after them) and *n, or NULL
 * with err filled. */
static char *ref_read(json_object *o, const char *file, const char *at, size_t *n,
                      ac_error *err)
{
    const char *rel, *sha;
    if (opt_string(o, "file", &rel, file, at, err) != AC_OK ||
        opt_string(o, "sha256", &sha, file, at, err) != AC_OK)
        return NULL;
    if (!rel || !sha) {
        refuse(err, file, "%s has %s without %s", at, rel ? "file" : "sha256",
               rel ? "sha256" : "file");
        return NULL;
    }
    char why[512];
    ac_status st;
    char *bytes = ac__ref_load(file, rel, sha, n, why, sizeof why, &st);
    if (!bytes) {
        if (st == AC_ENOMEM)
            no_memory(err);
        else if (st == AC_EIO)
            ac__error_set(err, AC_EIO, AC_STAGE_IO, "%s: %s: the attachment %s", file, at, why);
        else
            refuse(err, file, "%s: the attachment %s", at, why);
    }
    return bytes;
}

static ac_status files_from_json(json_object *files, ac__msg *m, const char *file,
                                 const char *where, ac_error *err)
{
    static const char *const known[] = {"name", "mime_type", "text", "file", "sha256"};
    if (!json_object_is_type(files, json_type_array))
        return refuse(err, file, "%s.files is %s, not an array", where, type_name(files));
    for (size_t k = 0; k < json_object_array_length(files); k++) {
        json_object *f = json_object_array_get_idx(files, k);
        char at[96];
        snprintf(at, sizeof at, "%s.files[%zu]", where, k);
        if (!json_object_is_type(f, json_type_object))
            return refuse(err, file, "%s is %s, not an object", at, type_name(f));
        const char *bad = unknown_key(f, known, sizeof known / sizeof known[0]);
        if (bad)
            return refuse(err, file, "%s has a field \"%.60s\" that a saved document does not "
                          "have (name, mime_type, text, file, sha256)", at, bad);
        const char *name, *mime, *text;
        if (opt_string(f, "name", &name, file, at, err) != AC_OK ||
            opt_string(f, "mime_type", &mime, file, at, err) != AC_OK ||
            opt_string(f, "text", &text, file, at, err) != AC_OK)
            return AC_EPROTOCOL;
        if (!name || !*name)
            return refuse(err, file, "%s has no name", at);
        json_object *ref = NULL;
        json_object_object_get_ex(f, "file", &ref);
        if (!text == !ref)
            return refuse(err, file, "%s has %s", at, text ? "both text and file (one or the other)"
                                                         : "no text (nor file)");
        size_t len = text ? strlen(text) : 0;
        char *bytes = text ? NULL : ref_read(f, file, at, &len, err);
        if (!text && !bytes)
            return err->code;
        if (bytes && (strlen(bytes) != len || !ac__utf8_valid(bytes))) {
            ac__free(bytes);
            return refuse(err, file, "%s: the attachment is not UTF-8 text", at);
        }
        ac_part p = {.struct_size = sizeof p, .type = AC_PART_FILE, .text = text ? text : bytes,
                     .text_len = len, .mime_type = mime, .name = name};
        ac_status st = ac__msg_add(m, &p);
        ac__free(bytes);
        if (st != AC_OK)
            return no_memory(err);
    }
    return AC_OK;
}

/* One saved message of a file of `version`, strictly (see the top): a
 * value that would load dropped or changed is refused with its path
 * (list "messages" or "archive", index i). */
static ac_status message_from_json(json_object *o, ac__msg *m, const char *file, int version,
                                   const char *list, size_t i, ac_error *err)
{
    static const char *const known[] = {"role", "content", "tool_calls", "tool_call_id",
                                        "name", "images", /* version 2: */ "is_error",
                                        "summary", "provider", "model", "usage", "time",
                                        "files"};
    char where[48];
    snprintf(where, sizeof where, "%s[%zu]", list, i);
    ac__msg_init(m, AC_ROLE_USER);
    if (!json_object_is_type(o, json_type_object))
        return refuse(err, file, "%s is %s, not an object", where, type_name(o));
    const char *bad = unknown_key(o, known, version >= 2 ? 13 : 6);
    if (bad)
        return refuse(err, file, "%s has a field \"%.60s\" that a saved message of version %d "
                      "does not have (role, content, tool_calls, tool_call_id, name, images%s)",
                      where, bad, version, version >= 2 ? ", is_error, summary, provider, "
                      "model, usage, time, files" : "");
    const char *role_s, *content, *id, *name;
    ac_role role;
    if (opt_string(o, "role", &role_s, file, where, err) != AC_OK)
        return AC_EPROTOCOL;
    if (!role_s)
        return refuse(err, file, "%s has no role", where);
    if (role_parse(role_s, &role) || role == AC_ROLE_SYSTEM)
        return refuse(err, file, "%s.role \"%.40s\" is not user, assistant or tool (the system "
                      "prompt is the file's \"system\")", where, role_s);
    if (opt_string(o, "content", &content, file, where, err) != AC_OK ||
        opt_string(o, "tool_call_id", &id, file, where, err) != AC_OK ||
        opt_string(o, "name", &name, file, where, err) != AC_OK)
        return AC_EPROTOCOL;
    json_object *calls = NULL, *imgs = NULL, *files = NULL;
    json_object_object_get_ex(o, "tool_calls", &calls);
    json_object_object_get_ex(o, "images", &imgs);
    json_object_object_get_ex(o, "files", &files);
    /* Fields the role has no use for would be dropped. */
    if (calls && role != AC_ROLE_ASSISTANT)
        return refuse(err, file, "%s.tool_calls on %s message (only assistant messages make "
                      "tool calls)", where, with_article(role));
    if (id && role != AC_ROLE_TOOL)
        return refuse(err, file, "%s.tool_call_id on %s message (only tool messages answer a "
                      "call)", where, with_article(role));
    if (files && role != AC_ROLE_USER)
        return refuse(err, file, "%s.files on %s message (documents are attached to user "
                      "messages)", where, with_article(role));
    if (role == AC_ROLE_TOOL && !id)
        return refuse(err, file, "%s is a tool message without tool_call_id", where);
    int is_error = saved_bool(o, "is_error");
    if (is_error < 0)
        return refuse(err, file, "%s.is_error is not a boolean", where);
    if (is_error && role != AC_ROLE_TOOL)
        return refuse(err, file, "%s.is_error on %s message (only tool results fail)", where,
                      with_article(role));
    ac_status st;
    if (role == AC_ROLE_TOOL) {
        st = ac__msg_tool_result(m, id, name, content ? content : "", is_error);
    } else {
        st = ac__msg_text(m, role, content && *content ? content : NULL);
        if (st == AC_OK && name)
            st = ac__msg_set_name(m, name);
    }
    if (st != AC_OK)
        return no_memory(err);
    if (calls && (st = calls_from_json(calls, m, file, where, err)) != AC_OK)
        return st;
    if (files && (st = files_from_json(files, m, file, where, err)) != AC_OK)
        return st;
    if (imgs) {
        if (!json_object_is_type(imgs, json_type_array))
            return refuse(err, file, "%s.images is %s, not an array", where, type_name(imgs));
        for (size_t k = 0; k < json_object_array_length(imgs); k++) {
            json_object *u = json_object_array_get_idx(imgs, k);
            if (version >= 2 && json_object_is_type(u, json_type_object)) {
                char at[96];
                snprintf(at, sizeof at, "%s.images[%zu]", where, k);
                if ((st = image_ref(u, m, file, at, err)) != AC_OK)
                    return st;
                continue;
            }
            const char *url = json_object_is_type(u, json_type_string)
                                  ? json_object_get_string(u) : NULL;
            if (url && (size_t)json_object_get_string_len(u) != strlen(url))
                url = NULL;
            st = url ? image_part(m, url) : AC_EPROTOCOL;
            if (st == AC_ENOMEM)
                return no_memory(err);
            if (st != AC_OK)
                return refuse(err, file, "%s.images[%zu] is not a data: or http(s) URL", where,
                              k);
        }
    }
    if (version >= 2)
        return v2_fields(o, m, role, file, where, err);
    return AC_OK;
}

/* The line of byte offset `at` in text (1-based). */
static size_t line_of(const char *text, size_t at)
{
    size_t line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    return line;
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

/*
 * What json-c changes without a word, found in the text of a file it
 * parsed (so every backslash is inside a string and starts an escape):
 * an object key holding \u0000 (the key is cut there) and a surrogate
 * escape without its pair (made U+FFFD).  NULL, or what, with *at its
 * byte offset.
 */
static const char *lossy_escape(const char *text, size_t len, size_t *at)
{
    int in_string = 0, nul = 0;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!in_string) {
            if (c == '"') {
                in_string = 1;
                nul = 0;
                start = i;
            }
            continue;
        }
        if (c == '"') {
            in_string = 0;
            size_t j = i + 1;
            while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' ||
                               text[j] == '\n'))
                j++;
            if (nul && j < len && text[j] == ':') {
                *at = start;
                return "an object key holding a NUL byte (\\u0000), which would cut the key";
            }
            continue;
        }
        if (c != '\\' || i + 1 >= len)
            continue;
        unsigned v, w;
        if (text[i + 1] != 'u' || i + 5 >= len || hex4(text + i + 2, &v) != 0) {
            i++;                                   /* a two-character escape */
            continue;
        }
        nul |= v == 0;
        if (v >= 0xD800 && v <= 0xDBFF && i + 11 < len && text[i + 6] == '\\' &&
            text[i + 7] == 'u' && hex4(text + i + 8, &w) == 0 && w >= 0xDC00 && w <= 0xDFFF) {
            i += 11;                               /* a pair: one character */
            continue;
        }
        if (v >= 0xD800 && v <= 0xDFFF) {
            *at = i;
            return "a UTF-16 surrogate escape without its pair, which would load as U+FFFD";
        }
        i += 5;
    }
    return NULL;
}

/* The whole file, NUL-terminated, at most SESSION_FILE_MAX bytes. */
static ac_status read_all(const char *path, char **out, size_t *len, ac_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        ac__error_set(err, AC_EIO, AC_STAGE_IO, "cannot open session file %s: %s", path,
                      strerror(errno));
        return AC_EIO;
    }
    size_t cap = 65536, n = 0;
    char *data = ac__malloc(cap + 1);
    ac_status st = data ? AC_OK : AC_ENOMEM;
    while (st == AC_OK) {
        if (n == cap) {
            if (cap >= (size_t)SESSION_FILE_MAX + 1) {
                ac__error_set(err, AC_ETOOBIG, AC_STAGE_IO, "session file %s is larger than %ld "
                              "bytes", path, SESSION_FILE_MAX);
                st = AC_ETOOBIG;
                break;
            }
            size_t ncap = cap * 2 > (size_t)SESSION_FILE_MAX + 1 ? (size_t)SESSION_FILE_MAX + 1
                                                                 : cap * 2;
            char *nb = ac__realloc(data, ncap + 1);
            if (!nb) {
                st = AC_ENOMEM;
                break;
            }
            data = nb;
            cap = ncap;
        }
        size_t r = fread(data + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                ac__error_set(err, AC_EIO, AC_STAGE_IO, "cannot read session file %s", path);
                st = AC_EIO;
            }
            break;
        }
    }
    fclose(f);
    if (st == AC_ENOMEM)
        no_memory(err);
    if (st != AC_OK) {
        ac__free(data);
        return st;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    return AC_OK;
}

/* What the top level of a file holds, besides its messages. */
typedef struct top {
    int          version;
    const char  *system, *id;
    long long    created, updated;   /* 0: not in the file */
    json_object *msgs, *archive;
} top;

/* A UUID as ac_session_new makes them: 8-4-4-4-12 lowercase hex. */
static int uuid_text(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* The file's top level: everything but the messages. */
static ac_status top_from_json(json_object *root, const char *path, top *t, ac_error *err)
{
    static const char *const known[] = {"format", "version", "system", "provider", "model",
                                        "messages", /* version 2: */ "id", "created",
                                        "updated", "archive"};
    json_object *v, **msgs = &t->msgs;
    const char *fmt, *provider, *model;
    t->version = 1;
    if (!json_object_is_type(root, json_type_object) ||
        saved_string(root, "format", &fmt) != 1 || strcmp(fmt, "abstractcore-session") != 0 ||
        !json_object_object_get_ex(root, "messages", msgs))
        return refuse(err, path, "not a saved abstractcore session (no \"format\": "
                      "\"abstractcore-session\" and \"messages\")");
    if (json_object_object_get_ex(root, "version", &v)) {
        if (!json_object_is_type(v, json_type_int))
            return refuse(err, path, "version is %s, not an integer", type_name(v));
        int64_t ver = json_object_get_int64(v);
        if (ver != 1 && ver != FORMAT_VERSION)
            return refuse(err, path, "version %lld: this library reads versions 1 and %d",
                          (long long)ver, FORMAT_VERSION);
        t->version = (int)ver;
    }
    const char *bad = unknown_key(root, known, t->version >= 2 ? 10 : 6);
    if (bad)
        return refuse(err, path, "a field \"%.60s\" that a saved session of version %d does not "
                      "have (format, version, system, provider, model, messages%s)", bad,
                      t->version, t->version >= 2 ? ", id, created, updated, archive" : "");
    const char *created = NULL, *updated = NULL;
    if (opt_string(root, "system", &t->system, path, "", err) != AC_OK ||
        opt_string(root, "provider", &provider, path, "", err) != AC_OK ||
        opt_string(root, "model", &model, path, "", err) != AC_OK ||
        opt_string(root, "id", &t->id, path, "", err) != AC_OK ||
        opt_string(root, "created", &created, path, "", err) != AC_OK ||
        opt_string(root, "updated", &updated, path, "", err) != AC_OK)
        return AC_EPROTOCOL;
    if (t->id && !uuid_text(t->id))
        return refuse(err, path, "id \"%.40s\" is not a UUID in lowercase "
                      "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", t->id);
    if (created && time_parse(created, &t->created) != 0)
        return refuse(err, path, "created \"%.40s\" is not a UTC time like "
                      "2026-12-04T20:11:12.345Z", created);
    if (updated && time_parse(updated, &t->updated) != 0)
        return refuse(err, path, "updated \"%.40s\" is not a UTC time like "
                      "2026-12-04T20:11:12.345Z", updated);
    if (!json_object_is_type(*msgs, json_type_array))
        return refuse(err, path, "messages is %s, not an array", type_name(*msgs));
    if (json_object_object_get_ex(root, "archive", &t->archive) &&
        !json_object_is_type(t->archive, json_type_array))
        return refuse(err, path, "archive is %s, not an array", type_name(t->archive));
    return AC_OK;
}

/* Load list (of t's version) into the history or the archive of s. */
static ac_status list_load(ac_session *s, json_object *list, const char *name, int version,
                           const char *path, ac_error *err)
{
    int archive = strcmp(name, "archive") == 0;
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        ac__msg m;
        long long time_ms = 0;
        if (message_from_json(json_object_array_get_idx(list, i), &m, path, version, name, i,
                              err) == AC_OK) {
            time_ms = m.time_ms;
            if ((archive ? ac__session_archive_push(s, &m) : ac__session_push(s, &m)) != AC_OK)
                no_memory(err);
        }
        if (err->code != AC_OK) {
            ac__msg_clear(&m);
            return err->code;
        }
        /* Loading is not a change: a message keeps its time (none for
         * version 1 files, rather than the load's). */
        if (!archive)
            s->hist[s->n - 1].time_ms = time_ms;
    }
    return AC_OK;
}

ac_session *ac_session_load(ac_llm *llm, const char *path, ac_error *err)
{
    if (!llm || !path) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_IO, "llm or path is NULL");
        return NULL;
    }
    /* Work on a local report: the caller's may hold anything until we fail. */
    ac_error local, *user_err = err;
    ac_error_clear(&local);
    err = &local;
    char *text = NULL;
    size_t len = 0;
    json_object *root = NULL;
    ac_session *s = NULL;
    if (read_all(path, &text, &len, err) != AC_OK)
        goto done;
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        no_memory(err);
        goto done;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = root ? (size_t)json_tokener_get_parse_end(tok) : 0;
    json_tokener_free(tok);
    while (root && end < len && (text[end] == ' ' || text[end] == '\n' || text[end] == '\r' ||
                                 text[end] == '\t'))
        end++;
    if (!root || end < len) {
        ac__error_set(err, AC_EJSON, AC_STAGE_JSON, "session file %s is not valid JSON: %s", path,
                      root ? "text after the end of the session"
                      : je == json_tokener_continue ? "unexpected end of file"
                                                    : json_tokener_error_desc(je));
        goto done;
    }
    size_t at;
    const char *lossy = lossy_escape(text, len, &at);
    if (lossy) {
        refuse(err, path, "line %zu: %s", line_of(text, at), lossy);
        goto done;
    }
    top t = {0};
    if (top_from_json(root, path, &t, err) != AC_OK)
        goto done;
    s = ac_session_new(llm, t.system);
    if (!s) {
        no_memory(err);
        goto done;
    }
    if (list_load(s, t.msgs, "messages", t.version, path, err) != AC_OK ||
        list_load(s, t.archive, "archive", t.version, path, err) != AC_OK) {
        ac_session_free(s);
        s = NULL;
        goto done;
    }
    /* The session is the one saved: its id and times, not new ones. */
    if (t.id)
        memcpy(s->id, t.id, sizeof s->id);
    if (t.created)
        s->created_ms = t.created;
    s->updated_ms = t.updated ? t.updated : s->created_ms;
done:
    json_object_put(root);
    ac__free(text);
    if (!s && user_err)
        *user_err = local;
    return s;
}
