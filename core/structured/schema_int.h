/*
 * schema_int.h -- what the schema validator's files share: the compiled
 * node, the compile context, an arena, a hash map, numbers and JSON values.
 *
 * schema.c compiles keywords into nodes, schema_ref.c resolves $ref and
 * $id, schema_validate.c walks nodes against an instance and reports,
 * schema_format.c checks formats and translates ECMA 262 regexes,
 * schema_value.c holds the arena, map, number and JSON-equality helpers.
 * Nothing here is thread-safe except reading a finished ac__schema.
 */
#ifndef AC_SCHEMA_INT_H
#define AC_SCHEMA_INT_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stddef.h>
#include "schema.h"
#include "../buf.h"

struct json_object;

/* ---- arena: the compiled schema's memory, freed at once ---- */
typedef struct ac__sarena_chunk ac__sarena_chunk;
typedef struct ac__sarena {
    ac__sarena_chunk *head;
} ac__sarena;
void *ac__sarena_alloc(ac__sarena *a, size_t n);          /* zeroed; NULL on OOM */
char *ac__sarena_strndup(ac__sarena *a, const char *s, size_t n);
void  ac__sarena_free(ac__sarena *a);

/* ---- map: open addressing, key = a pointer or a string ---- */
typedef struct ac__smap_ent {
    const void *pkey;  /* pointer key (NULL for string keys) */
    char       *skey;  /* owned string key */
    void       *val;
} ac__smap_ent;
typedef struct ac__smap {
    ac__smap_ent *v;
    size_t cap, n;
} ac__smap;
void *ac__smap_getp(const ac__smap *m, const void *k);
int   ac__smap_putp(ac__smap *m, const void *k, void *val);    /* 0, -1 OOM */
void *ac__smap_gets(const ac__smap *m, const char *k);
int   ac__smap_puts(ac__smap *m, const char *k, void *val);    /* copies k */
void  ac__smap_free(ac__smap *m);

/* ---- numbers ---- */
enum { SNUM_INT, SNUM_UINT, SNUM_DOUBLE };
typedef struct snum {
    int      kind;   /* SNUM_UINT only above INT64_MAX */
    int64_t  i;
    uint64_t u;
    double   d;
} snum;
/* A decimal m * 10^e (m without sign), the shortest that prints a double. */
typedef struct sdec {
    int      neg, ok;  /* ok 0: not finite */
    uint64_t m;
    int      e;
} sdec;
void ac__snum_get(struct json_object *o, snum *n);
int  ac__snum_cmp(const snum *a, const snum *b);         /* -1 0 1 */
int  ac__snum_is_integer(const snum *n);
void ac__sdec_of(const snum *n, sdec *d);
int  ac__sdec_multiple(const sdec *x, const sdec *m);     /* 1 if x = k * m */
/* Shortest text of n ("-3", "0.0075", "1e+300"); buf of 32 bytes. */
const char *ac__snum_text(const snum *n, char buf[32]);

/* ---- JSON values ---- */
/* 1 equal, 0 not, -1 nesting deeper than depth. */
int ac__sjson_equal(struct json_object *a, struct json_object *b, unsigned depth);
/* Order-independent structural hash agreeing with ac__sjson_equal. */
uint64_t ac__sjson_hash(struct json_object *a, unsigned depth);
/* Append a compact, truncated (about max bytes) JSON rendering of o. */
int ac__sjson_preview(buf *b, struct json_object *o, size_t max);
/* Append s as a JSON string, truncated at about max bytes. */
int ac__sjson_quote(buf *b, const char *s, size_t len, size_t max);
/* Append a JSON-pointer token (escaping ~ and /). */
int ac__sptr_append(buf *b, const char *tok, size_t len);
/* Code points of a UTF-8 string. */
size_t ac__sutf8_len(const char *s, size_t len);

/* ---- the compiled node ---- */
enum {
    ST_NULL = 1, ST_BOOLEAN = 2, ST_OBJECT = 4, ST_ARRAY = 8,
    ST_NUMBER = 16, ST_STRING = 32, ST_INTEGER = 64
};
enum {   /* snode.has */
    SH_MIN = 1, SH_MAX = 2, SH_XMIN = 4, SH_XMAX = 8, SH_MULT = 16,
    SH_CONST = 32, SH_UNIQUE = 64
};
enum {
    SF_NONE, SF_DATE_TIME, SF_DATE, SF_TIME, SF_EMAIL, SF_HOSTNAME, SF_IPV4,
    SF_IPV6, SF_URI, SF_URI_REF, SF_IRI, SF_IRI_REF, SF_URI_TEMPLATE,
    SF_JSON_POINTER, SF_REL_JSON_POINTER, SF_REGEX
};

typedef struct snode snode;
typedef struct sprop { const char *name; size_t len; snode *s; } sprop;
typedef struct spat  { pcre2_code *re; const char *src; snode *s; } spat;
typedef struct sdep  {
    const char *name; size_t len;
    snode *s;                       /* schema form, or */
    const char **req; size_t nreq;  /* array form */
} sdep;

