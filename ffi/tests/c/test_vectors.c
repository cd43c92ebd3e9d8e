#define _POSIX_C_SOURCE 200809L /* strtok_r */
/* Runs OneFlow's expression vectors through the C API: compile, evaluate
 * with a resolver that averages over the case's VMs with stamen_average,
 * and compare value, trace and exception with what OneFlow produced.
 * Input: the line file written by tests/c_api.rs (hex-encoded strings). */
#include "stamen.h"
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTRS 16
#define MAX_VMS 16
#define POOL_SIZE 65536

static char pool[POOL_SIZE];
static size_t pool_used;

/* Decodes a hex token ("-" is empty) into the pool; NULL when malformed. */
static const char *unhex(const char *tok, size_t *len) {
  size_t n, i;
  char *out;
  if (strcmp(tok, "-") == 0) {
    *len = 0;
    return pool + pool_used;
  }
  n = strlen(tok);
  if (n % 2 != 0 || pool_used + n / 2 + 1 > POOL_SIZE) return NULL;
  out = pool + pool_used;
  for (i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(tok + 2 * i, "%2x", &v) != 1) return NULL;
    out[i] = (char)v;
  }
  out[n / 2] = '\0';
  pool_used += n / 2 + 1;
  *len = n / 2;
  return out;
}

struct attr {
  const char *name;
  size_t name_len;
  size_t n_vms;
  stamen_vm_attr vms[MAX_VMS];
};

struct vcase {
  char id[64];
  const char *expr;
  size_t expr_len;
  size_t n_attrs;
  struct attr attrs[MAX_ATTRS];
  char status[32];
  char value[4];
  const char *trace; /* NULL: no trace */
  size_t trace_len;
  char exc_class[64];
  const char *exc_message;
  size_t exc_message_len;
};

static struct vcase c;
static stamen_expr compiled;

static uint32_t resolve(void *user, const char *name, size_t len, double *value) {
  size_t i;
  (void)user;
  for (i = 0; i < c.n_attrs; i++) {
    struct attr *a = &c.attrs[i];
    if (a->name_len == len && memcmp(a->name, name, len) == 0) {
      stamen_avg avg;
      stamen_result rc = stamen_average(a->vms, a->n_vms, &avg);
      if (rc != STAMEN_RESULT_OK) return rc;
      if (!avg.found) return STAMEN_ATTR_MISSING;
      *value = avg.value;
      return STAMEN_ATTR_FOUND;
    }
  }
  fprintf(stderr, "case %s: resolver asked for an attribute the driver did not list\n", c.id);
  g_failures++;
  return STAMEN_ATTR_MISSING;
}

/* OneFlow's exception for an averaging error code. */
static int exception_of(stamen_result rc, const char **cls, const char **msg) {
  switch (rc) {
    case STAMEN_RESULT_AVG_INFINITY: *cls = "FloatDomainError"; *msg = "Infinity"; return 1;
    case STAMEN_RESULT_AVG_NEG_INFINITY: *cls = "FloatDomainError"; *msg = "-Infinity"; return 1;
    case STAMEN_RESULT_AVG_NAN: *cls = "FloatDomainError"; *msg = "NaN"; return 1;
    case STAMEN_RESULT_AVG_NO_SECTION: *cls = "NoMethodError"; *msg = "undefined method '[]' for nil"; return 1;
    case STAMEN_RESULT_AVG_BAD_SECTION: *cls = "TypeError"; *msg = "no implicit conversion of String into Integer"; return 1;
    default: return 0;
  }
}

#define FAIL(...)                             \
  do {                                        \
    g_failures++;                             \
    fprintf(stderr, "case %s: ", c.id);       \
    fprintf(stderr, __VA_ARGS__);             \
    fprintf(stderr, "\n");                    \
    return;                                   \
  } while (0)

