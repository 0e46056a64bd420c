/*
 * test_toolparse.c -- CUnit suite for prompted tool calls (core/tools/):
 * the streaming parser, the family table, prompt texts and rendering.
 *
 * Every reply is fed whole, one byte at a time, and split in two at every
 * byte boundary; the outputs (text, calls, bad regions, in order) must be
 * the same each time and equal what a user should see.  The transcript
 * writes a call as [[CALL id name args]] and a bad region as
 * [[BAD1 raw]] (invalid) or [[BAD2 raw]] (left open at the end), with
 * the text around them as it was handed on.  Also: no text piece splits
 * a UTF-8 character, limits, callback errors, every allocation failing in
 * turn, a seeded fuzz, and render -> parse round trips for every family.
 */
#include "tools/toolparse.h"
#include "tools/toolprompt.h"
#include "tools/toolrender.h"
#include "alloc.h"
#include "testutil.h"

#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const KNOWN[] = {"get_weather", "search", "write_file", "get_time"};
#define N_KNOWN (sizeof KNOWN / sizeof KNOWN[0])

/* ------------------------------------------------------------------ */
/* Collecting what the parser hands on                                 */
/* ------------------------------------------------------------------ */

typedef struct out {
    char  *s;
    size_t len, cap;
    int    bad_utf8;      /* a text piece ended inside a character */
    long   fail_at;       /* callback number that fails, -1 never */
    long   n_cb;
    int    unknown_calls; /* calls with known == 0 */
} out;

static void out_add(out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->s = realloc(o->s, o->cap);
        if (!o->s)
            abort();
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

/* 1 if s/n ends in the middle of a UTF-8 character. */
static int cut_char(const char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = (unsigned char)s[n - k];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k;
    }
    return 0;
}

static ac_status cb_fail(out *o, ac_error *err)
{
    if (o->fail_at >= 0 && o->n_cb++ == o->fail_at) {
        ac_error_clear(err);
        if (err) {
            err->code = AC_ECANCELED;
            snprintf(err->message, sizeof err->message, "callback said no");
        }
        return AC_ECANCELED;
    }
    return AC_OK;
}

static ac_status on_text(void *ctx, const char *s, size_t n, ac_error *err)
{
    out *o = ctx;
    ac_status st = cb_fail(o, err);
    if (st)
        return st;
    if (!n)
        o->bad_utf8 = 2;                /* empty pieces are not handed on */
    if (cut_char(s, n))
        o->bad_utf8 = 1;
    out_add(o, s, n);
    return AC_OK;
}

static ac_status on_call(void *ctx, const ac__toolcall *c, ac_error *err)
{
    out *o = ctx;
    ac_status st = cb_fail(o, err);
    if (st)
        return st;
    char line[4096];
    snprintf(line, sizeof line, "[[CALL %s %s %.*s]]", c->id, c->name, (int)c->args_len, c->args);
    out_add(o, line, strlen(line));
    if (!c->known)
        o->unknown_calls++;
    return AC_OK;
}

static ac_status on_bad(void *ctx, ac__toolbad why, const char *raw, size_t n, ac_error *err)
{
    out *o = ctx;
    ac_status st = cb_fail(o, err);
    if (st)
        return st;
    char head[16];
    snprintf(head, sizeof head, "[[BAD%d ", (int)why);
    out_add(o, head, strlen(head));
    out_add(o, raw, n);
    out_add(o, "]]", 2);
    return AC_OK;
}

static const ac__toolparse_cb CB = {on_text, on_call, on_bad};

/* Parse s/n with the reply cut at `cut` (0: whole, SIZE_MAX: one byte at
 * a time).  Returns the transcript (malloc'd); *st the first failure. */
static char *run_cut(ac__toolfam fam, const char *s, size_t n, size_t cut, size_t max,
                     ac_status *st_out, int *bad_utf8)
{
    out o = {.fail_at = -1};
    out_add(&o, "", 0);
    ac_error err;
    ac__toolparser *p = ac__toolparse_new(fam, (const char *const *)KNOWN, N_KNOWN, max);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ac_status st = AC_OK;
    if (cut == SIZE_MAX) {
        for (size_t i = 0; i < n && !st; i++)
            st = ac__toolparse_feed(p, s + i, 1, &CB, &o, &err);
    } else if (cut) {
        st = ac__toolparse_feed(p, s, cut, &CB, &o, &err);
        if (!st)
            st = ac__toolparse_feed(p, s + cut, n - cut, &CB, &o, &err);
    } else {
        st = ac__toolparse_feed(p, s, n, &CB, &o, &err);
    }
    if (!st)
        st = ac__toolparse_finish(p, &CB, &o, &err);
    ac__toolparse_free(p);
    if (st_out)
        *st_out = st;
    if (bad_utf8)
        *bad_utf8 = o.bad_utf8;
    return o.s;
}

static int n_checked;

/* The transcript of `in` is `want` however the reply is cut. */
static void check_fam(ac__toolfam fam, const char *in, const char *want)
{
    size_t n = strlen(in);
    int bu = 0;
    char *whole = run_cut(fam, in, n, 0, 0, NULL, &bu);
    if (strcmp(whole, want)) {
        fprintf(stderr, "\n  input: %s\n  want:  %s\n  got:   %s\n", in, want, whole);
    }
    CU_ASSERT_STRING_EQUAL(whole, want);
    CU_ASSERT_EQUAL(bu, 0);
    char *bytes = run_cut(fam, in, n, SIZE_MAX, 0, NULL, &bu);
    if (strcmp(bytes, want))
        fprintf(stderr, "\n  input: %s\n  1-byte got: %s\n", in, bytes);
    CU_ASSERT_STRING_EQUAL(bytes, want);
    CU_ASSERT_EQUAL(bu, 0);
    free(bytes);
    for (size_t cut = 1; cut < n; cut++) {
        char *t = run_cut(fam, in, n, cut, 0, NULL, &bu);
        if (strcmp(t, want)) {
            fprintf(stderr, "\n  input: %s\n  cut %zu got: %s\n", in, cut, t);
            CU_FAIL("a cut changed the output");
            free(t);
            break;
        }
        CU_ASSERT_EQUAL(bu, 0);
        free(t);
    }
    free(whole);
    n_checked++;
}

