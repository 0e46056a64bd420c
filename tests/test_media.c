/*
 * test_media.c -- images and documents attached to prompts (core/media):
 * what the openai, anthropic and ollama plugins send for them, through
 * the real core to the in-process mock server, and every error on the
 * way.
 *
 * The images are made here with libvips (PNG, JPEG, WebP; noise where the
 * size in bytes matters) or written by hand (GIFs, one of them animated),
 * and the PDF is written by hand with one line of known text.  What the
 * server received is read back from its last request body: the base64 of
 * each image is decoded and measured with libvips (size, aspect ratio,
 * format), or compared byte for byte with what was attached.
 */
#include "testutil.h"
#include "mockutil.h"
#include "alloc.h"
#include "media/media.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

static mock_server *mock;
static ac_core     *core;
static char         tmpdir[64];   /* this run's files */

static const char *SCRIPT =
    "reply = \"I see it.\";\n"
    "scenarios = (\n"
    "  { model = \"agent\"; reply = \"\";\n"
    "    steps = ( { tool_calls = ( { name = \"look\"; } ); }, { reply = \"Done.\"; } ); }\n"
    ");\n";

static int suite_init(void)
{
    char err[256];
    mock = mock_server_start(SCRIPT, 0, err, sizeof err);
    if (!mock) {
        fprintf(stderr, "mock: %s\n", err);
        return -1;
    }
    const char *u = mock_server_url(mock);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "providers = (\n"
             "  { name = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\"; max_retries = 0; },\n"
             "  { name = \"anthropic\"; base_url = \"%s\"; api_key = \"k\"; max_retries = 0; },\n"
             "  { name = \"ollama\"; base_url = \"%s\"; max_retries = 0; },\n"
             "  { name = \"mlx\"; base_url = \"%s/v1\"; max_retries = 0; },\n"
             "  { name = \"small\"; plugin = \"openai\"; base_url = \"%s/v1\"; api_key = \"k\";\n"
             "    image_max_edge = 100; image_formats = \"jpeg\"; max_document_bytes = 20; }\n"
             ");\n",
             u, u, u, u, u);
    core = tu_open_core(cfg);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_media_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return VIPS_INIT("test_media") == 0 ? 0 : -1;
}

static int suite_clean(void)
{
    ac_core_close(core);
    mock_server_stop(mock);
    rmdir(tmpdir);
    return 0;
}

static ac_llm *llm(const char *provider)
{
    ac_error err;
    ac_llm *l = ac_llm_create(core, provider, "m", NULL, &err);
    if (!l)
        fprintf(stderr, "ac_llm_create(%s): %s\n", provider, err.message);
    return l;
}

/* ------------------------------------------------------------------ */
/* Making files                                                        */
/* ------------------------------------------------------------------ */

/* A w x h image (3 bands; noise when `noise`, else a gradient) saved as
 * format.  malloc'd (g_malloc: g_free), *n bytes. */
static void *make_image(int w, int h, int noise, unsigned format, size_t *n)
{
    VipsImage *a = NULL, *b = NULL, *c = NULL;
    void *out = NULL;
    if (noise) {
        VipsImage *bands[3] = {NULL, NULL, NULL};
        for (int i = 0; i < 3; i++)
            vips_gaussnoise(&bands[i], w, h, "sigma", 80.0, "mean", 128.0, NULL);
        vips_bandjoin(bands, &a, 3, NULL);
        for (int i = 0; i < 3; i++)
            g_object_unref(bands[i]);
    } else {
        vips_xyz(&c, w, h, NULL); /* two bands: x and y */
        VipsImage *x = NULL;
        vips_extract_band(c, &x, 0, NULL);
        vips_bandjoin_const1(x, &a, 0.0, NULL);
        vips_bandjoin_const1(a, &b, 0.0, NULL);
        g_object_unref(a);
        g_object_unref(x);
        a = b;
        b = NULL;
    }
    vips_cast_uchar(a, &b, NULL);
    int rc = format == AC_IMAGE_JPEG ? vips_jpegsave_buffer(b, &out, n, NULL)
           : format == AC_IMAGE_WEBP ? vips_webpsave_buffer(b, &out, n, NULL)
                                     : vips_pngsave_buffer(b, &out, n, NULL);
    CU_ASSERT_EQUAL(rc, 0);
    g_object_unref(a);
    g_object_unref(b);
    if (c)
        g_object_unref(c);
    return out;
}