struct snode {
    const char *ptr;        /* location: "/properties/a", "URI#/x" (arena) */
    struct json_object *json;
    int boolean;            /* 1 true, 0 false, -1 an object schema */
    snode *ref;             /* $ref target: nothing else applies */
    const char *ref_text;
    unsigned types;         /* ST_*; 0: any */
    unsigned has;           /* SH_* */
    snum minimum, maximum, xmin, xmax, mult;
    sdec mult_dec;
    size_t min_len, max_len, min_items, max_items, min_props, max_props;
    pcre2_code *pattern; const char *pattern_src;
    int format; const char *format_name;
    struct json_object *enum_, *const_;
    sprop *props; size_t nprops;            /* sorted by name */
    spat *pprops; size_t npprops;
    snode *addprops;
    const char **required; size_t nrequired;
    snode *items; snode **items_arr; size_t nitems_arr; int items_is_arr;
    snode *additems, *contains;
    snode **allof, **anyof, **oneof; size_t nallof, nanyof, noneof;
    snode *not_, *if_, *then_, *else_;
    sdep *deps; size_t ndeps;
    snode *propnames;
    int mark;               /* compile-time cycle search */
};

struct ac__schema {
    ac__sarena arena;
    struct json_object *doc;        /* our deep copy */
    struct json_object **remotes;   /* documents from the resolver */
    size_t nremotes;
    pcre2_code **codes; size_t ncodes, capcodes;
    pcre2_general_context *gctx;
    pcre2_match_context *mctx;
    snode *root;
    unsigned max_depth, max_errors, flags;
};

/* ---- compile context (schema.c, schema_ref.c) ---- */
typedef struct sref {           /* a $ref waiting to be linked */
    snode *from;
    char *base;                 /* base URI where it stands (owned) */
} sref;
typedef struct sunknown {       /* an unknown keyword waiting for a $ref */
    struct json_object *value;
    const char *kw, *ptr;       /* kw borrowed from the doc, ptr from arena */
} sunknown;
typedef struct sidx {           /* a resource: document root or $id */
    struct json_object *node;
    char *base;                 /* its base URI, no fragment (owned) */
    char *loc;                  /* its location "/a/b" or "URI#/a/b" (owned) */
} sidx;

typedef struct scomp {
    ac__schema *s;
    const ac__schema_options *opt;
    ac_error *err;
    ac__smap compiled;   /* json node -> snode */
    ac__smap ids;        /* absolute URI (fragment only for "#name") -> sidx */
    ac__smap touched;    /* json nodes a $ref's pointer walked through */
    ac__smap docs;       /* document URI -> json root (loaded) */
    sref *refs; size_t nrefs, caprefs, refpos;
    sunknown *unk; size_t nunk, capunk;
    sidx **idxs; size_t nidx, capidx;
} scomp;

/* ---- validation (schema_validate.c, schema_errors.c) ---- */
typedef struct vpath {
    const struct vpath *up;
    const char *key;        /* member name, or NULL for an array index */
    size_t len, idx;
} vpath;

typedef struct vctx {
    const ac__schema *s;
    ac__schema_errors *out;
    size_t cap;             /* errors kept in out */
    ac_error *err;
    int quiet;              /* > 0: the verdict only */
    unsigned depth;
    pcre2_match_data *md;
} vctx;
int ac__svnomem(vctx *c);                            /* -1, err AC_ENOMEM */
int ac__svpath_text(const vpath *p, buf *b);         /* RFC 6901 pointer */
/* Record that keyword kw of node n failed at p (kw "false": the node is
 * false); counted always, kept while the list has room.  0, -1 OOM. */
int ac__sreport(vctx *c, const vpath *p, const snode *n, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int ac__serrors_push(ac__schema_errors *e, const ac__schema_error *x);  /* 0, -1 */

/* schema.c */
snode *ac__schema_compile_node(scomp *c, struct json_object *j, const char *base,
                               const char *ptr, unsigned depth);
/* schema_ref.c */
char *ac__suri_resolve(const char *base, const char *ref);  /* ac__malloc'd */
int   ac__schema_index_doc(scomp *c, struct json_object *root, const char *uri,
                           const char *loc_prefix);
int   ac__schema_link_refs(scomp *c);
int   ac__schema_ref_add(scomp *c, snode *from, const char *base);
const char *ac__schema_metaschema_text(void);
int   ac__schema_depth_ok(struct json_object *j, unsigned left);   /* 1 ok */
/* The base URI inside schema j (its $id applied): ac__malloc'd, NULL OOM. */
char *ac__schema_child_base(struct json_object *j, const char *base);
/* schema_format.c */
int   ac__sformat_id(const char *name);                /* SF_*, SF_NONE unknown */
/* 1 valid, 0 not, -1 out of memory */
int   ac__sformat_check(const ac__schema *s, int fmt, const char *str, size_t len);
/* ECMA 262 regex -> PCRE2 pattern (ac__malloc'd, *out_len); NULL with
 * the reason in why (size n; "out of memory" on OOM). */
char *ac__sregex_translate(const char *src, size_t len, size_t *out_len, char *why, size_t n);
/* Compile an ECMA 262 regex; NULL and a message in msg (size n). */
pcre2_code *ac__sregex_compile(const ac__schema *s, const char *src, size_t len,
                               char *msg, size_t n);
#endif
