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

/* Decodes a hex token ("-" is empty) into `buf`; NULL when malformed. */
static const char *unhex_in(char *buf, size_t size, size_t *used, const char *tok, size_t *len) {
  size_t n, i;
  char *out;
  if (!tok) return NULL;
  if (strcmp(tok, "-") == 0) {
    *len = 0;
    return buf + *used;
  }
  n = strlen(tok);
  if (n % 2 != 0 || *used + n / 2 + 1 > size) return NULL;
  out = buf + *used;
  for (i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(tok + 2 * i, "%2x", &v) != 1) return NULL;
    out[i] = (char)v;
  }
  out[n / 2] = '\0';
  *used += n / 2 + 1;
  *len = n / 2;
  return out;
}

static const char *unhex(const char *tok, size_t *len) { return unhex_in(pool, POOL_SIZE, &pool_used, tok, len); }

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

/* ---- autoscaler sequences ------------------------------------------------ */

static stamen_autoscaler scaler;
static char seq_pool[POOL_SIZE]; /* expressions: alive for the whole sequence */
static size_t seq_pool_used;
static int64_t tick_now;
static uint8_t tick_apply;
static int tick_ok; /* the last tick returned STAMEN_RESULT_OK */

static int64_t next_i64(char **save) {
  char *t = strtok_r(NULL, " ", save);
  return t ? strtoll(t, NULL, 10) : 0;
}

static int parse_adjustment(char **save, stamen_adjustment *a) {
  a->kind = (uint32_t)next_i64(save);
  a->adjust = next_i64(save);
  a->min_adjust_step = next_i64(save);
  return 1;
}

#define SFAIL(...)                                 \
  do {                                             \
    g_failures++;                                  \
    fprintf(stderr, "%s @%lld: ", c.id, (long long)tick_now); \
    fprintf(stderr, __VA_ARGS__);                  \
    fprintf(stderr, "\n");                         \
  } while (0)