/* A 1x1 GIF, or (frames 2) an animation of two 1x1 frames. */
static const unsigned char GIF_HEAD[] = {
    'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0, 0, 0, 0, 0xff};
static const unsigned char GIF_FRAME[] = {
    0x21, 0xf9, 4, 0, 10, 0, 0, 0,               /* graphic control: 0.1 s */
    0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0,             /* image descriptor 1x1 */
    2, 2, 0x44, 1, 0};                           /* LZW data: one pixel */
static size_t make_gif(unsigned char *out, int frames)
{
    size_t n = 0;
    memcpy(out, GIF_HEAD, sizeof GIF_HEAD);
    n += sizeof GIF_HEAD;
    for (int i = 0; i < frames; i++) {
        memcpy(out + n, GIF_FRAME, sizeof GIF_FRAME);
        n += sizeof GIF_FRAME;
    }
    out[n++] = 0x3b;
    return n;
}

/* A one-page PDF whose page shows `text` (no parentheses or backslashes)
 * in Helvetica, with a correct cross-reference table.  malloc'd. */
static char *make_pdf(const char *text, size_t *n)
{
    char stream[256];
    snprintf(stream, sizeof stream, "BT /F1 18 Tf 20 100 Td (%s) Tj ET\n", text);
    char obj[5][512];
    snprintf(obj[0], sizeof obj[0], "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    snprintf(obj[1], sizeof obj[1], "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
    snprintf(obj[2], sizeof obj[2],
             "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 144] /Contents 4 0 R "
             "/Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n");
    snprintf(obj[3], sizeof obj[3], "4 0 obj\n<< /Length %zu >>\nstream\n%sendstream\nendobj\n",
             strlen(stream), stream);
    snprintf(obj[4], sizeof obj[4],
             "5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n");
    char *pdf = malloc(8192);
    size_t at = (size_t)sprintf(pdf, "%%PDF-1.4\n");
    size_t off[5];
    for (int i = 0; i < 5; i++) {
        off[i] = at;
        at += (size_t)sprintf(pdf + at, "%s", obj[i]);
    }
    size_t xref = at;
    at += (size_t)sprintf(pdf + at, "xref\n0 6\n0000000000 65535 f \n");
    for (int i = 0; i < 5; i++)
        at += (size_t)sprintf(pdf + at, "%010zu 00000 n \n", off[i]);
    at += (size_t)sprintf(pdf + at, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
                          xref);
    *n = at;
    return pdf;
}

/* Write n bytes to a new file NAME in the test's own temporary folder;
 * its malloc'd path. */
static char *write_file(const char *name, const void *bytes, size_t n)
{
    char *path = malloc(256);
    snprintf(path, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return path;
}

static void remove_file(char *path)
{
    unlink(path);
    free(path);
}

/* ------------------------------------------------------------------ */
/* Reading what was sent                                               */
/* ------------------------------------------------------------------ */

typedef struct sent_image {
    unsigned char *bytes;   /* g_malloc'd: g_free */
    size_t         n;
    int            w, h;
    char           mime[32];
} sent_image;

static void sent_free(sent_image *s)
{
    g_free(s->bytes);
    memset(s, 0, sizeof *s);
}

/* Decode base64 (with its media type) and measure it. */
static int decode_sent(const char *b64, const char *mime, sent_image *s)
{
    memset(s, 0, sizeof *s);
    if (!b64)
        return -1;
    gsize n = 0;
    s->bytes = g_base64_decode(b64, &n);
    s->n = n;
    snprintf(s->mime, sizeof s->mime, "%s", mime ? mime : "");
    VipsImage *im = vips_image_new_from_buffer(s->bytes, n, "", NULL);
    if (!im)
        return -1;
    s->w = vips_image_get_width(im);
    s->h = vips_image_get_height(im);
    g_object_unref(im);
    return 0;
}

/* The first image of the last request, as each backend writes it. */
static int last_image(const char *backend, sent_image *s)
{
    json_object *b = mu_last_body(mock);
    if (!b)
        return -1;
    int rc = -1;
    json_object *msgs = tu_jget(b, "messages");
    size_t nm = msgs ? json_object_array_length(msgs) : 0;
    for (size_t i = 0; i < nm && rc != 0; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        if (!strcmp(backend, "ollama")) {
            const char *d = tu_jstr(m, "images.0");
            if (d) {
                /* Ollama's images carry no media type: take it from the bytes. */
                rc = decode_sent(d, "", s);
            }
            continue;
        }
        json_object *c = tu_jget(m, "content");
        size_t np = c && json_object_is_type(c, json_type_array) ? json_object_array_length(c)
                                                                  : 0;
        for (size_t j = 0; j < np && rc != 0; j++) {
            json_object *p = json_object_array_get_idx(c, j);
            if (!strcmp(backend, "anthropic") && !strcmp(tu_jstr(p, "type"), "image")) {
                rc = decode_sent(tu_jstr(p, "source.data"), tu_jstr(p, "source.media_type"), s);
            } else if (!strcmp(backend, "openai") && !strcmp(tu_jstr(p, "type"), "image_url")) {
                const char *url = tu_jstr(p, "image_url.url");
                const char *comma = url ? strchr(url, ',') : NULL;
                const char *semi = url ? strchr(url, ';') : NULL;
                char mime[32] = "";
                if (url && semi && !strncmp(url, "data:", 5))
                    snprintf(mime, sizeof mime, "%.*s", (int)(semi - url - 5), url + 5);
                rc = comma ? decode_sent(comma + 1, mime, s) : -1;
            }
        }
    }
    json_object_put(b);
    return rc;
}

/* The text of the user message of the last request (OpenAI: the content
 * string, or its text parts joined; Ollama: content), malloc'd. */
static char *last_user_text(const char *backend)
{
    json_object *b = mu_last_body(mock);
    if (!b)
        return NULL;
    json_object *msgs = tu_jget(b, "messages");
    json_object *m = json_object_array_get_idx(msgs, json_object_array_length(msgs) - 1);
    json_object *c = tu_jget(m, "content");
    char *out = NULL;
    if (json_object_is_type(c, json_type_string)) {
        out = strdup(json_object_get_string(c));
    } else if (json_object_is_type(c, json_type_array)) {
        size_t cap = 1;
        out = calloc(1, 1);
        for (size_t j = 0; j < json_object_array_length(c); j++) {
            const char *t = tu_jstr(json_object_array_get_idx(c, j), "text");
            if (!t)
                continue;
            cap += strlen(t);
            out = realloc(out, cap);
            strcat(out, t);
        }
    }
    (void)backend;
    json_object_put(b);
    return out;
}

/* ac_generate on provider with p; the response freed; the status. */
static ac_status gen(const char *provider, ac_gen_params *p, ac_error *err)
{
    ac_llm *l = llm(provider);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_response *r = ac_generate(l, "Describe this.", p, err);
    ac_status st = r ? AC_OK : err->code;
    ac_response_free(r);
    ac_llm_free(l);
    return st;
}

/* ------------------------------------------------------------------ */
/* Images on the wire                                                  */
/* ------------------------------------------------------------------ */

/* A small PNG fits every backend: sent byte for byte as attached. */
static void test_small_png_untouched(void)
{
    size_t n;
    void *png = make_image(64, 48, 0, AC_IMAGE_PNG, &n);
    char *path = write_file("small.png", png, n);
    const char *backends[] = {"openai", "anthropic", "ollama"};
    for (size_t i = 0; i < 3; i++) {
        ac_gen_params *p = ac_gen_params_new();
        ac_error err;
        CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_file(p, path, &err), AC_OK);
        CU_ASSERT_EQUAL(ac_gen_params_attachment_count(p), 1);
        CU_ASSERT_EQUAL(gen(backends[i], p, &err), AC_OK);
        size_t sizes[2];
        CU_ASSERT_EQUAL(mock_server_last_images(mock, sizes, 2), 1);
        CU_ASSERT_EQUAL(sizes[0], n);
        sent_image s;
        CU_ASSERT_EQUAL_FATAL(last_image(backends[i], &s), 0);
        CU_ASSERT_EQUAL(s.n, n);
        CU_ASSERT(s.n == n && memcmp(s.bytes, png, n) == 0);
        if (strcmp(backends[i], "ollama"))
            TU_ASSERT_STR(s.mime, "image/png");
        sent_free(&s);
        ac_gen_params_free(p);
    }
    remove_file(path);
    g_free(png);
}

/* 3000 x 1500: each backend gets it fitted to its documented limits, at
 * the same aspect ratio (2:1). */
static void test_large_image_resized(void)
{
    size_t n;
    void *jpg = make_image(3000, 1500, 0, AC_IMAGE_JPEG, &n);
    struct { const char *backend; int w, h; const char *mime; } want[] = {
        {"openai", 1536, 768, "image/jpeg"},    /* short side 768 */
        {"anthropic", 1516, 758, "image/jpeg"}, /* 1.15 megapixels */
        {"ollama", 1024, 512, ""},              /* long side 1024 */
    };
    for (size_t i = 0; i < 3; i++) {
        ac_gen_params *p = ac_gen_params_new();
        ac_error err;
        CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, jpg, n, "image/jpeg", &err), AC_OK);
        CU_ASSERT_EQUAL(gen(want[i].backend, p, &err), AC_OK);
        sent_image s;
        CU_ASSERT_EQUAL_FATAL(last_image(want[i].backend, &s), 0);
        CU_ASSERT_EQUAL(s.w, want[i].w);
        CU_ASSERT_EQUAL(s.h, want[i].h);
        CU_ASSERT(fabs((double)s.w / s.h - 2.0) < 0.01);
        CU_ASSERT(s.n < n);
        /* Still a JPEG: the backend takes that format. */
        CU_ASSERT(s.n > 2 && s.bytes[0] == 0xff && s.bytes[1] == 0xd8);
        if (*want[i].mime)
            TU_ASSERT_STR(s.mime, want[i].mime);
        sent_free(&s);
        ac_gen_params_free(p);
    }
    g_free(jpg);
}

