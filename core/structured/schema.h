/*
 * schema.h -- a JSON Schema draft 7 validator over json-c values.
 *
 * Used for validated structured output (the model's JSON reply is checked
 * against the caller's schema and re-asked with the errors), for tool-call
 * arguments, and as the input of a schema-to-grammar converter.  A schema is
 * compiled once into an immutable tree; validating is then a walk of that
 * tree and the instance that allocates little when the instance is valid
 * (a PCRE2 match block once a regex is used, a json-c string per member
 * name under propertyNames, a hash array for uniqueItems past 16 items)
 * and builds messages only for errors it keeps.
 *
 * Relies on json-c, PCRE2 (8-bit, UTF mode) and core/alloc.h: every
 * allocation of ours and of PCRE2 goes through ac__malloc, so the
 * allocation-failure tests reach them (json-c allocates with malloc).
 *
 * What is implemented (draft 7, all of its required test suite):
 *   type (integer: a number whose fractional part is zero, 1.0 is one),
 *   enum / const (JSON equality: 1 == 1.0, objects ignore member order),
 *   minimum / maximum / exclusiveMinimum / exclusiveMaximum (exact
 *   comparison of int64, uint64 and double), multipleOf (exact: both
 *   numbers are taken as the shortest decimals that print them, so 0.0075
 *   is a multiple of 0.0001), minLength / maxLength (Unicode code points),
 *   pattern (ECMA 262 regex, searched, not anchored), items (schema and
 *   array forms) / additionalItems / contains / minItems / maxItems /
 *   uniqueItems, properties / patternProperties / additionalProperties /
 *   required / minProperties / maxProperties / dependencies (both forms) /
 *   propertyNames, allOf / anyOf / oneOf / not, if / then / else, format,
 *   $ref (JSON pointers with ~0 ~1 and %-escapes, $id base-URI changes,
 *   plain-name "#foo" identifiers, remote documents via a resolver; the
 *   draft-07 meta-schema http://json-schema.org/draft-07/schema is built in),
 *   definitions, boolean schemas anywhere.  Keywords next to $ref are
 *   ignored, as draft 7 says (but see the keyword rule below).
 *
 * Formats asserted (unless AC__SCHEMA_FORMAT_ANNOTATION): date-time, date,
 *   time (RFC 3339; a leap second only at 23:59:60 UTC), email (RFC 5321
 *   mailbox: dot-atom or quoted local part, host name or [address]
 *   literal), hostname (RFC 1123), ipv4, ipv6, uri, uri-reference, iri,
 *   iri-reference (RFC 3986 / 3987 syntax), uri-template (RFC 6570 level
 *   4 syntax), json-pointer, relative-json-pointer, regex (ECMA 262, as
 *   `pattern` takes it).  Any other format name (idn-email,
 *   idn-hostname, uuid, ...) is an annotation: it always passes.
 *
 * Regexes (pattern, patternProperties, format "regex") are ECMA 262: they
 *   are translated to PCRE2 (`.` does not match line terminators, `$` only
 *   at the end, \s is ECMA's Unicode white space, \d \w \b are ASCII, \u
 *   escapes) and constructs that ECMA 262 does not have are refused: \A \Z
 *   \z \G \K \h \R \Q \a \e..., (?i) and other (?X groups, possessive
 *   quantifiers.  A bad regex in a schema fails the compile naming its
 *   schema pointer.
 *
 * Keyword rule (compile time): in a schema object, a key is one of
 *   - a draft 7 validation keyword above: its value is checked (a
 *     "minLength" of -1 or a "type" of "strnig" fails the compile);
 *   - a draft 7 annotation: $schema, $id, $comment, title, description,
 *     default, examples, readOnly, writeOnly, contentMediaType,
 *     contentEncoding, definitions (whose members are compiled as schemas);
 *   - a keyword of a later draft that would change validation if honoured:
 *     $defs, $anchor, $dynamicRef, $dynamicAnchor, $recursiveRef,
 *     $recursiveAnchor, $vocabulary, unevaluatedProperties,
 *     unevaluatedItems, dependentRequired, dependentSchemas, prefixItems,
 *     minContains, maxContains: refused everywhere, even next to $ref, with
 *     "keyword \"X\" (JSON Schema 2019-09/2020-12) is not supported";
 *   - anything else is an unknown keyword, refused ("unknown keyword \"X\"
 *     at <pointer>") UNLESS some $ref of the schema points into its value:
 *     then it is a container of referenced subschemas, like definitions
 *     (the draft 7 suite's ref.json keeps schemas under "tilda~field" and
 *     its remote subSchemas.json under "integer"; an unknown keyword is
 *     never evaluated in place).  With AC__SCHEMA_LENIENT unknown keywords
 *     are accepted as annotations (later-draft keywords are still refused).
 *   A "$schema" naming draft 2019-09, 2020-12, 04 or 03 is refused; draft
 *   06 and 07 (http or https, with or without "#") are accepted, as is any
 *   other URI (a custom meta-schema).
 *
 * Remote references: a $ref whose document is neither the schema nor one of
 *   its $id resources is fetched at compile time from opt->resolve (which
 *   returns a new json-c reference, owned by the schema from then on); with
 *   no resolver the compile fails: "cannot resolve $ref \"URI\": no resolver
 *   for remote references".  Every $ref is resolved at compile time.
 *
 * Termination: a schema whose $ref / allOf / anyOf / oneOf / not / if /
 *   then / else / dependencies chain leads back to itself without
 *   descending into the instance is refused at compile time ("schema cycle
 *   ...").  opt->max_depth (default 512) bounds the nesting of the schema
 *   document (compile fails past it) and the nesting of subschemas applied
 *   during validation, each $ref, allOf branch or array item counting one
 *   (validate returns -1 with AC_EINVAL past it): never a stack overflow,
 *   whatever the input.
 *
 * Thread-safety: compile and free are for one thread; a compiled schema is
 * immutable and may be validated from many threads at once.
 */
