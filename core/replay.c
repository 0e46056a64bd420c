/*
 * replay.c -- recorded bytes through framing, plugin and sink, with no
 * network.  See replay.h.  The steps mirror engine.c's transfer_done.
 */
#include "replay.h"
#include "alloc.h"
#include "core.h"
#include "error.h"
#include "framing.h"
#include "sink.h"

#include <string.h>

typedef struct replay_ctx {
    ac_llm             *llm;
    ac_sink            *sink;
    const ac_callbacks *cb;
    void               *user;
} replay_ctx;

static void replay_event(void *ctx, const ac_chunk *c)
{
    replay_ctx *r = ctx;
    if (r->cb && r->cb->on_event)
        r->cb->on_event(NULL, c, r->user);
}

static ac_status replay_frame(void *ctx, const ac_frame *f, ac_error *err)
{
    replay_ctx *r = ctx;
    return r->llm->vt->parse_event(r->llm->state, f, r->sink, err);
}

ac_status ac__replay_bytes(ac_llm *llm, ac_framing framing, int http_status,
                       const char *bytes, size_t len, size_t piece,
                       const ac_callbacks *cb, void *user,
                       ac_response **out, ac_error *err)
{
    ac_error local;
    if (!err)
        err = &local;
    ac_error_clear(err);
    if (out)
        *out = NULL;
    if (!llm || (!bytes && len)) {
        ac__error_set(err, AC_EINVAL, AC_STAGE_NONE, "NULL argument");
        return AC_EINVAL;
    }
    ac__error_set_provider(err, llm->inst->name);
    ac_response *resp = ac__response_new(llm->inst->name, llm->model, llm->lim.max_response_bytes);
    if (!resp) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_NONE, "out of memory");
        return AC_ENOMEM;
    }
    ac_sink sink;
    replay_ctx ctx = {llm, &sink, cb, user};
    ac__sink_init(&sink, resp, llm->vt, llm->state, replay_event, &ctx);
    ac_status st = AC_OK;
    const ac_provider *vt = llm->vt;

    if (http_status < 200 || http_status > 299) {
        ac__error_set(err, AC_EHTTP, AC_STAGE_HTTP, "HTTP %d", http_status);
        err->http_status = http_status;
        err->retryable = http_status == 408 || http_status == 409 || http_status == 429 ||
                         http_status >= 500;
        if (vt->parse_error)
            vt->parse_error(llm->state, http_status, bytes ? bytes : "", len, err);
        err->code = err->code == AC_OK ? AC_EHTTP : err->code;
        err->http_status = http_status;
        st = err->code;
    } else if (framing == AC_FRAMING_NONE) {
        st = vt->parse_response(llm->state, http_status, bytes ? bytes : "", len, &sink, err);
        if (st == AC_OK)
            st = ac__sink_finalize(&sink, 0, err);
    } else if (!vt->parse_event) {
        st = AC_EUNSUPPORTED;
        ac__error_set(err, st, AC_STAGE_REQUEST, "the plugin cannot parse streams");
    } else {
        framer *fr = ac__framer_new(framing, llm->lim.max_response_bytes);
        if (!fr) {
            st = AC_ENOMEM;
        } else {
            size_t step = piece ? piece : (len ? len : 1);
            for (size_t off = 0; off < len && st == AC_OK; off += step)
                st = ac__framer_feed(fr, bytes + off, len - off < step ? len - off : step,
                                 replay_frame, &ctx, err);
            if (st == AC_OK)
                st = ac__framer_finish(fr, replay_frame, &ctx, err);
            ac__framer_free(fr);
            if (st == AC_OK)
                st = ac__sink_finalize(&sink, 1, err);
        }
    }
    if (st != AC_OK) {
        if (err->code == AC_OK)
            ac__error_set(err, st, AC_STAGE_PROTOCOL, "%s", ac_strerror(st));
        err->code = st;
        ac__error_set_provider(err, llm->inst->name); /* ac__error_set cleared it */
        ac__sink_fail(&sink, err);
    }
    ac__sink_cleanup(&sink);
    if (out)
        *out = resp;
    else
        ac_response_free(resp);
    return st;
}