/* A noisy PNG over image_max_bytes is made smaller until its base64
 * fits; it stays a PNG where the backend takes PNG. */
static void test_bytes_limit(void)
{
    size_t n;
    void *png = make_image(600, 400, 1, AC_IMAGE_PNG, &n);
    CU_ASSERT_FATAL(ac__b64_len(n) > 200000);
    ac_options *o = ac_options_new();
    ac_options_set(o, "image_max_bytes", "200000");
    ac_error err;
    ac_llm *l = ac_llm_create(core, "anthropic", "m", o, &err);
    ac_options_free(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    ac_response *r = ac_generate(l, "Noise?", p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    sent_image s;
    CU_ASSERT_EQUAL_FATAL(last_image("anthropic", &s), 0);
    CU_ASSERT(ac__b64_len(s.n) <= 200000);
    CU_ASSERT(s.w < 600 && s.w > 100);
    CU_ASSERT(fabs((double)s.w / s.h - 1.5) < 0.02);
    TU_ASSERT_STR(s.mime, "image/png");
    sent_free(&s);
    ac_gen_params_free(p);
    ac_llm_free(l);
    g_free(png);
}

/* GIF and WebP: Ollama takes neither, so they arrive as PNG / JPEG;
 * Anthropic takes both as they are, except an animated GIF, which is
 * sent as its first frame. */
static void test_formats_converted(void)
{
    unsigned char gif[128], anim[128];
    size_t gn = make_gif(gif, 1), an = make_gif(anim, 2);
    size_t wn;
    void *webp = make_image(40, 30, 0, AC_IMAGE_WEBP, &wn);
    ac_error err;

    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, gif, gn, "image/gif", &err), AC_OK);
    CU_ASSERT_EQUAL(gen("ollama", p, &err), AC_OK);
    sent_image s;
    CU_ASSERT_EQUAL_FATAL(last_image("ollama", &s), 0);
    CU_ASSERT(s.n > 8 && !memcmp(s.bytes, "\x89PNG\r\n\x1a\n", 8));
    CU_ASSERT_EQUAL(s.w, 1);
    CU_ASSERT_EQUAL(s.h, 1);
    sent_free(&s);
    CU_ASSERT_EQUAL(gen("anthropic", p, &err), AC_OK);
    CU_ASSERT_EQUAL_FATAL(last_image("anthropic", &s), 0);
    CU_ASSERT(s.n == gn && !memcmp(s.bytes, gif, gn));
    TU_ASSERT_STR(s.mime, "image/gif");
    sent_free(&s);
    ac_gen_params_free(p);

    p = ac_gen_params_new();
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, anim, an, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(gen("anthropic", p, &err), AC_OK);
    CU_ASSERT_EQUAL_FATAL(last_image("anthropic", &s), 0);
    TU_ASSERT_STR(s.mime, "image/png");
    CU_ASSERT_EQUAL(s.w, 1);
    CU_ASSERT_EQUAL(s.h, 1);
    sent_free(&s);
    ac_gen_params_free(p);

    p = ac_gen_params_new();
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, webp, wn, "image/webp", &err), AC_OK);
    CU_ASSERT_EQUAL(gen("ollama", p, &err), AC_OK);
    CU_ASSERT_EQUAL_FATAL(last_image("ollama", &s), 0);
    /* A photograph without alpha: JPEG. */
    CU_ASSERT(s.n > 2 && s.bytes[0] == 0xff && s.bytes[1] == 0xd8);
    CU_ASSERT_EQUAL(s.w, 40);
    CU_ASSERT_EQUAL(s.h, 30);
    sent_free(&s);
    CU_ASSERT_EQUAL(gen("openai", p, &err), AC_OK);
    CU_ASSERT_EQUAL_FATAL(last_image("openai", &s), 0);
    CU_ASSERT(s.n == wn && !memcmp(s.bytes, webp, wn));
    TU_ASSERT_STR(s.mime, "image/webp");
    sent_free(&s);
    ac_gen_params_free(p);
    g_free(webp);
}

