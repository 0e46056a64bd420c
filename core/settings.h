/*
 * settings.h -- one provider instance's settings.
 *
 * A settings object is the provider's block in the config file (a libconfig
 * group, possibly absent for a drop-in plugin) with an overlay of string
 * values on top (from ac_options), looked up overlay first.  Plugins read it
 * through the host table; the core reads its own keys (timeouts, retries,
 * limits) the same way.  Immutable once built, so safe to read from any
 * thread.
 */
#ifndef AC_SETTINGS_H
#define AC_SETTINGS_H
#include <libconfig.h>
#include <abstractcore/provider.h>

struct ac_options {          /* also the public ac_options */
    char  **keys;
    char  **values;
    size_t  n;
};

struct ac_settings {
    char                   *name;   /* instance name */
    const config_setting_t *group;  /* may be NULL */
    const char             *file;   /* config file, may be NULL */
    ac_options              overlay;
};

/* A new settings object; group may be NULL, overlay may be NULL (copied). */
ac_settings *ac__settings_new(const char *name, const config_setting_t *group,
                          const char *file, const ac_options *overlay);
void         ac__settings_free(ac_settings *s);

int  ac__settings_string(const ac_settings *s, const char *key, const char **out);
int  ac__settings_int(const ac_settings *s, const char *key, long long *out);
int  ac__settings_bool(const ac_settings *s, const char *key, int *out);
int  ac__settings_double(const ac_settings *s, const char *key, double *out);
int  ac__settings_list_count(const ac_settings *s, const char *key);
const char *ac__settings_list_item(const ac_settings *s, const char *key, int i);
const char *ac__settings_name(const ac_settings *s);
int  ac__settings_type(const ac_settings *s, const char *key);
char *ac__settings_secret(const ac_settings *s, const char *default_env, ac_error *err);

/* "file:line" of a key in the config, or "" (static per thread). */
const char *ac__settings_where(const ac_settings *s, const char *key);

/* Copy an option set (NULL in -> empty).  0 ok, -1 no memory. */
int  ac__options_copy(ac_options *dst, const ac_options *src);
void ac__options_clear(ac_options *o);
#endif
