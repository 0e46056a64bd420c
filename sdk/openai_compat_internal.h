/*
 * openai_compat_internal.h -- what the files of the OpenAI-compatible
 * codec (libabstractcore-provider) share, and nothing they do not.
 *
 * The codec is split by job: openai_compat.c reads the settings and owns
 * the state (init, fini, the accessors); openai_compat_request.c builds
 * the HTTP requests; openai_compat_parse.c reads what servers send back
 * (bodies, stream events, error bodies, model lists);
 * openai_compat_embed.c does both for /embeddings.  They meet only in
 * the state below, which is read-only after ac_oai_init, and one error
 * helper.  None of this is exported: the library's symbol filter lets only
 * ac_oai_* names out, and internal names are prefixed oai_.
 */
#ifndef AC_OPENAI_COMPAT_INTERNAL_H
#define AC_OPENAI_COMPAT_INTERNAL_H

#include <abstractcore/openai_compat.h>

/* One provider instance's codec state (the `void *state` of every
 * ac_oai_* function).  Made by ac_oai_init, freed by ac_oai_fini; every
 * string is the host's malloc, and only the key and its header are
 * secrets. */
typedef struct oai_state {
    const ac_host_api *host;
    ac_oai_dialect     dialect;     /* zero-extended copy of the plugin's */
    char *name;                     /* instance name, for messages */
    char *base_url;                 /* without trailing '/' */
    char *chat_url;
    char *models_url;
    char *api_key;                  /* NULL when none; never logged */
    char *auth_header;              /* "Bearer <key>", NULL when none */
    char *default_model;
    char *organization;
    char *project;
    void *user;                     /* dialect init_extra's data */
    int   user_set;
} oai_state;

/* The headers of every request (openai_compat_request.c): Content-Type
 * when has_body, Accept, the key, OpenAI's organization and project, the
 * dialect's extra headers.  AC_OK or the host's error. */
ac_status oai_headers(const oai_state *st, ac_http_request *out, int has_body,
                      const char *accept, ac_call *call);

#endif /* AC_OPENAI_COMPAT_INTERNAL_H */