/* The configuration overrides the plugin's limits and formats. */
static void test_config_limits(void)
{
    size_t n;
    void *png = make_image(300, 200, 0, AC_IMAGE_PNG, &n);
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(gen("small", p, &err), AC_OK);
    sent_image s;
    CU_ASSERT_EQUAL_FATAL(last_image("openai", &s), 0);
    CU_ASSERT_EQUAL(s.w, 100);
    CU_ASSERT_EQUAL(s.h, 67); /* 66.7, to the nearest pixel */
    TU_ASSERT_STR(s.mime, "image/jpeg");
    sent_free(&s);
    ac_gen_params_free(p);
    g_free(png);

    /* A value the table refuses. */
    ac_options *o = ac_options_new();
    ac_options_set(o, "image_formats", "png, bmp");
    ac_llm *l = ac_llm_create(core, "openai", "m", o, &err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_EQUAL(err.code, AC_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "image_formats"));
    ac_llm_free(l);
    ac_options_free(o);
}

/* Images by URL: an http(s) URL is sent as a URL; a data: URL is decoded
 * and handled like bytes (a small one: untouched). */
static void test_image_urls(void)
{
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL(ac_gen_params_attach_image_url(p, "https://example.com/cat.jpg", &err), AC_OK);
    CU_ASSERT_EQUAL(gen("openai", p, &err), AC_OK);
    json_object *b = mu_last_body(mock);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.1.image_url.url"),
                  "https://example.com/cat.jpg");
    json_object_put(b);
    /* Ollama cannot fetch: its plugin refuses, nothing is sent. */
    size_t before = mock_server_request_count(mock);
    CU_ASSERT_EQUAL(gen("ollama", p, &err), AC_EUNSUPPORTED);
    CU_ASSERT_EQUAL(mock_server_request_count(mock), before);
    ac_gen_params_free(p);

    size_t n;
    void *png = make_image(20, 10, 0, AC_IMAGE_PNG, &n);
    gchar *b64 = g_base64_encode(png, n);
    char *url = g_strdup_printf("data:image/png;base64,%s", b64);
    p = ac_gen_params_new();
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image_url(p, url, &err), AC_OK);
    CU_ASSERT_EQUAL(gen("anthropic", p, &err), AC_OK);
    sent_image s;
    CU_ASSERT_EQUAL_FATAL(last_image("anthropic", &s), 0);
    CU_ASSERT(s.n == n && !memcmp(s.bytes, png, n));
    sent_free(&s);
    ac_gen_params_free(p);

    /* Refused at once. */
    p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_attach_image_url(p, "ftp://example.com/a.png", &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image_url(p, "data:image/png;base64,@@@@", &err),
                    AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image_url(p, "data:image/png,rawbytes", &err),
                    AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image_url(p, "https://a b", &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attachment_count(p), 0);
    ac_gen_params_free(p);
    g_free(url);
    g_free(b64);
    g_free(png);
}

/* ------------------------------------------------------------------ */
/* Documents                                                           */
/* ------------------------------------------------------------------ */

/* Each kind of document reaches the model as labelled text after the
 * prompt, on every backend. */
