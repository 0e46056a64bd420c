/*
 * test_tls.c -- a provider instance's TLS settings against a real TLS
 * server on 127.0.0.1: libmicrohttpd's HTTPS (GnuTLS), with the throwaway
 * CA, server and client certificates of tests/fixtures/tls (see the
 * README there), answering OpenAI Chat Completions for the openai plugin.
 *
 *   - verification is on by default: the test CA is not trusted, so the
 *     request fails with AC_ETLS, and the message says why and what to set;
 *   - ca_bundle = the test CA: it succeeds;
 *   - tls_verify = false: it succeeds, and every connection the instance
 *     makes is logged as a warning (one line per connection the server
 *     saw);
 *   - a server that wants a client certificate: refused without one,
 *     answered with client_cert / client_key, also with an encrypted key
 *     and its client_key_password (a wrong password fails, and never shows);
 *   - a ca_bundle that names nothing is a configuration error naming file
 *     and line; one that is not PEM fails the request with AC_ETLS.
 *
 * Exits 77 (skipped) when libmicrohttpd was built without TLS.
 */
#include "testutil.h"

#include <CUnit/Basic.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TLS_DIR TEST_FIXTURES "/tls"

static const char reply[] =
    "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"hello over TLS\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":3,\"total_tokens\":4}}";
static const char denied[] =
    "{\"error\":{\"message\":\"client certificate required\",\"type\":\"invalid_request_error\"}}";

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

typedef struct server {
    struct MHD_Daemon *d;
    int                port;
    int                want_client;  /* answer 403 without a verified client cert */
    atomic_int         connections;  /* TLS connections accepted */
} server;

static char *server_key, *server_cert, *ca_cert;

/* The client's certificate, checked against the test CA (MHD hands the
 * CA to GnuTLS as its trust and asks for a certificate, without
 * requiring one: the handler decides, as nginx's ssl_verify_client
 * optional would). */
static int client_verified(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return 0;
    unsigned status = 1;
    return gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) == 0 &&
           status == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **ptr)
{
    server *s = cls;
    (void)url, (void)method, (void)version, (void)upload;
    static int started;
    if (*ptr != &started) { /* the headers: wait for the body */
        *ptr = &started;
        return MHD_YES;
    }
    if (*upload_size) { /* the body: not needed */
        *upload_size = 0;
        return MHD_YES;
    }
    int ok = !s->want_client || client_verified(c);
    const char *body = ok ? reply : denied;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    /* One connection per request, so the test can count connections. */
    MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, ok ? 200 : 403, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    server *s = cls;
    (void)c, (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
}

static void server_start(server *s, int want_client)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->connections, 0);
    s->want_client = want_client;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL,
                            on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_HTTPS_MEM_KEY, server_key,
                            MHD_OPTION_HTTPS_MEM_CERT, server_cert,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            /* Last: without it, the list ends here. */
                            want_client ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, ca_cert,
                            MHD_OPTION_END);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->d);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    CU_ASSERT_FATAL(s->port > 0);
}

static void server_stop(server *s)
{
    MHD_stop_daemon(s->d);
}

/* ------------------------------------------------------------------ */
/* The client                                                          */
/* ------------------------------------------------------------------ */

/* A core whose provider "tls" is the openai plugin at the server, with
 * `settings` (libconfig text) in its group from line 4.  *path gets the
 * config file (free and unlink it with drop()). */
static ac_core *open_core(const server *s, const char *settings, char **path, ac_error *err)
{
    char text[8192];
    snprintf(text, sizeof text,
             "abstractcore = { plugin_path = %s; };\n"
             "providers = ( { name = \"tls\"; plugin = \"openai\"; api_key = \"sk-test\";\n"
             "  base_url = \"https://127.0.0.1:%d/v1\"; max_retries = 0;\n"
             "  %s } );\n",
             tu_plugin_path_list(), s ? s->port : 9, settings);
    *path = tu_write_temp(text);
    ac_core *core = NULL;
    return ac_core_open(&core, *path, err) == AC_OK ? core : NULL;
}

