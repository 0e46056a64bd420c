/*
 * mock_waiter.h -- park suspended MHD connections until a deadline or
 * until their client goes away.
 *
 * libmicrohttpd's internal poll thread must never sleep in a callback (it
 * serves every connection), and returning 0 bytes from a content reader
 * makes it spin.  So a connection that has to wait (delay_ms,
 * first_byte_delay_ms, hang) is suspended with MHD_suspend_connection()
 * and parked here; one timer thread resumes it when its deadline passes
 * or when its socket reports that the peer hung up (EPOLLRDHUP) -- a
 * suspended connection is not polled by MHD, so without that watch a
 * cancelled client would only be noticed at the next write.
 */
#ifndef AC_MOCK_WAITER_H
#define AC_MOCK_WAITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;

#define MOCK_WAIT_FOREVER UINT64_MAX

/* One per request, embedded in it; zero it before first use.  The waiter
   owns it while `parked` is true. */
typedef struct mock_wait {
    struct MHD_Connection *conn;
    int fd;               /* client socket watched for hang-up, or -1 */
    uint64_t deadline_ms; /* mock_now_ms() time, or MOCK_WAIT_FOREVER */
    size_t heap_idx;
    bool parked;
    bool peer_gone;       /* set when the client left while parked */
} mock_wait;

typedef struct mock_waiter mock_waiter;

/* Milliseconds on the monotonic clock. */
uint64_t mock_now_ms(void);

/* Start the timer thread; NULL (and a message in err) on failure. */
mock_waiter *mock_waiter_start(char *err, size_t errlen);

/*
 * Park conn, which the caller (an MHD callback) has just suspended.
 * Returns 0 when parked: the waiter will call MHD_resume_connection()
 * exactly once.  Returns 1 when the waiter is stopping, -1 when out of
 * memory: then nothing was parked and the caller must resume conn itself.
 */
int mock_waiter_park(mock_waiter *w, mock_wait *e, struct MHD_Connection *conn, int fd,
                     uint64_t deadline_ms);

/* Stop the thread and resume every parked connection; later parks return
   1.  Call before MHD_stop_daemon(), which refuses suspended connections.
   Idempotent. */
void mock_waiter_stop(mock_waiter *w);

/* Free a stopped waiter; NULL is a no-op. */
void mock_waiter_free(mock_waiter *w);

#endif
