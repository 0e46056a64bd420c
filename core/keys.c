/*
 * keys.c -- the table of every configuration key the core knows, and the
 * checks of one value against it.  See keys.h.
 *
 * A key added to the core is added here (and to docs/configuration.md,
 * which tests/test_strict.c holds to this table); the readers take its
 * range and choices from here.  A plugin's own keys are not here: plugins
 * declare them (ac_provider.settings).
 */
#include "keys.h"
#include "tools/toolparse.h"
#include "media/media.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_MS 86400000LL

static const char *const engine_modes[] = {"thread", "host", NULL};
static const char *const tool_modes[] = {"auto", "native", "prompted", NULL};
static const char *const overflow_modes[] = {"error", "trim", NULL};

static int valid_tool_family(const char *v)
{
    ac__toolfam f;
    return ac__toolfam_parse(v, &f);
}

/* server.listen: ADDR:PORT, ADDR an IPv4 address or a bracketed IPv6
 * one (no names: nothing is resolved at start). */
static int valid_listen(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || !colon[1] || strlen(colon + 1) > 5)
        return -1;
    for (const char *c = colon + 1; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    if (atol(colon + 1) > 65535)
        return -1;
    size_t n = (size_t)(colon - v);
    char host[64];
    if (n >= sizeof host)
        return -1;
    memcpy(host, v, n);
    host[n] = '\0';
    unsigned char addr[16];
    if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']')
            return -1;
        host[n - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, addr) == 1 ? 0 : -1;
    }
    return inet_pton(AF_INET, host, addr) == 1 ? 0 : -1;
}

static int valid_image_formats(const char *v)
{
    unsigned f;
    return ac__media_formats_parse(v, &f);
}

#define INT_KEY(scope, name, lo, hi) {scope, name, KT_INT, lo, hi, NULL, NULL, NULL, 0}
#define KEY(scope, name, type, flags) {scope, name, type, 0, 0, NULL, NULL, NULL, flags}