static void check(const char *in, const char *want) { check_fam(AC__TF_AUTO, in, want); }

/* ------------------------------------------------------------------ */
/* Plain text                                                          */
/* ------------------------------------------------------------------ */

static void test_plain_text(void)
{
    static const char *texts[] = {
        "",
        "Hello, world.",
        "  leading and trailing white space  \n\n",
        "Zürich — 東京 — 😀 done",
        "a < b and c > d, <b>bold</b>, <tool> <tool_calls> <tool_callx",
        "[1] Smith et al.; [Note: it's fine]",
        "{not json} and {\"a\": 1} in the middle",
        "use functools.partial or functools.reduce",
        "```python\nprint('x')\n```\n",
        "```\nplain fence\n```",
        "The <|im_end|> token and [INST] markers are just text here",
        "ends with a lone <",
        "ends with <t",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        check(texts[i], texts[i]);
}

/* A JSON answer that does not name a known tool stays text, whole. */
static void test_json_answer_is_text(void)
{
    check("{\"name\": \"Alice\", \"age\": 30}", "{\"name\": \"Alice\", \"age\": 30}");
    check("{\"name\": \"Alice\", \"arguments\": {}}", "{\"name\": \"Alice\", \"arguments\": {}}");
    /* Naming a tool but without arguments: could be an ordinary answer. */
    check("{\"name\": \"search\"}", "{\"name\": \"search\"}");
    check("[{\"id\": 1}, {\"id\": 2}]", "[{\"id\": 1}, {\"id\": 2}]");
    check("```json\n{\"answer\": 42}\n```", "```json\n{\"answer\": 42}\n```");
    check("Here:\n\n```json\n{\"name\": \"nope\", \"arguments\": {}}\n```\nok",
          "Here:\n\n```json\n{\"name\": \"nope\", \"arguments\": {}}\n```\nok");
    /* Bare JSON counts only at the start of the reply. */
    check("Example: {\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}",
          "Example: {\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}");
}

/* ------------------------------------------------------------------ */
/* Hermes / Qwen                                                       */
/* ------------------------------------------------------------------ */

static void test_hermes(void)
{
    check("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
          "</tool_call>",
          "[[CALL call_1 get_weather {\"city\":\"Paris\"}]]");
    check("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
          "{\"city\": \"Paris\"}}\n</tool_call>\nDone.",
          "Let me check.[[CALL call_1 get_weather {\"city\":\"Paris\"}]]\nDone.");
    /* Qwen 2.5 writes several calls one after another. */
    check("I'll look both up.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
          "{\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", "
          "\"arguments\": {\"tz\": \"Europe/Paris\"}}\n</tool_call>",
          "I'll look both up.[[CALL call_1 get_weather {\"city\":\"Paris\"}]]"
          "[[CALL call_2 get_time {\"tz\":\"Europe/Paris\"}]]");
    /* Text between calls keeps one separator for the white space. */
    check("A\n<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"a\"}}</tool_call>\n\n"
          "B\n<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"b\"}}</tool_call> C",
          "A[[CALL call_1 search {\"q\":\"a\"}]]\n\nB[[CALL call_2 search {\"q\":\"b\"}]]\nC");
    /* The Hermes template writes "arguments" first. */
    check("<tool_call>\n{ \"arguments\": {\"q\": \"x\"}, \"name\": \"search\"}\n</tool_call> ",
          "[[CALL call_1 search {\"q\":\"x\"}]]");
    /* Qwen3 after its thinking block. */
    check("<think>\nThe user wants weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", "
          "\"arguments\": {\"city\": \"東京\"}}\n</tool_call>",
          "<think>\nThe user wants weather.\n</think>[[CALL call_1 get_weather {\"city\":\"東京\"}]]");
}

/* Tags, braces and quotes inside JSON strings are data. */
static void test_strings_hide_tags(void)
{
    check("<tool_call>\n{\"name\": \"write_file\", \"arguments\": {\"path\": \"a.md\", "
          "\"content\": \"x </tool_call> y <tool_call> z\"}}\n</tool_call>after",
          "[[CALL call_1 write_file {\"path\":\"a.md\",\"content\":\"x </tool_call> y "
          "<tool_call> z\"}]]after");
    check("<tool_call>{\"name\": \"write_file\", \"arguments\": {\"content\": "
          "\"}}]] \\\" \\\\\\\" {{ '\", \"n\": {\"deep\": [1, {\"x\": [\"]\"]}]}}}</tool_call>",
          "[[CALL call_1 write_file {\"content\":\"}}]] \\\" \\\\\\\" {{ '\",\"n\":{\"deep\":"
          "[1,{\"x\":[\"]\"]}]}}]]");
    check("<|tool_call|>{\"name\": \"search\", \"arguments\": {\"q\": \"<|/tool_call|> "
          "\\u00e9 😀\"}}<|/tool_call|>",
          "[[CALL call_1 search {\"q\":\"<|/tool_call|> é 😀\"}]]");
    check("```tool_code\nwrite_file(content='``` and \"```\"', path=\"x\")\n```",
          "[[CALL call_1 write_file {\"content\":\"``` and \\\"```\\\"\",\"path\":\"x\"}]]");
}

/* ------------------------------------------------------------------ */
/* Other syntaxes                                                      */
/* ------------------------------------------------------------------ */

static void test_special_token(void)
{
    check("<|tool_call|>{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}<|/tool_call|>",
          "[[CALL call_1 search {\"q\":\"x\"}]]");
    /* The original AbstractCore closes with </|tool_call|>. */
    check("Sure.\n<|tool_call|>\n{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}\n"
          "</|tool_call|>\n",
          "Sure.[[CALL call_1 search {\"q\":\"x\"}]]");
    check("<|tool_call|>[{\"name\": \"search\", \"arguments\": {}}, {\"name\": \"get_time\"}]"
          "<|/tool_call|>",
          "[[CALL call_1 search {}]][[CALL call_2 get_time {}]]");
    check("functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]",
          "[[CALL call_1 get_weather {\"city\":\"Oslo\"}]]");
    check("functools[{\"name\": \"nope\", \"arguments\": {}}]",
          "functools[{\"name\": \"nope\", \"arguments\": {}}]");
}

static void test_llama3(void)
{
    check("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
          "[[CALL call_1 get_weather {\"city\":\"Paris\"}]]");
    check("<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"a\"}}; "
          "{\"name\": \"get_time\", \"parameters\": {}}<|eom_id|>",
          "[[CALL call_1 search {\"q\":\"a\"}]][[CALL call_2 get_time {}]]");
    /* Llama 3.1-3.3 answer custom tools with bare JSON. */
    check("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"San Francisco\", "
          "\"unit\": \"celsius\"}}",
          "[[CALL call_1 get_weather {\"city\":\"San Francisco\",\"unit\":\"celsius\"}]]");
    check("  \n{\"name\": \"search\", \"arguments\": {\"q\": \"a\"}}\n"
          "{\"name\": \"search\", \"arguments\": {\"q\": \"b\"}}\nBoth sent.",
          "[[CALL call_1 search {\"q\":\"a\"}]][[CALL call_2 search {\"q\":\"b\"}]]Both sent.");
    check("<function=get_weather>{\"city\": \"Rome\"}</function>",
          "[[CALL call_1 get_weather {\"city\":\"Rome\"}]]");
    /* The builtin-tool form is Python: a call of an unknown tool. */
    check("<|python_tag|>brave_search.call(query=\"news\")",
          "[[CALL call_1 brave_search.call {\"query\":\"news\"}]]");
    /* Python code is not a call. */
    check("<|python_tag|>import sys", "[[BAD1 <|python_tag|>import]] sys");
    /* Text after a chained call that ends in the last piece (make fuzz
     * found it dropped at finish: tests/fixtures/fuzz/toolparse/). */
    check("<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"a\"}}; "
          "{\"name\": \"get_time\", \"parameters\": {}}<|eom_id|> Done.",
          "[[CALL call_1 search {\"q\":\"a\"}]][[CALL call_2 get_time {}]]Done.");
    check("<|python_tag|>{name:\"s\"}{\"name\":\"g\"}>",
          "[[CALL call_1 s {}]][[CALL call_2 g {}]]>");
}

static void test_mistral(void)
{
    check("[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}, "
          "\"id\": \"abcDEF123\"}, {\"name\": \"get_weather\", \"arguments\": {\"city\": "
          "\"Bern\"}, \"id\": \"xyzXYZ789\"}]",
          "[[CALL abcDEF123 get_weather {\"city\":\"Zürich\"}]]"
          "[[CALL xyzXYZ789 get_weather {\"city\":\"Bern\"}]]");
    check("[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}]",
          "[[CALL call_1 search {\"q\":\"x\"}]]");
    /* v11: one [TOOL_CALLS] per call, with [CALL_ID]. */
    check("[TOOL_CALLS]get_weather[CALL_ID]abcDEF123[ARGS]{\"city\": \"Zürich\"}"
          "[TOOL_CALLS]get_weather[CALL_ID]xyzXYZ789[ARGS]{\"city\": \"Bern\"}",
          "[[CALL abcDEF123 get_weather {\"city\":\"Zürich\"}]]"
          "[[CALL xyzXYZ789 get_weather {\"city\":\"Bern\"}]]");
    /* v13: name[ARGS]{...}, no id. */
    check("Checking.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Zürich\", \"unit\": \"c\"}"
          "[TOOL_CALLS]search[ARGS]{\"query\": \"café \\\"best\\\"\", \"filters\": "
          "{\"tags\": [\"a\", \"b\"], \"max\": 3}}",
          "Checking.[[CALL call_1 get_weather {\"city\":\"Zürich\",\"unit\":\"c\"}]]"
          "[[CALL call_2 search {\"query\":\"café \\\"best\\\"\",\"filters\":{\"tags\":"
          "[\"a\",\"b\"],\"max\":3}}]]");
    check("[TOOL_CALLS]get_time{}", "[[CALL call_1 get_time {}]]");
    check("[TOOL_CALLS] hello there", "[[BAD1 [TOOL_CALLS] hello ]]there");
}

static void test_gemma(void)
{
    check("```tool_code\nget_weather(city=\"London\", unit='celsius', days=3, hourly=False, "
          "opts=None)\n```",
          "[[CALL call_1 get_weather {\"city\":\"London\",\"unit\":\"celsius\",\"days\":3,"
          "\"hourly\":false,\"opts\":null}]]");
    check("I'll look.\n```tool_code\nprint(search(q=\"x\", tags=['a', \"b\"], "
          "w={'k': 1.5, 'n': [True, None]}))\n```\nWaiting.",
          "I'll look.[[CALL call_1 search {\"q\":\"x\",\"tags\":[\"a\",\"b\"],\"w\":{\"k\":1.5,"
          "\"n\":[true,null]}}]]\nWaiting.");
    check("```tool_code\nget_weather(city=\"Paris\")\nget_time(tz=\"UTC\")\n```",
          "[[CALL call_1 get_weather {\"city\":\"Paris\"}]][[CALL call_2 get_time "
          "{\"tz\":\"UTC\"}]]");
    /* Code that is not a call of a known tool is text. */
    check("```tool_code\nprint(2 + 2)\n```", "```tool_code\nprint(2 + 2)\n```");
    check("```tool_code\nlaunch(x=1)\n```", "```tool_code\nlaunch(x=1)\n```");
    check("```json\n{\"name\": \"search\", \"parameters\": {\"q\": \"x\"}}\n```",
          "[[CALL call_1 search {\"q\":\"x\"}]]");
    /* The official Gemma prompt's list form, as the whole reply. */
    check("[get_weather(city=\"Paris\"), search(q='a\\'b')]",
          "[[CALL call_1 get_weather {\"city\":\"Paris\"}]][[CALL call_2 search {\"q\":\"a'b\"}]]");
    check("[unknown(x=1)]", "[unknown(x=1)]");
}

static void test_function_call_tags(void)
{
    check("<function_call>{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}</function_call>",
          "[[CALL call_1 search {\"q\":\"x\"}]]");
    /* glaive: arguments as a string holding JSON, no closing tag. */
    check("<functioncall> {\"name\": \"get_weather\", \"arguments\": '{\"city\": \"Paris\"}'} "
          "<|endoftext|>",
          "[[CALL call_1 get_weather {\"city\":\"Paris\"}]]<|endoftext|>");
    check("<functioncall>{\"name\": \"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"UTC\\\"}\"}"
          "</functioncall>",
          "[[CALL call_1 get_time {\"tz\":\"UTC\"}]]");
    /* Qwen3-Coder: XML-ish parameters inside <tool_call>. */
    check("<tool_call>\n<function=write_file>\n<parameter=path>\nnotes.md\n</parameter>\n"
          "<parameter=content>\nline \"1\" {\nline 2\n</parameter>\n<parameter=n>\n3\n"
          "</parameter>\n</function>\n</tool_call>",
          "[[CALL call_1 write_file {\"path\":\"notes.md\",\"content\":\"line \\\"1\\\" {\\nline "
          "2\",\"n\":3}]]");
}

static void test_arguments_forms(void)
{
    check("<tool_call>{\"name\": \"get_time\"}</tool_call>", "[[CALL call_1 get_time {}]]");
    check("<tool_call>{\"name\": \"get_time\", \"arguments\": null}</tool_call>",
          "[[CALL call_1 get_time {}]]");
    check("<tool_call>{\"name\": \"get_time\", \"arguments\": \"\"}</tool_call>",
          "[[CALL call_1 get_time {}]]");
    check("<tool_call>{\"name\": \"search\", \"arguments\": \"{\\\"q\\\": \\\"x\\\"}\"}"
          "</tool_call>",
          "[[CALL call_1 search {\"q\":\"x\"}]]");
    /* OpenAI-style wrapper, id carried. */
    check("<tool_call>{\"id\": \"c9\", \"type\": \"function\", \"function\": {\"name\": "
          "\"search\", \"arguments\": \"{\\\"q\\\": 1}\"}}</tool_call>",
          "[[CALL c9 search {\"q\":1}]]");
    /* Python dict where JSON was asked for. */
    check("<tool_call>{'name': 'search', 'arguments': {'q': 'x', 'all': True}}</tool_call>",
          "[[CALL call_1 search {\"q\":\"x\",\"all\":true}]]");
    /* Arguments that are not an object make the call invalid. */
    check("<tool_call>{\"name\": \"search\", \"arguments\": [1]}</tool_call>",
          "[[BAD1 <tool_call>{\"name\": \"search\", \"arguments\": [1]}</tool_call>]]");
}

/* A call of a tool that was not offered is still reported (flagged). */
static void test_unknown_tool_flagged(void)
{
    const char *in = "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>";
    out o = {.fail_at = -1};
    ac__toolparser *p = ac__toolparse_new(AC__TF_AUTO, (const char *const *)KNOWN, N_KNOWN, 0);
    CU_ASSERT_EQUAL(ac__toolparse_feed(p, in, strlen(in), &CB, &o, NULL), AC_OK);
    CU_ASSERT_EQUAL(ac__toolparse_finish(p, &CB, &o, NULL), AC_OK);
    TU_ASSERT_STR(o.s, "[[CALL call_1 rm_rf {}]]");
    CU_ASSERT_EQUAL(o.unknown_calls, 1);
    CU_ASSERT_EQUAL(ac__toolparse_calls(p), 1);
    ac__toolparse_free(p);
    free(o.s);
}

/* ------------------------------------------------------------------ */
/* Bad and unfinished regions                                          */
/* ------------------------------------------------------------------ */

static void test_garbage_reported(void)
{
    check("x <tool_call>not json at all</tool_call> y",
          "x [[BAD1 <tool_call>not json at all</tool_call>]] y");
    check("<tool_call>{\"arguments\": {}}</tool_call>",
          "[[BAD1 <tool_call>{\"arguments\": {}}</tool_call>]]");
    check("<tool_call>{\"name\": \"\", \"arguments\": {}}</tool_call>",
          "[[BAD1 <tool_call>{\"name\": \"\", \"arguments\": {}}</tool_call>]]");
    check("<|tool_call|>{]}{<|/tool_call|>", "[[BAD1 <|tool_call|>{]}{<|/tool_call|>]]");
    check("<tool_call></tool_call>", "[[BAD1 <tool_call></tool_call>]]");
}

static void test_unterminated_reported(void)
{
    check("Calling <tool_c", "Calling [[BAD2 <tool_c]]");
    check("text <tool_call", "text [[BAD2 <tool_call]]");
    check("Calling <tool_call>\n{\"name\": \"search\", \"argu",
          "Calling [[BAD2 <tool_call>\n{\"name\": \"search\", \"argu]]");
    check("[TOOL_CALLS]get_weather", "[[BAD2 [TOOL_CALLS]get_weather]]");
    check("<|python_tag|>{\"name\": \"x\"", "[[BAD2 <|python_tag|>{\"name\": \"x\"]]");
    /* A string left open swallows the rest, and is reported with it. */
    check("<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"open}</tool_call> more",
          "[[BAD2 <tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"open}</tool_call> "
          "more]]");
    /* A stop sequence ate the closing tag: the whole body is still a call. */
    check("<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}\n",
          "[[CALL call_1 search {\"q\":\"x\"}]]");
    /* Weak syntaxes left open are text. */
    check("```tool_code\nget_weather(city=", "```tool_code\nget_weather(city=");
    check("{\"name\": \"search\", \"arguments\": {", "{\"name\": \"search\", \"arguments\": {");
}

