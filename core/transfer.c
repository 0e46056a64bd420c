/*
 * transfer.c -- one HTTP attempt: the easy handle's options, libcurl's
 * header and write callbacks feeding the decoder, and the classification
 * of transport failures.  See transfer.h.
 */
#include "transfer.h"
#include "log.h"
#include "alloc.h"
#include "call.h"
#include "core.h"
#include "engine.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* libcurl callbacks                                                   */
/* ------------------------------------------------------------------ */

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    ac__decoder_header(&t->dec, p, size * n);
    return size * n;
}

static void first_byte(transfer *t)
{
    long code = 0;
    char *ct = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
    t->got_first_byte = 1;
    t->t_last_byte = ac__now_ms();
    ac__decoder_begin(&t->dec, (int)code, ct);
    ac__engine_rearm(t->q->llm->core->eng, t->q); /* from the first-byte timer to idle */
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    ac_request *q = t->q;
    size_t len = size * n;
    if (atomic_load(&q->cancel))
        return 0;
    if (!t->got_first_byte)
        first_byte(t);
    t->t_last_byte = ac__now_ms();
    /* A reader that is behind pauses the transfer; libcurl hands these
     * bytes again when it is resumed. */
    if (!t->dec.error_body && ac__request_behind(q)) {
        atomic_store(&q->paused, 1);
        return CURL_WRITEFUNC_PAUSE;
    }
    return ac__decoder_feed(&t->dec, p, len) == AC_OK ? len : 0;
}

/* The HTTP trace at log level debug (AC_LOG_LEVEL=3, or AC_CURL_VERBOSE),
 * as libcurl's own but with secrets blanked:
 * libcurl prints every request header, and a trace is what people paste
 * into bug reports.  The values of the headers that carry keys, and the
 * query of the request line (where a key may ride), read "[redacted]".
 * Bodies and TLS data are not printed. */
static int secret_header(const char *line, size_t n)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "x-api-key",
                                        "api-key", "x-goog-api-key", "cookie"};
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return 0;
    size_t k = (size_t)(colon - line);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == k && strncasecmp(line, names[i], k) == 0)
            return 1;
    return 0;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    const char *q_provider = ud;
    const char *tag = type == CURLINFO_TEXT ? "* " : type == CURLINFO_HEADER_IN ? "< "
                    : type == CURLINFO_HEADER_OUT ? "> " : NULL;
    if (!tag)
        return 0;
    for (size_t i = 0; i < size;) {
        size_t end = i;
        while (end < size && data[end] != '\n')
            end++;
        size_t n = end - i;
        const char *line = data + i;
        if (n && line[n - 1] == '\r')
            n--;
        const char *q = type == CURLINFO_HEADER_OUT ? memchr(line, '?', n) : NULL;
        if (n == 0) {
            /* the blank line after the headers */
        } else if (type != CURLINFO_TEXT && secret_header(line, n)) {
            const char *colon = memchr(line, ':', n);
            ac__log(AC_LOG_DEBUG, q_provider, "%s%.*s: [redacted]", tag, (int)(colon - line), line);
        } else if (q && !memchr(line, ':', (size_t)(q - line))) {
            /* "POST /path?query HTTP/1.1" */
            const char *sp = memchr(q, ' ', n - (size_t)(q - line));
            ac__log(AC_LOG_DEBUG, q_provider, "%s%.*s?[redacted]%.*s", tag, (int)(q - line), line,
                    sp ? (int)(n - (size_t)(sp - line)) : 0, sp ? sp : "");
        } else {
            ac__log(AC_LOG_DEBUG, q_provider, "%s%.*s", tag, (int)n, line);
        }
        i = end + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

static void url_for_message(const char *url, char *out, size_t n);

/* libcurl calls this for every socket it opens for a connection: with
 * tls_verify = false, each connection is logged, so that an instance that
 * talks to an unauthenticated server never does so silently. */
static int on_socket(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    transfer *t = ud;
    (void)fd;
    if (purpose == CURLSOCKTYPE_IPCXN) {
        char host[256];
        url_for_message(t->q->http.url, host, sizeof host);
        ac_call call;
        ac__call_init(&call, t->q->llm->inst->name, NULL, NULL);
        ac__host_log(&call, AC_LOG_WARN, "TLS certificate verification is off (tls_verify = "
                     "false): connecting to %s without checking who answers", host);
    }
    return CURL_SOCKOPT_OK;
}

/* The instance's TLS settings onto the easy handle (https only). */
/* libcurl copies a string option: that can run out of memory, and an
 * option silently left unset (no URL, the system's CAs instead of the
 * configured bundle, no client certificate) must fail the transfer.
 * Keeps the first failure in *bad. */
static void set_str(CURL *h, CURLoption opt, const char *v, CURLcode *bad)
{
    CURLcode rc = curl_easy_setopt(h, opt, v);
    if (rc != CURLE_OK && *bad == CURLE_OK)
        *bad = rc;
}

static void tls_setup(transfer *t, CURL *h, CURLcode *bad)
{
    const tlsopts *tls = &t->q->llm->tls;
    if (strncasecmp(t->q->http.url, "https://", 8) != 0)
        return;
    if (!tls->verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_socket);
        curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, t);
    }
    if (tls->ca_bundle)
        set_str(h, CURLOPT_CAINFO, tls->ca_bundle, bad);
    if (tls->client_cert) {
        set_str(h, CURLOPT_SSLCERT, tls->client_cert, bad);
        set_str(h, CURLOPT_SSLCERTTYPE, "PEM", bad);
    }
    if (tls->client_key) {
        set_str(h, CURLOPT_SSLKEY, tls->client_key, bad);
        set_str(h, CURLOPT_SSLKEYTYPE, "PEM", bad);
    }
    if (tls->client_key_password)
        set_str(h, CURLOPT_KEYPASSWD, tls->client_key_password, bad);
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */
/* ------------------------------------------------------------------ */

