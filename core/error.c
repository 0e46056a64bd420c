/*
 * error.c -- status names, stage names, and error formatting.
 */
#include "error.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[AC_STATUS_LAST] = {
    [AC_OK]           = "AC_OK: success",
    [AC_EINVAL]       = "AC_EINVAL: invalid argument",
    [AC_ENOMEM]       = "AC_ENOMEM: out of memory",
    [AC_ECONFIG]      = "AC_ECONFIG: configuration error",
    [AC_EPLUGIN]      = "AC_EPLUGIN: plugin error",
    [AC_ENOPROVIDER]  = "AC_ENOPROVIDER: no such provider",
    [AC_EUNSUPPORTED] = "AC_EUNSUPPORTED: not supported by the provider",
    [AC_ECONNECT]     = "AC_ECONNECT: could not connect",
    [AC_ETLS]         = "AC_ETLS: TLS failure",
    [AC_EHTTP]        = "AC_EHTTP: HTTP error status",
    [AC_EFRAMING]     = "AC_EFRAMING: malformed stream framing",
    [AC_EJSON]        = "AC_EJSON: malformed JSON or UTF-8",
    [AC_EPROTOCOL]    = "AC_EPROTOCOL: protocol error",
    [AC_ETOOBIG]      = "AC_ETOOBIG: response too large",
    [AC_ETIMEDOUT]    = "AC_ETIMEDOUT: timed out",
    [AC_ECANCELED]    = "AC_ECANCELED: cancelled",
    [AC_EIO]          = "AC_EIO: file I/O error",
    [AC_EBUSY]        = "AC_EBUSY: a blocking call where it cannot block (a callback, or a core in host mode)",
    [AC_EPENDING]     = "AC_EPENDING: request still running",
    [AC_EOF]          = "AC_EOF: end of stream",
    [AC_EAGAIN]       = "AC_EAGAIN: nothing yet, try again",
    [AC_ESCHEMA]      = "AC_ESCHEMA: the reply did not match the JSON Schema",
    [AC_ELIMIT]       = "AC_ELIMIT: a limit set by the caller was reached",
    [AC_ECIRCUIT]     = "AC_ECIRCUIT: circuit open: the backend rests after failing",
};

static const char *const stage_names[AC_STAGE_LAST] = {
    [AC_STAGE_NONE] = "none",         [AC_STAGE_CONFIG] = "config",
    [AC_STAGE_PLUGIN] = "plugin",     [AC_STAGE_REQUEST] = "request",
    [AC_STAGE_CONNECT] = "connect",   [AC_STAGE_TLS] = "tls",
    [AC_STAGE_HTTP] = "http",         [AC_STAGE_FRAMING] = "framing",
    [AC_STAGE_JSON] = "json",         [AC_STAGE_PROTOCOL] = "protocol",
    [AC_STAGE_TIMEOUT] = "timeout",   [AC_STAGE_CANCELLED] = "cancelled",
    [AC_STAGE_IO] = "io",
};

const char *ac_strerror(ac_status code)
{
    if ((int)code < 0 || code >= AC_STATUS_LAST || !status_names[code])
        return "unknown status code";
    return status_names[code];
}

const char *ac_stage_name(ac_stage stage)
{
    if ((int)stage < 0 || stage >= AC_STAGE_LAST || !stage_names[stage])
        return "unknown";
    return stage_names[stage];
}

const char *ac_version(void) { return AC_VERSION_STRING; }

void ac_error_clear(ac_error *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->retry_after_ms = -1;
}

void ac__error_vset(ac_error *err, ac_status code, ac_stage stage,
                const char *fmt, va_list ap)
{
    if (!err)
        return;
    /* Every field from scratch: callers hand in uninitialised structs, and
     * the header promises a report "filled in completely" (a provider name
     * kept from before would be whatever was on their stack).  Set the
     * provider after this, with ac__error_set_provider. */
    ac_error_clear(err);
    err->code = code;
    err->stage = stage;
    vsnprintf(err->message, sizeof err->message, fmt ? fmt : "", ap);
    /* One line for a person: a server's message may hold newlines. */
    for (char *p = err->message; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

void ac__error_set(ac_error *err, ac_status code, ac_stage stage,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ac__error_vset(err, code, stage, fmt, ap);
    va_end(ap);
}

void ac__error_set_provider(ac_error *err, const char *provider)
{
    if (!err)
        return;
    snprintf(err->provider, sizeof err->provider, "%s", provider ? provider : "");
}

void ac__error_prefix(ac_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char line[AC_ERROR_MESSAGE_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, AC_ERROR_MESSAGE_MAX, fmt, ap);
    va_end(ap);
    size_t off = n < 0 ? 0 : (size_t)n >= AC_ERROR_MESSAGE_MAX ? AC_ERROR_MESSAGE_MAX - 1 : (size_t)n;
    memcpy(line + off, ": ", 3);
    size_t mlen = strnlen(err->message, sizeof err->message - 1);
    memcpy(line + off + 2, err->message, mlen);
    line[off + 2 + mlen] = '\0';
    size_t keep = strlen(line);
    if (keep >= sizeof err->message)
        keep = sizeof err->message - 1;
    memcpy(err->message, line, keep);
    err->message[keep] = '\0';
}

const char *ac_event_type_name(ac_event_type type)
{
    switch (type) {
    case AC_EVENT_TEXT: return "text";
    case AC_EVENT_REASONING: return "reasoning";
    case AC_EVENT_TOOL_CALL_START: return "tool_call_start";
    case AC_EVENT_TOOL_CALL_DELTA: return "tool_call_delta";
    case AC_EVENT_TOOL_CALL_END: return "tool_call_end";
    case AC_EVENT_USAGE: return "usage";
    case AC_EVENT_FINISH: return "finish";
    case AC_EVENT_ERROR: return "error";
    case AC_EVENT_RESTART: return "restart";
    }
    return "unknown";
}
