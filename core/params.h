/*
 * params.h -- ac_gen_params storage (the public setters are in params.c).
 */
#ifndef AC_PARAMS_H
#define AC_PARAMS_H
#include <abstractcore/provider.h>
#include <stdatomic.h>

struct ac__schema;
struct ac__media;

/* A compiled schema shared by a parameter set and every copy of it (each
 * request copies its parameters): immutable, freed with the last user. */
typedef struct ac__schema_ref {
    atomic_int         refs;
    struct ac__schema *s;
} ac__schema_ref;

#define AC_MAX_STOPS 16
#define AC_MAX_TOOLS 128
#define AC_MAX_FALLBACKS 8

struct ac_gen_params {
    int         has_max_tokens;  long      max_tokens;
    int         has_temperature; double    temperature;
    int         has_top_p;       double    top_p;
    int         has_seed;        long long seed;
    char       *stop[AC_MAX_STOPS];  size_t n_stop;
    char       *system;
    ac_tool_def tools[AC_MAX_TOOLS]; size_t n_tools;  /* strings owned */
    char       *tool_choice;
    char       *json_schema;
    char       *json_schema_name;
    ac__schema_ref *schema;      /* json_schema compiled; NULL without */
    int         schema_attempts; /* -1 unset */
    int         tool_mode;       /* ac_tool_mode, -1 unset */
    long        max_input_tokens;  /* -1 unset, 0 none */
    int         trim;            /* -1 unset, 0 error, 1 trim */
    int         stream;          /* -1 unset */
    long        connect_ms, first_byte_ms, idle_ms, total_ms; /* -1 unset */
    int         max_retries;     /* -1 unset */
    char       *fb_provider[AC_MAX_FALLBACKS];  /* fallback chain, owned */
    char       *fb_model[AC_MAX_FALLBACKS];     /* NULL: mapped */
    size_t      n_fb;
    struct ac__media *media[AC_MAX_ATTACHMENTS]; /* shared, one reference each */
    size_t      n_media;
    long        max_doc_bytes;   /* -1 unset */
};

/* Deep copy (src may be NULL: defaults).  NULL on no memory. */
ac_gen_params *ac__params_copy(const ac_gen_params *src);
#endif
