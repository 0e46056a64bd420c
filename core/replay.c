/*
 * replay.c -- recorded bytes through the engine's own decoding path (the
 * decoder, the chat kind, the sink, the one end of a request), with no
 * network.  See replay.h.
 */
#include "replay.h"
#include "alloc.h"
#include "chat.h"
#include "decoder.h"
#include "error.h"
#include <abstractcore/testkit.h>

#include <string.h>

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
    if (framing != AC_FRAMING_NONE && !llm->vt->parse_event) {
        ac__error_set(err, AC_EUNSUPPORTED, AC_STAGE_REQUEST, "the plugin cannot parse streams");
        ac__error_set_provider(err, llm->inst->name);
        return AC_EUNSUPPORTED;
    }
    /* The caller's on_event only: on_done is the caller's own business. */
    ac_callbacks events = {.version = AC_CALLBACKS_VERSION, .on_event = cb ? cb->on_event : NULL};
    ac_request *q = ac__chat_new(llm, NULL, &events, user);
    if (!q) {
        ac__error_set(err, AC_ENOMEM, AC_STAGE_NONE, "out of memory");
        return AC_ENOMEM;
    }
    q->stream = framing != AC_FRAMING_NONE;
    int outer = !ac__in_engine_context();
    if (outer)
        ac__enter_engine_context();
    decoder d;
    ac__decoder_init(&d, q, framing);
    ac__decoder_begin(&d, http_status, NULL);
    size_t step = piece ? piece : (len ? len : 1);
    for (size_t off = 0; off < len; off += step)
        if (ac__decoder_feed(&d, bytes + off, len - off < step ? len - off : step) != AC_OK)
            break;
    ac_error e;
    ac_status st = ac__decoder_finish(&d, &e);
    ac__decoder_free(&d);
    ac__request_ref(q); /* the reference the end lets go of, as the engine's */
    ac__request_finish(q, st, st == AC_OK ? NULL : &e);
    if (outer)
        ac__leave_engine_context();
    st = ac_request_status(q, err);
    if (out)
        *out = ac_request_take_response(q);
    ac__request_unref(q);
    return st;
}

/* The test kit's public face (<abstractcore/testkit.h>). */
ac_status ac_replay(ac_llm *llm, ac_framing framing, int http_status, const char *bytes,
                    size_t len, size_t piece, const ac_callbacks *cb, void *user,
                    ac_response **out, ac_error *err)
{
    if (ac__in_engine_context()) {
        if (out)
            *out = NULL;
        ac__error_set(err, AC_EBUSY, AC_STAGE_REQUEST, "ac_replay called from a callback");
        return AC_EBUSY;
    }
    return ac__replay_bytes(llm, framing, http_status, bytes, len, piece, cb, user, out, err);
}
