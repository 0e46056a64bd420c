/*
 * model.c -- finding, checking and loading the GGUF models of an instance,
 * and libllama's log.
 *
 * model_path names one .gguf file (its model id is the file name without
 * ".gguf") or a folder whose *.gguf files are the models (ids likewise).
 * A model is loaded on its first request (memory-mapped: the weights stay
 * in the page cache, shared with every other process mapping the file)
 * with one llama_context of n_parallel sequences of n_ctx tokens, and
 * stays loaded until the instance's fini.  Before libllama sees a file it
 * is checked here, so the common mistakes get a message naming the path:
 * a missing file, one that cannot be read, one that is not GGUF.  What
 * libllama then refuses (a truncated or corrupt GGUF, an architecture it
 * does not know) is reported with libllama's own last error line.
 *
 * Relies on libllama and the host allocator.  lc_model_get runs under the
 * instance's lock (llamacpp.c); lc_model_list and lc_is_gguf only read
 * the file system.  The log callback is process-wide (libllama has one):
 * any thread, keeping a line buffer per thread.
 */
#include "llamacpp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The default context when n_ctx is not set: the model's, at most this. */
#define DEFAULT_MAX_CTX 4096

/* ------------------------------------------------------------------ */
/* libllama's log                                                       */
/* ------------------------------------------------------------------ */

static _Thread_local char log_line[512];
static _Thread_local size_t log_len;
static _Thread_local int log_level;
static _Thread_local char last_error[256];

static void log_flush(void)
{
    if (!log_len)
        return;
    log_line[log_len] = '\0';
    if (log_level == GGML_LOG_LEVEL_ERROR)
        snprintf(last_error, sizeof last_error, "%.*s", (int)sizeof last_error - 1, log_line);
    /* libllama is chatty (dozens of lines per load): its errors and
     * warnings are INFO here (the plugin's own messages carry the error
     * that matters), the rest DEBUG. */
    int level = log_level == GGML_LOG_LEVEL_ERROR || log_level == GGML_LOG_LEVEL_WARN
                    ? AC_LOG_INFO : AC_LOG_DEBUG;
    lc_host->log(NULL, level, "libllama: %s", log_line);
    log_len = 0;
}

static void on_llama_log(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level != GGML_LOG_LEVEL_CONT) {
        if (log_len)
            log_flush();
        log_level = level;
    }
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            log_flush();
            continue;
        }
        if (log_len + 1 < sizeof log_line)
            log_line[log_len++] = *p;
    }
}

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;

static void backend_init(void)
{
    llama_log_set(on_llama_log, NULL);
    llama_backend_init();
}

void lc_log_install(void) { pthread_once(&backend_once, backend_init); }

const char *lc_last_llama_error(void)
{
    log_flush();
    return last_error[0] ? last_error : "no reason given";
}

void lc_clear_llama_error(void) { last_error[0] = '\0'; }

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

int lc_is_gguf(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char magic[4];
    ssize_t n = read(fd, magic, sizeof magic);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

static int has_gguf_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".gguf") == 0;
}

/* The id of a file name: without ".gguf".  Host-allocated. */
static char *id_of(const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t n = strlen(base);
    if (has_gguf_suffix(base))
        n -= 5;
    char *id = lc_host->malloc(n + 1);
    if (id) {
        memcpy(id, base, n);
        id[n] = '\0';
    }
    return id;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids of a folder's models, sorted: *ids (host-allocated, each too)
 * and *n.  0, or -1 with errno (ENOMEM when out of memory). */
static int folder_ids(const char *dir, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_gguf_suffix(e->d_name))
            continue;
        char *full = NULL;
        lc_buf b = {0};
        if (lc_buf_addf(&b, "%s/%s", dir, e->d_name) < 0) {
            rc = -1;
            break;
        }
        full = b.p;
        struct stat st;
        int regular = stat(full, &st) == 0 && S_ISREG(st.st_mode);
        lc_host->free(full);
        if (!regular)
            continue;
        char **v = lc_host->realloc(*ids, (*n + 1) * sizeof *v);
        if (!v) {
            rc = -1;
            break;
        }
        *ids = v;
        if (!(v[*n] = id_of(e->d_name))) {
            rc = -1;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc < 0) {
        for (size_t i = 0; i < *n; i++)
            lc_host->free((*ids)[i]);
        lc_host->free(*ids);
        *ids = NULL;
        *n = 0;
        errno = ENOMEM;
        return -1;
    }
    if (*n > 1)
        qsort(*ids, *n, sizeof **ids, cmp_str);
    return 0;
}

static void ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lc_host->free(ids[i]);
    lc_host->free(ids);
}

