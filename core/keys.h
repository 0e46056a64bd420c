/*
 * keys.h -- every configuration key the core knows, in one table, with its
 * type and range.
 *
 * The checker (confcheck.c: unknown keys, wrong types, values out of
 * range, files that cannot be read) and the readers (core.c's limits,
 * engine and TLS settings, prompted.c's tool and schema settings) take
 * names, ranges and choices from here, so the two cannot drift, and
 * tests/test_strict.c checks that docs/configuration.md documents every
 * key with the type text this table gives.
 *
 * The table is static and read-only: every function here is thread-safe
 * and allocates nothing.
 */
#ifndef AC_KEYS_H
#define AC_KEYS_H
#include <libconfig.h>
#include <stddef.h>

/* Where a key lives. */
typedef enum keyscope {
    KS_TOP = 0,   /* the file's top level */
    KS_CORE,      /* abstractcore = { ... } */
    KS_ENGINE,    /* abstractcore.engine = { ... } */
    KS_PROVIDER,  /* a group of providers = ( ... ), and ac_options */
    KS_TRACE,     /* abstractcore.trace = { ... } */
    KS_SERVER,    /* server = { ... }: the gateway's (acore serve) */
    KS_SERVER_KEY,/* a group of server.keys = ( ... ): one client key */
    KS_COUNT
} keyscope;

typedef enum keytype {
    KT_STRING,   /* a string (checked by `valid` when set) */
    KT_INT,      /* an integer from min to max */
    KT_BOOL,     /* true or false */
    KT_CHOICE,   /* one of `choices` (compared without case) */
    KT_FILE,     /* the name of a readable regular file */
    KT_URL,      /* an http:// or https:// URL */
    KT_FOLDERS,  /* a string or an array / list of strings */
    KT_GROUP,    /* a group { ... } */
    KT_GROUPS    /* a list of groups ( { ... }, ... ) */
} keytype;

enum {
    KF_SECRET     = 1u << 0, /* scrubbed from every message (settings.c) */
    KF_GROUP_ONLY = 1u << 1, /* not an ac_options key (name, plugin) */
    KF_REQUIRED   = 1u << 2  /* must be present (a provider's name) */
};

typedef struct keydef {
    keyscope           scope;
    const char        *name;
    keytype            type;
    long long          min, max;                /* KT_INT */
    const char *const *choices;                 /* KT_CHOICE, NULL-terminated */
    int              (*valid)(const char *v);   /* KT_STRING: 0 if v is acceptable */
    const char        *expect;                  /* KT_STRING with valid: what is, in words */
    unsigned           flags;                   /* KF_* */
} keydef;

/* The whole table, *n entries. */
const keydef *ac__keys(size_t *n);
/* The key of that scope and name, or NULL. */
const keydef *ac__key_find(keyscope scope, const char *name);
/* The key's range (KT_INT): min and max. Aborts nothing: a non-integer
 * key gives 0..0. */
void ac__key_range(keyscope scope, const char *name, long long *min, long long *max);
/* "top level", "abstractcore", "abstractcore.engine", "provider",
 * "abstractcore.trace", "server", "server.keys". */
const char *ac__key_scope_name(keyscope scope);

/* The type as docs/configuration.md's tables write it ("integer, 0 ..
 * 86400000", "boolean", "string, \"auto\", \"native\" or \"prompted\"").
 * Into buf (n bytes); returns buf. */
const char *ac__key_type_text(const keydef *k, char *buf, size_t n);
/* What a wrong value should have been, for messages ("an integer from 0
 * to 86400000", "true or false").  Into buf; returns buf. */
const char *ac__key_expect_text(const keydef *k, char *buf, size_t n);

/* The name nearest to `name` by edit distance among the keys of scope
 * (without KF_GROUP_ONLY keys when options is 1) and the NULL-terminated
 * extra names (may be NULL), or NULL when none is close enough to be a
 * likely typo.  Borrowed (table or extra). */
const char *ac__key_nearest(keyscope scope, const char *name, const char *const *extra,
                            int options);

/* Check a value from the config file.  0 when it fits the key; -1 with
 * what is wrong in msg (n bytes; "must be an integer from 0 to 86400000,
 * not 99999999999"). */
int ac__key_check_setting(const keydef *k, const config_setting_t *s, char *msg, size_t n);
/* The same for an ac_options value (a string, converted as the settings
 * readers convert it). */
int ac__key_check_string(const keydef *k, const char *v, char *msg, size_t n);

/* KT_CHOICE: the index of v in choices, or -1. */
int ac__key_choice(const keydef *k, const char *v);
/* A file a KT_FILE key may name: 0, or -1 with why in msg. */
int ac__key_check_file(const char *path, char *msg, size_t n);
/* Parse an option's text as an ac_options integer / boolean: 0 or -1. */
int ac__key_parse_int(const char *v, long long *out);
int ac__key_parse_bool(const char *v, int *out);
#endif