static void drop(char *path)
{
    unlink(path);
    free(path);
}

/* One request; 1 if it got the server's reply, else 0 with *err. */
static int ask(ac_core *core, ac_error *err)
{
    ac_llm *llm = ac_llm_create(core, "tls", "m", NULL, err);
    if (!llm)
        return 0;
    ac_response *r = ac_generate(llm, "hello", NULL, err);
    int ok = r && ac_response_content(r) &&
             strcmp(ac_response_content(r), "hello over TLS") == 0;
    ac_response_free(r);
    ac_llm_free(llm);
    return ok;
}

/* Runs fn with standard error in a file; returns what was written
 * (malloc'd). */
static char *stderr_of(void (*fn)(void *), void *ctx)
{
    char path[] = "/tmp/actest-stderr-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(ctx);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *text = tu_read_file(path, NULL);
    unlink(path);
    return text ? text : strdup("");
}

static size_t count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_verification_on_by_default(void)
{
    server s;
    server_start(&s, 0);
    char *path;
    ac_error err;
    ac_core *core = open_core(&s, "", &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT_FALSE(ask(core, &err));
    CU_ASSERT_EQUAL(err.code, AC_ETLS);
    CU_ASSERT_EQUAL(err.stage, AC_STAGE_TLS);
    /* It names the server, what is wrong with its certificate, and the
     * setting that fixes it. */
    char where[64];
    snprintf(where, sizeof where, "https://127.0.0.1:%d/v1/chat/completions", s.port);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, where));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "SSL certificate problem: unable to get local "
                                               "issuer certificate"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "set the provider's ca_bundle"));
    ac_core_close(core);
    drop(path);
    server_stop(&s);
}

static void test_ca_bundle_trusts_the_server(void)
{
    server s;
    server_start(&s, 0);
    char *path;
    ac_error err;
    ac_core *core = open_core(&s, "ca_bundle = \"" TLS_DIR "/ca.pem\";", &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT_TRUE(ask(core, &err));
    ac_core_close(core);
    drop(path);
    server_stop(&s);
}

typedef struct run3 {
    ac_core *core;
    int      ok;
} run3;

static void three_requests(void *ctx)
{
    run3 *r = ctx;
    ac_error err;
    for (int i = 0; i < 3; i++)
        r->ok += ask(r->core, &err);
}

static void test_verify_off_logs_every_connection(void)
{
    server s;
    server_start(&s, 0);
    char *path;
    ac_error err;
    run3 r = {open_core(&s, "tls_verify = false;", &path, &err), 0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.core);
    char *log = stderr_of(three_requests, &r);
    CU_ASSERT_EQUAL(r.ok, 3);
    /* Each request closed its connection: three connections, three
     * lines, each naming the provider and the server. */
    CU_ASSERT_EQUAL(atomic_load(&s.connections), 3);
    char line[256];
    snprintf(line, sizeof line, "abstractcore: tls: warning: TLS certificate verification is "
             "off (tls_verify = false): connecting to https://127.0.0.1:%d/v1/chat/completions "
             "without checking who answers\n", s.port);
    CU_ASSERT_EQUAL(count(log, line), 3);
    CU_ASSERT_EQUAL(count(log, "verification is off"), 3);
    free(log);
    ac_core_close(r.core);
    drop(path);
    server_stop(&s);

    /* Verification on: not a word about it. */
    server_start(&s, 0);
    r.core = open_core(&s, "ca_bundle = \"" TLS_DIR "/ca.pem\";", &path, &err);
    r.ok = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.core);
    log = stderr_of(three_requests, &r);
    CU_ASSERT_EQUAL(r.ok, 3);
    CU_ASSERT_EQUAL(count(log, "verification is off"), 0);
    free(log);
    ac_core_close(r.core);
    drop(path);
    server_stop(&s);
}

