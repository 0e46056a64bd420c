/*
 * mock_keys.h -- one script setting, read, checked and applied to a
 * scenario (mock_keys.c), for the script loader (mock_script.c).
 *
 * Every key the mock server knows is in one table in mock_keys.c with
 * its type and range, so a typo or a value out of range is an error that
 * names the line when the script is loaded.  Not thread-safe, nor meant
 * to be: scripts are loaded once, before the server starts.
 */
#ifndef AC_MOCK_KEYS_H
#define AC_MOCK_KEYS_H

#include <libconfig.h>
#include <stddef.h>

#include "mock_script.h"

/* Where errors go: "NAME:LINE: message" into buf. */
typedef struct mock_script_err {
    const char *name;
    char *buf;
    size_t len;
} mock_script_err;

void mock_script_fail(mock_script_err *e, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Where a setting stands, for the keys allowed only in some places. */
enum mock_key_where {
    MOCK_KEY_TOP = 0,  /* top level, or acore-mockd's overrides */
    MOCK_KEY_SCENARIO, /* an element of `scenarios` */
    MOCK_KEY_STEP      /* an element of a scenario's `steps` */
};

/*
 * Apply setting st to s.  `steps` is not handled here (the loader builds
 * steps once a scenario's own settings are in) but is checked for its
 * place.  Returns 0, or -1 with the message in e (s keeps what it had for
 * that key).
 */
int mock_keys_apply(mock_scenario *s, const config_setting_t *st, enum mock_key_where where,
                    mock_script_err *e);

/* The offsets of every `char *` member of mock_scenario, for deep copies
   and frees; mock_keys_nstr entries. */
extern const size_t mock_keys_str[];
extern const size_t mock_keys_nstr;

#endif
