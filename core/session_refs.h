/*
 * session_refs.h -- attachments a saved session keeps by reference
 * (AC_SAVE_ATTACHMENTS_BY_REFERENCE): files beside the session file
 * instead of its text.
 *
 * They live in a directory named for the session file ("chat.json" keeps
 * them in "chat.json.files/"), each under the SHA-256 of its bytes and an
 * extension for its type ("<64 hex>.png", "<64 hex>.txt"): an attachment
 * sent in many turns, or saved many times, is one file, and the name
 * itself proves the content.  The session file records the name relative
 * to its own directory ("chat.json.files/<hex>.png") with the digest.
 *
 * Loading reads only names of exactly that form -- the file's own
 * directory, no "..", no absolute path -- so a session file from
 * elsewhere cannot make the library read any other file, and checks the
 * digest, so a changed attachment is refused rather than sent.
 *
 * Not thread-safe by themselves; no shared state.
 */
#ifndef AC_SESSION_REFS_H
#define AC_SESSION_REFS_H
#include <abstractcore/abstractcore.h>
#include <stddef.h>

/* The most bytes one referenced attachment may have. */
#define AC_REF_MAX (64L * 1024 * 1024)

/* Keep n bytes for the session file at `session_path`: writes
 * <dir>/<base>.files/<sha256>.<ext> (creating the directory), atomically,
 * unless that file is there already.  *rel (ac__malloc'd) is the name the
 * session file records, sha the digest in hex.  AC_OK, AC_EIO (err names
 * the file and why), AC_ENOMEM. */
ac_status ac__ref_store(const char *session_path, const void *bytes, size_t n, const char *ext,
                        char **rel, char sha[65], ac_error *err);

/* Read the attachment the session file at `session_path` names `rel`, and
 * check it against sha (hex).  Returns the bytes (ac__malloc'd, with a NUL
 * after them) and *n, or NULL with *st and why (a phrase for the caller's
 * message): AC_EPROTOCOL (not a name this library writes, a bad digest, a
 * file whose bytes do not match it), AC_EIO (cannot be read, too large),
 * AC_ENOMEM (why empty). */
void     *ac__ref_load(const char *session_path, const char *rel, const char *sha, size_t *n,
                       char *why, size_t why_len, ac_status *st);

/* Write a then b (nb may be 0) to path through a temporary file beside
 * it, synced, and a rename: path is the old file or the whole new one.
 * 0, or -1 with errno (the temporary file removed). */
int       ac__write_atomic(const char *path, const void *a, size_t na, const void *b, size_t nb);

/* An extension for a media type ("png", "jpg", "gif", "webp", else
 * "bin"); "txt" for documents. */
const char *ac__ref_ext(const char *mime, int document);
#endif