static void test_client_certificate(void)
{
    server s;
    server_start(&s, 1);
    char *path;
    ac_error err;
    /* Without one: the server refuses. */
    ac_core *core = open_core(&s, "ca_bundle = \"" TLS_DIR "/ca.pem\";", &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT_FALSE(ask(core, &err));
    CU_ASSERT_EQUAL(err.code, AC_EHTTP);
    CU_ASSERT_EQUAL(err.http_status, 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "client certificate required"));
    ac_core_close(core);
    drop(path);

    /* With one, key apart. */
    core = open_core(&s, "ca_bundle = \"" TLS_DIR "/ca.pem\";\n"
                         "  client_cert = \"" TLS_DIR "/client.pem\";\n"
                         "  client_key = \"" TLS_DIR "/client.key\";", &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT_TRUE(ask(core, &err));
    ac_core_close(core);
    drop(path);

    /* With an encrypted key and its password. */
    core = open_core(&s, "ca_bundle = \"" TLS_DIR "/ca.pem\";\n"
                         "  client_cert = \"" TLS_DIR "/client.pem\";\n"
                         "  client_key = \"" TLS_DIR "/client-encrypted.key\";\n"
                         "  client_key_password = \"test-key-password\";", &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT_TRUE(ask(core, &err));
    ac_core_close(core);
    drop(path);

    /* A wrong password: a TLS error that names the key problem, never
     * the password. */
    core = open_core(&s, "ca_bundle = \"" TLS_DIR "/ca.pem\";\n"
                         "  client_cert = \"" TLS_DIR "/client.pem\";\n"
                         "  client_key = \"" TLS_DIR "/client-encrypted.key\";\n"
                         "  client_key_password = \"not-the-password\";", &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT_FALSE(ask(core, &err));
    CU_ASSERT_EQUAL(err.code, AC_ETLS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "private key"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "not-the-password"));
    ac_core_close(core);
    drop(path);
    server_stop(&s);
}

static void test_bad_ca_bundle(void)
{
    /* A file that is not there: the provider's configuration is wrong. */
    char *path;
    ac_error err;
    ac_core *core = open_core(NULL, "ca_bundle = \"" TLS_DIR "/nonexistent.pem\";", &path,
                              &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    ac_llm *llm = ac_llm_create(core, "tls", "m", NULL, &err);
    CU_ASSERT_PTR_NULL(llm);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    char at[600];
    snprintf(at, sizeof at, "%s:4: provider 'tls': 'ca_bundle' names '%s/nonexistent.pem', "
             "which cannot be used: No such file or directory", path, TLS_DIR);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, at));
    ac_core_close(core);
    drop(path);

    /* A file that is not a CA bundle: the request fails in TLS, saying so. */
    server s;
    server_start(&s, 0);
    core = open_core(&s, "ca_bundle = \"" TLS_DIR "/README\";", &path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core);
    CU_ASSERT_FALSE(ask(core, &err));
    CU_ASSERT_EQUAL(err.code, AC_ETLS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "CA cert"));
    ac_core_close(core);
    drop(path);
    server_stop(&s);
}

int main(void)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        printf("SKIP: libmicrohttpd was built without TLS\n");
        return 77;
    }
    server_key = tu_fixture("tls/server.key", NULL);
    server_cert = tu_fixture("tls/server.pem", NULL);
    ca_cert = tu_fixture("tls/ca.pem", NULL);
    static const tu_test tests[] = {
        {"verification on by default: AC_ETLS", test_verification_on_by_default},
        {"ca_bundle trusts the server", test_ca_bundle_trusts_the_server},
        {"tls_verify = false: every connection logged", test_verify_off_logs_every_connection},
        {"client certificate", test_client_certificate},
        {"bad ca_bundle", test_bad_ca_bundle},
    };
    if (CU_initialize_registry() != CUE_SUCCESS || TU_ADD_SUITE("tls", NULL, NULL, tests))
        return 99;
    int rc = tu_run_suites();
    free(server_key);
    free(server_cert);
    free(ca_cert);
    return rc;
}
