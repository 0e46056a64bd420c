/*
 * test_acme.c -- the template plugin's own unit tests, on the SDK's fake
 * host (<abstractcore/testkit.h>): each function of the plugin driven
 * directly, no core, no server.  A copy of the template keeps these and
 * changes them with its protocol.
 *
 * Usage: ./test_acme PLUGIN.so DATADIR   (make check runs it)
 * Prints one line per check that fails, then "N passed, N failed"; exit
 * status 1 if any failed.
 */
#include <abstractcore/testkit.h>

#include <dlfcn.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static const ac_provider *vt;
static const char *datadir;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond)                                                            \
            passed++;                                                        \
        else {                                                               \
            failed++;                                                        \
            printf("FAIL: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                    \
    } while (0)

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", datadir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL: cannot read %s\n", path);
        exit(1);
    }
    static char buf[65536];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* A fake with the settings given as key, value pairs (NULL-terminated). */
static ac_fake *fake(const char *const *kv)
{
    ac_fake *f = ac_fake_new();
    for (size_t i = 0; kv && kv[i]; i += 2)
        ac_fake_set(f, kv[i], kv[i + 1]);
    return f;
}

static void *init(ac_fake *f)
{
    void *st = NULL;
    ac_status rc = vt->init(ac_fake_settings(f), &st, ac_fake_call(f));
    if (rc != AC_OK)
        printf("init: %s\n", ac_fake_error(f)->message);
    CHECK(rc == AC_OK);
    return st;
}

static void test_descriptor(void)
{
    CHECK(vt->abi_major == AC_ABI_MAJOR && vt->abi_minor <= AC_ABI_MINOR);
    CHECK(strcmp(vt->name, "acme") == 0);
    CHECK(vt->version && vt->description && vt->default_base_url);
    CHECK(vt->features == 0);
    CHECK(vt->parse_event && vt->build_models_request && !vt->run_local);
}

static void test_request(void)
{
    static const char *const kv[] = {"base_url", "http://acme.test:9/", "api_key", "k-123", NULL};
    ac_fake *f = fake(kv);
    void *st = init(f);
    ac_fake_add_message(f, AC_ROLE_SYSTEM, "Be brief.");
    ac_fake_add_message(f, AC_ROLE_USER, "Hi \"there\"");
    ac_gen_request *r = ac_fake_request(f);
    static const char *const stops[] = {"END"};
    r->model = "acme-1";
    r->stream = 1;
    r->has_max_tokens = 1, r->max_tokens = 64;
    r->stop = stops, r->n_stop = 1;
    CHECK(vt->build_request(st, r, ac_fake_http(f), ac_fake_call(f)) == AC_OK);
    CHECK(strcmp(ac_fake_method(f), "POST") == 0);
    CHECK(strcmp(ac_fake_url(f), "http://acme.test:9/v1/complete") == 0);
    CHECK(ac_fake_framing(f) == AC_FRAMING_NDJSON);
    CHECK(ac_fake_header(f, "X-Acme-Key") && strcmp(ac_fake_header(f, "X-Acme-Key"), "k-123") == 0);
    json_object *b = json_tokener_parse(ac_fake_body(f, NULL)), *v;
    CHECK(b != NULL);
    CHECK(json_object_object_get_ex(b, "messages", &v) && json_object_array_length(v) == 2);
    CHECK(strcmp(json_object_get_string(json_object_object_get(
                     json_object_array_get_idx(v, 1), "text")), "Hi \"there\"") == 0);
    CHECK(json_object_object_get_ex(b, "max_tokens", &v) && json_object_get_int(v) == 64);
    CHECK(json_object_object_get_ex(b, "stream", &v) && json_object_get_boolean(v));
    CHECK(strstr(ac_fake_body(f, NULL), "k-123") == NULL); /* the key is a header only */
    json_object_put(b);

    /* An image: Acme takes text only, and says so. */
    ac_fake_reset(f);
    ac_part img = {.struct_size = sizeof img, .type = AC_PART_IMAGE, .mime_type = "image/png",
                   .data_base64 = "iVBORw0KGgo=", .data_len = 8};
    ac_fake_add_part(f, &img);
    CHECK(vt->build_request(st, r, ac_fake_http(f), ac_fake_call(f)) == AC_EUNSUPPORTED);
    CHECK(strstr(ac_fake_error(f)->message, "text only") != NULL);
    vt->fini(st);
    ac_fake_free(f);
}

static void test_reply(void)
{
    ac_fake *f = fake(NULL);
    void *st = init(f);
    size_t len;
    const char *body = slurp("reply.json", &len);
    CHECK(vt->parse_response(st, 200, body, len, ac_fake_sink(f), ac_fake_call(f)) == AC_OK);
    CHECK(strcmp(ac_fake_text(f), "Hello from Acme.") == 0);
    CHECK(strcmp(ac_fake_model(f), "acme-1-2026") == 0);
    CHECK(ac_fake_input_tokens(f) == 5 && ac_fake_output_tokens(f) == 4);
    CHECK(strcmp(ac_fake_finish(f), "stop") == 0 && strcmp(ac_fake_raw_finish(f), "end") == 0);
    CHECK(vt->parse_response(st, 200, "{\"x\":1}", 7, ac_fake_sink(f), ac_fake_call(f)) ==
          AC_EPROTOCOL);
    CHECK(vt->parse_response(st, 200, "<html>", 6, ac_fake_sink(f), ac_fake_call(f)) == AC_EJSON);
    vt->fini(st);
    ac_fake_free(f);
}