transfer *ac__transfer_new(ac_request *q, long total_ms, ac_error *err)
{
    transfer *t = ac__calloc(1, sizeof *t);
    CURL *h = t ? curl_easy_init() : NULL;
    if (!h) {
        ac__free(t);
        ac__error_set(err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory starting the transfer");
        return NULL;
    }
    t->q = q;
    t->easy = h;
    t->t_begin = t->t_last_byte = ac__now_ms();
    ac__decoder_init(&t->dec, q, q->http.framing);
    const ac_http_request *rq = &q->http;
    CURLcode bad = CURLE_OK;
    set_str(h, CURLOPT_URL, rq->url, &bad);
    curl_easy_setopt(h, CURLOPT_PRIVATE, t);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        if (strcmp(rq->method, "POST") != 0)
            set_str(h, CURLOPT_CUSTOMREQUEST, rq->method, &bad);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    /* HTTP/2 and waiting for a connection to multiplex on only where
     * HTTP/2 can be negotiated (TLS with ALPN).  A plain http:// backend
     * (every local server) speaks HTTP/1.1: waiting there would hold each
     * request of a burst until the first reply's headers arrived. */
    if (strncasecmp(rq->url, "https://", 8) == 0) {
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf);
    tls_setup(t, h, &bad);
    set_str(h, CURLOPT_USERAGENT, "abstractcore/" AC_VERSION_STRING, &bad);
    if (q->lim.connect_ms > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, q->lim.connect_ms);
    if (total_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
    if (ac__log_enabled(AC_LOG_DEBUG)) {
        /* Through on_debug, which keeps keys out of the trace. */
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, (void *)q->llm->inst->name);
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    }
    if (bad != CURLE_OK) {
        ac__transfer_free(t);
        if (bad == CURLE_OUT_OF_MEMORY)
            ac__error_set(err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory starting the transfer");
        else
            ac__error_set(err, AC_EHTTP, AC_STAGE_HTTP, "cannot set up the transfer: %s",
                          curl_easy_strerror(bad));
        return NULL;
    }
    return t;
}

void ac__transfer_free(transfer *t)
{
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    ac__decoder_free(&t->dec);
    ac__free(t);
}

/* ------------------------------------------------------------------ */
/* The end                                                             */
/* ------------------------------------------------------------------ */

/* The URL as error messages show it: scheme, host, port and path, without
 * user:password or the query, where a key may ride (a base_url with
 * credentials, a backend that takes ?key=).  Parsed by libcurl's URL API. */
static void url_for_message(const char *url, char *out, size_t n)
{
    snprintf(out, n, "the server");
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        snprintf(out, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
                 path ? path : "");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

static void curl_failure(transfer *t, CURLcode rc, ac_error *err)
{
    ac_request *q = t->q;
    char host[256];
    url_for_message(q->http.url, host, sizeof host);
    long os_errno = 0;
    curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno == EMFILE || os_errno == ENFILE) {
        /* Not the server's fault, and not helped by trying again now. */
        ac__error_set(err, AC_ECONNECT, AC_STAGE_CONNECT,
                      "cannot open a connection to %s: out of file descriptors (%s); raise "
                      "the limit (ulimit -n) or set engine.max_connections", host,
                      strerror((int)os_errno));
        return;
    }
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        ac__error_set(err, AC_ECONNECT, AC_STAGE_CONNECT, "cannot connect to %s: %s", host,
                      curl_easy_strerror(rc));
        err->retryable = 1;
        break;
    case CURLE_OPERATION_TIMEDOUT: {
        double connect = 0;
        curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME, &connect);
        if (connect <= 0 && !t->got_first_byte)
            ac__error_set(err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT,
                          "connect timeout (%ld ms) reaching %s", q->lim.connect_ms, host);
        else
            ac__error_set(err, AC_ETIMEDOUT, AC_STAGE_TIMEOUT, "total timeout (%ld ms) reached",
                          q->lim.total_ms);
        err->retryable = connect <= 0;
        break;
    }
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT: {
        /* libcurl's detail says which certificate and why ("self-signed
         * certificate in certificate chain"); the hint says what to set. */
        for (char *c = t->errbuf; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        const char *hint = rc == CURLE_PEER_FAILED_VERIFICATION
            ? "; if the server's certificate is signed by a private CA, set the provider's "
              "ca_bundle to it"
            : rc == CURLE_SSL_CLIENTCERT ? "; the server wants a client certificate "
                                           "(client_cert, client_key)"
            : "";
        ac__error_set(err, AC_ETLS, AC_STAGE_TLS, "TLS with %s failed: %s%s%s%s%s", host,
                      curl_easy_strerror(rc), t->errbuf[0] ? " (" : "", t->errbuf,
                      t->errbuf[0] ? ")" : "", hint);
        break;
    }
    case CURLE_OUT_OF_MEMORY:
        ac__error_set(err, AC_ENOMEM, AC_STAGE_HTTP, "out of memory in libcurl");
        break;
    default:
        ac__error_set(err, AC_EHTTP, AC_STAGE_HTTP, "%s %s: %s%s", q->http.method, host,
                      curl_easy_strerror(rc),
                      t->got_first_byte ? " (connection lost mid-response)" : "");
        /* A connection that broke is worth another try, if nothing of the
         * reply reached the caller yet (the engine checks that). */
        err->retryable = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR ||
                         rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
                         rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
        break;
    }
}

ac_status ac__transfer_result(transfer *t, CURLcode rc, ac_error *err)
{
    ac_error_clear(err);
    /* A decoding failure ended the transfer (the write callback refused
     * the bytes): that, not libcurl's "write error", is what happened. */
    if (t->dec.failed != AC_OK) {
        *err = t->dec.err;
        err->code = t->dec.failed;
        return err->code;
    }
    if (rc != CURLE_OK) {
        curl_failure(t, rc, err);
        return err->code;
    }
    if (!t->got_first_byte)
        first_byte(t);
    return ac__decoder_finish(&t->dec, err);
}
