/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the libFuzzer targets in this folder (docs/testing.md, "Fuzzing"): the entry point's
 * prototype and an invariant check that aborts, so a broken property is a finding like a crash.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
                                #cond);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)
