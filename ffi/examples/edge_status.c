/* edge_status: what a C edge daemon does with libstamen.
 *
 *   1. parse the OpenNebula context (context.sh) into the FL settings,
 *   2. build the discovery backoff they ask for and run a retry loop
 *      (simulated time: the SuperLink answers on the 4th attempt),
 *   3. track the FL status and encode the OneGate `PUT /vm` body.
 *
 * Build: cc -std=c99 edge_status.c $(pkg-config --cflags --libs stamen)
 * Run:   ./edge_status /var/run/one-context/context.sh.local
 * No I/O besides reading the file and printing: the HTTP call is yours. */
#include <stamen.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint8_t input[65536];
static uint8_t scratch[sizeof input];

static void print_diag(void *user, const stamen_diag *d) {
  const char *file = (const char *)user;
  if (d->has_position) {
    fprintf(stderr, "%s:%u:%u: %.*s\n", file, (unsigned)d->line, (unsigned)d->column, (int)d->message.len,
            d->message.ptr);
  } else {
    fprintf(stderr, "%s: %.*s\n", file, (int)d->message.len, d->message.ptr);
  }
}

static int fail(const char *what, stamen_result rc) {
  char msg[STAMEN_RESULT_MESSAGE_MAX];
  size_t n = 0;
  if (stamen_result_message(rc, (uint8_t *)msg, sizeof msg, &n) != STAMEN_RESULT_OK) n = 0;
  fprintf(stderr, "%s: %.*s (stamen_result %u)\n", what, (int)n, msg, (unsigned)rc);
  return 1;
}

/* Stand-in for the OneGate/SuperLink call: fails three times, then works. */
static int try_discover(int attempt) { return attempt >= 4; }

int main(int argc, char **argv) {
  FILE *f;
  size_t len;
  stamen_result rc;
  stamen_edge_config cfg;
  stamen_backoff_config bcfg;
  stamen_backoff backoff;
  stamen_decision d;
  stamen_tracker_config tcfg;
  stamen_tracker tracker;
  stamen_fl_status st;
  stamen_publish pub;
  uint8_t body[STAMEN_STATUS_BODY_MAX];
  size_t body_len = 0;
  uint64_t now = 0;
  int attempt = 1;

  if (argc != 2) {
    fprintf(stderr, "usage: %s CONTEXT.sh\n", argv[0]);
    return 2;
  }
  f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  len = fread(input, 1, sizeof input, f);
  fclose(f);
  if (len == sizeof input) {
    fprintf(stderr, "%s: larger than %u bytes\n", argv[1], (unsigned)sizeof input);
    return 1;
  }

  /* 1. FL settings; every problem is printed with its line and column. */
  rc = stamen_edge_config_parse(input, len, STAMEN_DIALECT_CONTEXT_SH, scratch, sizeof scratch, print_diag,
                                argv[1], &cfg);
  if (rc != STAMEN_RESULT_OK) return fail("context", rc);
  if (cfg.superlink.len > 0) {
    printf("superlink: %.*s (host %.*s, port %u)\n", (int)cfg.superlink.len, cfg.superlink.ptr,
           (int)cfg.superlink_host_len, (const char *)cfg.superlink_host, (unsigned)cfg.superlink_port);
  } else {
    printf("superlink: discover through OneGate\n");
  }
  printf("vmid: %u, onegate: %.*s, tls: %s\n", (unsigned)cfg.vmid, (int)cfg.onegate_endpoint.len,
         cfg.onegate_endpoint.ptr, cfg.tls_enabled ? "YES" : "NO");

  /* 2. Discovery with the configured backoff. The seed spreads the nodes. */
  rc = stamen_backoff_config_from_edge(&cfg, &bcfg);
  if (rc != STAMEN_RESULT_OK) return fail("backoff config", rc);
  printf("backoff: %s, cap %llu ms\n", bcfg.strategy == STAMEN_BACKOFF_FIXED ? "fixed" : "exponential",
         (unsigned long long)bcfg.cap_ms);
  rc = stamen_backoff_init(&bcfg, 0x9E3779B97F4A7C15ull ^ cfg.vmid, &backoff);
  if (rc != STAMEN_RESULT_OK) return fail("backoff", rc);
  while (!try_discover(attempt)) {
    rc = stamen_backoff_on_failure(&backoff, now, &d);
    if (rc != STAMEN_RESULT_OK) return fail("backoff", rc);
    if (d.kind != STAMEN_DECISION_RETRY) {
      fprintf(stderr, "discovery: giving up after %u attempts\n", (unsigned)d.attempt);
      return 1;
    }
    printf("attempt %d failed; retry %u in %llu ms\n", attempt, (unsigned)d.attempt,
           (unsigned long long)d.delay_ms);
    now = d.at_ms; /* a real daemon sleeps until d.at_ms */
    attempt++;
  }
  stamen_backoff_on_success(&backoff, now);
  printf("discovered on attempt %d at t=%llu ms\n", attempt, (unsigned long long)now);

  /* 3. FL status: the tracker says when to publish; encode the body. */
  rc = stamen_tracker_config_default(&tcfg);
  if (rc == STAMEN_RESULT_OK) rc = stamen_tracker_init(&tcfg, cfg.vmid, &tracker);
  if (rc != STAMEN_RESULT_OK) return fail("tracker", rc);
  st.status = STAMEN_CLIENT_TRAINING;
  st.training_active = 1;
  st.round = 1;
  stamen_tracker_update(&tracker, now, &st);
  rc = stamen_tracker_poll(&tracker, now, &pub);
  if (rc != STAMEN_RESULT_OK) return fail("tracker poll", rc);
  rc = stamen_status_body(&pub.status, body, sizeof body, &body_len);
  if (rc != STAMEN_RESULT_OK) return fail("status body", rc);
  printf("PUT /vm (application/x-www-form-urlencoded)\nbody: %.*s\n", (int)body_len, (const char *)body);
  /* ...send it; then report the outcome so failures are retried: */
  stamen_tracker_published(&tracker, now + 20, &pub.status);
  return 0;
}
