/*
 * ratelimit.c -- token buckets per provider instance (see ratelimit.h).
 */
#include "ratelimit.h"
#include "request.h"

void ac__ratelimit_init(ratelimit *r, long rpm, long tpm)
{
    r->rpm = rpm > 0 ? rpm : 0;
    r->tpm = tpm > 0 ? tpm : 0;
    r->req = (double)r->rpm;
    r->tok = (double)r->tpm;
    r->last = 0;
    r->head = r->tail = NULL;
}

int ac__ratelimit_on(const ratelimit *r) { return r->rpm > 0 || r->tpm > 0; }

static void refill(ratelimit *r, double now)
{
    if (r->last > 0 && now > r->last) {
        double minutes = (now - r->last) / 60000.0;
        if (r->rpm) {
            r->req += minutes * (double)r->rpm;
            if (r->req > (double)r->rpm)
                r->req = (double)r->rpm;
        }
        if (r->tpm) {
            r->tok += minutes * (double)r->tpm;
            if (r->tok > (double)r->tpm)
                r->tok = (double)r->tpm;
        }
    }
    r->last = now;
}

static void enqueue(ratelimit *r, ac_request *q)
{
    if (q->rl_waiting)
        return;
    q->rl_waiting = 1;
    q->rl_next = NULL;
    if (r->tail)
        r->tail->rl_next = q;
    else
        r->head = q;
    r->tail = q;
}

void ac__ratelimit_forget(ratelimit *r, ac_request *q)
{
    if (!q->rl_waiting)
        return;
    ac_request **pp = &r->head, *prev = NULL;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->rl_next;
    }
    if (*pp) {
        *pp = q->rl_next;
        if (r->tail == q)
            r->tail = prev;
    }
    q->rl_waiting = 0;
    q->rl_next = NULL;
}

/* How long until the buckets allow one more try, in ms. */
static double wait_ms(const ratelimit *r)
{
    double w = 0;
    if (r->rpm && r->req < 1.0)
        w = (1.0 - r->req) * 60000.0 / (double)r->rpm;
    if (r->tpm && r->tok <= 0) {
        /* Until it is positive again (plus a token's worth). */
        double t = (1.0 - r->tok) * 60000.0 / (double)r->tpm;
        if (t > w)
            w = t;
    }
    return w < 1 ? 1 : w;
}

int ac__ratelimit_take(ratelimit *r, ac_request *q, double now, double *due)
{
    refill(r, now);
    /* In order: only the first in line may go. */
    int first = !r->head || r->head == q;
    int room = (!r->rpm || r->req >= 1.0) && (!r->tpm || r->tok > 0);
    if (first && room) {
        if (r->rpm)
            r->req -= 1.0;
        ac__ratelimit_forget(r, q);
        return 1;
    }
    enqueue(r, q);
    *due = now + wait_ms(r);
    return 0;
}

void ac__ratelimit_used(ratelimit *r, long tokens)
{
    if (r->tpm && tokens > 0) {
        refill(r, r->last > 0 ? r->last : 0);
        r->tok -= (double)tokens;
    }
}
