/*
 * check_unit.c -- phase 1: the plugin on the SDK's fake host.
 *
 * Here the checker calls the plugin's functions one by one, so it can see
 * what no end-to-end run shows: what the entry point does, what each
 * function does when an allocation fails part-way (every allocation, one
 * after another), and whether memory the plugin took comes back.  It also
 * learns the plugin's protocol: the path its chat request goes to under
 * base_url, the framing of its streams, and the body of a streaming
 * request (for the byte-split scenario).
 *
 * The plugin is dlclose'd at the end, before the core loads it: a plugin
 * keeps the one host table its entry was given (testkit.h).
 */
#include "check.h"

#include <abstractcore/testkit.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation failures tried per function before giving up on reaching
 * the end: far more allocations than any codec makes for these inputs. */
#define MAX_FAILURES 4000

/* The base_url the fake init gets: its path tells where requests go. */
#define FAKE_BASE "http://127.0.0.1:9/ckbase"

/* The mock's chat endpoints, by protocol. */
static const struct {
    const char *path;
    check_proto proto;
    const char *name;
} endpoints[] = {
    { "/v1/chat/completions", PROTO_OPENAI, "OpenAI Chat Completions" },
    { "/v1/messages", PROTO_ANTHROPIC, "Anthropic Messages" },
    { "/api/chat", PROTO_OLLAMA, "Ollama /api/chat" },
};

/* ---- a fake with the instance's settings ---- */

/* --set lines onto the fake, by the type libconfig reads them as. */
static int apply_sets(const checker *c, ac_fake *f)
{
    if (!*c->sets)
        return 0;
    config_t cfg;
    config_init(&cfg);
    int rc = 0;
    if (config_read_string(&cfg, c->sets) != CONFIG_TRUE) {
        fprintf(stderr, "acore-provider-check: --set: %s\n", config_error_text(&cfg));
        rc = -1;
    }
    config_setting_t *root = config_root_setting(&cfg);
    for (int i = 0; rc == 0 && i < config_setting_length(root); i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *k = config_setting_name(s);
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_STRING: rc = ac_fake_set(f, k, config_setting_get_string(s)); break;
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64: rc = ac_fake_set_int(f, k, config_setting_get_int64(s)); break;
        case CONFIG_TYPE_FLOAT: rc = ac_fake_set_double(f, k, config_setting_get_float(s)); break;
        case CONFIG_TYPE_BOOL: rc = ac_fake_set_bool(f, k, config_setting_get_bool(s)); break;
        default:
            fprintf(stderr, "acore-provider-check: --set %s: a string, number or boolean\n", k);
            rc = -1;
        }
    }
    config_destroy(&cfg);
    return rc;
}

ac_fake *check_fake_new(const checker *c, const char *base)
{
    ac_fake *f = ac_fake_new();
    if (!f || ac_fake_set_name(f, "check") || (base && ac_fake_set(f, "base_url", base)) ||
        ac_fake_set(f, "api_key", c->secret) || apply_sets(c, f) < 0) {
        ac_fake_free(f);
        return NULL;
    }
    ac_gen_request *rq = ac_fake_request(f);
    rq->model = c->model;
    if (ac_fake_add_message(f, AC_ROLE_USER, "Say hello.") < 0) {
        ac_fake_free(f);
        return NULL;
    }
    return f;
}

/* ---- the descriptor ---- */

static int name_ok(const char *n)
{
    if (!n || !(*n >= 'a' && *n <= 'z') || strlen(n) >= 32)
        return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_' || *n == '-'))
            return 0;
    return 1;
}

/* A setting name: what a config file can write as a key and a user can
 * type, lower case so it cannot clash with another by case alone. */
static int setting_name_ok(const char *n)
{
    if (!n || !(*n >= 'a' && *n <= 'z') || strlen(n) >= 64)
        return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_'))
            return 0;
    return 1;
}

/* ABI 2.1: the settings the plugin declares (NULL: undeclared, allowed;
 * the core then only warns about keys it does not know). */
static verdict settings_list(const ac_provider *d)
{
    if (d->struct_size < offsetof(ac_provider, settings) + sizeof d->settings || !d->settings)
        return NULL;
    size_t i;
    for (i = 0; i < 256 && d->settings[i]; i++) {
        const char *n = d->settings[i];
        if (!setting_name_ok(n))
            return check_fail("settings[%zu] \"%.64s\" is not a setting name (1-63 of a-z, "
                              "0-9, '_', starting with a letter)", i, n);
        for (size_t k = 0; ac_core_provider_setting(k); k++)
            if (strcmp(ac_core_provider_setting(k), n) == 0)
                return check_fail("settings[%zu] \"%s\" is one of the core's settings: list "
                                  "only the plugin's own", i, n);
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->settings[j], n) == 0)
                return check_fail("settings lists \"%s\" twice", n);
    }
    if (i == 256)
        return check_fail("settings lists 256 names or more: is it NULL-terminated?");
    return NULL;
}

