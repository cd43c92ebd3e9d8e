/* Tiny assertion helpers shared by the C tests. */
#ifndef STAMEN_TEST_CHECK_H
#define STAMEN_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    g_checks++;                                                            \
    if (!(cond)) {                                                         \
      g_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                      \
    }                                                                      \
  } while (0)

#define CHECK_RC(call, want)                                               \
  do {                                                                     \
    stamen_result rc_ = (call);                                            \
    g_checks++;                                                            \
    if (rc_ != (stamen_result)(want)) {                                    \
      g_failures++;                                                        \
      fprintf(stderr, "%s:%d: %s returned %u, want %u (%s)\n", __FILE__,   \
              __LINE__, #call, (unsigned)rc_, (unsigned)(want), #want);    \
    }                                                                      \
  } while (0)

/* True when the `len` bytes at `p` equal the C string `s`. */
static int bytes_eq(const void *p, size_t len, const char *s) {
  return len == strlen(s) && memcmp(p, s, len) == 0;
}

static int finish(const char *name) {
  if (g_failures != 0) {
    fprintf(stderr, "%s: %d of %d checks FAILED\n", name, g_failures, g_checks);
    return 1;
  }
  printf("%s: all %d checks passed\n", name, g_checks);
  return 0;
}

#endif