static void seq_line(const char *word, char **save) {
  stamen_result rc;
  if (strcmp(word, "role") == 0) {
    stamen_role_bounds r;
    int64_t has_cd, cd;
    r.cardinality = next_i64(save);
    r.has_min_vms = (uint8_t)next_i64(save);
    r.min_vms = next_i64(save);
    r.has_max_vms = (uint8_t)next_i64(save);
    r.max_vms = next_i64(save);
    has_cd = next_i64(save);
    cd = next_i64(save);
    rc = stamen_autoscaler_init(&r, (uint8_t)has_cd, cd, STAMEN_DEFAULT_COOLDOWN, &scaler);
    if (rc != STAMEN_RESULT_OK) SFAIL("init gave %u", (unsigned)rc);
  } else if (strcmp(word, "epolicy") == 0) {
    stamen_elasticity_policy p;
    size_t len = 0;
    p.has_expression = (uint8_t)next_i64(save);
    p.expression = unhex_in(seq_pool, POOL_SIZE, &seq_pool_used, strtok_r(NULL, " ", save), &len);
    p.expression_len = len;
    parse_adjustment(save, &p.adjustment);
    p.period = next_i64(save);
    p.period_number = next_i64(save);
    p.has_cooldown = (uint8_t)next_i64(save);
    p.cooldown = next_i64(save);
    p.has_last_eval = 0;
    p.last_eval = 0;
    p.has_true_evals = 0;
    p.true_evals = 0;
    if (!p.expression) SFAIL("bad expression");
    rc = stamen_autoscaler_add_elasticity(&scaler, &p);
    if (rc != STAMEN_RESULT_OK) SFAIL("add_elasticity gave %u", (unsigned)rc);
  } else if (strcmp(word, "spolicy") == 0) {
    stamen_scheduled_policy p;
    size_t len = 0;
    p.has_adjustment = (uint8_t)next_i64(save);
    parse_adjustment(save, &p.adjustment);
    p.start_time = unhex(strtok_r(NULL, " ", save), &len);
    p.start_time_len = len;
    p.recurrence = unhex(strtok_r(NULL, " ", save), &len);
    p.recurrence_len = len;
    p.has_cooldown = (uint8_t)next_i64(save);
    p.cooldown = next_i64(save);
    p.has_last_eval = 0;
    p.last_eval = 0;
    if (!p.start_time || !p.recurrence) SFAIL("bad schedule");
    rc = stamen_autoscaler_add_scheduled(&scaler, &p);
    if (rc != STAMEN_RESULT_OK) SFAIL("add_scheduled gave %u", (unsigned)rc);
  } else if (strcmp(word, "tick") == 0) {
    tick_now = next_i64(save);
    tick_apply = (uint8_t)next_i64(save);
    c.n_attrs = 0;
    pool_used = 0;
  } else if (strcmp(word, "twant") == 0) {
    stamen_tick t;
    int64_t w[8];
    int i;
    for (i = 0; i < 8; i++) w[i] = next_i64(save);
    g_checks++;
    rc = stamen_autoscaler_tick(&scaler, tick_now, tick_apply, resolve, NULL, &t);
    tick_ok = rc == STAMEN_RESULT_OK;
    if (!tick_ok) {
      SFAIL("tick gave %u", (unsigned)rc);
      return;
    }
    if (t.diff != w[0]) SFAIL("diff %lld, want %lld", (long long)t.diff, (long long)w[0]);
    /* OneFlow's cooldown is compared only when it scaled (it is 0 otherwise). */
    if (t.diff != 0 && (t.has_cooldown != w[1] || (w[1] && t.cooldown != w[2])))
      SFAIL("cooldown %u/%lld, want %lld/%lld", (unsigned)t.has_cooldown, (long long)t.cooldown, (long long)w[1],
            (long long)w[2]);
    if (t.diff == 0 && w[2] != 0) SFAIL("cooldown of an idle pass must be 0");
    if (t.cardinality != w[3]) SFAIL("cardinality %lld, want %lld", (long long)t.cardinality, (long long)w[3]);
    if (t.role_cooldown != w[4])
      SFAIL("role cooldown %lld, want %lld", (long long)t.role_cooldown, (long long)w[4]);
    if (t.scale_error != (uint32_t)w[5]) SFAIL("scale_error %u, want %lld", (unsigned)t.scale_error, (long long)w[5]);
    if (w[5] != STAMEN_SCALE_ERROR_NONE && (t.has_scale_error_bound != w[6] || t.scale_error_bound != w[7]))
      SFAIL("scale_error bound %lld, want %lld", (long long)t.scale_error_bound, (long long)w[7]);
  } else if (strcmp(word, "texc") == 0) {
    stamen_tick t;
    const char *cls = "", *msg = "", *want_cls = strtok_r(NULL, " ", save);
    size_t len = 0;
    const char *want_msg = unhex(strtok_r(NULL, " ", save), &len);
    g_checks++;
    rc = stamen_autoscaler_tick(&scaler, tick_now, tick_apply, resolve, NULL, &t);
    tick_ok = 0;
    if (rc == STAMEN_RESULT_POLICY_MISSING_TYPE) {
      cls = "NoMethodError";
      msg = "undefined method 'upcase' for nil";
    } else if (!exception_of(rc, &cls, &msg)) {
      SFAIL("tick gave %u, want an exception", (unsigned)rc);
      return;
    }
    if (!want_cls || !want_msg || strcmp(cls, want_cls) != 0 || !bytes_eq(msg, strlen(msg), want_msg))
      SFAIL("exception %s: %s, want %s: %s", cls, msg, want_cls ? want_cls : "?", want_msg ? want_msg : "?");
  } else if (strcmp(word, "estate") == 0) {
    stamen_policy_state st;
    static char trace[STAMEN_POLICY_TRACE_MAX];
    size_t n = 0, len = 0;
    int64_t idx = next_i64(save), has_le = next_i64(save), le = next_i64(save), has_te = next_i64(save),
            te = next_i64(save), kind = next_i64(save);
    const char *want_trace = unhex(strtok_r(NULL, " ", save), &len);
    g_checks++;
    rc = stamen_autoscaler_elasticity_state(&scaler, (size_t)idx, (uint8_t *)trace, sizeof trace, &n, &st);
    if (rc != STAMEN_RESULT_OK) {
      SFAIL("elasticity_state gave %u", (unsigned)rc);
      return;
    }
    if (st.has_last_eval != has_le || (has_le && st.last_eval != le))
      SFAIL("policy %lld last_eval %u/%lld, want %lld/%lld", (long long)idx, (unsigned)st.has_last_eval,
            (long long)st.last_eval, (long long)has_le, (long long)le);
    if (st.has_true_evals != has_te || (has_te && st.true_evals != te))
      SFAIL("policy %lld true_evals %u/%lld, want %lld/%lld", (long long)idx, (unsigned)st.has_true_evals,
            (long long)st.true_evals, (long long)has_te, (long long)te);
    if (st.trace_kind != (uint32_t)kind || (kind == STAMEN_TRACE_TEXT && (!want_trace || !bytes_eq(trace, n, want_trace))))
      SFAIL("policy %lld trace (%u) %.*s, want (%lld) %s", (long long)idx, (unsigned)st.trace_kind, (int)n, trace,
            (long long)kind, want_trace ? want_trace : "?");
  } else if (strcmp(word, "sstate") == 0) {
    uint8_t has = 9;
    int64_t le = 0;
    int64_t idx = next_i64(save), has_le = next_i64(save), want = next_i64(save);
    g_checks++;
    rc = stamen_autoscaler_scheduled_state(&scaler, (size_t)idx, &has, &le);
    if (rc != STAMEN_RESULT_OK || has != has_le || (has_le && le != want))
      SFAIL("scheduled %lld last_eval %u/%lld, want %lld/%lld", (long long)idx, (unsigned)has, (long long)le,
            (long long)has_le, (long long)want);
  } else if (strcmp(word, "counts") == 0) {
    stamen_policy_state st;
    char trace[8];
    size_t n;
    uint8_t has;
    int64_t le, ne = next_i64(save), ns = next_i64(save);
    g_checks++;
    if (stamen_autoscaler_elasticity_state(&scaler, (size_t)ne, (uint8_t *)trace, sizeof trace, &n, &st) !=
            STAMEN_RESULT_NOT_FOUND ||
        stamen_autoscaler_scheduled_state(&scaler, (size_t)ns, &has, &le) != STAMEN_RESULT_NOT_FOUND)
      SFAIL("policy counts differ from %lld/%lld", (long long)ne, (long long)ns);
  } else {
    SFAIL("unknown line %s", word);
  }
}

int main(int argc, char **argv) {
  static char line[65536];
  FILE *f;
  int cases = 0, ncases = 0, scases = 0, in_seq = 0, bad_input = 0;
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
    } else if (strcmp(word, "scase") == 0) {
      memset(&c, 0, sizeof c);
      pool_used = 0;
      seq_pool_used = 0;
      cur = NULL;
      strncpy(c.id, strtok_r(NULL, " ", &save), sizeof c.id - 1);
      in_seq = 1;
    } else if (strcmp(word, "send") == 0) {
      in_seq = 0;
      scases++;
    } else if (in_seq && strcmp(word, "attr") != 0 && strcmp(word, "vm") != 0) {
      if (strcmp(word, "tick") == 0) cur = NULL;
      seq_line(word, &save);
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
    fprintf(stderr, "test_vectors: %d failures in %d cases\n", g_failures, cases + ncases + scases);
    return finish("test_vectors");
  }
  printf("test_vectors: %d cases, all match\n", cases);
  printf("test_vectors: %d new_cardinality cases, all match\n", ncases);
  printf("test_vectors: %d autoscaler sequences, all match\n", scases);
  return finish("test_vectors");
}
