/*
 * noentry.c -- a shared object in the plugin folder that is not a plugin
 * (no ac_provider_entry): refused, naming the missing symbol.
 */
int noentry_something(void);
int noentry_something(void) { return 42; }