static void run_case(void) {
  static char out[8192];
  size_t n = 0;
  uint8_t value = 2;
  stamen_result rc = stamen_expr_compile(c.expr, c.expr_len, &compiled);
  g_checks++;
  if (strcmp(c.status, "empty") == 0) {
    if (rc != STAMEN_RESULT_EXPR_EMPTY) FAIL("compile gave %u, want EXPR_EMPTY", (unsigned)rc);
    return;
  }
  if (strcmp(c.status, "parse_error") == 0) {
    if (rc != STAMEN_RESULT_EXPR_SYNTAX) FAIL("compile gave %u, want EXPR_SYNTAX", (unsigned)rc);
    rc = stamen_expr_syntax_error(c.expr, c.expr_len, (uint8_t *)out, sizeof out, &n);
    if (rc != STAMEN_RESULT_OK) FAIL("syntax_error gave %u", (unsigned)rc);
    if (c.trace == NULL || !bytes_eq(out, n, c.trace))
      FAIL("trace\n  got  %.*s\n  want %.*s", (int)n, out, (int)c.trace_len, c.trace ? c.trace : "");
    if (strcmp(c.value, "0") != 0) FAIL("parse errors evaluate to false");
    return;
  }
  if (rc != STAMEN_RESULT_OK) FAIL("compile gave %u, want OK", (unsigned)rc);
  rc = stamen_expr_eval_traced(&compiled, resolve, NULL, (uint8_t *)out, sizeof out, &n, &value);
  if (strcmp(c.status, "exception") == 0) {
    const char *cls = "", *msg = "";
    if (!exception_of(rc, &cls, &msg)) FAIL("eval gave %u, want an exception", (unsigned)rc);
    if (strcmp(cls, c.exc_class) != 0 || strlen(msg) != c.exc_message_len ||
        memcmp(msg, c.exc_message, c.exc_message_len) != 0)
      FAIL("exception %s: %s, want %s: %.*s", cls, msg, c.exc_class, (int)c.exc_message_len, c.exc_message);
    return;
  }
  if (strcmp(c.status, "ok") != 0) FAIL("unknown status %s", c.status);
  if (rc != STAMEN_RESULT_OK) FAIL("eval gave %u", (unsigned)rc);
  if ((value == 1) != (strcmp(c.value, "1") == 0)) FAIL("value %u, want %s", (unsigned)value, c.value);
  if (c.trace == NULL || n != c.trace_len || memcmp(out, c.trace, n) != 0)
    FAIL("trace\n  got  %.*s\n  want %.*s", (int)n, out, (int)c.trace_len, c.trace ? c.trace : "");
}

static int parse_lookup(char **save, stamen_lookup *l) {
  char *kind = strtok_r(NULL, " ", save);
  char *text = strtok_r(NULL, " ", save);
  char *num = strtok_r(NULL, " ", save);
  size_t len = 0;
  if (!kind || !text || !num) return 0;
  l->kind = (uint32_t)strtoul(kind, NULL, 10);
  l->text = unhex(text, &len);
  l->text_len = len;
  l->number = strtod(num, NULL);
  return l->text != NULL;
}

/* One `new_cardinality` case: role and policy as OneFlow reads them. */
static void run_ncase(char **save, const char *id, int *cases) {
  stamen_role_bounds role;
  stamen_adjustment adj;
  const char *type;
  size_t type_len = 0;
  char *tok;
  int64_t want, got = -1;
  stamen_result rc;
  (*cases)++;
  g_checks++;
  role.cardinality = strtoll(strtok_r(NULL, " ", save), NULL, 10);
  role.has_min_vms = (uint8_t)atoi(strtok_r(NULL, " ", save));
  role.min_vms = strtoll(strtok_r(NULL, " ", save), NULL, 10);
  role.has_max_vms = (uint8_t)atoi(strtok_r(NULL, " ", save));
  role.max_vms = strtoll(strtok_r(NULL, " ", save), NULL, 10);
  tok = strtok_r(NULL, " ", save);
  if (strcmp(tok, "missing") == 0) {
    adj.kind = STAMEN_ADJUST_MISSING;
  } else {
    type = unhex(tok, &type_len);
    if (!type || stamen_adjustment_type_from_name(type, type_len, &adj.kind) != STAMEN_RESULT_OK) {
      g_failures++;
      fprintf(stderr, "ncase %s: bad type\n", id);
      return;
    }
  }
  adj.adjust = strtoll(strtok_r(NULL, " ", save), NULL, 10);
  adj.min_adjust_step = strtoll(strtok_r(NULL, " ", save), NULL, 10);
  want = strtoll(strtok_r(NULL, " ", save), NULL, 10);
  rc = stamen_new_cardinality(&role, &adj, &got);
  if (rc != STAMEN_RESULT_OK || got != want) {
    g_failures++;
    fprintf(stderr, "ncase %s: got %lld (rc %u), want %lld\n", id, (long long)got, (unsigned)rc, (long long)want);
  }
}

