/*
 * mock_script.c -- load and validate the mock server's libconfig scripts.
 *
 * The base scenario starts as the built-in defaults, then takes the
 * script's top-level settings, then the overrides (acore-mockd's flags).
 * Each entry of `scenarios` starts as a deep copy of that base and applies
 * its own settings, so a scenario only states what differs; each of its
 * `steps` starts as a copy of the scenario the same way.  Every value is
 * checked here (mock_keys.c), with the line it came from, so that the
 * server never has to reject a scenario while answering a request.
 */
#include <config.h>

#include "mock_script.h"
#include "mock_keys.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_DEFAULT_REPLY "Hello from the AbstractCore mock server."
#define SCRIPT_DEFAULT_EMBEDDING_DIM 384

static char **script_str_at(mock_scenario *s, size_t i)
{
    return (char **)(void *)((char *)s + mock_keys_str[i]);
}

static void script_free_scenario(mock_scenario *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < mock_keys_nstr; i++)
        free(*script_str_at(s, i));
    for (size_t i = 0; i < s->ntools; i++) {
        free(s->tools[i].id);
        free(s->tools[i].name);
        free(s->tools[i].arguments);
    }
    free(s->tools);
    for (size_t i = 0; i < s->nheaders; i++)
        free(s->headers[i]);
    free(s->headers);
    for (size_t i = 0; i < s->nsteps; i++)
        script_free_scenario(&s->steps[i]);
    free(s->steps);
    memset(s, 0, sizeof *s);
}

/* Deep copy, without src's steps (only scenarios have steps, and a step
   is made from a scenario); on failure dst is left zeroed and -1 returned. */
static int script_copy_scenario(mock_scenario *dst, const mock_scenario *src)
{
    *dst = *src;
    for (size_t i = 0; i < mock_keys_nstr; i++)
        *script_str_at(dst, i) = NULL;
    dst->tools = NULL;
    dst->headers = NULL;
    dst->steps = NULL;
    dst->ntools = dst->nheaders = dst->nsteps = 0;

    for (size_t i = 0; i < mock_keys_nstr; i++) {
        const char *v = *script_str_at((mock_scenario *)src, i);
        if (v && !(*script_str_at(dst, i) = strdup(v)))
            goto fail;
    }
    if (src->ntools) {
        dst->tools = calloc(src->ntools, sizeof *dst->tools);
        if (!dst->tools)
            goto fail;
        for (size_t i = 0; i < src->ntools; i++) {
            dst->ntools = i + 1;
            dst->tools[i].id = strdup(src->tools[i].id);
            dst->tools[i].name = strdup(src->tools[i].name);
            dst->tools[i].arguments = strdup(src->tools[i].arguments);
            if (!dst->tools[i].id || !dst->tools[i].name || !dst->tools[i].arguments)
                goto fail;
        }
    }
    if (src->nheaders) {
        dst->headers = calloc(src->nheaders, sizeof *dst->headers);
        if (!dst->headers)
            goto fail;
        for (size_t i = 0; i < src->nheaders; i++) {
            dst->nheaders = i + 1;
            if (!(dst->headers[i] = strdup(src->headers[i])))
                goto fail;
        }
    }
    return 0;
fail:
    script_free_scenario(dst);
    return -1;
}

static int script_defaults(mock_scenario *s)
{
    memset(s, 0, sizeof *s);
    s->reply = strdup(SCRIPT_DEFAULT_REPLY);
    if (!s->reply)
        return -1;
    s->reply_len = -1;
    s->chunks = 8;
    s->status = 200;
    s->drop_after_chunks = -1;
    s->close_after_bytes = -1;
    s->stall_after_chunks = -1;
    s->should_retry = -1;
    s->garbage = -1;
    s->huge_event_bytes = -1;
    s->embedding_dim = SCRIPT_DEFAULT_EMBEDDING_DIM;
    return 0;
}