static void test_stream(void)
{
    ac_fake *f = fake(NULL);
    void *st = init(f);
    size_t len;
    char *text = slurp("stream.ndjson", &len);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        ac_frame fr = {.data = line, .data_len = strlen(line)};
        CHECK(vt->parse_event(st, &fr, ac_fake_sink(f), ac_fake_call(f)) == AC_OK);
    }
    CHECK(strcmp(ac_fake_text(f), "Hello from Acme.") == 0);
    CHECK(strcmp(ac_fake_finish(f), "length") == 0);
    CHECK(ac_fake_output_tokens(f) == 3);
    /* An error line ends the stream; "overloaded" may be retried. */
    static const char over[] = "{\"error\":{\"message\":\"busy\",\"kind\":\"overloaded\"}}";
    ac_frame fr = {.data = over, .data_len = sizeof over - 1};
    CHECK(vt->parse_event(st, &fr, ac_fake_sink(f), ac_fake_call(f)) == AC_EPROTOCOL);
    CHECK(ac_fake_error(f)->retryable == 1);
    CHECK(strstr(ac_fake_error(f)->message, "busy (overloaded)") != NULL);
    vt->fini(st);
    ac_fake_free(f);
}

static void test_errors(void)
{
    ac_fake *f = fake(NULL);
    void *st = init(f);
    size_t len;
    const char *b = slurp("error_429.json", &len);
    ac_fake_http_error(f, 429);
    vt->parse_error(st, 429, b, len, ac_fake_call(f));
    CHECK(ac_fake_error(f)->code == AC_EHTTP && ac_fake_error(f)->retryable == 1);
    CHECK(strstr(ac_fake_error(f)->message, "HTTP 429: Slow down") != NULL);
    b = slurp("error_quota.json", &len);
    ac_fake_http_error(f, 429);
    vt->parse_error(st, 429, b, len, ac_fake_call(f));
    CHECK(ac_fake_error(f)->retryable == 0);
    ac_fake_http_error(f, 502);
    vt->parse_error(st, 502, "<html>Bad gateway</html>", 24, ac_fake_call(f));
    CHECK(strstr(ac_fake_error(f)->message, "HTTP 502: <html>Bad gateway") != NULL);
    vt->fini(st);
    ac_fake_free(f);
}

static void test_models(void)
{
    ac_fake *f = fake(NULL);
    void *st = init(f);
    CHECK(vt->build_models_request(st, ac_fake_http(f), ac_fake_call(f)) == AC_OK);
    CHECK(strcmp(ac_fake_url(f), "http://localhost:8800/v1/models") == 0);
    size_t len;
    const char *b = slurp("models.json", &len);
    CHECK(vt->parse_models(st, b, len, ac_fake_models(f), ac_fake_call(f)) == AC_OK);
    CHECK(ac_fake_model_count(f) == 2 && strcmp(ac_fake_model_id(f, 1), "acme-2-large") == 0);
    vt->fini(st);
    ac_fake_free(f);
}

/* Every allocation of init, build and parse failing in turn: AC_ENOMEM
 * each time, then a clean run (valgrind checks for leaks). */
static void test_out_of_memory(void)
{
    size_t len;
    const char *reply = slurp("reply.json", &len);
    ac_status rc = AC_ENOMEM;
    long n;
    for (n = 0; n < 1000 && rc != AC_OK; n++) {
        static const char *const kv[] = {"api_key", "k", NULL};
        ac_fake *f = fake(kv);
        void *st = NULL;
        ac_fake_add_message(f, AC_ROLE_USER, "hi");
        ac_fake_fail_after(f, n);
        rc = vt->init(ac_fake_settings(f), &st, ac_fake_call(f));
        if (rc == AC_OK)
            rc = vt->build_request(st, ac_fake_request(f), ac_fake_http(f), ac_fake_call(f));
        if (rc == AC_OK)
            rc = vt->parse_response(st, 200, reply, len, ac_fake_sink(f), ac_fake_call(f));
        CHECK(rc == AC_OK || rc == AC_ENOMEM);
        if (st)
            vt->fini(st);
        ac_fake_free(f);
    }
    CHECK(rc == AC_OK && n > 3);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_acme PLUGIN.so DATADIR\n");
        return 2;
    }
    datadir = argv[2];
    void *dl;
    if (!(vt = ac_fake_load(argv[1], &dl)))
        return 1;
    test_descriptor();
    test_request();
    test_reply();
    test_stream();
    test_errors();
    test_models();
    test_out_of_memory();
    dlclose(dl);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
