#!/usr/bin/env python3
"""Write a tiny GGUF language model for the libllama tests.

Usage: make-tiny-gguf.py [--variant random|programmed] [--seed N] OUT.gguf

Nothing is downloaded: the weights are made here, and the file is written
with llama.cpp's own GGUF writer (gguf-py, found through PYTHONPATH in the
llama.cpp source tree; it needs numpy and PyYAML).

The model is a "llama" architecture small enough to load and run in
milliseconds (about 0.6 MB, f32):

  n_vocab 433, n_embd 64, n_layer 2, n_head 4, n_head_kv 2 (grouped-query
  attention), head size 16, n_ff 128, context_length 2048, RMS-norm eps 1e-5,
  rope base 10000, a ChatML chat template
  (tokenizer.chat_template), general.name "tiny-<variant>".

Vocabulary ("llama" = SentencePiece-style, byte fallback, so any UTF-8 text
tokenizes), ids in this order:

  0 <unk> (unknown), 1 <s> (BOS), 2 </s> (EOS), 3 <|im_start|>,
  4 <|im_end|> (EOT, an end-of-generation token) -- all control tokens;
  5..260 the byte tokens <0x00>..<0xFF>;
  then normal tokens: "\u2581" (a space), the printable ASCII characters
  '!'..'~', and WORDS below with every prefix of each (SentencePiece merges
  pairs of pieces only when the joined piece is itself in the vocabulary).
  add_bos_token and add_space_prefix are off (like ChatML models).

Variants:

  random      Weights drawn from a fixed-seed generator: the same file, and
              so the same greedy output, every run.  The output matrix rows
              of every control and byte token are zero, so greedy decoding
              only ever picks normal tokens (printable ASCII text) and never
              ends by itself: use max tokens to stop it.  Output depends on
              the prompt (attention is live).

  programmed  A bigram machine: attention and FFN outputs are zero, so the
              logits depend only on the last token.  The chain
              "\\n" -> The -> " quick" ... " dog" -> "." -> <|im_end|>
              is wired in, so ANY prompt whose last token is a newline --
              every ChatML prompt with the assistant header, since it ends
              in "<|im_start|>assistant\\n" -- gets, by greedy decoding,
              exactly PROGRAMMED_TEXT ("The quick brown fox jumps over the
              lazy dog.", 10 tokens) and then <|im_end|> (end of
              generation).  Other last tokens continue with random text.
              Useful for stop strings, max tokens and finish reasons.

The random variant declares pooling_type MEAN (an embedding model's key:
an embeddings context pools per sequence without being told); the
programmed one declares none, as a chat model, so the llamacpp plugin's
fallback for models without a pooling of their own is tested on it.

The weights are drawn from PCG64's raw bit stream (numpy keeps that stable
across versions) as uniform values, not from numpy's distribution methods,
whose algorithms may change.
"""

import argparse
import sys

import numpy as np

try:
    import gguf
except ImportError as e:  # pragma: no cover - reported to the Makefile
    sys.exit("make-tiny-gguf.py: cannot import gguf (llama.cpp's gguf-py; "
             "set PYTHONPATH to <llama.cpp>/gguf-py): %s" % e)

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_CTX_TRAIN = 2048
HEAD = N_EMBD // N_HEAD

CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPACE = "\u2581"
WORDS = [
    "The", SPACE + "quick", SPACE + "brown", SPACE + "fox", SPACE + "jumps",
    SPACE + "over", SPACE + "the", SPACE + "lazy", SPACE + "dog",
    "Hello", SPACE + "Hello", SPACE + "world", SPACE + "tiny", SPACE + "model",
    "user", "assistant", "system", SPACE + "yes", SPACE + "no",
]
# The programmed variant's answer after a newline, token by token.
CHAIN = ["<0x0A>", "The", SPACE + "quick", SPACE + "brown", SPACE + "fox",
         SPACE + "jumps", SPACE + "over", SPACE + "the", SPACE + "lazy",
         SPACE + "dog", ".", "<|im_end|>"]
PROGRAMMED_TEXT = "The quick brown fox jumps over the lazy dog."

T = gguf.TokenType


def build_vocab():
    toks, types, scores = [], [], []

    def add(piece, ttype, score=0.0):
        toks.append(piece)
        types.append(ttype)
        scores.append(score)

    add("<unk>", T.UNKNOWN)
    add("<s>", T.CONTROL)
    add("</s>", T.CONTROL)
    add("<|im_start|>", T.CONTROL)
    add("<|im_end|>", T.CONTROL)
    for b in range(256):
        add("<0x%02X>" % b, T.BYTE)
    seen = set()
    for piece in [SPACE] + [chr(c) for c in range(0x21, 0x7F)]:
        seen.add(piece)
        add(piece, T.NORMAL, -1.0)
    for word in WORDS:
        for n in range(2, len(word) + 1):
            piece = word[:n]
            if piece not in seen:
                seen.add(piece)
                # Longer pieces score higher: merged first.
                add(piece, T.NORMAL, float(n))
    return toks, types, scores