/* Turn reply_len into filler text and check settings that go together,
   once every setting of the group is in. */
static int script_finish(mock_scenario *s, mock_script_err *e)
{
    static const char filler[] = "The quick brown fox jumps over the lazy dog. ";
    if (s->stall_after_chunks >= 0 && s->stall_ms == 0) {
        mock_script_fail(e, s->line, "'stall_after_chunks' needs 'stall_ms' (how long to stall)");
        return -1;
    }
    if (s->reply_len < 0)
        return 0;
    char *r = malloc((size_t)s->reply_len + 1);
    if (!r) {
        mock_script_fail(e, s->line, "out of memory for reply_len %ld", s->reply_len);
        return -1;
    }
    for (long i = 0; i < s->reply_len; i++)
        r[i] = filler[(size_t)i % (sizeof filler - 1)];
    r[s->reply_len] = '\0';
    free(s->reply);
    s->reply = r;
    s->reply_len = -1;
    return 0;
}

/* Apply every setting of group g except `steps` (and, for the top level,
   `scenarios`). */
static int script_apply_group(mock_scenario *s, const config_setting_t *g,
                              enum mock_key_where where, mock_script_err *e)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *st = config_setting_get_elem(g, (unsigned)i);
        if (where == MOCK_KEY_TOP && !strcmp(config_setting_name(st), "scenarios"))
            continue;
        if (mock_keys_apply(s, st, where, e) < 0)
            return -1;
    }
    return 0;
}

/* sc's `steps` list (already checked to be a list): each a copy of sc
   (before sc's reply_len became text) plus its own settings. */
static int script_build_steps(mock_scenario *sc, const config_setting_t *list, mock_script_err *e)
{
    int n = config_setting_length(list);
    if (n == 0)
        return 0;
    mock_scenario *steps = calloc((size_t)n, sizeof *steps);
    if (!steps) {
        mock_script_fail(e, (int)config_setting_source_line(list), "out of memory");
        return -1;
    }
    size_t done = 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        int line = (int)config_setting_source_line(g);
        if (!config_setting_is_group(g)) {
            mock_script_fail(e, line, "each step must be a group { ... }");
            goto fail;
        }
        if (script_copy_scenario(&steps[i], sc) < 0) {
            mock_script_fail(e, line, "out of memory");
            goto fail;
        }
        done = (size_t)i + 1;
        steps[i].line = line;
        if (script_apply_group(&steps[i], g, MOCK_KEY_STEP, e) < 0 || script_finish(&steps[i], e) < 0)
            goto fail;
    }
    sc->steps = steps;
    sc->nsteps = (size_t)n;
    return 0;
fail:
    for (size_t i = 0; i < done; i++)
        script_free_scenario(&steps[i]);
    free(steps);
    return -1;
}

static int script_parse(config_t *cfg, const char *text, mock_script_err *e)
{
    config_init(cfg);
    if (config_read_string(cfg, text) != CONFIG_TRUE) {
        mock_script_fail(e, config_error_line(cfg), "%s", config_error_text(cfg));
        config_destroy(cfg);
        return -1;
    }
    return 0;
}

/* The `scenarios` list into s->sc; each scenario copies the base. */
static int script_load_scenarios(mock_script *s, const config_setting_t *list, mock_script_err *e)
{
    if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
        mock_script_fail(e, (int)config_setting_source_line(list),
                         "'scenarios' must be a list: ( { ... }, { ... } )");
        return -1;
    }
    int n = config_setting_length(list);
    s->sc = n > 0 ? calloc((size_t)n, sizeof *s->sc) : NULL;
    if (n > 0 && !s->sc) {
        mock_script_fail(e, (int)config_setting_source_line(list), "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        int line = (int)config_setting_source_line(g);
        if (!config_setting_is_group(g)) {
            mock_script_fail(e, line, "each scenario must be a group { ... }");
            return -1;
        }
        if (script_copy_scenario(&s->sc[i], &s->base) < 0) {
            mock_script_fail(e, line, "out of memory");
            return -1;
        }
        s->nsc = (size_t)i + 1;
        s->sc[i].line = line;
        if (script_apply_group(&s->sc[i], g, MOCK_KEY_SCENARIO, e) < 0)
            return -1;
        /* Steps copy the scenario before its reply_len is turned into
           text, so that a step can still replace the reply. */
        const config_setting_t *steps = config_setting_get_member(g, "steps");
        if (steps && script_build_steps(&s->sc[i], steps, e) < 0)
            return -1;
        if (script_finish(&s->sc[i], e) < 0)
            return -1;
    }
    return 0;
}

