/*
 * http.h -- the HTTP request a plugin builds (struct ac_http_request) and
 * the model list it fills (struct ac_model_list).
 */
#ifndef AC_HTTP_H
#define AC_HTTP_H
#include <curl/curl.h>
#include <abstractcore/provider.h>

struct ac_http_request {
    char               method[8];
    char              *url;
    struct curl_slist *headers;
    char              *body;
    size_t             body_len;
    ac_framing         framing;
};

struct ac_model_list {
    char  **ids;
    size_t  n;
};

struct ac_models {
    struct ac_model_list l;
};

void ac__http_request_clear(ac_http_request *rq);
#endif