static void test_documents(void)
{
    size_t pn;
    char *pdf = make_pdf("Quarterly revenue rose by 42 percent", &pn);
    struct { const char *name; const char *bytes; const char *label; } docs[] = {
        {"notes.txt", "plain notes\nline two\n", "[file: notes.txt]\nplain notes\nline two\n"},
        {"readme.md", "# Title\n\n* item\n", "[file: readme.md]\n# Title\n\n* item\n"},
        {"table.csv", "a,b\n1,2\n", "[file: table.csv]\na,b\n1,2\n"},
        {"table.tsv", "a\tb\n1\t2\n", "[file: table.tsv]\na\tb\n1\t2\n"},
        {"data.json", "{\"k\": [1, 2]}\n", "[file: data.json]\n{\"k\": [1, 2]}\n"},
        {"bom.txt", "\xEF\xBB\xBFh\xC3\xA9llo\n", "[file: bom.txt]\nh\xC3\xA9llo\n"},
    };
    const char *backends[] = {"openai", "anthropic", "ollama"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *path = write_file(docs[i].name, docs[i].bytes, strlen(docs[i].bytes));
        for (size_t k = 0; k < 3; k++) {
            ac_gen_params *p = ac_gen_params_new();
            ac_error err;
            CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_file(p, path, &err), AC_OK);
            CU_ASSERT_EQUAL(gen(backends[k], p, &err), AC_OK);
            char *t = last_user_text(backends[k]);
            char want[512];
            snprintf(want, sizeof want, "Describe this.\n\n%s", docs[i].label);
            TU_ASSERT_STR(t, want);
            free(t);
            ac_gen_params_free(p);
        }
        remove_file(path);
    }
    /* The PDF: poppler's text of the one page. */
    char *path = write_file("report.pdf", pdf, pn);
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_file(p, path, &err), AC_OK);
    CU_ASSERT_EQUAL(gen("openai", p, &err), AC_OK);
    char *t = last_user_text("openai");
    TU_ASSERT_STR(t, "Describe this.\n\n[file: report.pdf]\nQuarterly revenue rose by 42 percent");
    free(t);
    ac_gen_params_free(p);
    /* A document from memory, and a document with an image: the image
     * follows the text and the documents. */
    size_t n;
    void *png = make_image(10, 10, 0, AC_IMAGE_PNG, &n);
    p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_attach_document(p, "dir/a.md", "# A", 3, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, path, &err), AC_OK);
    CU_ASSERT_EQUAL(gen("openai", p, &err), AC_OK);
    json_object *b = mu_last_body(mock);
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.0.text"),
                  "Describe this.\n\n[file: a.md]\n# A\n\n[file: report.pdf]\n"
                  "Quarterly revenue rose by 42 percent");
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.1.type"), "image_url");
    CU_ASSERT_PTR_NULL(tu_jget(b, "messages.0.content.2"));
    json_object_put(b);
    CU_ASSERT_EQUAL(gen("anthropic", p, &err), AC_OK);
    b = mu_last_body(mock);
    /* Anthropic: the image before the text, as its guide advises. */
    TU_ASSERT_STR(tu_jstr(b, "messages.0.content.0.type"), "image");
    CU_ASSERT_PTR_NOT_NULL(strstr(tu_jstr(b, "messages.0.content.1.text"), "[file: a.md]"));
    json_object_put(b);
    ac_gen_params_free(p);
    remove_file(path);
    free(pdf);
    g_free(png);
}

/* Documents over max_document_bytes fail before anything is sent: the
 * provider's setting, and the request's own. */
static void test_document_too_large(void)
{
    char *path = write_file("long.txt", "0123456789012345678901234567890123456789", 40);
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_file(p, path, &err), AC_OK);
    size_t before = mock_server_request_count(mock);
    CU_ASSERT_EQUAL(gen("small", p, &err), AC_ETOOBIG); /* max_document_bytes = 20 */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "long.txt"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "max_document_bytes"));
    CU_ASSERT_EQUAL(mock_server_request_count(mock), before);
    CU_ASSERT_EQUAL(gen("openai", p, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_set_max_document_bytes(p, 39), AC_OK);
    CU_ASSERT_EQUAL(gen("openai", p, &err), AC_ETOOBIG);
    CU_ASSERT_EQUAL(ac_gen_params_set_max_document_bytes(p, 40), AC_OK);
    CU_ASSERT_EQUAL(gen("small", p, &err), AC_OK); /* the request's wins */
    CU_ASSERT_EQUAL(ac_gen_params_set_max_document_bytes(p, 0), AC_EINVAL);
    ac_gen_params_free(p);
    remove_file(path);
}

/* ------------------------------------------------------------------ */
/* Errors when attaching                                               */
/* ------------------------------------------------------------------ */