ac_status lc_model_list(const lc_config *cfg, ac_model_list *out, ac_call *call)
{
    if (!cfg->is_dir) {
        char *id = id_of(cfg->model_path);
        if (!id)
            return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
        ac_status st = lc_host->models_add(out, id);
        lc_host->free(id);
        return st == AC_OK ? AC_OK
                           : lc_host->fail(call, st, AC_STAGE_REQUEST, "out of memory");
    }
    char **ids;
    size_t n;
    if (folder_ids(cfg->model_path, &ids, &n) < 0)
        return errno == ENOMEM
                   ? lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory")
                   : lc_host->fail(call, AC_EIO, AC_STAGE_IO, "cannot read the model folder %s: %s",
                                   cfg->model_path, strerror(errno));
    ac_status st = AC_OK;
    for (size_t i = 0; i < n && st == AC_OK; i++)
        st = lc_host->models_add(out, ids[i]);
    ids_free(ids, n);
    return st == AC_OK ? AC_OK : lc_host->fail(call, st, AC_STAGE_REQUEST, "out of memory");
}

/* The file of request model `name`: *path and *id (host-allocated).
 * AC_OK or the call failed. */
static ac_status resolve(const lc_config *cfg, const char *name, char **path, char **id,
                         ac_call *call)
{
    *path = *id = NULL;
    if (!name)
        name = "";
    if (!cfg->is_dir) {
        *id = id_of(cfg->model_path);
        *path = lc_host->strdup(cfg->model_path);
        if (!*id || !*path)
            goto nomem;
        const char *base = strrchr(cfg->model_path, '/');
        base = base ? base + 1 : cfg->model_path;
        if (*name && strcmp(name, *id) != 0 && strcmp(name, base) != 0) {
            ac_status st = lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                         "model '%s' is not served here: model_path %s is the "
                                         "one model '%s'", name, cfg->model_path, *id);
            lc_host->free(*id);
            lc_host->free(*path);
            *id = *path = NULL;
            return st;
        }
        return AC_OK;
    }
    if (!*name) {
        char **ids;
        size_t n;
        if (folder_ids(cfg->model_path, &ids, &n) < 0)
            return errno == ENOMEM ? lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST,
                                                   "out of memory")
                                   : lc_host->fail(call, AC_EIO, AC_STAGE_IO,
                                                   "cannot read the model folder %s: %s",
                                                   cfg->model_path, strerror(errno));
        if (n != 1) {
            ac_status st = lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                         "no model named, and the folder %s holds %zu models "
                                         "(ac_list_models lists them): name one",
                                         cfg->model_path, n);
            ids_free(ids, n);
            return st;
        }
        *id = ids[0];
        lc_host->free(ids);
    } else {
        if (strchr(name, '/') || name[0] == '.')
            return lc_host->fail(call, AC_EINVAL, AC_STAGE_REQUEST,
                                 "model '%s' is not a file name in the folder %s", name,
                                 cfg->model_path);
        if (!(*id = id_of(name)))
            goto nomem;
    }
    lc_buf b = {0};
    if (lc_buf_addf(&b, "%s/%s.gguf", cfg->model_path, *id) < 0)
        goto nomem;
    *path = b.p;
    return AC_OK;
nomem:
    lc_host->free(*id);
    lc_host->free(*path);
    *id = *path = NULL;
    return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

/* Checks libllama cannot word as well: exists, readable, GGUF. */
static ac_status check_file(const char *path, ac_call *call)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT
                   ? lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                                   "model file %s does not exist", path)
                   : lc_host->fail(call, AC_EIO, AC_STAGE_IO, "cannot read model file %s: %s",
                                   path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "model file %s is not a regular file", path);
    int g = lc_is_gguf(path);
    if (g < 0)
        return lc_host->fail(call, AC_EIO, AC_STAGE_IO, "cannot read model file %s: %s", path,
                             strerror(errno));
    if (!g)
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "model file %s is not a GGUF file (it does not start with "
                             "\"GGUF\")", path);
    return AC_OK;
}

static ac_status make_context(const lc_config *cfg, lc_model *m, ac_call *call)
{
    int trained = llama_model_n_ctx_train(m->model);
    int n_ctx = cfg->n_ctx;
    if (n_ctx > trained)
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "n_ctx %d is more than the %d tokens model %s was trained for: "
                             "lower n_ctx", n_ctx, trained, m->path);
    if (!n_ctx)
        n_ctx = trained > 0 && trained < DEFAULT_MAX_CTX ? trained : DEFAULT_MAX_CTX;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx * (uint32_t)cfg->n_parallel;
    cp.n_batch = (uint32_t)cfg->n_batch;
    cp.n_ubatch = (uint32_t)cfg->n_batch;
    cp.n_seq_max = (uint32_t)cfg->n_parallel;
    cp.n_threads = cfg->n_threads;
    cp.n_threads_batch = cfg->n_threads;
    cp.kv_unified = false; /* each sequence its own n_ctx cells */
    cp.no_perf = true;
    lc_clear_llama_error();
    m->ctx = llama_init_from_model(m->model, cp);
    if (!m->ctx)
        return lc_host->fail(call, AC_ECONFIG, AC_STAGE_CONFIG,
                             "cannot make a context of %d sequences of %d tokens for model %s "
                             "(lower n_ctx or n_parallel): %s", cfg->n_parallel, n_ctx, m->path,
                             lc_last_llama_error());
    int per_seq = (int)llama_n_ctx_seq(m->ctx);
    m->n_ctx = per_seq < n_ctx ? per_seq : n_ctx;
    m->n_parallel = (int)llama_n_seq_max(m->ctx);
    m->n_batch = (int)llama_n_batch(m->ctx);
    return AC_OK;
}

