/*
 * params.c -- generation parameters: typed setters with range checks.
 * A request deep-copies its parameters, so a set may be reused at once.
 */
#include "params.h"
#include "alloc.h"
#include "error.h"
#include "message.h"
#include "media/media.h"
#include "structured/schema.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

static void params_init(ac_gen_params *p)
{
    memset(p, 0, sizeof *p);
    p->stream = -1;
    p->connect_ms = p->first_byte_ms = p->idle_ms = p->total_ms = -1;
    p->max_retries = -1;
    p->schema_attempts = -1;
    p->tool_mode = -1;
    p->max_doc_bytes = -1;
    p->max_input_tokens = -1;
    p->trim = -1;
}

static void schema_unref(ac__schema_ref *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
        ac__schema_free(r->s);
        ac__free(r);
    }
}

ac_gen_params *ac_gen_params_new(void)
{
    ac_gen_params *p = ac__malloc(sizeof *p);
    if (p)
        params_init(p);
    return p;
}

void ac_gen_params_free(ac_gen_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_stop; i++)
        ac__free(p->stop[i]);
    for (size_t i = 0; i < p->n_tools; i++) {
        ac__free((char *)p->tools[i].name);
        ac__free((char *)p->tools[i].description);
        ac__free((char *)p->tools[i].parameters_json);
    }
    ac__free(p->system);
    ac__free(p->tool_choice);
    ac__free(p->json_schema);
    ac__free(p->json_schema_name);
    schema_unref(p->schema);
    for (size_t i = 0; i < p->n_fb; i++) {
        ac__free(p->fb_provider[i]);
        ac__free(p->fb_model[i]);
    }
    ac_gen_params_clear_attachments(p);
    ac__free(p);
}

ac_status ac_gen_params_add_fallback(ac_gen_params *p, const char *provider, const char *model)
{
    if (!p || !provider || !*provider || p->n_fb >= AC_MAX_FALLBACKS ||
        !ac__utf8_valid(provider) || (model && (!*model || !ac__utf8_valid(model))))
        return AC_EINVAL;
    char *pv = ac__strdup(provider), *m = model ? ac__strdup(model) : NULL;
    if (!pv || (model && !m)) {
        ac__free(pv);
        ac__free(m);
        return AC_ENOMEM;
    }
    p->fb_provider[p->n_fb] = pv;
    p->fb_model[p->n_fb] = m;
    p->n_fb++;
    return AC_OK;
}

ac_status ac_gen_params_set_max_tokens(ac_gen_params *p, long n)
{
    if (!p || n < 1)
        return AC_EINVAL;
    p->has_max_tokens = 1;
    p->max_tokens = n;
    return AC_OK;
}

ac_status ac_gen_params_set_temperature(ac_gen_params *p, double t)
{
    if (!p || !isfinite(t) || t < 0.0 || t > 2.0)
        return AC_EINVAL;
    p->has_temperature = 1;
    p->temperature = t;
    return AC_OK;
}

ac_status ac_gen_params_set_top_p(ac_gen_params *p, double v)
{
    if (!p || !isfinite(v) || v < 0.0 || v > 1.0)
        return AC_EINVAL;
    p->has_top_p = 1;
    p->top_p = v;
    return AC_OK;
}

ac_status ac_gen_params_set_seed(ac_gen_params *p, long long seed)
{
    if (!p)
        return AC_EINVAL;
    p->has_seed = 1;
    p->seed = seed;
    return AC_OK;
}

ac_status ac_gen_params_add_stop(ac_gen_params *p, const char *stop)
{
    if (!p || !stop || !*stop || p->n_stop >= AC_MAX_STOPS || !ac__utf8_valid(stop))
        return AC_EINVAL;
    if (!(p->stop[p->n_stop] = ac__strdup(stop)))
        return AC_ENOMEM;
    p->n_stop++;
    return AC_OK;
}

static ac_status set_str(char **slot, const char *v)
{
    char *d = NULL;
    if (v && !(d = ac__strdup(v)))
        return AC_ENOMEM;
    ac__free(*slot);
    *slot = d;
    return AC_OK;
}

ac_status ac_gen_params_set_system(ac_gen_params *p, const char *system)
{
    return p && ac__utf8_valid(system) ? set_str(&p->system, system) : AC_EINVAL;
}

/* A JSON object as text, and nothing else. */
static int is_json_object(const char *text)
{
    if (!text)
        return 0;
    json_tokener *t = json_tokener_new();
    if (!t)
        return 0;
    json_tokener_set_flags(t, JSON_TOKENER_STRICT);
    size_t len = strlen(text);
    json_object *o = json_tokener_parse_ex(t, text, (int)len);
    int ok = o && json_tokener_get_error(t) == json_tokener_success &&
             json_object_is_type(o, json_type_object);
    if (ok)
        for (size_t i = json_tokener_get_parse_end(t); i < len; i++)
            if (!strchr(" \t\r\n", text[i]))
                ok = 0;
    json_object_put(o);
    json_tokener_free(t);
    return ok;
}

ac_status ac_gen_params_add_tool(ac_gen_params *p, const char *name, const char *description,
                                 const char *parameters_json)
{
    if (!p || !name || !*name || p->n_tools >= AC_MAX_TOOLS || !ac__utf8_valid(name) ||
        !ac__utf8_valid(description))
        return AC_EINVAL;
    if (!parameters_json)
        parameters_json = "{\"type\":\"object\",\"properties\":{}}";
    if (!is_json_object(parameters_json))
        return AC_EINVAL;
    ac_tool_def *t = &p->tools[p->n_tools];
    char *n = ac__strdup(name), *d = description ? ac__strdup(description) : NULL,
         *j = ac__strdup(parameters_json);
    if (!n || (description && !d) || !j) {
        ac__free(n);
        ac__free(d);
        ac__free(j);
        return AC_ENOMEM;
    }
    t->struct_size = sizeof *t;
    t->name = n;
    t->description = d;
    t->parameters_json = j;
    p->n_tools++;
    return AC_OK;
}