static const keydef table[] = {
    KEY(KS_TOP, "abstractcore", KT_GROUP, 0),
    KEY(KS_TOP, "providers", KT_GROUPS, 0),
    KEY(KS_TOP, "server", KT_GROUP, 0),

    KEY(KS_CORE, "plugin_path", KT_FOLDERS, 0),
    KEY(KS_CORE, "default_provider", KT_STRING, 0),
    KEY(KS_CORE, "engine", KT_GROUP, 0),
    KEY(KS_CORE, "trace", KT_GROUP, 0),

    {KS_ENGINE, "mode", KT_CHOICE, 0, 0, engine_modes, NULL, NULL, 0},
    INT_KEY(KS_ENGINE, "max_connections", 0, 1LL << 20),
    INT_KEY(KS_ENGINE, "max_host_connections", 0, 1LL << 20),
    INT_KEY(KS_ENGINE, "max_idle_connections", 0, 1LL << 20),
    INT_KEY(KS_ENGINE, "workers", 1, 256),
    INT_KEY(KS_ENGINE, "max_response_bytes", 1024, 1LL << 30),

    KEY(KS_TRACE, "file", KT_STRING, 0),
    KEY(KS_TRACE, "content", KT_BOOL, 0),

    /* The gateway's (acore serve, server/): checked here like every key,
     * read by the gateway itself. */
    {KS_SERVER, "listen", KT_STRING, 0, 0, NULL, valid_listen,
     "ADDR:PORT, an IPv4 address or a [bracketed] IPv6 one", 0},
    KEY(KS_SERVER, "keys", KT_GROUPS, 0),
    KEY(KS_SERVER, "keys_file", KT_FILE, 0),
    KEY(KS_SERVER, "providers", KT_FOLDERS, 0),
    KEY(KS_SERVER, "aliases", KT_FOLDERS, 0),
    INT_KEY(KS_SERVER, "max_request_bytes", 1024, 1LL << 30),
    INT_KEY(KS_SERVER, "max_header_bytes", 1024, 1LL << 20),
    INT_KEY(KS_SERVER, "max_messages", 1, 100000),
    INT_KEY(KS_SERVER, "max_connections", 1, 1LL << 20),
    INT_KEY(KS_SERVER, "idle_timeout_ms", 0, DAY_MS),
    INT_KEY(KS_SERVER, "shutdown_timeout_ms", 0, DAY_MS),
    INT_KEY(KS_SERVER, "models_cache_ms", 0, DAY_MS),
    KEY(KS_SERVER, "access_log", KT_STRING, 0),

    KEY(KS_SERVER_KEY, "id", KT_STRING, KF_REQUIRED),
    KEY(KS_SERVER_KEY, "key", KT_STRING, KF_REQUIRED | KF_SECRET),
    KEY(KS_SERVER_KEY, "providers", KT_FOLDERS, 0),
    INT_KEY(KS_SERVER_KEY, "rpm", 0, 100000000),

    KEY(KS_PROVIDER, "name", KT_STRING, KF_GROUP_ONLY | KF_REQUIRED),
    KEY(KS_PROVIDER, "plugin", KT_STRING, KF_GROUP_ONLY),
    KEY(KS_PROVIDER, "base_url", KT_URL, 0),
    KEY(KS_PROVIDER, "api_key", KT_STRING, KF_SECRET),
    KEY(KS_PROVIDER, "api_key_file", KT_FILE, 0),
    KEY(KS_PROVIDER, "api_key_env", KT_STRING, 0),
    KEY(KS_PROVIDER, "default_model", KT_STRING, 0),
    INT_KEY(KS_PROVIDER, "timeout_ms", 0, DAY_MS),
    INT_KEY(KS_PROVIDER, "connect_timeout_ms", 0, DAY_MS),
    INT_KEY(KS_PROVIDER, "first_byte_timeout_ms", 0, DAY_MS),
    INT_KEY(KS_PROVIDER, "idle_timeout_ms", 0, DAY_MS),
    INT_KEY(KS_PROVIDER, "max_retries", 0, 10),
    INT_KEY(KS_PROVIDER, "max_response_bytes", 1024, 1LL << 30),
    {KS_PROVIDER, "tool_mode", KT_CHOICE, 0, 0, tool_modes, NULL, NULL, 0},
    {KS_PROVIDER, "tool_family", KT_STRING, 0, 0, NULL, valid_tool_family,
     "one of auto, hermes (qwen), llama3, mistral, gemma, phi, function_call", 0},
    INT_KEY(KS_PROVIDER, "schema_attempts", 1, 10),
    INT_KEY(KS_PROVIDER, "max_input_tokens", 0, 100000000),
    {KS_PROVIDER, "input_overflow", KT_CHOICE, 0, 0, overflow_modes, NULL, NULL, 0},
    KEY(KS_PROVIDER, "tls_verify", KT_BOOL, 0),
    KEY(KS_PROVIDER, "ca_bundle", KT_FILE, 0),
    KEY(KS_PROVIDER, "client_cert", KT_FILE, 0),
    KEY(KS_PROVIDER, "client_key", KT_FILE, 0),
    KEY(KS_PROVIDER, "client_key_password", KT_STRING, KF_SECRET),
    KEY(KS_PROVIDER, "retry_on_timeout", KT_BOOL, 0),
    INT_KEY(KS_PROVIDER, "circuit_failures", 0, 1000),
    INT_KEY(KS_PROVIDER, "circuit_cooldown_ms", 0, DAY_MS),
    INT_KEY(KS_PROVIDER, "rpm", 0, 100000000),
    INT_KEY(KS_PROVIDER, "tpm", 0, 1000000000000LL),
    INT_KEY(KS_PROVIDER, "max_idle_events", 0, 1000000000),
    INT_KEY(KS_PROVIDER, "max_idle_bytes", 0, 1LL << 30),
    KEY(KS_PROVIDER, "fallback", KT_FOLDERS, 0),
    KEY(KS_PROVIDER, "model_map", KT_FOLDERS, 0),
    KEY(KS_PROVIDER, "embed_model", KT_STRING, 0),
    INT_KEY(KS_PROVIDER, "embed_max_batch", 1, 1000000),
    INT_KEY(KS_PROVIDER, "embed_parallel", 1, 64),
    {KS_PROVIDER, "image_formats", KT_STRING, 0, 0, NULL, valid_image_formats,
     "a list of png, jpeg, gif, webp (\"png, jpeg\")", 0},
    INT_KEY(KS_PROVIDER, "image_max_edge", 0, 65535),
    INT_KEY(KS_PROVIDER, "image_max_short_edge", 0, 65535),
    INT_KEY(KS_PROVIDER, "image_max_pixels", 0, 1000000000),
    INT_KEY(KS_PROVIDER, "image_max_bytes", 0, 1LL << 30),
    INT_KEY(KS_PROVIDER, "max_document_bytes", 1, 1LL << 30),
};

