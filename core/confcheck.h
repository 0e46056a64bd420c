/*
 * confcheck.h -- strict configuration: every key of the file and of
 * ac_options checked against the keys the core knows (keys.h) and those
 * the provider's plugin declares (ac_provider.settings).
 *
 * An unknown key is an error naming file, line and the nearest known key
 * ("did you mean base_url?"); so is a value of the wrong type, out of
 * range, or a file that cannot be read.  Where an error goes is the
 * caller's business: core.c fails ac_core_open for the top level, the
 * abstractcore and the engine groups, and makes one provider unavailable
 * for an error in its group; ac_core_check_config lists them all.  A
 * plugin that does not declare its settings (NULL, every ABI 2.0 plugin)
 * turns an unknown key of its groups into a warning.
 *
 * A problems list belongs to one thread; nothing here keeps state.
 */
#ifndef AC_CONFCHECK_H
#define AC_CONFCHECK_H
#include <libconfig.h>
#include "plugin.h"

typedef struct problem {
    char *where;    /* "FILE:LINE", or "" */
    char *text;     /* what is wrong, one line */
    int   warning;  /* 1: a warning, 0: an error */
} problem;

typedef struct problems {
    int         collect;  /* keep every problem in items (else only count) */
    plugin_set *notes;    /* when set, warnings also go to this plugin report */
    problem    *items;
    size_t      n;
    size_t      errors;   /* errors seen (kept or not) */
    ac_error    first;    /* the first error: AC_ECONFIG, "FILE:LINE: text" */
    int         nomem;    /* a problem could not be kept */
} problems;

void ac__problems_free(problems *p);
/* Record a problem (where may be ""). */
void ac__problem(problems *p, int warning, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "FILE:LINE" of a setting, FILE being the file it came from (an
 * @include'd one) or `file`.  Static per thread. */
const char *ac__config_where(const config_setting_t *s, const char *file);

/* The top level, `abstractcore` and `abstractcore.engine`: unknown keys
 * and values.  file: the config file's name. */
void ac__confcheck_core(const config_t *cfg, const char *file, problems *p);
/* One provider group named `name`, whose plugin is vt (NULL when it was
 * not found: then only the core's keys are checked). */
void ac__confcheck_provider(const config_setting_t *g, const char *file, const char *name,
                            const ac_provider *vt, problems *p);
/*
 * The options of ac_llm_create for the provider `name` (plugin vt): an
 * option that is not a core key or one the plugin declares, or a value
 * that does not fit its key, fails with AC_ECONFIG naming it (and the
 * nearest key).  An option unknown to the core for a plugin that does not
 * declare its settings is logged as a warning and passed on.
 */
ac_status ac__confcheck_options(const ac_options *o, const char *name, const ac_provider *vt,
                                ac_error *err);
/* The options of ac_core_open_ex: "default_provider" and "engine.KEY". */
ac_status ac__confcheck_core_options(const ac_options *o, ac_error *err);
#endif
