/*
 * errors.c -- what an ac_error tells, and how a program acts on it.
 *
 * Every failure comes with a status code, the stage it happened at, the
 * provider, the HTTP status, whether a retry may help (and when), and a
 * message for a person that never contains an API key.  Programs branch on
 * the code and the numbers, never on the message text.  This one prints
 * all of it on one line, with a hint chosen from the code.
 *
 * Usage: ./errors [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]
 *   (-c, -p, -m as in sync.c)
 * Build: cc -o errors errors.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 when the request failed, 2 for a bad
 * command line, 3 when the configuration or the provider is wrong (the
 * same statuses as the acore program).
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: errors [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]\n";

/* What a person can do about it, chosen by code (and HTTP status). */
static const char *hint(const ac_error *err)
{
    switch (err->code) {
    case AC_ECONFIG:
    case AC_ENOPROVIDER:  return "fix the configuration file or the environment";
    case AC_EPLUGIN:      return "`acore plugins` tells why the plugin was refused";
    case AC_ECONNECT:
    case AC_ETLS:         return "is the server running, is base_url right?";
    case AC_ETIMEDOUT:    return "raise the timeout that fired";
    case AC_EFRAMING:
    case AC_EJSON:
    case AC_EPROTOCOL:    return "the server sent something malformed or cut the reply";
    case AC_EHTTP:
        if (err->http_status == 401 || err->http_status == 403)
            return "check the API key (api_key or api_key_env)";
        if (err->http_status == 404)
            return "check the model name and base_url";
        if (err->http_status == 429)
            return "rate limited: slow down";
        if (err->http_status >= 500)
            return "the server failed: try again later";
        return "the server refused the request";
    default:              return "see ac_strerror";
    }
}

/* All of an ac_error on one line, e.g.
 * "errors: ac_generate: mock: http: <message> (AC_EHTTP: ...; HTTP 401;
 *  not retryable) -- check the API key (api_key or api_key_env)". */
static void report(const char *what, const ac_error *err)
{
    char http[32] = "", retry[64] = "not retryable";

    if (err->http_status)
        snprintf(http, sizeof http, "; HTTP %d", err->http_status);
    if (err->retryable && err->retry_after_ms >= 0)
        snprintf(retry, sizeof retry, "retryable after %ld ms", err->retry_after_ms);
    else if (err->retryable)
        snprintf(retry, sizeof retry, "retryable");
    fprintf(stderr, "errors: %s: %s%s%s: %s (%s%s; %s) -- %s\n", what,
            err->provider, err->provider[0] ? ": " : "", ac_stage_name(err->stage),
            err->message, ac_strerror(err->code), http, retry, hint(err));
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "Hello";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_response *r = NULL;
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

    if (ac_core_open(&core, config, &err) != AC_OK) {
        report("ac_core_open", &err);   /* AC_ECONFIG: names file and line */
        rc = 3;
        goto done;
    }
    llm = ac_llm_create(core, provider, model, NULL, &err);
    if (!llm) {
        /* AC_ENOPROVIDER, AC_EPLUGIN, AC_ECONFIG (e.g. key variable unset) */
        report("ac_llm_create", &err);
        rc = 3;
        goto done;
    }
    /* The core has already retried what was retryable (max_retries), so a
     * failure here is final for this run. */
    r = ac_generate(llm, prompt, NULL, &err);
    if (!r) {
        report("ac_generate", &err);
        rc = 1;
        goto done;
    }
    printf("%s\n", ac_response_content(r));
    rc = 0;
done:
    ac_response_free(r);
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