const keydef *ac__keys(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const keydef *ac__key_find(keyscope scope, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].scope == scope && strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

void ac__key_range(keyscope scope, const char *name, long long *min, long long *max)
{
    const keydef *k = ac__key_find(scope, name);
    *min = k ? k->min : 0;
    *max = k ? k->max : 0;
}

const char *ac__key_scope_name(keyscope scope)
{
    static const char *const names[] = {"top level", "abstractcore", "abstractcore.engine",
                                        "provider", "abstractcore.trace", "server",
                                        "server.keys"};
    return (unsigned)scope < KS_COUNT ? names[scope] : "?";
}

/* "\"a\", \"b\" or \"c\"" */
static void choices_text(const keydef *k, char *buf, size_t n, size_t off)
{
    size_t count = 0;
    while (k->choices[count])
        count++;
    for (size_t i = 0; i < count && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s\"%s\"",
                                i == 0 ? "" : i + 1 == count ? " or " : ", ", k->choices[i]);
}

const char *ac__key_type_text(const keydef *k, char *buf, size_t n)
{
    switch (k->type) {
    case KT_STRING:
        if (k->valid)
            snprintf(buf, n, "string, %s", k->expect);
        else
            snprintf(buf, n, "string%s", k->flags & KF_REQUIRED ? ", required" : "");
        break;
    case KT_INT: snprintf(buf, n, "integer, %lld .. %lld", k->min, k->max); break;
    case KT_BOOL: snprintf(buf, n, "boolean"); break;
    case KT_CHOICE:
        snprintf(buf, n, "string, ");
        choices_text(k, buf, n, strlen(buf));
        break;
    case KT_FILE: snprintf(buf, n, "string, a readable file"); break;
    case KT_URL: snprintf(buf, n, "string, an http:// or https:// URL"); break;
    case KT_FOLDERS: snprintf(buf, n, "array of strings (or one string)"); break;
    case KT_GROUP: snprintf(buf, n, "group"); break;
    case KT_GROUPS: snprintf(buf, n, "list of groups"); break;
    }
    return buf;
}

const char *ac__key_expect_text(const keydef *k, char *buf, size_t n)
{
    switch (k->type) {
    case KT_STRING:
        snprintf(buf, n, "%s", k->valid ? k->expect : "a string");
        break;
    case KT_INT: snprintf(buf, n, "an integer from %lld to %lld", k->min, k->max); break;
    case KT_BOOL: snprintf(buf, n, "true or false"); break;
    case KT_CHOICE: buf[0] = '\0'; choices_text(k, buf, n, 0); break;
    case KT_FILE: snprintf(buf, n, "the name of a readable file (a string)"); break;
    case KT_URL: snprintf(buf, n, "an http:// or https:// URL (a string)"); break;
    case KT_FOLDERS: snprintf(buf, n, "a list of folder names (strings)"); break;
    case KT_GROUP: snprintf(buf, n, "a group { ... }"); break;
    case KT_GROUPS: snprintf(buf, n, "a list of provider groups: ( { ... }, ... )"); break;
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* The nearest name                                                     */
/* ------------------------------------------------------------------ */

#define NAME_MAX_LEN 64

/* Optimal string alignment distance (Levenshtein plus the swap of two
 * neighbours, the commonest typo: "base_ulr"), or a large number for
 * names too long to be keys. */
static size_t distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na >= NAME_MAX_LEN || nb >= NAME_MAX_LEN)
        return (size_t)-1;
    size_t d[NAME_MAX_LEN + 1][NAME_MAX_LEN + 1];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[na][nb];
}

/* Close enough to be a typo: a third of the longer name, at least one
 * edit and at most three ("timeout" -> "timeout_ms", not "mode" ->
 * "name"). */
static int close_enough(const char *name, const char *cand, size_t d)
{
    size_t la = strlen(name), lb = strlen(cand);
    size_t limit = (la > lb ? la : lb) / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    return d <= limit;
}

static void consider(const char *name, const char *cand, const char **best, size_t *best_d)
{
    size_t d = distance(name, cand);
    if (d < *best_d && close_enough(name, cand, d)) {
        *best = cand;
        *best_d = d;
    }
}

const char *ac__key_nearest(keyscope scope, const char *name, const char *const *extra,
                            int options)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].scope == scope && !(options && (table[i].flags & KF_GROUP_ONLY)))
            consider(name, table[i].name, &best, &best_d);
    for (size_t i = 0; extra && extra[i]; i++)
        consider(name, extra[i], &best, &best_d);
    return best;
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

