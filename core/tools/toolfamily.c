/*
 * toolfamily.c -- syntax family names, and the family of a model name.
 *
 * Model names come in many spellings for one model ("qwen3:4b",
 * "Qwen/Qwen2.5-7B-Instruct", "hf.co/bartowski/Meta-Llama-3.1-8B-GGUF",
 * "mlx-community/Mistral-7B-Instruct-v0.3-4bit", a GGUF file path), so
 * the name is lowercased and searched for the keys of the table below,
 * first match wins.  A key must start a word (at the start or after a
 * character that is not a letter or digit), so "dolphin" is not "phi".
 * Order matters: Hermes 3 is a Llama 3 fine-tune that writes Hermes
 * tags, so "hermes" comes before "llama".
 *
 *   key                               family   why
 *   hermes                            HERMES   NousResearch Hermes 2 Pro / 3
 *   qwen, qwq                         HERMES   Qwen 2.5 / 3 chat templates
 *   llama-3 llama3 llama_3 "llama 3"  LLAMA3   Llama 3.1-3.3 templates
 *   mistral mixtral ministral         MISTRAL  mistral-common v3..v13
 *   magistral devstral codestral      MISTRAL
 *   pixtral
 *   gemma                             GEMMA    ai.google.dev function calling
 *   phi-3 phi3 phi-4 phi4             PHI      Phi-4-mini's functools / the
 *                                               original AbstractCore default
 *   (anything else)                   AUTO     every syntax is recognised
 *
 * Pure functions; thread-safe.
 */
#include "toolparse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const NAMES[AC__TF_COUNT] = {
    [AC__TF_AUTO] = "auto",
    [AC__TF_HERMES] = "hermes",
    [AC__TF_LLAMA3] = "llama3",
    [AC__TF_MISTRAL] = "mistral",
    [AC__TF_GEMMA] = "gemma",
    [AC__TF_PHI] = "phi",
    [AC__TF_FUNCALL] = "function_call",
};

static const struct {
    const char *name;
    ac__toolfam fam;
} ALIASES[] = {
    {"qwen", AC__TF_HERMES},     {"xml", AC__TF_HERMES},
    {"llama", AC__TF_LLAMA3},    {"llama-3", AC__TF_LLAMA3},
    {"special_token", AC__TF_PHI}, {"tool_code", AC__TF_GEMMA},
    {"generic", AC__TF_AUTO},    {"functioncall", AC__TF_FUNCALL},
};

static const struct {
    const char *key;
    ac__toolfam fam;
} MODELS[] = {
    {"hermes", AC__TF_HERMES},
    {"qwen", AC__TF_HERMES},
    {"qwq", AC__TF_HERMES},
    {"llama-3", AC__TF_LLAMA3},
    {"llama3", AC__TF_LLAMA3},
    {"llama_3", AC__TF_LLAMA3},
    {"llama 3", AC__TF_LLAMA3},
    {"mistral", AC__TF_MISTRAL},
    {"mixtral", AC__TF_MISTRAL},
    {"ministral", AC__TF_MISTRAL},
    {"magistral", AC__TF_MISTRAL},
    {"devstral", AC__TF_MISTRAL},
    {"codestral", AC__TF_MISTRAL},
    {"pixtral", AC__TF_MISTRAL},
    {"gemma", AC__TF_GEMMA},
    {"phi-3", AC__TF_PHI},
    {"phi3", AC__TF_PHI},
    {"phi-4", AC__TF_PHI},
    {"phi4", AC__TF_PHI},
};

const char *ac__toolfam_name(ac__toolfam fam)
{
    return (unsigned)fam < AC__TF_COUNT ? NAMES[fam] : "unknown";
}

int ac__toolfam_parse(const char *name, ac__toolfam *out)
{
    if (!name)
        return -1;
    for (int f = 0; f < AC__TF_COUNT; f++) {
        if (!strcasecmp(name, NAMES[f])) {
            *out = (ac__toolfam)f;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++) {
        if (!strcasecmp(name, ALIASES[i].name)) {
            *out = ALIASES[i].fam;
            return 0;
        }
    }
    return -1;
}

/* 1 if key occurs in s (lowercase) at the start of a word. */
static int has_word(const char *s, const char *key)
{
    for (const char *p = s; (p = strstr(p, key)) != NULL; p++) {
        if (p == s || !isalnum((unsigned char)p[-1]))
            return 1;
    }
    return 0;
}

ac__toolfam ac__toolfam_from_model(const char *model)
{
    if (!model)
        return AC__TF_AUTO;
    char low[512];
    size_t n = 0;
    for (; model[n] && n < sizeof low - 1; n++)
        low[n] = (char)tolower((unsigned char)model[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        if (has_word(low, MODELS[i].key))
            return MODELS[i].fam;
    return AC__TF_AUTO;
}