/* ------------------------------------------------------------------ */
/* Families                                                            */
/* ------------------------------------------------------------------ */

static void test_family_restricts_syntaxes(void)
{
    const char *mistral = "[TOOL_CALLS] [{\"name\": \"search\", \"arguments\": {}}]";
    check_fam(AC__TF_HERMES, mistral, mistral);
    check_fam(AC__TF_MISTRAL, mistral, "[[CALL call_1 search {}]]");
    const char *hermes = "<tool_call>{\"name\": \"search\", \"arguments\": {}}</tool_call>";
    check_fam(AC__TF_MISTRAL, hermes, hermes);
    check_fam(AC__TF_GEMMA, hermes, hermes);
    check_fam(AC__TF_HERMES, hermes, "[[CALL call_1 search {}]]");
    /* Bare JSON naming a known tool works in every family. */
    for (int f = 0; f < AC__TF_COUNT; f++)
        check_fam((ac__toolfam)f, "{\"name\": \"search\", \"arguments\": {\"q\": 1}}",
                  "[[CALL call_1 search {\"q\":1}]]");
}

static void test_family_from_model(void)
{
    static const struct { const char *model; ac__toolfam fam; } t[] = {
        {"qwen3:4b", AC__TF_HERMES},
        {"Qwen/Qwen2.5-7B-Instruct", AC__TF_HERMES},
        {"qwen3-coder:30b", AC__TF_HERMES},
        {"NousResearch/Hermes-3-Llama-3.1-8B", AC__TF_HERMES},
        {"llama3.1:8b", AC__TF_LLAMA3},
        {"meta-llama/Llama-3.3-70B-Instruct", AC__TF_LLAMA3},
        {"hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M", AC__TF_LLAMA3},
        {"mistral-small3.2", AC__TF_MISTRAL},
        {"mistralai/Mixtral-8x7B-Instruct-v0.1", AC__TF_MISTRAL},
        {"ministral-3:8b", AC__TF_MISTRAL},
        {"devstral", AC__TF_MISTRAL},
        {"gemma3:27b", AC__TF_GEMMA},
        {"google/gemma-2-9b-it", AC__TF_GEMMA},
        {"phi4-mini", AC__TF_PHI},
        {"microsoft/Phi-3-mini-4k-instruct", AC__TF_PHI},
        {"dolphin-mixtral", AC__TF_MISTRAL},
        {"dolphin3", AC__TF_AUTO},
        {"gpt-oss:20b", AC__TF_AUTO},
        {"", AC__TF_AUTO},
        {NULL, AC__TF_AUTO},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ac__toolfam got = ac__toolfam_from_model(t[i].model);
        if (got != t[i].fam)
            fprintf(stderr, "\n  %s -> %s\n", t[i].model ? t[i].model : "(null)",
                    ac__toolfam_name(got));
        CU_ASSERT_EQUAL(got, t[i].fam);
    }
    ac__toolfam f;
    CU_ASSERT_EQUAL(ac__toolfam_parse("Qwen", &f), 0);
    CU_ASSERT_EQUAL(f, AC__TF_HERMES);
    CU_ASSERT_EQUAL(ac__toolfam_parse("function_call", &f), 0);
    CU_ASSERT_EQUAL(f, AC__TF_FUNCALL);
    CU_ASSERT_EQUAL(ac__toolfam_parse("nonsense", &f), -1);
    for (int k = 0; k < AC__TF_COUNT; k++) {
        CU_ASSERT_EQUAL(ac__toolfam_parse(ac__toolfam_name((ac__toolfam)k), &f), 0);
        CU_ASSERT_EQUAL(f, k);
    }
}