int ac__key_parse_int(const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return -1;
    *out = n;
    return 0;
}

int ac__key_parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
        *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
        *out = 0;
    else
        return -1;
    return 0;
}

int ac__key_choice(const keydef *k, const char *v)
{
    for (int i = 0; k->choices && k->choices[i]; i++)
        if (strcasecmp(k->choices[i], v) == 0)
            return i;
    return -1;
}

int ac__key_check_file(const char *path, char *msg, size_t n)
{
    struct stat st;
    if (!*path) {
        snprintf(msg, n, "is empty: it must name a readable file");
        return -1;
    }
    if (stat(path, &st) != 0) {
        snprintf(msg, n, "names '%s', which cannot be used: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, n, "names '%s', which is not a regular file", path);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        snprintf(msg, n, "names '%s', which cannot be read: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int must(const keydef *k, char *msg, size_t n, const char *got)
{
    char want[160];
    snprintf(msg, n, "must be %s, not %s", ac__key_expect_text(k, want, sizeof want), got);
    return -1;
}

/* A string value of a string-like key (v from the file or an option). */
static int check_text(const keydef *k, const char *v, char *msg, size_t n)
{
    char got[96];
    snprintf(got, sizeof got, "\"%.80s\"", v);
    switch (k->type) {
    case KT_STRING:
        if (k->valid && k->valid(v) != 0)
            return must(k, msg, n, got);
        if ((k->flags & KF_REQUIRED) && !*v)
            return snprintf(msg, n, "must not be empty"), -1;
        return 0;
    case KT_CHOICE: return ac__key_choice(k, v) < 0 ? must(k, msg, n, got) : 0;
    case KT_FILE: return ac__key_check_file(v, msg, n);
    case KT_URL:
        return strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0
                   ? must(k, msg, n, got) : 0;
    case KT_FOLDERS: return 0;
    default: return must(k, msg, n, "a string");
    }
}

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number with a fraction";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    default: return "another type";
    }
}

int ac__key_check_setting(const keydef *k, const config_setting_t *cs, char *msg, size_t n)
{
    config_setting_t *s = (config_setting_t *)cs; /* libconfig's getters are not const */
    int t = config_setting_type(s);
    switch (k->type) {
    case KT_INT: {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return must(k, msg, n, type_name(t));
        long long v = t == CONFIG_TYPE_INT ? config_setting_get_int(s)
                                           : config_setting_get_int64(s);
        if (v < k->min || v > k->max) {
            char got[32];
            snprintf(got, sizeof got, "%lld", v);
            return must(k, msg, n, got);
        }
        return 0;
    }
    case KT_BOOL: return t == CONFIG_TYPE_BOOL ? 0 : must(k, msg, n, type_name(t));
    case KT_GROUP: return t == CONFIG_TYPE_GROUP ? 0 : must(k, msg, n, type_name(t));
    case KT_GROUPS:
        return t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY ? 0
                                                               : must(k, msg, n, type_name(t));
    case KT_FOLDERS:
        if (t == CONFIG_TYPE_STRING)
            return 0;
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return must(k, msg, n, type_name(t));
        for (int i = 0; i < config_setting_length(s); i++) {
            int et = config_setting_type(config_setting_get_elem(s, (unsigned)i));
            if (et != CONFIG_TYPE_STRING) {
                char got[64];
                snprintf(got, sizeof got, "%s (item %d)", type_name(et), i + 1);
                return must(k, msg, n, got);
            }
        }
        return 0;
    default:
        if (t != CONFIG_TYPE_STRING)
            return must(k, msg, n, type_name(t));
        return check_text(k, config_setting_get_string(s), msg, n);
    }
}

int ac__key_check_string(const keydef *k, const char *v, char *msg, size_t n)
{
    char got[96];
    snprintf(got, sizeof got, "\"%.80s\"", v);
    switch (k->type) {
    case KT_INT: {
        long long x;
        if (ac__key_parse_int(v, &x) != 0 || x < k->min || x > k->max)
            return must(k, msg, n, got);
        return 0;
    }
    case KT_BOOL: {
        int b;
        return ac__key_parse_bool(v, &b) != 0 ? must(k, msg, n, got) : 0;
    }
    case KT_GROUP:
    case KT_GROUPS: return must(k, msg, n, "a string");
    default: return check_text(k, v, msg, n);
    }
}