/* ABI 2.1: the image limits (NULL: the core's defaults). */
static verdict media_limits(const ac_provider *d)
{
    if (d->struct_size < offsetof(ac_provider, media) + sizeof d->media || !d->media)
        return NULL;
    const ac_media_limits *m = d->media;
    unsigned known = AC_IMAGE_PNG | AC_IMAGE_JPEG | AC_IMAGE_GIF | AC_IMAGE_WEBP;
    if (m->struct_size < sizeof(ac_media_limits))
        return check_fail("media->struct_size is %zu, not sizeof(ac_media_limits) (%zu)",
                          m->struct_size, sizeof(ac_media_limits));
    if (m->image_formats & ~known)
        return check_fail("media->image_formats has bits no AC_IMAGE_* has (0x%x)",
                          m->image_formats & ~known);
    if (m->image_max_edge < 0 || m->image_max_short_edge < 0 || m->image_max_pixels < 0 ||
        m->image_max_bytes < 0)
        return check_fail("media has a negative limit (0 means none)");
    if (!(d->features & AC_FEATURE_IMAGES))
        return check_fail("media gives image limits, but features lacks AC_FEATURE_IMAGES");
    return NULL;
}

static verdict descriptor(checker *c, const ac_provider *d)
{
    if (d->abi_major != AC_ABI_MAJOR)
        return check_fail("abi_major is %u; this SDK is ABI %d", d->abi_major, AC_ABI_MAJOR);
    if (d->abi_minor > AC_ABI_MINOR)
        return check_fail("abi_minor %u is newer than this SDK's %d", d->abi_minor, AC_ABI_MINOR);
    /* The descriptor's size for each minor: 2.0 ends before settings. */
    size_t want = d->abi_minor == 0 ? offsetof(ac_provider, settings) : sizeof(ac_provider);
    if (d->struct_size != want)
        return check_fail("struct_size is %zu, not sizeof(ac_provider) (%zu) of ABI %u.%u",
                          d->struct_size, want, d->abi_major, d->abi_minor);
    if (!name_ok(d->name))
        return check_fail("name must be 1-31 of a-z, 0-9, '_', '-', starting with a letter "
                          "(it names the plugin in configs and errors)");
    if (!d->version || !*d->version)
        return check_fail("version must be a non-empty string");
    if (!d->description || !*d->description || strchr(d->description, '\n') ||
        strlen(d->description) > 120)
        return check_fail("description must be one line of 1-120 bytes (acore plugins "
                          "shows it)");
    unsigned known = AC_FEATURE_TOOLS | AC_FEATURE_JSON_SCHEMA | AC_FEATURE_IMAGES |
                     AC_FEATURE_FILES;
    if (d->features & ~known)
        return check_fail("features has bits no ABI %d.%d feature has (0x%x)", AC_ABI_MAJOR,
                          AC_ABI_MINOR, d->features & ~known);
    if (!d->init)
        return check_fail("init is REQUIRED");
    int http = d->build_request && d->parse_response;
    int embed_http = d->abi_minor >= 1 && d->build_embed_request && d->parse_embed_response;
    int embed_local = d->abi_minor >= 1 && d->run_embed;
    if (d->abi_minor >= 1 && !d->build_embed_request != !d->parse_embed_response)
        return check_fail("build_embed_request and parse_embed_response go together");
    if (embed_http && embed_local)
        return check_fail("sets both HTTP embeddings (build_embed_request) and run_embed");
    if (!http && !d->run_local && !embed_http && !embed_local)
        return check_fail("needs build_request and parse_response, or run_local, or "
                          "embeddings");
    if (http && d->run_local)
        return check_fail("sets both an HTTP backend (build_request) and run_local");
    if (!d->build_models_request != !d->parse_models)
        return check_fail("build_models_request and parse_models go together");
    if (d->default_base_url && strncmp(d->default_base_url, "http://", 7) != 0 &&
        strncmp(d->default_base_url, "https://", 8) != 0)
        return check_fail("default_base_url \"%s\" is not an http:// or https:// URL",
                          d->default_base_url);
    verdict v = settings_list(d);
    if (!v)
        v = media_limits(d);
    if (v)
        return v;
    snprintf(c->name, sizeof c->name, "%s", d->name);
    c->features = d->features;
    c->can_stream = http && d->parse_event != NULL;
    c->can_list = d->parse_models != NULL;
    c->local = d->run_local != NULL;
    c->chat = http || c->local;
    c->can_embed = embed_http || embed_local;
    c->embed_local = embed_local;
    return NULL;
}