/* ------------------------------------------------------------------ */
/* Limits, errors, memory                                              */
/* ------------------------------------------------------------------ */

static void test_size_limit(void)
{
    char big[3000];
    int k = snprintf(big, sizeof big, "ok <tool_call>{\"name\": \"write_file\", \"arguments\": "
                                      "{\"content\": \"");
    memset(big + k, 'x', 2000);
    strcpy(big + k + 2000, "\"}}</tool_call>");
    ac_status st;
    char *t = run_cut(AC__TF_AUTO, big, strlen(big), 0, 1024, &st, NULL);
    CU_ASSERT_EQUAL(st, AC_ETOOBIG);
    TU_ASSERT_STR(t, "ok");
    free(t);
    t = run_cut(AC__TF_AUTO, big, strlen(big), SIZE_MAX, 1024, &st, NULL);
    CU_ASSERT_EQUAL(st, AC_ETOOBIG);
    free(t);
    /* Under the limit it is a call. */
    t = run_cut(AC__TF_AUTO, big, strlen(big), 0, 4096, &st, NULL);
    CU_ASSERT_EQUAL(st, AC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "[[CALL call_1 write_file"));
    free(t);
    /* A weak region over the limit is text, not an error. */
    snprintf(big, sizeof big, "{\"name\": \"search\", \"arguments\": {\"q\": \"%0900d\"}} tail", 0);
    t = run_cut(AC__TF_AUTO, big, strlen(big), SIZE_MAX, 256, &st, NULL);
    CU_ASSERT_EQUAL(st, AC_OK);
    TU_ASSERT_STR(t, big);
    free(t);
    /* A long header is not a header. */
    char head[600] = "[TOOL_CALLS]";
    memset(head + 12, 'a', 400);
    head[412] = '\0';
    t = run_cut(AC__TF_AUTO, head, strlen(head), 0, 0, &st, NULL);
    CU_ASSERT_EQUAL(st, AC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "[[BAD1 [TOOL_CALLS]aaa"));
    free(t);
}

