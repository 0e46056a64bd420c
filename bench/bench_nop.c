/*
 * bench_nop.c -- the floor under `acore --version`: a program that does
 * nothing but is linked with libcurl (and so loads and relocates libcurl
 * and every library it needs, as any program of the library does).
 * bench/run-bench.sh times it beside acore.  curl_version() keeps the
 * link from being dropped by --as-needed.
 */
#include <curl/curl.h>

int main(void)
{
    return curl_version() ? 0 : 1;
}