/* The entry point rule: it stores the host table and returns the same
 * static descriptor, every time. */
static verdict entry_again(void *dl, const ac_provider *first)
{
    void *sym = dlsym(dl, AC_PROVIDER_ENTRY_SYMBOL);
    ac_provider_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const ac_provider *again = entry(ac_fake_host());
    if (again != first)
        return check_fail("a second call of the entry returned another descriptor: it must "
                          "return the same static one and do nothing else");
    return NULL;
}

/* ---- init ---- */

/* init, then fini: every allocation failing in turn, each failure
 * reported on the call and giving back what it took. */
static verdict init_failing(const checker *c, const ac_provider *d)
{
    ac_fake *f = check_fake_new(c, FAKE_BASE);
    if (!f)
        return check_fail("out of memory");
    long base = ac_fake_allocations();
    verdict v = NULL;
    long n;
    for (n = 0; n < MAX_FAILURES && !v; n++) {
        ac_fake_reset(f);
        ac_fake_fail_after(f, n);
        void *state = NULL;
        ac_status st = d->init(ac_fake_settings(f), &state, ac_fake_call(f));
        ac_fake_fail_after(f, -1);
        if (st == AC_OK) {
            if (d->fini)
                d->fini(state);
            if (ac_fake_allocations() != base)
                v = check_fail("init then fini left %ld blocks allocated",
                               ac_fake_allocations() - base);
            break;
        }
        if (ac_fake_error(f)->code == AC_OK)
            v = check_fail("init failed (%s) with allocation %ld failing, without host->fail",
                           ac_strerror(st), n + 1);
        else if (ac_fake_allocations() != base)
            v = check_fail("init failing at allocation %ld left %ld blocks allocated", n + 1,
                           ac_fake_allocations() - base);
        else if (n > 0 && ac_fake_error(f)->code != AC_ENOMEM)
            v = check_fail("init with allocation %ld failing said %s (%s), not AC_ENOMEM",
                           n + 1, ac_strerror(ac_fake_error(f)->code),
                           ac_fake_error(f)->message);
        else if (n == 0 && ac_fake_error(f)->code != AC_ENOMEM) /* no allocation at all */
            v = check_fail("init failed with the settings given: %s",
                           ac_fake_error(f)->message);
    }
    if (!v && n >= MAX_FAILURES)
        v = check_fail("init did not succeed after %d allocation failures", MAX_FAILURES);
    ac_fake_free(f);
    return v;
}

/* ---- build_request ---- */

/* Which mock endpoint the request went to, from its path under FAKE_BASE. */
static verdict learn_protocol(checker *c, ac_fake *f)
{
    const char *url = ac_fake_url(f);
    if (strncmp(url, FAKE_BASE, strlen(FAKE_BASE)) != 0)
        return check_fail("the request URL %s does not start with base_url (%s)", url,
                          FAKE_BASE);
    const char *path = url + strlen(FAKE_BASE);
    if (*path != '/' || strlen(path) >= sizeof c->req_path)
        return check_fail("the request URL %s has no path under base_url", url);
    snprintf(c->req_path, sizeof c->req_path, "%s", path);
    snprintf(c->req_method, sizeof c->req_method, "%s", ac_fake_method(f));
    c->proto = PROTO_FIXTURES;
    c->proto_name = "its own (from --fixtures)";
    c->base_suffix[0] = '\0';
    size_t pl = strlen(path);
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        size_t el = strlen(endpoints[i].path);
        /* "/chat/completions" under ".../v1" is the mock's /v1/chat/completions */
        if (pl <= el && strcmp(endpoints[i].path + el - pl, path) == 0 &&
            strcmp(c->req_method, "POST") == 0) {
            c->proto = endpoints[i].proto;
            c->proto_name = endpoints[i].name;
            snprintf(c->base_suffix, sizeof c->base_suffix, "%.*s", (int)(el - pl),
                     endpoints[i].path);
            break;
        }
    }
    if (c->proto == PROTO_FIXTURES && !c->have_fx)
        return check_fail("requests go to %s %s, which the mock does not speak: give the "
                          "backend's replies with --fixtures FILE", c->req_method, path);
    return NULL;
}

/* build_request for a streaming or plain request, every allocation
 * failing in turn; the request of the run that succeeded stays in f. */