static void test_sticky_failure_and_api(void)
{
    ac_error err;
    ac__toolparser *p = ac__toolparse_new(AC__TF_AUTO, NULL, 0, 64);
    out o = {.fail_at = -1};
    const char *in = "<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"0123456789012345678901234567890123456789012345678901234567890\"}}</tool_call>";
    CU_ASSERT_EQUAL(ac__toolparse_feed(p, in, strlen(in), &CB, &o, &err), AC_ETOOBIG);
    CU_ASSERT_EQUAL(err.code, AC_ETOOBIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "64 bytes"));
    CU_ASSERT_EQUAL(ac__toolparse_feed(p, "x", 1, &CB, &o, &err), AC_ETOOBIG);
    CU_ASSERT_EQUAL(ac__toolparse_finish(p, &CB, &o, &err), AC_ETOOBIG);
    ac__toolparse_free(p);
    free(o.s);

    p = ac__toolparse_new(AC__TF_AUTO, NULL, 0, 0);
    CU_ASSERT_EQUAL(ac__toolparse_feed(p, "x", 1, NULL, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac__toolparse_feed(NULL, "x", 1, &CB, NULL, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac__toolparse_feed(p, NULL, 0, &CB, NULL, &err), AC_OK);
    out o2 = {.fail_at = -1};
    CU_ASSERT_EQUAL(ac__toolparse_finish(p, &CB, &o2, &err), AC_OK);
    CU_ASSERT_EQUAL(ac__toolparse_finish(p, &CB, &o2, &err), AC_EINVAL);
    CU_ASSERT_EQUAL(ac__toolparse_feed(p, "x", 1, &CB, &o2, &err), AC_EINVAL);
    ac__toolparse_free(p);
    free(o2.s);
    ac__toolparse_free(NULL);
    CU_ASSERT_PTR_NULL(ac__toolparse_new(AC__TF_COUNT, NULL, 0, 0));
}

static void test_callback_error_stops(void)
{
    const char *in = "A\n<tool_call>{\"name\": \"search\", \"arguments\": {}}</tool_call>\nB "
                     "<tool_call>x</tool_call>";
    for (long at = 0; at < 6; at++) {
        out o = {.fail_at = at};
        ac_error err;
        ac__toolparser *p = ac__toolparse_new(AC__TF_AUTO, NULL, 0, 0);
        ac_status st = ac__toolparse_feed(p, in, strlen(in), &CB, &o, &err);
        if (!st)
            st = ac__toolparse_finish(p, &CB, &o, &err);
        CU_ASSERT_EQUAL(st, AC_ECANCELED);
        CU_ASSERT_EQUAL(err.code, AC_ECANCELED);
        ac__toolparse_free(p);
        free(o.s);
    }
}

/* Every allocation failing in turn: a clean AC_ENOMEM (or success when
 * the failure hit nothing needed), never a crash or a leak (valgrind). */
static void test_alloc_failures(void)
{
    static const char *inputs[] = {
        "Hi.\n<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}\n</tool_call>\n"
        "[TOOL_CALLS]get_time[CALL_ID]abcDEF123[ARGS]{\"tz\": 1}\n"
        "```tool_code\nprint(get_weather(city='Oslo', n=[1, 2.5, None]))\n```\n"
        "<function=search>\n<parameter=q>\nv\n</parameter>\n</function> end <tool_c",
        "{\"name\": \"search\", \"parameters\": {\"q\": 1}}; <bad> <|python_tag|>{\"name\": "
        "\"x\", \"parameters\": \"{}\"}",
    };
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        const char *in = inputs[k];
        char *want = run_cut(AC__TF_AUTO, in, strlen(in), SIZE_MAX, 0, NULL, NULL);
        int saw_success = 0;
        for (long n = 0; n < 2000; n++) {
            out o = {.fail_at = -1};
            out_add(&o, "", 0);
            ac_error err;
            ac__alloc_fail_after(n);
            ac__toolparser *p = ac__toolparse_new(AC__TF_AUTO, (const char *const *)KNOWN,
                                                  N_KNOWN, 0);
            ac_status st = p ? AC_OK : AC_ENOMEM;
            for (size_t i = 0; p && !st && i < strlen(in); i += 7) {
                size_t len = strlen(in + i) < 7 ? strlen(in + i) : 7;
                st = ac__toolparse_feed(p, in + i, len, &CB, &o, &err);
            }
            if (p && !st)
                st = ac__toolparse_finish(p, &CB, &o, &err);
            long failures = ac__alloc_failures();
            ac__alloc_fail_after(-1);
            ac__toolparse_free(p);
            CU_ASSERT(st == AC_OK || st == AC_ENOMEM);
            if (st == AC_OK && failures == 0) {
                TU_ASSERT_STR(o.s, want);
                saw_success = 1;
                free(o.s);
                break;
            }
            free(o.s);
        }
        CU_ASSERT(saw_success);
        free(want);
    }
    /* Prompts and rendering too. */
    ac__tooldef defs[] = {{"search", "Search the web", "{\"type\": \"object\"}"},
                          {"get_time", NULL, NULL}};
    ac__toolcall calls[] = {{.id = "abcDEF123", .name = "search", .args = "{\"q\":\"x\"}"},
                            {.id = NULL, .name = "get_time", .args = "{}"}};
    for (int f = 0; f < AC__TF_COUNT; f++) {
        for (long n = 0; n < 200; n++) {
            ac__alloc_fail_after(n);
            char *a = ac__toolprompt_system((ac__toolfam)f, defs, 2, NULL);
            char *b = ac__toolprompt_result((ac__toolfam)f, "abcDEF123", "search", "r", NULL);
            char *c = ac__toolrender((ac__toolfam)f, calls, 2, NULL);
            long failures = ac__alloc_failures();
            ac__alloc_fail_after(-1);
            int all = a && b && c;
            ac__free(a);
            ac__free(b);
            ac__free(c);
            if (!failures) {
                CU_ASSERT(all);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Fuzz: random mixes of markers and bytes                             */
/* ------------------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_fuzz(void)
{
    static const char *atoms[] = {
        "<tool_call>", "</tool_call>", "<|tool_call|>", "<|/tool_call|>", "</|tool_call|>",
        "<|python_tag|>", "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", "```tool_code", "```json",
        "```", "functools", "<function=", "</function>", "<function_call>", "<functioncall>",
        "{", "}", "[", "]", "(", ")", "\"", "'", "\\", ":", ",", ";", " ", "\n", "\n\n",
        "\"name\"", "\"arguments\"", "\"parameters\"", "\"search\"", "search", "get_time",
        "(q=1)", "=", "é", "😀", "\xff", "<", "<tool", "text", "<parameter=q>", "</parameter>",
        "{\"name\": \"search\", \"arguments\": {\"q\": 1}}", "True", "None", "1.5e3",
    };
    const size_t na = sizeof atoms / sizeof atoms[0];
    char in[512];
    for (int round = 0; round < 400; round++) {
        size_t n = 0;
        int parts = 1 + (int)(rnd() % 24);
        for (int k = 0; k < parts; k++) {
            const char *a = atoms[rnd() % na];
            size_t l = strlen(a);
            if (n + l >= sizeof in)
                break;
            memcpy(in + n, a, l);
            n += l;
        }
        in[n] = '\0';
        ac__toolfam fam = (ac__toolfam)(rnd() % AC__TF_COUNT);
        ac_status st1, st2;
        char *whole = run_cut(fam, in, n, 0, 0, &st1, NULL);
        char *bytes = run_cut(fam, in, n, SIZE_MAX, 0, &st2, NULL);
        CU_ASSERT_EQUAL(st1, AC_OK);
        CU_ASSERT_EQUAL(st2, AC_OK);
        if (strcmp(whole, bytes))
            fprintf(stderr, "\n  fuzz input: %s\n  whole: %s\n  bytes: %s\n", in, whole, bytes);
        CU_ASSERT_STRING_EQUAL(whole, bytes);
        size_t cut = n ? rnd() % n : 0;
        char *t = run_cut(fam, in, n, cut, 0, NULL, NULL);
        CU_ASSERT_STRING_EQUAL(whole, t);
        free(t);
        free(whole);
        free(bytes);
    }
}

/* ------------------------------------------------------------------ */
/* Prompts                                                             */
/* ------------------------------------------------------------------ */

static void test_prompts(void)
{
    ac__tooldef defs[] = {
        {"get_weather", "Current weather in a city",
         "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, "
         "\"required\": [\"city\"]}"},
        {"get_time", NULL, NULL},
    };
    static const struct { ac__toolfam fam; const char *must[4]; } t[] = {
        {AC__TF_HERMES, {"<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"",
                         "</tools>", "<tool_call>\n{\"name\": <function-name>, \"arguments\": "
                         "<args-json-object>}\n</tool_call>", NULL}},
        {AC__TF_AUTO, {"<tool_call>", "\"required\":[\"city\"]", NULL, NULL}},
        {AC__TF_LLAMA3, {"{\"name\": function name, \"parameters\": dictionary of argument "
                         "name and its value}", "Do not use variables.", "\"name\": \"get_time\"",
                         NULL}},
        {AC__TF_MISTRAL, {"[AVAILABLE_TOOLS] [{\"type\": \"function\"", "[/AVAILABLE_TOOLS]",
                          "[TOOL_CALLS] [{\"name\"", NULL}},
        {AC__TF_GEMMA, {"```tool_code", "```tool_output", "\"name\": \"get_weather\"", NULL}},
        {AC__TF_PHI, {"functools[{\"name\"", "\"get_time\"", NULL, NULL}},
        {AC__TF_FUNCALL, {"<function_call>", "</function_call>", NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ac_error err;
        char *p = ac__toolprompt_system(t[i].fam, defs, 2, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        for (int k = 0; k < 4 && t[i].must[k]; k++) {
            if (!strstr(p, t[i].must[k]))
                fprintf(stderr, "\n  %s prompt lacks %s:\n%s\n", ac__toolfam_name(t[i].fam),
                        t[i].must[k], p);
            CU_ASSERT_PTR_NOT_NULL(strstr(p, t[i].must[k]));
        }
        /* Every tool is named; the schema text is kept as JSON. */
        CU_ASSERT_PTR_NOT_NULL(strstr(p, "get_time"));
        CU_ASSERT_PTR_NOT_NULL(strstr(p, "Current weather in a city"));
        ac__free(p);
    }
    ac_error err;
    ac__tooldef bad[] = {{"x", NULL, "[1, 2]"}};
    CU_ASSERT_PTR_NULL(ac__toolprompt_system(AC__TF_HERMES, bad, 1, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    ac__tooldef noname[] = {{NULL, NULL, NULL}};
    CU_ASSERT_PTR_NULL(ac__toolprompt_system(AC__TF_HERMES, noname, 1, &err));
    CU_ASSERT_PTR_NULL(ac__toolprompt_system(AC__TF_HERMES, defs, 0, &err));

    static const struct { ac__toolfam fam; const char *want; } r[] = {
        {AC__TF_HERMES, "<tool_response>\n21 \"C\"\n</tool_response>"},
        {AC__TF_AUTO, "<tool_response>\n21 \"C\"\n</tool_response>"},
        {AC__TF_LLAMA3, "{\"output\": \"21 \\\"C\\\"\"}"},
        {AC__TF_MISTRAL, "[TOOL_RESULTS] {\"content\": \"21 \\\"C\\\"\", \"call_id\": "
                         "\"abcDEF123\"}[/TOOL_RESULTS]"},
        {AC__TF_GEMMA, "```tool_output\n21 \"C\"\n```"},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        char *s = ac__toolprompt_result(r[i].fam, "abcDEF123", "get_weather", "21 \"C\"", &err);
        TU_ASSERT_STR(s, r[i].want);
        ac__free(s);
    }
    CU_ASSERT_PTR_NULL(ac__toolprompt_result(AC__TF_HERMES, NULL, NULL, NULL, &err));
}

/* ------------------------------------------------------------------ */
/* Rendering, and reading back what was rendered                       */
/* ------------------------------------------------------------------ */

static void test_render_exact(void)
{
    ac__toolcall calls[] = {
        {.id = "abcDEF123", .name = "get_weather", .args = "{\"city\":\"Paris\"}"},
        {.id = "xyzXYZ789", .name = "get_time", .args = "{}"},
    };
    static const struct { ac__toolfam fam; const char *want; } t[] = {
        {AC__TF_HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                        "{\"city\":\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": "
                        "\"get_time\", \"arguments\": {}}\n</tool_call>"},
        {AC__TF_LLAMA3, "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": "
                        "{\"city\":\"Paris\"}}; {\"name\": \"get_time\", \"parameters\": {}}"},
        {AC__TF_MISTRAL, "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": "
                         "{\"city\":\"Paris\"}, \"id\": \"abcDEF123\"}, {\"name\": \"get_time\", "
                         "\"arguments\": {}, \"id\": \"xyzXYZ789\"}]"},
        {AC__TF_GEMMA, "```tool_code\nget_weather(city=\"Paris\")\nget_time()\n```"},
        {AC__TF_PHI, "<|tool_call|>{\"name\": \"get_weather\", \"arguments\": "
                     "{\"city\":\"Paris\"}}</|tool_call|>\n<|tool_call|>{\"name\": \"get_time\", "
                     "\"arguments\": {}}</|tool_call|>"},
        {AC__TF_FUNCALL, "<function_call>{\"name\": \"get_weather\", \"arguments\": "
                         "{\"city\":\"Paris\"}}</function_call>\n<function_call>{\"name\": "
                         "\"get_time\", \"arguments\": {}}</function_call>"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *s = ac__toolrender(t[i].fam, calls, 2, NULL);
        TU_ASSERT_STR(s, t[i].want);
        ac__free(s);
    }
    ac_error err;
    ac__toolcall bad[] = {{.name = "x", .args = "[1]"}};
    CU_ASSERT_PTR_NULL(ac__toolrender(AC__TF_HERMES, bad, 1, &err));
    CU_ASSERT_EQUAL(err.code, AC_EINVAL);
    ac__toolcall badname[] = {{.name = "not-python", .args = "{}"}};
    CU_ASSERT_PTR_NULL(ac__toolrender(AC__TF_GEMMA, badname, 1, &err));
    char *s = ac__toolrender(AC__TF_HERMES, NULL, 0, &err);
    TU_ASSERT_STR(s, "");
    ac__free(s);
}

/* Canonical arguments rendered in any family parse back the same. */
static void test_round_trip(void)
{
    static const char *args[] = {
        "{}",
        "{\"city\":\"Zürich\",\"unit\":\"c\"}",
        "{\"q\":\"</tool_call> ``` [ARGS] <|/tool_call|> \\\"x\\\" \\\\ it's\",\"n\":-1.5e-3,"
        "\"big\":12345678901234567890,\"ok\":true,\"none\":null,\"list\":[1,\"a\",{\"b\":[]}]}",
        "{\"content\":\"line1\\nline2\\ttab \\u0001 😀\",\"class\":1,\"a-b\":2,\"9x\":3}",
        "{\"nested\":{\"deep\":{\"deeper\":[[[]]]}},\"e\":\"\"}",
    };
    static const char *names[] = {"search", "get_weather", "write_file", "get_time", "search"};
    for (int f = 0; f < AC__TF_COUNT; f++) {
        for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
            ac__toolcall c[2] = {
                {.id = "abcDEF123", .name = names[i], .args = args[i]},
                {.id = "xyzXYZ789", .name = "get_time", .args = "{\"z\":0}"},
            };
            for (size_t n = 1; n <= 2; n++) {
                char *r = ac__toolrender((ac__toolfam)f, c, n, NULL);
                CU_ASSERT_PTR_NOT_NULL_FATAL(r);
                char want[2048];
                int carries_id = f == AC__TF_MISTRAL;
                int k = snprintf(want, sizeof want, "[[CALL %s %s %s]]",
                                 carries_id ? c[0].id : "call_1", c[0].name, c[0].args);
                if (n == 2)
                    snprintf(want + k, sizeof want - k, "[[CALL %s get_time {\"z\":0}]]",
                             carries_id ? c[1].id : "call_2");
                check_fam((ac__toolfam)f, r, want);
                /* And with text around it. */
                char framed[4096];
                snprintf(framed, sizeof framed, "Sure.\n\n%s\n\nDone.", r);
                char want2[4096];
                snprintf(want2, sizeof want2, "Sure.%s\n\nDone.", want);
                if (f != AC__TF_LLAMA3)     /* python_tag runs to the end */
                    check_fam((ac__toolfam)f, framed, want2);
                ac__free(r);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Cost                                                                */
/* ------------------------------------------------------------------ */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One byte per feed must not rescan what is held: 1 MiB of text and a
 * 1 MiB call, byte by byte, take about what they take whole.  The bound
 * is loose enough for valgrind; the times are printed. */
static void test_byte_at_a_time_is_linear(void)
{
    size_t n = 1u << 20;
    char *in = malloc(2 * n + 256);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    for (size_t i = 0; i < n; i++)
        in[i] = "ab <c [d {e\n  f`"[i % 16];
    size_t k = n;
    k += (size_t)sprintf(in + k, "<tool_call>{\"name\": \"write_file\", \"arguments\": "
                                 "{\"content\": \"");
    memset(in + k, 'x', n - 200);
    k += n - 200;
    k += (size_t)sprintf(in + k, "\"}}</tool_call>");
    for (int whole = 1; whole >= 0; whole--) {
        out o = {.fail_at = -1};
        ac__toolparser *p = ac__toolparse_new(AC__TF_AUTO, (const char *const *)KNOWN, N_KNOWN,
                                              2u << 20);
        double t0 = now();
        ac_status st = AC_OK;
        if (whole)
            st = ac__toolparse_feed(p, in, k, &CB, &o, NULL);
        for (size_t i = 0; !whole && i < k && !st; i++)
            st = ac__toolparse_feed(p, in + i, 1, &CB, &o, NULL);
        if (!st)
            st = ac__toolparse_finish(p, &CB, &o, NULL);
        double secs = now() - t0;
        fprintf(stderr, "  [%s: %.1f MiB in %.3f s] ", whole ? "whole" : "1-byte pieces",
                (double)k / (1 << 20), secs);
        CU_ASSERT_EQUAL(st, AC_OK);
        CU_ASSERT_EQUAL(ac__toolparse_calls(p), 1);
        CU_ASSERT_TRUE(o.len > n);
        CU_ASSERT_TRUE(secs < 20.0);
        ac__toolparse_free(p);
        free(o.s);
    }
    free(in);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    static const tu_test tests[] = {
        { "plain text passes through", test_plain_text },
        { "JSON answers stay text", test_json_answer_is_text },
        { "Hermes / Qwen <tool_call>", test_hermes },
        { "tags inside strings are data", test_strings_hide_tags },
        { "<|tool_call|> and functools", test_special_token },
        { "Llama 3 python_tag, bare JSON, <function=>", test_llama3 },
        { "Mistral [TOOL_CALLS] v3, v11, v13", test_mistral },
        { "Gemma tool_code, json fence, pythonic list", test_gemma },
        { "<function_call>, <functioncall>, Qwen3-Coder XML", test_function_call_tags },
        { "argument forms", test_arguments_forms },
        { "unknown tools are flagged", test_unknown_tool_flagged },
        { "garbage inside tags is reported", test_garbage_reported },
        { "unterminated calls are reported", test_unterminated_reported },
        { "families restrict syntaxes", test_family_restricts_syntaxes },
        { "family from model name", test_family_from_model },
        { "size limits", test_size_limit },
        { "sticky failure and API edges", test_sticky_failure_and_api },
        { "callback error stops", test_callback_error_stops },
        { "byte-at-a-time feeding is linear", test_byte_at_a_time_is_linear },
        { "every allocation failing in turn", test_alloc_failures },
        { "fuzz: any cut, no crash", test_fuzz },
        { "prompts and tool results", test_prompts },
        { "rendering", test_render_exact },
        { "render -> parse round trip, every family", test_round_trip },
    };
    if (TU_ADD_SUITE("toolparse", NULL, NULL, tests))
        return 2;
    int rc = tu_run_suites();
    fprintf(stderr, "%d replies checked at every cut\n", n_checked);
    return rc;
}
