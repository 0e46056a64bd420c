/*
 * fuzzutil.c -- small helpers the fuzz targets share (see fuzz.h):
 * copies of the input and the temporary files that the file-reading
 * targets (config, session) hand to the library.  Plain libc; not
 * thread-safe (a target runs one input at a time).
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fuzz_one_line(const char *msg)
{
    return !strchr(msg, '\n') && !strchr(msg, '\r');
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

int fuzz_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = size == 0 || fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

char *fuzz_temp_file(const char *tag)
{
    /* /dev/shm when there is one: a file rewritten for every input should
     * not wear a disk. */
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
    if (!dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    size_t n = strlen(dir) + strlen(tag) + 32;
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/acfuzz-%s-XXXXXX", dir, tag);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror(path);
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

void fuzz_temp_remove(char *path)
{
    if (path)
        unlink(path);
    free(path);
}
