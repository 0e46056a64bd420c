/*
 * settings.h -- one provider instance's settings.
 *
 * A settings object is the provider's block in the config file (a libconfig
 * group, possibly absent for a drop-in plugin) with an overlay of string
 * values on top (from ac_options), looked up overlay first.  Plugins read it
 * through the host table; the core reads its own keys (timeouts, retries,
 * limits) the same way.  Immutable once built, so safe to read from any
 * thread -- except the list of secrets, which grows (under its own lock)
 * as host->secret hands keys out, so that every key the instance uses is
 * scrubbed from every message its plugin produces (call.h).
 */
#ifndef AC_SETTINGS_H
#define AC_SETTINGS_H
#include <libconfig.h>
#include <pthread.h>
#include <abstractcore/provider.h>

struct ac_options {          /* also the public ac_options */
    char  **keys;
    char  **values;
    size_t  n;
};

struct ac_settings {
    char                   *name;     /* instance name */
    const config_setting_t *group;    /* may be NULL */
    const char             *file;     /* config file, may be NULL */
    ac_options              overlay;
    const ac_provider      *plugin;   /* its defaults (base_url, default_model); may be NULL */
    pthread_mutex_t         mu;       /* the secrets */
    char                  **secrets;
    size_t                  n_secrets;
};

/* A new settings object; group, overlay and plugin may be NULL (overlay
 * is copied; plugin must outlive the settings).  The secrets the settings
 * name (api_key, api_key_file's first line, api_key_env's value) are
 * known from the start. */
ac_settings *ac__settings_new(const char *name, const config_setting_t *group,
                              const char *file, const ac_options *overlay,
                              const ac_provider *plugin);
void         ac__settings_free(ac_settings *s);

int  ac__settings_string(const ac_settings *s, const char *key, const char **out);
int  ac__settings_int(const ac_settings *s, const char *key, long long *out);
/* An integer setting when it is one (1), else 0, reporting nothing: for
 * readers of values checked before (a wrong one keeps its default). */
int  ac__settings_int_quiet(const ac_settings *s, const char *key, long long *out);
int  ac__settings_bool(const ac_settings *s, const char *key, int *out);
int  ac__settings_double(const ac_settings *s, const char *key, double *out);
int  ac__settings_list_count(const ac_settings *s, const char *key);
const char *ac__settings_list_item(const ac_settings *s, const char *key, int i);
const char *ac__settings_name(const ac_settings *s);
int  ac__settings_type(const ac_settings *s, const char *key);
ac_status ac__settings_secret(const ac_settings *s, const char *default_env, char **key,
                              ac_call *call);
/* The secrets known so far (count, then each; borrowed, valid while the
 * settings are). */
size_t      ac__settings_secret_count(const ac_settings *s);
const char *ac__settings_secret_at(const ac_settings *s, size_t i);

/* "file:line" of a key in the config, or "" (static per thread). */
const char *ac__settings_where(const ac_settings *s, const char *key);

/* Copy an option set (NULL in -> empty).  0 ok, -1 no memory. */
int  ac__options_copy(ac_options *dst, const ac_options *src);
void ac__options_clear(ac_options *o);
#endif
