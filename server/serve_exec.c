/*
 * serve_exec.c -- `acore serve ARGS`: run the gateway program,
 * acore-serve ARGS, in place of acore (compiled into cli/acore; the
 * gateway is a program of its own, server/).
 *
 * Where acore-serve is looked for, first found wins: $ACORE_SERVE (a
 * build tree or a test points at its own), the folder acore itself runs
 * from, the folder it was installed to ($(bindir)), then $PATH.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ac_paths.h"   /* AC_BINDIR */

int acore_serve_exec(int argc, char **argv);

static void try_exec(const char *path, char **argv)
{
    if (path && *path)
        execv(path, argv);
}

int acore_serve_exec(int argc, char **argv)
{
    /* argv[0] is "serve": it becomes the program's name. */
    char **nargv = calloc((size_t)argc + 1, sizeof *nargv);
    if (!nargv) {
        fprintf(stderr, "acore: out of memory\n");
        return 1;
    }
    nargv[0] = "acore-serve";
    for (int i = 1; i < argc; i++)
        nargv[i] = argv[i];
    try_exec(getenv("ACORE_SERVE"), nargv);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + sizeof "/acore-serve" < sizeof self) {
            strcpy(slash, "/acore-serve");
            try_exec(self, nargv);
        }
    }
    try_exec(AC_BINDIR "/acore-serve", nargv);
    execvp("acore-serve", nargv);
    fprintf(stderr, "acore: cannot run acore-serve (the gateway): %s; set ACORE_SERVE to its "
                    "path\n", strerror(errno));
    free(nargv);
    return 1;
}