static verdict build_failing(const ac_provider *d, void *state, ac_fake *f, const char *what)
{
    long base = ac_fake_allocations();
    for (long n = 0; n < MAX_FAILURES; n++) {
        ac_fake_reset(f);
        ac_fake_fail_after(f, n);
        ac_status st = d->build_request(state, ac_fake_request(f), ac_fake_http(f),
                                        ac_fake_call(f));
        ac_fake_fail_after(f, -1);
        if (ac_fake_allocations() != base)
            return check_fail("build_request (%s) %s left %ld blocks allocated", what,
                              st == AC_OK ? "succeeding" : "failing",
                              ac_fake_allocations() - base);
        if (st == AC_OK)
            return NULL;
        if (ac_fake_error(f)->code == AC_OK)
            return check_fail("build_request (%s) failed (%s) without host->fail", what,
                              ac_strerror(st));
        if (n == 0 && ac_fake_error(f)->code != AC_ENOMEM)
            return check_fail("build_request (%s) failed: %s", what, ac_fake_error(f)->message);
        if (ac_fake_error(f)->code != AC_ENOMEM)
            return check_fail("build_request (%s) with allocation %ld failing said %s (%s)",
                              what, n + 1, ac_strerror(ac_fake_error(f)->code),
                              ac_fake_error(f)->message);
    }
    return check_fail("build_request (%s) did not succeed after %d allocation failures", what,
                      MAX_FAILURES);
}

static verdict requests(checker *c, const ac_provider *d)
{
    ac_fake *f = check_fake_new(c, FAKE_BASE);
    if (!f)
        return check_fail("out of memory");
    void *state = NULL;
    verdict v = NULL;
    if (d->init(ac_fake_settings(f), &state, ac_fake_call(f)) != AC_OK) {
        v = check_fail("init: %s", ac_fake_error(f)->message);
        ac_fake_free(f);
        return v;
    }
    v = build_failing(d, state, f, "plain");
    if (!v)
        v = learn_protocol(c, f);
    if (!v) {
        size_t n;
        const char *b = ac_fake_body(f, &n);
        check_str_add(&c->plain_body, b, n);
    }
    if (!v && ac_fake_framing(f) != AC_FRAMING_NONE)
        v = check_fail("a request that does not stream set framing %d, not AC_FRAMING_NONE",
                       (int)ac_fake_framing(f));
    if (!v && c->can_stream) {
        ac_fake_request(f)->stream = 1;
        v = build_failing(d, state, f, "stream");
        if (!v && ac_fake_framing(f) == AC_FRAMING_NONE)
            v = check_fail("a streaming request set no framing (AC_FRAMING_SSE or _NDJSON)");
        if (!v) {
            size_t n;
            const char *b = ac_fake_body(f, &n);
            c->framing = ac_fake_framing(f);
            check_str_add(&c->stream_body, b, n);
        }
    }
    if (d->fini)
        d->fini(state);
    ac_fake_free(f);
    return v;
}

/* ---- content parts ---- */

/* A one-pixel PNG. */
#define PNG_1PX "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

static int add_part(ac_fake *f, ac_part p)
{
    p.struct_size = sizeof p;
    return ac_fake_add_part(f, &p);
}

/* One conversation per part type, built into f. */
static int parts_conversation(ac_fake *f, int kind)
{
    ac_part img = { .type = AC_PART_IMAGE, .mime_type = "image/png",
                    .data_base64 = PNG_1PX, .data_len = 70 };
    ac_part file = { .type = AC_PART_FILE, .mime_type = "text/plain", .name = "notes.txt",
                     .text = "Buy milk.", .text_len = 9 };
    ac_part call = { .type = AC_PART_TOOL_CALL, .id = "call_1", .name = "get_weather",
                     .arguments = "{\"city\":\"Paris\"}" };
    ac_part result = { .type = AC_PART_TOOL_RESULT, .id = "call_1", .name = "get_weather",
                       .text = "sunny", .text_len = 5 };
    ac_part odd = { .type = (ac_part_type)99, .text = "?", .text_len = 1 };
    switch (kind) {
    case 0: return add_part(f, img);
    case 1: return add_part(f, file);
    case 2:
        if (ac_fake_add_tool(f, "get_weather", "The weather in a city.",
                             "{\"type\":\"object\",\"properties\":{\"city\":"
                             "{\"type\":\"string\"}}}") < 0 ||
            ac_fake_add_message(f, AC_ROLE_ASSISTANT, NULL) < 0 || add_part(f, call) < 0 ||
            ac_fake_add_message(f, AC_ROLE_TOOL, NULL) < 0)
            return -1;
        return add_part(f, result);
    default: return add_part(f, odd);
    }
}

