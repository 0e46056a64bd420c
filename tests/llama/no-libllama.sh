#!/bin/sh
# Stands in for tests/test_llama (the libllama smoke test) and
# tests/test_llamacpp (the llamacpp plugin) when configure
# found no libllama: says why, and reports SKIP (exit 77) to make check.
echo "SKIP: libllama tests (test_llama, test_llamacpp): ${LLAMA_WHY:-configure found no libllama}"
echo "(the llamacpp plugin is not built; .ci/deps or --with-llama=PREFIX provides libllama)"
exit 77
