/* policy_check: evaluate a OneFlow elasticity expression over attribute
 * values, exactly as OneFlow does (value and `expression_evaluated` trace).
 *
 * Build: cc -std=c99 policy_check.c $(pkg-config --cflags --libs stamen)
 * Run:   ./policy_check 'FL_CLIENT_STATUS == 2 && CPU > 80' FL_CLIENT_STATUS=2 CPU=91.5
 *
 * Each NAME=VALUE is one attribute of one RUNNING VM (its USER_TEMPLATE);
 * values convert like Ruby's String#to_f and are averaged like OneFlow. */
#include <stamen.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_ATTRS 32

struct attrs {
  int n;
  const char *name[MAX_ATTRS];
  size_t name_len[MAX_ATTRS];
  const char *value[MAX_ATTRS];
};

/* The resolver: OneFlow's average over our single VM. */
static uint32_t resolve(void *user, const char *name, size_t len, double *value) {
  const struct attrs *a = (const struct attrs *)user;
  int i, s;
  for (i = 0; i < a->n; i++) {
    if (a->name_len[i] == len && memcmp(a->name[i], name, len) == 0) {
      stamen_vm_attr vm;
      stamen_avg avg;
      stamen_result rc;
      vm.running = 1;
      for (s = 0; s < 4; s++) {
        vm.sections[s].kind = STAMEN_LOOKUP_MISSING;
        vm.sections[s].text = "";
        vm.sections[s].text_len = 0;
        vm.sections[s].number = 0;
      }
      vm.sections[0].kind = STAMEN_LOOKUP_TEXT; /* USER_TEMPLATE */
      vm.sections[0].text = a->value[i];
      vm.sections[0].text_len = strlen(a->value[i]);
      rc = stamen_average(&vm, 1, &avg);
      if (rc != STAMEN_RESULT_OK) return rc; /* OneFlow would raise */
      if (!avg.found) return STAMEN_ATTR_MISSING;
      *value = avg.value;
      return STAMEN_ATTR_FOUND;
    }
  }
  return STAMEN_ATTR_MISSING;
}

int main(int argc, char **argv) {
  static stamen_expr expr; /* 8 KB, caller-owned, no malloc */
  struct attrs attrs;
  char trace[4096];
  size_t n = 0;
  uint8_t value = 0;
  stamen_result rc;
  int i;

  if (argc < 2) {
    fprintf(stderr, "usage: %s EXPRESSION [NAME=VALUE...]\n", argv[0]);
    return 2;
  }
  attrs.n = 0;
  for (i = 2; i < argc && attrs.n < MAX_ATTRS; i++) {
    const char *eq = strchr(argv[i], '=');
    if (!eq) {
      fprintf(stderr, "%s: expected NAME=VALUE\n", argv[i]);
      return 2;
    }
    attrs.name[attrs.n] = argv[i];
    attrs.name_len[attrs.n] = (size_t)(eq - argv[i]);
    attrs.value[attrs.n] = eq + 1;
    attrs.n++;
  }

  rc = stamen_expr_compile(argv[1], strlen(argv[1]), &expr);
  if (rc == STAMEN_RESULT_EXPR_SYNTAX) {
    /* OneFlow evaluates the policy to false and stores this trace. */
    if (stamen_expr_syntax_error(argv[1], strlen(argv[1]), (uint8_t *)trace, sizeof trace, &n) == STAMEN_RESULT_OK)
      printf("value: false\ntrace: %.*s\n", (int)n, trace);
    return 1;
  }
  if (rc == STAMEN_RESULT_EXPR_EMPTY) {
    printf("value: false (empty expression)\n");
    return 1;
  }
  if (rc != STAMEN_RESULT_OK) {
    fprintf(stderr, "cannot compile (stamen_result %u)\n", (unsigned)rc);
    return 1;
  }
  rc = stamen_expr_eval_traced(&expr, resolve, &attrs, (uint8_t *)trace, sizeof trace, &n, &value);
  if (rc != STAMEN_RESULT_OK) {
    char msg[STAMEN_RESULT_MESSAGE_MAX];
    size_t m = 0;
    stamen_result_message(rc, (uint8_t *)msg, sizeof msg, &m);
    fprintf(stderr, "evaluation failed: %.*s\n", (int)m, msg);
    return 1;
  }
  printf("value: %s\ntrace: %.*s\n", value ? "true" : "false", (int)n, trace);
  return 0;
}
