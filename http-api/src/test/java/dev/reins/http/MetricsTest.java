package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** {@code /metrics} is Prometheus text, closed to all but the operators' tokens, and moves when runs move. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MetricsTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private TestServer server;

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  void stop() {
    server.close();
  }

  private PrometheusText scrape() throws Exception {
    HttpResponse<String> r = server.get("/metrics");
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"),
        r.headers().toString());
    return PrometheusText.parse(r.body());
  }

  @Test
  void metricsMoveWhenARunIsSubmittedRunsAndIsCancelled() throws Exception {
    PrometheusText before = scrape();
    assertTrue(before.sum("reins_worker_slots") > 0, "the node's slots: " + before.names());
    assertEquals("gauge", before.types().get("reins_runs"));

    String id = server.submit("[\"sleep\",\"600\"]", null);
    server.awaitState(id, "running", PATIENCE);
    TestServer.awaitAssert(PATIENCE, () -> {
      PrometheusText running = scrape();
      assertEquals(before.value("reins_run_submits_total") + 1, running.value("reins_run_submits_total"));
      assertEquals(before.value("reins_run_transitions_total", "to", "running") + 1,
          running.value("reins_run_transitions_total", "to", "running"));
      assertTrue(running.sum("reins_worker_slots_busy") >= 1, "a busy slot");
      // from the run list read model: follows the journal within the projection's lag
      assertTrue(running.value("reins_runs", "state", "running") >= 1, "runs by state from the read model");
      assertTrue(running.sum("reins_journal_write_seconds_count", "entity", "run")
          >= before.sum("reins_journal_write_seconds_count", "entity", "run") + 3, "submitted, placed, started: three writes");
    });

    HttpResponse<String> cancelled = server.post("/v1/runs/" + id + "/cancel?wait=20s", "{\"reason\":\"metrics\"}");
    assertEquals(200, cancelled.statusCode(), cancelled.body());
    TestServer.awaitAssert(PATIENCE, () -> {
      PrometheusText after = scrape();
      assertEquals("counter", after.types().get("reins_run_cancels_total"));
      assertEquals("histogram", after.types().get("reins_cancel_stop_latency_seconds"));
      assertEquals(before.value("reins_run_cancels_total") + 1, after.value("reins_run_cancels_total"));
      assertEquals(before.value("reins_cancel_stop_latency_seconds_count") + 1, after.value("reins_cancel_stop_latency_seconds_count"));
      assertEquals(before.value("reins_attempt_duration_seconds_count", "outcome", "cancelled") + 1,
          after.value("reins_attempt_duration_seconds_count", "outcome", "cancelled"));
      assertEquals(0, after.sum("reins_worker_slots_busy"), "the slot is free again");
      assertTrue(after.value("reins_runs", "state", "cancelled") >= 1);
      // HTTP requests are counted by route template, never by the raw path
      assertTrue(after.sum("reins_http_server_requests_seconds_count", "route", "/v1/runs/{id}/cancel", "status", "200") >= 1,
          "the cancel, by its route's template");
      assertTrue(after.sum("reins_http_server_requests_seconds_count", "route", "/v1/runs", "method", "POST", "status", "202") >= 1);
      assertFalse(after.samples().keySet().stream().anyMatch(k -> k.contains(id)), "no series names a run id");
    });
  }

  @Test
  void onlyTheOperatorsTokensMayScrape() throws Exception {
    String scraper = server.createToken(null, "metrics:read").get("token").asText();
    String reader = server.createToken(null, "runs:read").get("token").asText();
    String otherTenant = server.createToken("other", "metrics:read").get("token").asText();

    assertProblem(server.as(null).get("/metrics"), 401, "unauthorized", null);
    assertProblem(server.as(reader).get("/metrics"), 403, "forbidden", null);
    assertProblem(server.as(otherTenant).get("/metrics"), 403, "forbidden", null);
    assertEquals(200, server.as(scraper).get("/metrics").statusCode());
    assertEquals(200, server.as(scraper).get("/v1/metrics").statusCode(), "the same endpoint under /v1");
    assertEquals(405, server.as(scraper).send("POST", "/metrics", null).statusCode());
  }

  @Test
  void metricsCanBeTurnedOff() throws Exception {
    try (TestServer off = TestServer.start(Map.of("reins.metrics.enabled", false))) {
      assertProblem(off.get("/metrics"), 404, "not-found", null);
      String id = off.submit("[\"true\"]", null);
      off.awaitState(id, "succeeded", PATIENCE);
    }
  }
}