int main(int argc, char **argv) {
  static char line[65536];
  FILE *f;
  int cases = 0, ncases = 0, bad_input = 0;
  struct attr *cur = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: %s VECTORS.txt\n", argv[0]);
    return 2;
  }
  f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  while (fgets(line, sizeof line, f)) {
    char *save = NULL;
    char *word;
    line[strcspn(line, "\n")] = '\0';
    word = strtok_r(line, " ", &save);
    if (!word) continue;
    if (strcmp(word, "case") == 0) {
      memset(&c, 0, sizeof c);
      pool_used = 0;
      cur = NULL;
      strncpy(c.id, strtok_r(NULL, " ", &save), sizeof c.id - 1);
    } else if (strcmp(word, "expr") == 0) {
      c.expr = unhex(strtok_r(NULL, " ", &save), &c.expr_len);
      if (!c.expr) bad_input++;
    } else if (strcmp(word, "attr") == 0) {
      if (c.n_attrs == MAX_ATTRS) { bad_input++; continue; }
      cur = &c.attrs[c.n_attrs++];
      cur->name = unhex(strtok_r(NULL, " ", &save), &cur->name_len);
      if (!cur->name) bad_input++;
    } else if (strcmp(word, "vm") == 0) {
      stamen_vm_attr *vm;
      int s;
      if (!cur || cur->n_vms == MAX_VMS) { bad_input++; continue; }
      vm = &cur->vms[cur->n_vms++];
      vm->running = (uint8_t)atoi(strtok_r(NULL, " ", &save));
      for (s = 0; s < 4; s++)
        if (!parse_lookup(&save, &vm->sections[s])) bad_input++;
    } else if (strcmp(word, "want") == 0) {
      strncpy(c.status, strtok_r(NULL, " ", &save), sizeof c.status - 1);
      strncpy(c.value, strtok_r(NULL, " ", &save), sizeof c.value - 1);
    } else if (strcmp(word, "trace") == 0) {
      char *t = strtok_r(NULL, " ", &save);
      c.trace = (t && strcmp(t, "-") == 0) ? NULL : unhex(t, &c.trace_len);
    } else if (strcmp(word, "exc") == 0) {
      strncpy(c.exc_class, strtok_r(NULL, " ", &save), sizeof c.exc_class - 1);
      c.exc_message = unhex(strtok_r(NULL, " ", &save), &c.exc_message_len);
    } else if (strcmp(word, "ncase") == 0) {
      const char *id = strtok_r(NULL, " ", &save);
      pool_used = 0;
      run_ncase(&save, id ? id : "?", &ncases);
    } else if (strcmp(word, "end") == 0) {
      cases++;
      run_case();
    } else {
      bad_input++;
    }
  }
  fclose(f);
  if (bad_input) {
    fprintf(stderr, "test_vectors: %d malformed input lines\n", bad_input);
    return 1;
  }
  if (g_failures) {
    fprintf(stderr, "test_vectors: %d of %d cases FAILED\n", g_failures, cases + ncases);
    return finish("test_vectors");
  }
  printf("test_vectors: %d cases, all match\n", cases);
  printf("test_vectors: %d new_cardinality cases, all match\n", ncases);
  return finish("test_vectors");
}
