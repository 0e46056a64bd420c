/*
 * loop_glib.c -- drive AbstractCore from a GLib main loop (host mode).
 *
 * The adapter is a GSource: prepare() asks the core for its timeout,
 * check() looks at the backend fd, dispatch() runs ac_core_run_once.  Add
 * it to any GMainContext (a GTK program's default one included) and the
 * core's callbacks run on that context's thread.  What the demo does is
 * in loop_demo.h.
 *
 * Usage: ./loop_glib [-c CONFIG] [-p PROVIDER] [-m MODEL] [-n N]
 *                    [-w SLOW_MODEL -t TIMEOUT_MS]
 * Build: cc -o loop_glib loop_glib.c $(pkg-config --cflags --libs abstractcore glib-2.0)
 */
#include "loop_demo.h"
#include <glib.h>

/* ---- the adapter ---- */

typedef struct AcSource {
    GSource  source;
    ac_core *core;
    gpointer fd_tag;
} AcSource;

static gboolean ac_source_prepare(GSource *s, gint *timeout)
{
    *timeout = ac_core_backend_timeout(((AcSource *)s)->core);
    return *timeout == 0;
}

static gboolean ac_source_check(GSource *s)
{
    AcSource *a = (AcSource *)s;
    return (g_source_query_unix_fd(s, a->fd_tag) & G_IO_IN) ||
           ac_core_backend_timeout(a->core) == 0;
}

static gboolean ac_source_dispatch(GSource *s, GSourceFunc callback, gpointer data)
{
    ac_core_run_once(((AcSource *)s)->core);
    return callback ? callback(data) : G_SOURCE_CONTINUE;
}

static GSourceFuncs ac_source_funcs = {
    ac_source_prepare, ac_source_check, ac_source_dispatch, NULL, NULL, NULL
};

/* A source that drives core; attach it to a context.  The callback (may
 * be NULL) runs after every round. */
static GSource *ac_source_new(ac_core *core)
{
    GSource *s = g_source_new(&ac_source_funcs, sizeof(AcSource));
    ((AcSource *)s)->core = core;
    ((AcSource *)s)->fd_tag = g_source_add_unix_fd(s, ac_core_backend_fd(core), G_IO_IN);
    return s;
}

/* ---- the demo ---- */

typedef struct glib_demo {
    demo      *d;
    GMainLoop *loop;
} glib_demo;

static gboolean stop_when_done(gpointer data)
{
    glib_demo *g = data;
    if (!demo_all_done(g->d))
        return G_SOURCE_CONTINUE;
    g_main_loop_quit(g->loop);
    return G_SOURCE_CONTINUE;   /* main() destroys the source */
}

int main(int argc, char **argv)
{
    demo d;
    int rc = demo_open(&d, argc, argv, "loop_glib");
    if (rc == 0) {
        glib_demo g;
        GSource *src = ac_source_new(d.core);
        g.d = &d;
        g.loop = g_main_loop_new(NULL, FALSE);
        g_source_set_callback(src, stop_when_done, &g, NULL);
        g_source_attach(src, NULL);
        if ((rc = demo_start(&d)) == 0)
            g_main_loop_run(g.loop);
        g_source_destroy(src);
        g_source_unref(src);
        g_main_loop_unref(g.loop);
    }
    return demo_close(&d, rc);
}
