/*
 * structured.c -- ask for data in a JSON Schema and get data that matches
 * it.
 *
 * ac_gen_params_set_json_schema compiles the schema (a keyword the
 * validator does not implement is refused there, by name).  The reply is
 * validated before the request ends; one that is not JSON or does not
 * match is sent back to the model with the errors, up to the provider's
 * schema_attempts (3 by default).  The validated document comes back as
 * text and as a json-c value; when no reply matched, the request fails
 * with AC_ESCHEMA and the response keeps the last reply and its errors.
 *
 * Usage: ./structured [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]
 *   (-c, -p, -m as in sync.c)
 * Build: cc -o structured structured.c \
 *          $(pkg-config --cflags --libs abstractcore json-c)
 * Exit status: 0 on success, 1 on any failure (one line on stderr), 2 for
 * a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <json-c/json.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: structured [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]\n";

/* What we want back: a scientist, with a year of birth that makes sense. */
static const char scientist_schema[] =
    "{\"type\": \"object\","
    " \"properties\": {"
    "   \"name\":  {\"type\": \"string\", \"minLength\": 1},"
    "   \"born\":  {\"type\": \"integer\", \"minimum\": 1000, \"maximum\": 2100},"
    "   \"field\": {\"enum\": [\"physics\", \"chemistry\", \"biology\", \"mathematics\"]}"
    " },"
    " \"required\": [\"name\", \"born\", \"field\"],"
    " \"additionalProperties\": false}";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "structured: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "Name one famous scientist.";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_gen_params *params = NULL;
    ac_request *q = NULL;
    const ac_response *r;
    json_object *doc, *name = NULL, *born = NULL;
    ac_status st;
    ac_error err;
    int opt, rc = 1;

    opterr = 0;
    while ((opt = getopt(argc, argv, "c:p:m:")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': provider = optarg; break;
        case 'm': model = optarg; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc)
        prompt = argv[optind++];
    if (optind < argc) {
        fputs(usage, stderr);
        return 2;
    }

    if (ac_core_open(&core, config, &err) != AC_OK)
        goto fail;
    if (!(llm = ac_llm_create(core, provider, model, NULL, &err)))
        goto fail;
    if (!(params = ac_gen_params_new())) {
        fputs("structured: out of memory\n", stderr);
        goto done;
    }
    /* Refused here, with the keyword named, if the validator cannot hold
     * the model to it. */
    if (ac_gen_params_set_json_schema(params, "scientist", scientist_schema, &err) != AC_OK)
        goto fail;

    /* The async form keeps the last reply when no reply matched. */
    if (!(q = ac_agenerate(llm, prompt, params, NULL, NULL, &err)))
        goto fail;
    ac_request_wait(q, -1);
    r = ac_request_response(q);
    st = ac_request_status(q, &err);
    if (st == AC_ESCHEMA) {
        print_error(&err);
        fprintf(stderr, "structured: the last reply was: %s\n", ac_response_content(r));
        fprintf(stderr, "structured: its errors:\n%s\n", ac_response_schema_errors(r));
        goto done;
    }
    if (st != AC_OK)
        goto fail;

    /* The document as text, and as a json-c value to read fields from. */
    doc = ac_response_json(r);
    json_object_object_get_ex(doc, "name", &name);
    json_object_object_get_ex(doc, "born", &born);
    printf("%s\n", ac_response_json_text(r));
    printf("%s, born %d\n", json_object_get_string(name), json_object_get_int(born));
    fprintf(stderr, "[%d attempt%s]\n", ac_response_rounds(r),
            ac_response_rounds(r) == 1 ? "" : "s");
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_request_free(q);
    ac_gen_params_free(params);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
