/*
 * session_refs.c -- attachments of saved sessions kept as files beside
 * them.  See session_refs.h.
 *
 * The digest is GLib's SHA-256 (GLib is already here for poppler).
 */
#include "session_refs.h"
#include "alloc.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void sha256_hex(const void *bytes, size_t n, char out[65])
{
    gchar *h = g_compute_checksum_for_data(G_CHECKSUM_SHA256, bytes, n);
    snprintf(out, 65, "%s", h ? h : "");
    g_free(h);
}

/* The directory of a path ("." for a bare name) and its last component. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ac__strdup(".");
    return slash == path ? ac__strdup("/") : ac__strndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

const char *ac__ref_ext(const char *mime, int document)
{
    static const struct { const char *mime, *ext; } map[] = {
        {"image/png", "png"}, {"image/jpeg", "jpg"}, {"image/gif", "gif"},
        {"image/webp", "webp"},
    };
    if (document)
        return "txt";
    for (size_t i = 0; mime && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(mime, map[i].mime) == 0)
            return map[i].ext;
    return "bin";
}

/* Write all of n bytes to fd.  0, or -1 with errno. */
static int write_all(int fd, const void *bytes, size_t n)
{
    const char *p = bytes;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

int ac__write_atomic(const char *path, const void *a, size_t na, const void *b, size_t nb)
{
    char *tmp = ac__asprintf("%s.tmp.XXXXXX", path);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    int fd = mkstemp(tmp), rc = -1;
    if (fd >= 0) {
        int ok = write_all(fd, a, na) == 0 && write_all(fd, b, nb) == 0 && fsync(fd) == 0;
        int saved = errno;
        if (close(fd) != 0 && ok) {
            ok = 0;
            saved = errno;
        }
        if (ok && rename(tmp, path) == 0) {
            rc = 0;
        } else {
            if (ok)
                saved = errno;
            unlink(tmp);
            errno = saved ? saved : EIO;
        }
    }
    ac__free(tmp);
    return rc;
}

ac_status ac__ref_store(const char *session_path, const void *bytes, size_t n, const char *ext,
                        char **rel, char sha[65], ac_error *err)
{
    *rel = NULL;
    sha256_hex(bytes, n, sha);
    char *dir = dir_of(session_path);
    char *sub = dir ? ac__asprintf("%s.files", base_of(session_path)) : NULL;
    char *dpath = sub ? ac__asprintf("%s/%s", dir, sub) : NULL;
    char *name = dpath ? ac__asprintf("%s/%s.%s", sub, sha, ext) : NULL;
    char *full = name ? ac__asprintf("%s/%s", dir, name) : NULL;
    ac_status st = AC_OK;
    struct stat sb;
    if (!full) {
        st = AC_ENOMEM;
        ac__error_set(err, st, AC_STAGE_IO, "out of memory");
    } else if (mkdir(dpath, 0700) != 0 && errno != EEXIST) {
        st = AC_EIO;
        ac__error_set(err, st, AC_STAGE_IO, "cannot make the attachments directory %s: %s",
                      dpath, strerror(errno));
    } else if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size == n) {
        /* There already: its name is its digest. */
    } else if (ac__write_atomic(full, bytes, n, NULL, 0) != 0) {
        st = errno == ENOMEM ? AC_ENOMEM : AC_EIO;
        ac__error_set(err, st, AC_STAGE_IO, "cannot save the attachment %s: %s", full,
                      strerror(errno));
    }
    if (st == AC_OK) {
        *rel = name;
        name = NULL;
    }
    ac__free(full);
    ac__free(name);
    ac__free(dpath);
    ac__free(sub);
    ac__free(dir);
    return st;
}

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* "NAME.files/<64 hex>.<ext>": NAME one path component, not hidden;
 * ext 1 to 5 of a-z, 0-9.  The hex must be sha. */
static int our_name(const char *rel, const char *sha)
{
    const char *slash = strchr(rel, '/');
    if (!slash || slash == rel || rel[0] == '.' || slash - rel < 7 ||
        strncmp(slash - 6, ".files", 6) != 0)
        return 0;
    const char *h = slash + 1;
    if (strlen(h) < 66 || !lower_hex(h, 64) || h[64] != '.' || strncmp(h, sha, 64) != 0)
        return 0;
    const char *ext = h + 65;
    size_t k = strlen(ext);
    if (k < 1 || k > 5)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (!((ext[i] >= 'a' && ext[i] <= 'z') || (ext[i] >= '0' && ext[i] <= '9')))
            return 0;
    return 1;
}

void *ac__ref_load(const char *session_path, const char *rel, const char *sha, size_t *n,
                   char *why, size_t why_len, ac_status *st)
{
    *n = 0;
    *why = '\0';
    *st = AC_EPROTOCOL;
    if (strlen(sha) != 64 || !lower_hex(sha, 64)) {
        snprintf(why, why_len, "has a sha256 that is not 64 lowercase hex digits");
        return NULL;
    }
    if (!our_name(rel, sha)) {
        snprintf(why, why_len, "\"%.120s\" is not a name this library writes "
                 "(NAME.files/<sha256>.<ext>, beside the session file)", rel);
        return NULL;
    }
    char *dir = dir_of(session_path);
    char *full = dir ? ac__asprintf("%s/%s", dir, rel) : NULL;
    ac__free(dir);
    if (!full) {
        *st = AC_ENOMEM;
        return NULL;
    }
    char *data = NULL;
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    *st = AC_EIO;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(why, why_len, "%s cannot be read: %s", full, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        snprintf(why, why_len, "%s is not a regular file", full);
    } else if (sb.st_size > AC_REF_MAX) {
        snprintf(why, why_len, "%s is larger than %ld bytes", full, AC_REF_MAX);
    } else if (!(data = ac__malloc((size_t)sb.st_size + 1))) {
        *st = AC_ENOMEM;
    } else {
        size_t got = 0, want = (size_t)sb.st_size;
        while (got < want) {
            ssize_t r = read(fd, data + got, want - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        char digest[65];
        sha256_hex(data, got, digest);
        if (got != want) {
            snprintf(why, why_len, "%s cannot be read whole", full);
        } else if (strcmp(digest, sha) != 0) {
            *st = AC_EPROTOCOL;
            snprintf(why, why_len, "%s does not match its sha256 (the file was changed)", full);
        } else {
            data[got] = '\0';
            *n = got;
            *st = AC_OK;
            if (fd >= 0)
                close(fd);
            ac__free(full);
            return data;
        }
        ac__free(data);
        data = NULL;
    }
    if (fd >= 0)
        close(fd);
    ac__free(full);
    return NULL;
}