ac_status ac_gen_params_set_tool_choice(ac_gen_params *p, const char *choice)
{
    if (!p || !choice || !*choice)
        return AC_EINVAL;
    return set_str(&p->tool_choice, choice);
}

ac_status ac_gen_params_set_json_schema(ac_gen_params *p, const char *name, const char *schema,
                                        ac_error *err)
{
    if (!p || !schema) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "%s is NULL", p ? "the schema" : "params");
        return AC_EINVAL;
    }
    if (!is_json_object(schema)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "the JSON Schema is not a JSON object");
        return AC_EINVAL;
    }
    if (!ac__utf8_valid(name)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_REQUEST, "the schema name is not UTF-8");
        return AC_EINVAL;
    }
    ac_error e;
    ac_error_clear(&e);
    ac__schema_ref *ref = ac__calloc(1, sizeof *ref);
    char *s = ac__strdup(schema), *n = ac__strdup(name && *name ? name : "response");
    if (ref && s && n) {
        atomic_init(&ref->refs, 1);
        ref->s = ac__schema_compile_text(schema, strlen(schema), NULL, &e);
    }
    if (!ref || !s || !n || !ref->s) {
        ac_status st = ref && s && n ? e.code : AC_ENOMEM;
        if (st == AC_ENOMEM)
            ac__error_set(err, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        else if (err)
            *err = e;
        ac__free(ref);
        ac__free(s);
        ac__free(n);
        return st;
    }
    ac__free(p->json_schema);
    ac__free(p->json_schema_name);
    schema_unref(p->schema);
    p->json_schema = s;
    p->json_schema_name = n;
    p->schema = ref;
    return AC_OK;
}

ac_status ac_gen_params_set_schema_attempts(ac_gen_params *p, int attempts)
{
    if (!p || attempts < 1 || attempts > 10)
        return AC_EINVAL;
    p->schema_attempts = attempts;
    return AC_OK;
}

ac_status ac_gen_params_set_max_input_tokens(ac_gen_params *p, long max_tokens, int trim)
{
    if (!p || max_tokens < 0 || max_tokens > 100000000)
        return AC_EINVAL;
    p->max_input_tokens = max_tokens;
    p->trim = trim ? 1 : 0;
    return AC_OK;
}

ac_status ac_gen_params_set_tool_mode(ac_gen_params *p, ac_tool_mode mode)
{
    if (!p || (mode != AC_TOOL_MODE_AUTO && mode != AC_TOOL_MODE_NATIVE &&
               mode != AC_TOOL_MODE_PROMPTED))
        return AC_EINVAL;
    p->tool_mode = (int)mode;
    return AC_OK;
}

ac_status ac_gen_params_set_stream(ac_gen_params *p, int stream)
{
    if (!p)
        return AC_EINVAL;
    p->stream = stream ? 1 : 0;
    return AC_OK;
}

ac_status ac_gen_params_set_timeouts(ac_gen_params *p, long connect_ms, long first_byte_ms,
                                     long idle_ms, long total_ms)
{
    if (!p)
        return AC_EINVAL;
    if (connect_ms >= 0)
        p->connect_ms = connect_ms;
    if (first_byte_ms >= 0)
        p->first_byte_ms = first_byte_ms;
    if (idle_ms >= 0)
        p->idle_ms = idle_ms;
    if (total_ms >= 0)
        p->total_ms = total_ms;
    return AC_OK;
}

ac_status ac_gen_params_set_max_retries(ac_gen_params *p, int n)
{
    if (!p || n < 0 || n > 10)
        return AC_EINVAL;
    p->max_retries = n;
    return AC_OK;
}

ac_gen_params *ac__params_copy(const ac_gen_params *src)
{
    ac_gen_params *p = ac_gen_params_new();
    if (!p || !src)
        return p;
    *p = *src;
    /* Re-own every string so the copy is independent. */
    p->n_stop = 0;
    p->n_tools = 0;
    p->system = p->tool_choice = p->json_schema = p->json_schema_name = NULL;
    p->schema = src->schema;
    if (p->schema)
        atomic_fetch_add(&p->schema->refs, 1);
    p->n_fb = 0;
    /* Attachments are immutable: the copy shares them. */
    for (size_t i = 0; i < src->n_media; i++)
        ac__media_ref(p->media[i]);
    for (size_t i = 0; i < src->n_fb; i++)
        if (ac_gen_params_add_fallback(p, src->fb_provider[i], src->fb_model[i]) != AC_OK)
            goto fail;
    for (size_t i = 0; i < src->n_stop; i++)
        if (ac_gen_params_add_stop(p, src->stop[i]) != AC_OK)
            goto fail;
    for (size_t i = 0; i < src->n_tools; i++)
        if (ac_gen_params_add_tool(p, src->tools[i].name, src->tools[i].description,
                                   src->tools[i].parameters_json) != AC_OK)
            goto fail;
    if (set_str(&p->system, src->system) || set_str(&p->tool_choice, src->tool_choice) ||
        set_str(&p->json_schema, src->json_schema) ||
        set_str(&p->json_schema_name, src->json_schema_name))
        goto fail;
    return p;
fail:
    ac_gen_params_free(p);
    return NULL;
}
