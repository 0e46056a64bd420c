/*
 * stream.c -- pull-style streaming, for programs that prefer a loop to
 * callbacks.
 *
 * ac_stream_next hands out one typed event at a time on the caller's own
 * thread, with a timeout, so the loop can do other things between events
 * (acore polls a Ctrl-C flag this way).  A reader slower than the server
 * pauses the transfer (flow control) instead of buffering without bound.
 *
 * Usage: ./stream [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]
 *   (-c, -p, -m as in sync.c)
 * Build: cc -o stream stream.c $(pkg-config --cflags --libs abstractcore)
 * Exit status: 0 on success, 1 on any failure (one line on stderr, after
 * the text that arrived), 2 for a bad command line.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt() from <unistd.h> */
#include <stdio.h>
#include <unistd.h>
#include <abstractcore/abstractcore.h>

static const char usage[] = "usage: stream [-c CONFIG] [-p PROVIDER] [-m MODEL] [PROMPT]\n";

static void print_error(const ac_error *err)
{
    fprintf(stderr, "stream: %s%s%s: %s\n", err->provider, err->provider[0] ? ": " : "",
            ac_stage_name(err->stage), err->message);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *provider = NULL, *model = NULL;
    const char *prompt = "Tell me a short story.";
    ac_core *core = NULL;
    ac_llm *llm = NULL;
    ac_stream *s = NULL;
    const ac_chunk *c;
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
    if (!(s = ac_stream_open(llm, prompt, NULL, &err)))
        goto fail;

    /* Each event is valid until the next ac_stream_next or ac_stream_close. */
    while ((st = ac_stream_next(s, &c, 30000)) == AC_OK) {
        switch (c->type) {
        case AC_EVENT_TEXT:
            fwrite(c->text, 1, c->len, stdout);
            fflush(stdout);
            break;
        case AC_EVENT_REASONING:      /* "thinking" text, kept off stdout */
            fwrite(c->data, 1, c->data_len, stderr);
            break;
        case AC_EVENT_FINISH:
            fprintf(stderr, "[finish: %s]\n", c->finish_reason);
            break;
        default:
            break;                    /* usage, tool calls, error */
        }
    }
    putchar('\n');                    /* end the text, whatever happened */
    if (st == AC_EAGAIN) {
        /* Nothing for 30 s.  The stream would go on; this program gives up
         * (ac_stream_close below cancels the request). */
        fputs("stream: nothing arrived for 30 s; giving up\n", stderr);
        goto done;
    }
    if (st != AC_EOF) {               /* the request failed */
        ac_request_status(ac_stream_request(s), &err);
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    print_error(&err);
done:
    ac_stream_close(s);               /* cancels the request if still running */
    ac_llm_free(llm);
    ac_core_close(core);
    return rc;
}