#ifndef AC_SCHEMA_H
#define AC_SCHEMA_H
#include <stddef.h>
#include <abstractcore/abstractcore.h>

struct json_object;

typedef struct ac__schema ac__schema;

/* Fetch a remote schema document by absolute URI (no fragment), e.g.
 * "http://localhost:1234/integer.json".  Return a new reference (the
 * schema keeps it), or NULL and fill err. */
typedef struct json_object *(*ac__schema_resolve_fn)(void *ctx, const char *uri,
                                                     ac_error *err);

enum {
    AC__SCHEMA_LENIENT           = 1u << 0, /* unknown keywords are annotations */
    AC__SCHEMA_FORMAT_ANNOTATION = 1u << 1  /* "format" never fails */
};

typedef struct ac__schema_options {
    ac__schema_resolve_fn resolve;  /* NULL: remote $ref fails to compile */
    void       *resolve_ctx;
    const char *base_uri;    /* the document's own URI; NULL = none ("") */
    unsigned    max_depth;   /* schema and instance nesting; 0 = 512 */
    unsigned    max_errors;  /* errors kept per validation; 0 = 100 */
    unsigned    flags;       /* AC__SCHEMA_* */
} ac__schema_options;

/* One validation error.  The strings live in one block owned by the list.
 * Pointers are RFC 6901 (not URI-escaped); an instance pointer longer than
 * 4 KiB is cut and ends in "...". */
typedef struct ac__schema_error {
    const char *instance_path; /* failing value: "" = root, "/items/3/name" */
    const char *keyword;       /* "required", "type", "anyOf", "false" (a false
                                * schema), ... : static */
    const char *schema_path;   /* the keyword: "/properties/age/minimum"; in a
                                * remote document "URI#/pointer" */
    const char *message;       /* one line: "/age: -3 is less than the minimum 0" */
} ac__schema_error;

typedef struct ac__schema_errors {
    ac__schema_error *items;
    size_t count;      /* items kept (at most max_errors) */
    size_t total;      /* errors found; > count when some were dropped, and
                        * validation stops looking once the list is full */
    size_t cap;
} ac__schema_errors;

/*
 * Compile doc (a schema: object or boolean).  The schema keeps a deep copy,
 * so the caller may drop or change doc afterwards.  opt may be NULL.
 * Returns NULL and fills err: AC_EINVAL (a bad or unknown
 * keyword, bad regex, unresolvable $ref, cycle, nesting), AC_EUNSUPPORTED
 * (later-draft keyword or $schema), AC_ENOMEM, or the resolver's error.
 * Messages name the schema pointer: "schema /properties/a/minLength: ...".
 */
ac__schema *ac__schema_compile(struct json_object *doc, const ac__schema_options *opt,
                               ac_error *err);
/* Parse text (len bytes, need not be NUL-terminated) as JSON, then compile.
 * A JSON syntax error is AC_EJSON. */
ac__schema *ac__schema_compile_text(const char *text, size_t len,
                                    const ac__schema_options *opt, ac_error *err);
void ac__schema_free(ac__schema *s);   /* NULL is a no-op */

/*
 * Validate instance (NULL is JSON null) against s.  Returns 1 valid, 0
 * invalid (the errors are appended to *out when out is not NULL), -1 when
 * validation could not finish (err: AC_ENOMEM, or AC_EINVAL for instance
 * nesting past max_depth or a regex over PCRE2's match limit; *out then
 * holds what was found before).  out must be zeroed before first use, and
 * freed with ac__schema_errors_free.  Thread-safe for concurrent calls.
 */
int ac__schema_validate(const ac__schema *s, struct json_object *instance,
                        ac__schema_errors *out, ac_error *err);

/* Render the first max (0 = 20) errors, one message a line, plus "(and N
 * more errors)" when some were left out; bounded, for sending back to a
 * model.  Returns ac__malloc'd text ("" for no errors), NULL when out of
 * memory. */
char *ac__schema_errors_text(const ac__schema_errors *e, size_t max);
void  ac__schema_errors_free(ac__schema_errors *e);  /* frees items; reusable */
#endif