/* Each part type is taken, or refused with AC_EUNSUPPORTED naming it;
 * what the descriptor's features promise is taken; an unknown type
 * (a newer core's) is refused, never dropped. */
static verdict parts(const checker *c, const ac_provider *d)
{
    static const char *const names[] = { "an IMAGE part", "a FILE part",
                                         "TOOL_CALL and TOOL_RESULT parts",
                                         "a part of an unknown type (99)" };
    static const unsigned needs[] = { AC_FEATURE_IMAGES, AC_FEATURE_FILES, AC_FEATURE_TOOLS, 0 };
    if (!d->build_request)
        return CHECK_SKIP "an in-process plugin (run_local)";
    for (int k = 0; k < 4; k++) {
        ac_fake *f = check_fake_new(c, FAKE_BASE);
        void *state = NULL;
        if (!f || parts_conversation(f, k) < 0) {
            ac_fake_free(f);
            return check_fail("out of memory");
        }
        if (d->init(ac_fake_settings(f), &state, ac_fake_call(f)) != AC_OK) {
            verdict v = check_fail("init: %s", ac_fake_error(f)->message);
            ac_fake_free(f);
            return v;
        }
        ac_fake_reset(f);
        ac_status st = d->build_request(state, ac_fake_request(f), ac_fake_http(f),
                                        ac_fake_call(f));
        ac_status code = ac_fake_error(f)->code;
        char msg[AC_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", ac_fake_error(f)->message);
        if (d->fini)
            d->fini(state);
        ac_fake_free(f);
        if (k == 3 && st == AC_OK)
            return check_fail("%s was dropped: refuse it with AC_EUNSUPPORTED", names[k]);
        if (st != AC_OK && (st != AC_EUNSUPPORTED || code != AC_EUNSUPPORTED))
            return check_fail("%s: build_request said %s (%s); refuse with AC_EUNSUPPORTED "
                              "or take it", names[k], ac_strerror(st), msg);
        if (st != AC_OK && !msg[0])
            return check_fail("%s refused with no message", names[k]);
        if (st != AC_OK && needs[k] && (c->features & needs[k]))
            return check_fail("%s refused (%s), though features promises it", names[k], msg);
    }
    return NULL;
}

/* ---- the whole phase ---- */

int check_unit(checker *c)
{
    void *dl = NULL;
    const ac_provider *d = ac_fake_load(c->plugin, &dl);
    if (!d) {
        check_report(c, "load", check_fail("the fake host could not load it (above)"));
        if (dl)
            dlclose(dl);
        return -2;
    }
    check_report(c, "load", NULL);
    verdict v = descriptor(c, d);
    check_report(c, "descriptor", v);
    printf("plugin: %s %s, ABI %u.%u (struct_size %zu), features 0x%x\n",
           d->name ? d->name : "?", d->version ? d->version : "?", d->abi_major, d->abi_minor,
           d->struct_size, d->features);
    if (v) {
        dlclose(dl);
        return -1;
    }
    /* What it declares, so an author sees the list the core will use. */
    if (d->struct_size < offsetof(ac_provider, settings) + sizeof d->settings || !d->settings) {
        printf("settings: not declared (unknown keys of its groups get a warning, not an "
               "error)\n");
    } else {
        printf("settings:");
        for (size_t i = 0; d->settings[i]; i++)
            printf(" %s", d->settings[i]);
        printf("%s\n", d->settings[0] ? "" : " none beyond the core's");
    }
    if (check_selected(c, "entry"))
        check_report(c, "entry", entry_again(dl, d));
    if (check_selected(c, "init"))
        check_report(c, "init", init_failing(c, d));
    if (c->local || !c->chat) {
        c->proto = PROTO_LOCAL;
        c->proto_name = c->local ? "in-process (run_local)" : "none (embeddings only)";
    } else {
        v = requests(c, d);
        check_report(c, "build_request", v);
        if (v) {
            dlclose(dl);
            return -1;
        }
        if (check_selected(c, "parts"))
            check_report(c, "parts", parts(c, d));
    }
    printf("protocol: %s\n", c->proto_name);
    if (check_selected(c, "parse"))
        check_report(c, "parse", c->chat ? check_unit_parse(c, d)
                                         : CHECK_SKIP "no chat: embeddings only");
    if (check_selected(c, "embed_unit"))
        check_report(c, "embed_unit", check_unit_embed(c, d));
    dlclose(dl);
    return 0;
}
