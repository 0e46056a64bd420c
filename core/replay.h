/*
 * replay.h -- feed recorded response bytes through a provider's parser
 * on the engine's own decoding path (decoder.h: status, framing, plugin,
 * accumulation, the end of a request), without a network.  For parser
 * tests and for debugging a plugin against a capture.
 */
#ifndef AC_REPLAY_H
#define AC_REPLAY_H
#include <abstractcore/provider.h>

/*
 * Parse `bytes` as the response of one request on llm.
 *   framing: AC_FRAMING_NONE (one body -> parse_response, or parse_error
 *            when http_status is not 2xx), AC_FRAMING_SSE or _NDJSON.
 *   piece:   feed the bytes in pieces of this many bytes (0: all at once),
 *            to exercise events split across reads.
 *   cb:      may be NULL; on_event sees every event as a caller would
 *            (q is a request that lives only during the call); on_done
 *            is not called.
 * Returns the outcome a caller of ac_generate would see: AC_OK, or the
 * error (filled in err).  *out always receives the response built so far
 * (possibly partial; free with ac_response_free) unless out of memory.
 */
ac_status ac__replay_bytes(ac_llm *llm, ac_framing framing, int http_status,
                       const char *bytes, size_t len, size_t piece,
                       const ac_callbacks *cb, void *user,
                       ac_response **out, ac_error *err);
#endif