static void test_attach_errors(void)
{
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    /* A missing file: AC_EIO naming it. */
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, "/nonexistent/dir/photo.png", &err), AC_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/dir/photo.png"));
    /* An unsupported type: naming the file and the type found. */
    static const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0};
    char *path = write_file("archive.bin", gz, sizeof gz);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, path, &err), AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "archive.bin"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "application/gzip"));
    remove_file(path);
    /* Text that is not UTF-8. */
    path = write_file("latin1.txt", "caf\xe9 cr\xe8me\n", 11);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, path, &err), AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not UTF-8"));
    remove_file(path);
    /* A file over 64 MiB (sparse: nothing is written) is not read. */
    path = write_file("huge.txt", "x", 1);
    CU_ASSERT_EQUAL(truncate(path, 65L * 1024 * 1024), 0);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, path, &err), AC_ETOOBIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "huge.txt"));
    remove_file(path);
    /* An empty file; a folder. */
    path = write_file("empty.txt", "", 0);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, path, &err), AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "empty"));
    remove_file(path);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, "/tmp", &err), AC_EIO);
    /* A PDF that is not one. */
    path = write_file("broken.pdf", "%PDF-1.4\n%%EOF\n", 15);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, path, &err), AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "broken.pdf"));
    remove_file(path);
    /* A PNG signature and nothing more. */
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, "\x89PNG\r\n\x1a\n\0\0\0\0", 12, NULL, &err),
                    AC_EUNSUPPORTED);
    /* Bytes that contradict the type given; text as an image. */
    size_t n;
    void *png = make_image(8, 8, 0, AC_IMAGE_PNG, &n);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, "image/jpeg", &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, "hello", 5, NULL, &err), AC_EUNSUPPORTED);
    CU_ASSERT_EQUAL(ac_gen_params_attach_document(p, "x.png", png, n, &err), AC_EUNSUPPORTED);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(NULL, png, n, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attach_file(p, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attachment_count(p), 0);
    /* At most AC_MAX_ATTACHMENTS. */
    for (int i = 0; i < AC_MAX_ATTACHMENTS; i++)
        CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, NULL, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac_gen_params_attachment_count(p), AC_MAX_ATTACHMENTS);
    ac_gen_params_clear_attachments(p);
    CU_ASSERT_EQUAL(ac_gen_params_attachment_count(p), 0);
    ac_gen_params_free(p);
    g_free(png);
}

/* A provider whose plugin takes no images (mlx): AC_EUNSUPPORTED naming
 * it, before any request; also for an image in a session's history. */
