/*
 * toolparse_int.h -- what toolparse.c (text, output, the API) and
 * toolregion.c (scanning and deciding one call region) share.  Internal
 * to core/tools; see toolparse.h for the contract.
 */
#ifndef AC_TOOLPARSE_INT_H
#define AC_TOOLPARSE_INT_H
#include "toolparse.h"
#include "tooldecode.h"
#include "../buf.h"

#define TP_DEFAULT_MAX   ((size_t)1 << 20)
#define TP_WS_HOLD_MAX   1024     /* trailing white space held back at most */
#define TP_HEAD_MAX      300      /* Mistral / <function=> header bytes */
#define TP_MAX_SYNTAXES  16       /* entries of the syntax table, at most */
#define TP_PARTIAL_MIN   3        /* a held marker prefix this long at the
                                     end is reported, shorter is text */

enum { END_CLOSER, END_VALUE, END_HEAD_MISTRAL, END_HEAD_FUNCTION };

#define FAM(f) (1u << (f))
#define ALL_FAMS 0xffffffffu

/* One syntax.  open "" = a bare value opens the region itself. */
typedef struct sx {
    const char *name;        /* for messages */
    const char *open;
    const char *close[2];    /* CLOSER: closers; VALUE: optional trailers */
    unsigned char end;
    unsigned char weak;      /* not a call -> text; names must be known */
    unsigned char chain;     /* after a value: ';' or blank, then '{' again */
    unsigned char py;        /* the body may be Python calls */
    unsigned char value0;    /* VALUE: which first bytes may open the value:
                                1 '{', 2 '[', 4 identifier */
    unsigned fams;
} sx;

enum { PH_NONE, PH_SNIFF, PH_HEAD, PH_BODY, PH_VALUE, PH_AFTER };

struct ac__toolparser {
    const sx   *on[TP_MAX_SYNTAXES]; /* the enabled syntaxes with an opener */
    size_t      n_on;
    int         bare;            /* bare values recognised */
    char      **known;
    size_t      n_known;
    size_t      max_call;
    buf         in;              /* bytes not yet decided */
    /* text */
    int         bare_ok;         /* only white space since the start or a call */
    int         after_call;      /* dropping white space after a call */
    const sx   *chain;           /* a chain syntax's call just ended */
    int         text_out;        /* text was emitted */
    int         sep;             /* dropped white space: 0, 1 ' ', 2 '\n', 3 '\n\n' */
    size_t      run_nl;          /* the white space being dropped after a call, */
    int         run_any;         /* counted across pieces: newlines, any */
    int         head_gap;        /* HEAD: white space after the name */
    buf         ws_before;       /* white space before the open region */
    /* the open region (phase != PH_NONE) */
    const sx   *rx;
    int         phase;
    buf         raw;             /* the region's bytes, marker included */
    size_t      body_at;         /* where the body (or header) starts in raw */
    size_t      value_at;        /* VALUE: where the value starts, or SIZE_MAX */
    char       *head_name;       /* HEAD: name (and Mistral call id) */
    char       *head_id;
    int         depth, quote, esc, nostr, sniffed, plaus;
    /* totals */
    size_t      n_calls, n_bad, fed;
    ac_status   failed;
    int         finished;
};

static inline int tp_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* toolparse.c: output, in the reply's order. */
ac_status ac__tp_nomem(ac_error *err);
int       ac__tp_is_known(const ac__toolparser *p, const char *name);
void      ac__tp_region_clear(ac__toolparser *p);
ac_status ac__tp_emit_text(ac__toolparser *p, const char *s, size_t n,
                           const ac__toolparse_cb *cb, void *ctx, ac_error *err);
ac_status ac__tp_release_ws_before(ac__toolparser *p, const ac__toolparse_cb *cb, void *ctx,
                                   ac_error *err);
ac_status ac__tp_report_bad(ac__toolparser *p, ac__toolbad why, const char *raw, size_t n,
                            const ac__toolparse_cb *cb, void *ctx, ac_error *err);
ac_status ac__tp_emit_calls(ac__toolparser *p, tp_calls *calls, const ac__toolparse_cb *cb,
                            void *ctx, ac_error *err);

/* toolregion.c: advance the open region over p->in, consuming what it
 * takes; returns with the region settled (phase PH_NONE), waiting for
 * more bytes, or an error.  final: no more bytes will come. */
ac_status ac__tp_region_step(ac__toolparser *p, int final, const ac__toolparse_cb *cb,
                             void *ctx, ac_error *err);
#endif