size_t lc_kv_bytes(const lc_model *m)
{
    /* K and V, f16, for every cell of every sequence in every layer. */
    /* Models without attention heads (Mamba, RWKV) keep no KV cells. */
    int32_t heads = llama_model_n_head(m->model);
    if (heads <= 0)
        return 0;
    size_t head = (size_t)(llama_model_n_embd(m->model) / heads);
    size_t kv_dim = head * (size_t)llama_model_n_head_kv(m->model);
    return 2 * 2 * kv_dim * (size_t)llama_model_n_layer(m->model) * (size_t)llama_n_ctx(m->ctx);
}

static void pick_template(const lc_config *cfg, lc_model *m)
{
    if (cfg->chat_template) {
        m->tmpl = cfg->chat_template; /* checked by init */
        return;
    }
    const char *own = llama_model_chat_template(m->model, NULL);
    if (own && lc_template_known(own)) {
        m->tmpl = own;
        return;
    }
    m->tmpl = "chatml";
    m->tmpl_fallback = 1;
    lc_host->log(NULL, AC_LOG_WARN, "model %s %s: prompts use ChatML (set chat_template to "
                 "choose another)", m->path,
                 own ? "has a chat template libllama does not know"
                     : "has no chat template");
}

ac_status lc_model_get(const lc_config *cfg, lc_model **list, const char *name, lc_model **out,
                       ac_call *call)
{
    char *path, *id;
    ac_status st = resolve(cfg, name, &path, &id, call);
    if (st != AC_OK)
        return st;
    for (lc_model *m = *list; m; m = m->next)
        if (!strcmp(m->id, id)) {
            lc_host->free(path);
            lc_host->free(id);
            *out = m;
            return AC_OK;
        }
    if ((st = check_file(path, call)) != AC_OK) {
        lc_host->free(path);
        lc_host->free(id);
        return st;
    }
    lc_model *m = lc_host->malloc(sizeof *m);
    if (!m) {
        lc_host->free(path);
        lc_host->free(id);
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    }
    memset(m, 0, sizeof *m);
    m->path = path;
    m->id = id;
    if (pthread_mutex_init(&m->emu, NULL) != 0) {
        lc_model_free(m);
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    }
    m->emu_ok = 1;
    lc_log_install();
    struct llama_model_params mp = llama_model_default_params();
    mp.load_mode = LLAMA_LOAD_MODE_MMAP;
    mp.n_gpu_layers = cfg->n_gpu_layers;
    lc_clear_llama_error();
    m->model = llama_model_load_from_file(path, mp);
    if (!m->model) {
        st = lc_host->fail(call, AC_EIO, AC_STAGE_IO,
                           "libllama could not load model file %s (truncated or corrupt, or "
                           "an architecture this libllama does not know): %s", path,
                           lc_last_llama_error());
        lc_model_free(m);
        return st;
    }
    m->vocab = llama_model_get_vocab(m->model);
    if ((st = make_context(cfg, m, call)) != AC_OK) {
        lc_model_free(m);
        return st;
    }
    pick_template(cfg, m);
    m->slots = lc_host->malloc((size_t)m->n_parallel * sizeof *m->slots);
    if (!m->slots) {
        lc_model_free(m);
        return lc_host->fail(call, AC_ENOMEM, AC_STAGE_REQUEST, "out of memory");
    }
    memset(m->slots, 0, (size_t)m->n_parallel * sizeof *m->slots);
    m->batch = llama_batch_init(m->n_batch, 0, 1);
    if ((st = lc_sched_start(m)) != AC_OK) {
        lc_model_free(m);
        return lc_host->fail(call, st, AC_STAGE_REQUEST, "cannot start the decode thread");
    }
    lc_host->log(NULL, AC_LOG_INFO, "loaded model %s: %d sequences of %d tokens, KV cache "
                 "%zu KiB, %d threads, template %s", path, m->n_parallel, m->n_ctx,
                 lc_kv_bytes(m) / 1024, cfg->n_threads,
                 m->tmpl_fallback ? "chatml (fallback)" : cfg->chat_template ? "configured"
                                                                             : "the model's");
    m->next = *list;
    *list = m;
    *out = m;
    return AC_OK;
}

void lc_model_free(lc_model *m)
{
    if (!m)
        return;
    lc_sched_stop(m);
    lc_embed_free(m);
    if (m->emu_ok)
        pthread_mutex_destroy(&m->emu);
    if (m->batch.token)
        llama_batch_free(m->batch);
    if (m->ctx)
        llama_free(m->ctx);
    if (m->model)
        llama_model_free(m->model);
    lc_host->free(m->slots);
    lc_host->free(m->path);
    lc_host->free(m->id);
    lc_host->free(m);
}
