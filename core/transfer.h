/*
 * transfer.h -- one HTTP attempt of a request: its libcurl easy handle,
 * its decoder, and the clocks the engine's timers read.
 *
 * Engine context only.  The engine adds the easy handle to its multi
 * handle, and when libcurl reports the transfer done, asks transfer_result
 * what came of it.
 */
#ifndef AC_TRANSFER_H
#define AC_TRANSFER_H
#include <curl/curl.h>
#include "decoder.h"

typedef struct transfer {
    ac_request *q;
    CURL       *easy;
    decoder     dec;
    int         got_first_byte;
    double      t_begin;        /* the attempt started, ms */
    double      t_last_byte;    /* last body byte, ms */
    char        errbuf[CURL_ERROR_SIZE]; /* libcurl's detail of a failure */
} transfer;

/* A new attempt for q (its http request built), with `total_ms` left of
 * its total timeout (0: none).  NULL with err filled on no memory. */
transfer *ac__transfer_new(ac_request *q, long total_ms, ac_error *err);
void      ac__transfer_free(transfer *t);
/*
 * libcurl finished the transfer with rc.  AC_OK: the kind has the whole
 * response.  Otherwise err is filled and classified: connection errors,
 * TLS, timeouts, HTTP errors, decoding failures; err->retryable says
 * whether another attempt may help.
 */
ac_status ac__transfer_result(transfer *t, CURLcode rc, ac_error *err);
#endif