class Uniform:
    """Uniform values with a given standard deviation, from PCG64 raw bits."""

    def __init__(self, seed):
        self.bits = np.random.PCG64(seed)

    def __call__(self, shape, std):
        n = int(np.prod(shape))
        raw = self.bits.random_raw(n) >> np.uint64(11)      # 53 bits
        u = raw.astype(np.float64) / float(1 << 53)          # [0, 1)
        # Uniform on [-a, a] has standard deviation a / sqrt(3).
        a = std * np.sqrt(3.0)
        return ((u * 2.0 - 1.0) * a).astype(np.float32).reshape(shape)


def build_tensors(variant, seed, toks, types):
    rnd = Uniform(seed)
    n_vocab = len(toks)
    index = {t: i for i, t in enumerate(toks)}
    emittable = np.array([t == T.NORMAL for t in types])
    n_kv = N_HEAD_KV * HEAD
    w = {}

    if variant == "random":
        w["token_embd.weight"] = rnd((n_vocab, N_EMBD), 1.0)
        out = rnd((n_vocab, N_EMBD), 1.0)
        out[~emittable] = 0.0
        w["output.weight"] = out
    else:
        # Chain tokens: a one-hot embedding each in the first dimensions;
        # every other token lives in the remaining dimensions, so the two
        # never mix.  The final RMS norm turns one-hot e_i into 8 * e_i; an
        # output weight of 1 gives the successor a logit of 8, all else 0.
        k = len(CHAIN)
        emb = rnd((n_vocab, N_EMBD), 1.0)
        emb[:, :k] = 0.0
        out = rnd((n_vocab, N_EMBD), 1.0)
        out[:, :k] = 0.0
        out[~emittable] = 0.0
        for i, piece in enumerate(CHAIN):
            tid = index[piece]
            emb[tid] = 0.0
            emb[tid, i] = 1.0
            if i + 1 < k:
                out[index[CHAIN[i + 1]], i] = 1.0
        w["token_embd.weight"] = emb
        w["output.weight"] = out

    w["output_norm.weight"] = np.ones(N_EMBD, dtype=np.float32)
    s = 1.0 / np.sqrt(N_EMBD)
    for layer in range(N_LAYER):
        p = "blk.%d." % layer
        w[p + "attn_norm.weight"] = np.ones(N_EMBD, dtype=np.float32)
        w[p + "ffn_norm.weight"] = np.ones(N_EMBD, dtype=np.float32)
        # numpy shape is (rows, cols) = ggml's ne reversed.
        w[p + "attn_q.weight"] = rnd((N_EMBD, N_EMBD), s)
        w[p + "attn_k.weight"] = rnd((n_kv, N_EMBD), s)
        w[p + "attn_v.weight"] = rnd((n_kv, N_EMBD), s)
        w[p + "attn_output.weight"] = rnd((N_EMBD, N_EMBD), s)
        w[p + "ffn_gate.weight"] = rnd((N_FF, N_EMBD), s)
        w[p + "ffn_up.weight"] = rnd((N_FF, N_EMBD), s)
        w[p + "ffn_down.weight"] = rnd((N_EMBD, N_FF), 1.0 / np.sqrt(N_FF))
        if variant == "programmed":
            # Layers add nothing to the residual stream.
            w[p + "attn_output.weight"][:] = 0.0
            w[p + "ffn_down.weight"][:] = 0.0
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--variant", choices=["random", "programmed"], default="random")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    toks, types, scores = build_vocab()
    tensors = build_tensors(args.variant, args.seed, toks, types)

    wr = gguf.GGUFWriter(args.out, "llama")
    wr.add_name("tiny-" + args.variant)
    wr.add_description("AbstractCore test model, made by tests/llama/make-tiny-gguf.py "
                       "(variant %s, seed %d)" % (args.variant, args.seed))
    wr.add_file_type(gguf.LlamaFileType.ALL_F32)
    wr.add_context_length(N_CTX_TRAIN)
    wr.add_embedding_length(N_EMBD)
    wr.add_block_count(N_LAYER)
    wr.add_feed_forward_length(N_FF)
    wr.add_head_count(N_HEAD)
    wr.add_head_count_kv(N_HEAD_KV)
    wr.add_rope_dimension_count(HEAD)
    wr.add_rope_freq_base(10000.0)
    wr.add_layer_norm_rms_eps(1e-5)
    wr.add_vocab_size(len(toks))
    if args.variant == "random":
        wr.add_pooling_type(gguf.PoolingType.MEAN)

    wr.add_tokenizer_model("llama")
    wr.add_token_list(toks)
    wr.add_token_scores(scores)
    wr.add_token_types(types)
    wr.add_unk_token_id(0)
    wr.add_bos_token_id(1)
    wr.add_eos_token_id(2)
    wr.add_eot_token_id(4)
    wr.add_add_bos_token(False)
    wr.add_add_eos_token(False)
    wr.add_add_space_prefix(False)
    wr.add_chat_template(CHATML)

    for name, arr in tensors.items():
        wr.add_tensor(name, arr)

    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


if __name__ == "__main__":
    main()