/* Number the counters: the base, then each scenario and its steps. */
static void script_number_slots(mock_script *s)
{
    size_t k = 0;
    s->base.slot = k++;
    for (size_t i = 0; i < s->nsc; i++) {
        s->sc[i].slot = k++;
        for (size_t j = 0; j < s->sc[i].nsteps; j++)
            s->sc[i].steps[j].slot = k++;
    }
    s->nslots = k;
}

int mock_script_load(mock_script *out, const char *text, const char *name,
                     const char *overrides, char *errbuf, size_t errlen)
{
    mock_script_err e = { name ? name : "script", errbuf, errlen };
    config_t cfg, ovr;
    bool have_cfg = false, have_ovr = false;
    mock_script s;

    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (script_defaults(&s.base) < 0) {
        mock_script_fail(&e, 0, "out of memory");
        goto fail;
    }
    if (text && *text) {
        if (script_parse(&cfg, text, &e) < 0)
            goto fail;
        have_cfg = true;
        if (script_apply_group(&s.base, config_root_setting(&cfg), MOCK_KEY_TOP, &e) < 0)
            goto fail;
    }
    if (overrides && *overrides) {
        mock_script_err oe = { "overrides", errbuf, errlen };
        if (script_parse(&ovr, overrides, &oe) < 0)
            goto fail;
        have_ovr = true;
        if (script_apply_group(&s.base, config_root_setting(&ovr), MOCK_KEY_TOP, &oe) < 0)
            goto fail;
    }
    /* Scenarios copy the base before its reply_len is turned into text, so
       that a scenario can still replace the reply or change the length. */
    const config_setting_t *list = have_cfg ? config_lookup(&cfg, "scenarios") : NULL;
    if (list && script_load_scenarios(&s, list, &e) < 0)
        goto fail;
    if (script_finish(&s.base, &e) < 0)
        goto fail;
    script_number_slots(&s);
    if (have_cfg)
        config_destroy(&cfg);
    if (have_ovr)
        config_destroy(&ovr);
    *out = s;
    return 0;
fail:
    if (have_cfg)
        config_destroy(&cfg);
    if (have_ovr)
        config_destroy(&ovr);
    mock_script_free(&s);
    return -1;
}

void mock_script_free(mock_script *s)
{
    if (!s)
        return;
    script_free_scenario(&s->base);
    for (size_t i = 0; i < s->nsc; i++)
        script_free_scenario(&s->sc[i]);
    free(s->sc);
    memset(s, 0, sizeof *s);
}

const mock_scenario *mock_script_find(const mock_script *s, const char *model)
{
    size_t fallback = s->nsc;
    for (size_t i = 0; i < s->nsc; i++) {
        const char *m = s->sc[i].model;
        if (model && m && !strcmp(m, model))
            return &s->sc[i];
        if (fallback == s->nsc && (!m || !strcmp(m, "default")))
            fallback = i;
    }
    return fallback < s->nsc ? &s->sc[fallback] : &s->base;
}

const mock_scenario *mock_script_step(const mock_scenario *sc, size_t assistant_msgs)
{
    if (!sc->nsteps)
        return sc;
    return &sc->steps[assistant_msgs < sc->nsteps ? assistant_msgs : sc->nsteps - 1];
}