static void test_no_images(void)
{
    size_t n;
    void *png = make_image(8, 8, 0, AC_IMAGE_PNG, &n);
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL_FATAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    size_t before = mock_server_request_count(mock);
    CU_ASSERT_EQUAL(gen("mlx", p, &err), AC_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'mlx'"));
    TU_ASSERT_STR(err.provider, "mlx");
    CU_ASSERT_EQUAL(mock_server_request_count(mock), before);

    /* The async form reports it through on_done. */
    ac_llm *l = llm("mlx");
    ac_request *q = ac_agenerate(l, "Hi", p, NULL, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(ac_request_wait(q, 5000), AC_OK);
    CU_ASSERT_EQUAL(ac_request_status(q, &err), AC_EUNSUPPORTED);
    ac_request_free(q);
    CU_ASSERT_EQUAL(mock_server_request_count(mock), before);

    /* A session whose history has an image, moved to mlx. */
    ac_llm *o = llm("openai");
    ac_session *s = ac_session_new(o, NULL);
    ac_response *r = ac_session_generate(s, "Look", p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    before = mock_server_request_count(mock);
    CU_ASSERT_EQUAL(ac_session_set_llm(s, l), AC_OK);
    r = ac_session_generate(s, "And now?", NULL, &err);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(err.code, AC_EUNSUPPORTED);
    CU_ASSERT_EQUAL(mock_server_request_count(mock), before);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 2);
    ac_session_free(s);
    ac_llm_free(o);
    ac_llm_free(l);
    ac_gen_params_free(p);
    g_free(png);
}

/* ------------------------------------------------------------------ */
/* Sessions, streams, tool runs                                        */
/* ------------------------------------------------------------------ */

/* A turn's attachments stay in the history (later turns send them
 * again), and in the saved file: images inline as data: URLs, documents
 * as text with their names; a loaded session sends them as before. */
static void test_session_attachments(void)
{
    size_t n;
    void *png = make_image(30, 20, 0, AC_IMAGE_PNG, &n);
    ac_llm *l = llm("openai");
    ac_session *s = ac_session_new(l, "Be brief.");
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    CU_ASSERT_EQUAL(ac_gen_params_attach_document(p, "notes.md", "# Notes", 7, &err), AC_OK);
    ac_response *r = ac_session_generate(s, "What is this?", p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    CU_ASSERT_EQUAL(mock_server_last_images(mock, NULL, 0), 1);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 2);
    char *c = ac_session_message_content(s, 0);
    TU_ASSERT_STR(c, "What is this?");
    free(c);
    /* The next turn carries the first one's image and document again. */
    r = ac_session_generate(s, "And the colour?", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    size_t sizes[2];
    CU_ASSERT_EQUAL(mock_server_last_images(mock, sizes, 2), 1);
    CU_ASSERT_EQUAL(sizes[0], n);
    json_object *b = mu_last_body(mock);
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.0.text"),
                  "What is this?\n\n[file: notes.md]\n# Notes");
    json_object_put(b);

    char path[128];
    snprintf(path, sizeof path, "%s/session.json", tmpdir);
    CU_ASSERT_EQUAL_FATAL(ac_session_save(s, path, &err), AC_OK);
    char *text = tu_read_file(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    json_object *saved = json_tokener_parse(text);
    free(text);
    const char *img = tu_jstr(saved, "messages.0.images.0");
    CU_ASSERT(img && !strncmp(img, "data:image/png;base64,", 22));
    TU_ASSERT_STR(tu_jstr(saved, "messages.0.content"), "What is this?");
    TU_ASSERT_STR(tu_jstr(saved, "messages.0.files.0.name"), "notes.md");
    TU_ASSERT_STR(tu_jstr(saved, "messages.0.files.0.mime_type"), "text/markdown");
    TU_ASSERT_STR(tu_jstr(saved, "messages.0.files.0.text"), "# Notes");
    json_object_put(saved);
    ac_session *s2 = ac_session_load(l, path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    CU_ASSERT_EQUAL(ac_session_message_count(s2), 4);
    r = ac_session_generate(s2, "Once more", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    CU_ASSERT_EQUAL(mock_server_last_images(mock, sizes, 2), 1);
    CU_ASSERT_EQUAL(sizes[0], n);
    b = mu_last_body(mock);
    TU_ASSERT_STR(tu_jstr(b, "messages.1.content.0.text"),
                  "What is this?\n\n[file: notes.md]\n# Notes");
    json_object_put(b);
    /* Moved to Ollama, the history's image is re-fitted there (PNG is
     * fine, and it is small: byte for byte). */
    ac_llm *ol = llm("ollama");
    ac_session_set_llm(s2, ol);
    r = ac_session_generate(s2, "Last", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    CU_ASSERT_EQUAL(mock_server_last_images(mock, sizes, 2), 1);
    CU_ASSERT_EQUAL(sizes[0], n);
    ac_session_free(s2);
    ac_llm_free(ol);
    unlink(path);

    /* A turn with no prompt and an attachment: a user message of it alone. */
    ac_gen_params_clear_attachments(p);
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    r = ac_session_generate(s, NULL, p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 6);
    CU_ASSERT_EQUAL(mock_server_last_images(mock, NULL, 0), 2);
    ac_session_free(s);
    ac_gen_params_free(p);
    ac_llm_free(l);
    g_free(png);
}

/* A session's images were fitted to the llm of their turn; moved to a
 * backend with smaller limits, they are fitted again there (the history
 * keeps them as they were). */
static void test_session_moved(void)
{
    size_t n;
    void *jpg = make_image(3000, 1500, 0, AC_IMAGE_JPEG, &n);
    ac_llm *o = llm("openai"), *ol = llm("ollama");
    ac_session *s = ac_session_new(o, NULL);
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, jpg, n, NULL, &err), AC_OK);
    ac_response *r = ac_session_generate(s, "Look", p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    r = ac_session_generate(s, "Again", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    sent_image si;
    CU_ASSERT_EQUAL_FATAL(last_image("openai", &si), 0);
    CU_ASSERT_EQUAL(si.w, 1536);
    CU_ASSERT_EQUAL(si.h, 768);
    sent_free(&si);
    ac_session_set_llm(s, ol);
    r = ac_session_generate(s, "And on Ollama?", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    CU_ASSERT_EQUAL_FATAL(last_image("ollama", &si), 0);
    CU_ASSERT_EQUAL(si.w, 1024);
    CU_ASSERT_EQUAL(si.h, 512);
    sent_free(&si);
    ac_session_free(s);
    ac_gen_params_free(p);
    ac_llm_free(o);
    ac_llm_free(ol);
    g_free(jpg);
}

/* A file the session loads: a "files" entry of the wrong shape is
 * refused, naming its path. */
static void test_session_file_strict(void)
{
    char *f = tu_write_temp(
        "{\"format\":\"abstractcore-session\",\"version\":2,\"messages\":[{\"role\":\"user\","
        "\"content\":\"x\",\"files\":[{\"name\":\"a.md\",\"text\":5}]}]}");
    ac_llm *l = llm("openai");
    ac_error err;
    ac_session *s = ac_session_load(l, f, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(err.code, AC_EPROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "messages[0].files[0].text"));
    ac_session_free(s);
    unlink(f);
    free(f);
    f = tu_write_temp(
        "{\"format\":\"abstractcore-session\",\"version\":2,\"messages\":[{\"role\":\"assistant\","
        "\"content\":\"x\",\"files\":[{\"name\":\"a.md\",\"text\":\"t\"}]}]}");
    s = ac_session_load(l, f, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "files"));
    ac_session_free(s);
    unlink(f);
    free(f);
    /* Version 1 files never had documents. */
    f = tu_write_temp(
        "{\"format\":\"abstractcore-session\",\"version\":1,\"messages\":[{\"role\":\"user\","
        "\"content\":\"x\",\"files\":[{\"name\":\"a.md\",\"text\":\"t\"}]}]}");
    s = ac_session_load(l, f, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "field \"files\" that a saved message of version 1"));
    ac_session_free(s);
    unlink(f);
    free(f);
    ac_llm_free(l);
}

/* A message list sent whole: the attachments follow it as a user message
 * of their own. */
static void test_message_list(void)
{
    ac_messages *m = ac_messages_new();
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_USER, "Here is the plan."), AC_OK);
    CU_ASSERT_EQUAL(ac_messages_add(m, AC_ROLE_ASSISTANT, "Send it."), AC_OK);
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL(ac_gen_params_attach_document(p, "plan.txt", "step 1", 6, &err), AC_OK);
    ac_llm *l = llm("openai");
    ac_response *r = ac_generate_messages(l, m, p, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    ac_response_free(r);
    json_object *b = mu_last_body(mock);
    CU_ASSERT_EQUAL(json_object_array_length(tu_jget(b, "messages")), 3);
    TU_ASSERT_STR(tu_jstr(b, "messages.2.role"), "user");
    TU_ASSERT_STR(tu_jstr(b, "messages.2.content"), "[file: plan.txt]\nstep 1");
    json_object_put(b);
    ac_llm_free(l);
    ac_gen_params_free(p);
    ac_messages_free(m);
}

/* A pull stream carries the attachments too. */
static void test_stream(void)
{
    size_t n;
    void *png = make_image(16, 16, 0, AC_IMAGE_PNG, &n);
    ac_llm *l = llm("anthropic");
    ac_gen_params *p = ac_gen_params_new();
    ac_error err;
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    ac_stream *st = ac_stream_open(l, "Stream it", p, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    const ac_chunk *c;
    ac_status rc;
    while ((rc = ac_stream_next(st, &c, 5000)) == AC_OK)
        ;
    CU_ASSERT_EQUAL(rc, AC_EOF);
    ac_stream_close(st);
    CU_ASSERT_EQUAL(mock_server_last_images(mock, NULL, 0), 1);
    ac_gen_params_free(p);
    ac_llm_free(l);
    g_free(png);
}

static ac_status look_tool(const char *arguments, char **result, void *user)
{
    (void)arguments;
    (void)user;
    *result = strdup("a cat");
    return AC_OK;
}

/* A tool run sends the attachments with its first round only: later
 * rounds carry them once, from the history. */
static void test_tool_run(void)
{
    size_t n;
    void *png = make_image(16, 16, 0, AC_IMAGE_PNG, &n);
    ac_error err;
    ac_llm *l = ac_llm_create(core, "openai", "agent", NULL, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    ac_session *s = ac_session_new(l, NULL);
    ac_toolbox *tb = ac_toolbox_new();
    CU_ASSERT_EQUAL(ac_toolbox_add(tb, "look", "Look closer.", NULL, look_tool, NULL, &err),
                    AC_OK);
    ac_gen_params *p = ac_gen_params_new();
    CU_ASSERT_EQUAL(ac_gen_params_attach_image(p, png, n, NULL, &err), AC_OK);
    ac_response *r = ac_session_run_tools(s, "What is it?", p, tb, NULL, &err);
    CU_ASSERT_PTR_NOT_NULL(r);
    if (r)
        TU_ASSERT_STR(ac_response_content(r), "Done.");
    ac_response_free(r);
    CU_ASSERT_EQUAL(mock_server_last_images(mock, NULL, 0), 1);
    CU_ASSERT_EQUAL(ac_session_message_count(s), 4);
    ac_gen_params_free(p);
    ac_toolbox_free(tb);
    ac_session_free(s);
    ac_llm_free(l);
    g_free(png);
}

/* ------------------------------------------------------------------ */
/* Allocation failures                                                 */
/* ------------------------------------------------------------------ */

/* Every allocation of attaching and of a request with attachments fails
 * in turn: each try fails cleanly or works, and nothing stays live. */
static void test_alloc_failures(void)
{
    size_t n, pn;
    void *jpg = make_image(1600, 800, 0, AC_IMAGE_JPEG, &n);
    char *pdf = make_pdf("Torture text", &pn);
    char *path = write_file("torture.pdf", pdf, pn);
    ac_llm *l = llm("ollama");
    int ok = 0;
    for (long k = 0; k < 400 && !ok; k++) {
        long live = ac__alloc_live();
        ac__alloc_fail_after(k);
        ac_gen_params *p = ac_gen_params_new();
        ac_error err;
        int attached = p && ac_gen_params_attach_image(p, jpg, n, NULL, &err) == AC_OK &&
                       ac_gen_params_attach_file(p, path, &err) == AC_OK;
        ac_response *r = attached ? ac_generate(l, "Both", p, &err) : NULL;
        ac__alloc_fail_after(-1);
        ok = r != NULL && ac__alloc_failures() == 0;
        ac_response_free(r);
        ac_gen_params_free(p);
        /* The engine may still hold the request for a moment. */
        for (int i = 0; i < 2000 && ac__alloc_live() != live; i++)
            usleep(1000);
        CU_ASSERT_EQUAL(ac__alloc_live(), live);
    }
    CU_ASSERT(ok);
    ac_llm_free(l);
    remove_file(path);
    free(pdf);
    g_free(jpg);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        {"a small PNG is sent untouched (openai, anthropic, ollama)", test_small_png_untouched},
        {"a large image is resized to each backend's limits", test_large_image_resized},
        {"image_max_bytes: re-encoded until it fits", test_bytes_limit},
        {"GIF and WebP converted where the backend takes neither", test_formats_converted},
        {"limits and formats from the configuration", test_config_limits},
        {"images by http(s) and data: URL", test_image_urls},
        {"documents: text, Markdown, CSV, TSV, JSON, PDF", test_documents},
        {"a document over max_document_bytes", test_document_too_large},
        {"errors when attaching", test_attach_errors},
        {"a provider without images: refused before sending", test_no_images},
        {"attachments on a session turn, saved and loaded", test_session_attachments},
        {"a session moved to smaller limits: images fitted again", test_session_moved},
        {"a session file with bad files entries", test_session_file_strict},
        {"a message list with an attachment", test_message_list},
        {"a pull stream with an attachment", test_stream},
        {"a tool run sends attachments in its first round", test_tool_run},
        {"every allocation failing in turn", test_alloc_failures},
    };
    if (TU_ADD_SUITE("media", suite_init, suite_clean, tests) != 0)
        return 2;
    return tu_run_suites();
}
