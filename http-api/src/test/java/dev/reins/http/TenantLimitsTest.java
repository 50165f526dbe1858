package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.runtime.run.Runs;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Per-tenant limits: a tenant over its submit rate or its number of active runs gets 429 with
 * {@code Retry-After}, and nothing is journaled for it; other tenants do not notice; a run that
 * ends gives its slot back. Runs here wait for a gate file, so that they end when the test says.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TenantLimitsTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);

  /** At most 2 active runs per tenant, no rate limit. */
  private TestServer activeLimited;
  /** 3 submits, then one per 100 s, per tenant; no limit on active runs. */
  private TestServer rateLimited;
  private Path gates;
  private final List<Path> opened = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    activeLimited = TestServer.start(Map.of(
        "reins.limits.tenant.max-active-runs", 2,
        "reins.limits.tenant.submits-per-second", 0,
        "reins.limits.tenant.active-retry-after", "7s"));
    rateLimited = TestServer.start(Map.of(
        "reins.limits.tenant.max-active-runs", 0,
        "reins.limits.tenant.submits-per-second", 0.01,
        "reins.limits.tenant.submit-burst", 3));
    gates = Files.createTempDirectory("reins-gates-");
  }

  @AfterAll
  void stop() throws Exception {
    try {
      for (Path gate : opened) {
        open(gate);
      }
      TestServer.awaitNoChildProcesses(PATIENCE);
    } finally {
      try {
        activeLimited.close();
      } finally {
        rateLimited.close();
      }
    }
  }

  @Test
  void aTenantAtItsActiveRunLimitGets429UntilOneOfItsRunsEnds() throws Exception {
    ApiClient alpha = tenant(activeLimited, "alpha");
    ApiClient beta = tenant(activeLimited, "beta");
    Path gate1 = gate();
    String first = submitGated(alpha, gate1, "first");
    String second = submitGated(alpha, gate(), null);
    alpha.awaitState(first, "running", PATIENCE);
    alpha.awaitState(second, "running", PATIENCE);

    long events = activeLimited.journaledEvents();
    HttpResponse<String> refused = submit(alpha, gate(), "third");
    JsonNode problem = assertProblem(refused, 429, "too-many-requests", null);
    assertTrue(problem.get("detail").asText().contains("active runs"), problem.toString());
    assertEquals("7", refused.headers().firstValue("Retry-After").orElse(null));
    assertEquals(events, activeLimited.journaledEvents(), "events written for a 429");
    assertProblem(alpha.get("/v1/runs/" + Runs.newRunId("alpha", "third")), 404, "not-found", null);

    // the repeat of a live run's submission is no new run: it gets the run
    HttpResponse<String> repeat = submit(alpha, gate1, "first");
    assertEquals(200, repeat.statusCode(), repeat.body());
    assertEquals(first, TestServer.json(repeat).get("id").asText());

    // another tenant does not notice
    String betas = submitGated(beta, gate(), null);
    beta.awaitState(betas, "running", PATIENCE);

    // a run that ends gives its slot back
    open(gate1);
    alpha.awaitState(first, "succeeded", PATIENCE);
    Path gate3 = gate();
    String third = TestServer.await(PATIENCE, () -> {
      HttpResponse<String> r = submit(alpha, gate3, "third");
      assertEquals(202, r.statusCode(), r.body());
      return TestServer.json(r).get("id").asText();
    });
    alpha.awaitState(third, "running", PATIENCE);
  }

  /** A reset starts a new attempt of a terminal run: an active run like a new one, admitted the same way. */
  @Test
  void aResetAtTheActiveRunLimitIs429AndChangesNothing() throws Exception {
    ApiClient epsilon = tenant(activeLimited, "epsilon");
    Path gate1 = gate();
    String done = submitGated(epsilon, gate1, null);
    open(gate1);
    epsilon.awaitState(done, "succeeded", PATIENCE);
    Path gate2 = gate();
    String second = submitGated(epsilon, gate2, null);
    String third = submitGated(epsilon, gate(), null);
    epsilon.awaitState(second, "running", PATIENCE);
    epsilon.awaitState(third, "running", PATIENCE);

    long events = activeLimited.journaledEvents();
    HttpResponse<String> refused = epsilon.post("/v1/runs/" + done + "/reset", null);
    JsonNode problem = assertProblem(refused, 429, "too-many-requests", null);
    assertTrue(problem.get("detail").asText().contains("active runs"), problem.toString());
    assertEquals("7", refused.headers().firstValue("Retry-After").orElse(null));
    assertEquals(events, activeLimited.journaledEvents(), "events written for a 429");
    JsonNode after = TestServer.json(epsilon.get("/v1/runs/" + done));
    assertEquals("succeeded", after.get("state").asText());
    assertEquals(1, after.get("attempt").asInt());

    // once a run ends there is a slot again, and resets refused for another reason leave it free
    open(gate2);
    epsilon.awaitState(second, "succeeded", PATIENCE);
    TestServer.awaitAssert(PATIENCE, () ->
        assertProblem(epsilon.post("/v1/runs/" + UUID.randomUUID() + "/reset", null), 404, "not-found", null));
    assertProblem(epsilon.post("/v1/runs/" + third + "/reset", null), 409, "invalid-state", null);
    TestServer.awaitAssert(PATIENCE, () -> {
      HttpResponse<String> r = epsilon.post("/v1/runs/" + done + "/reset", null);
      assertEquals(200, r.statusCode(), r.body());
    });
    assertEquals(2, TestServer.json(epsilon.get("/v1/runs/" + done)).get("attempt").asInt());
  }

  @Test
  void aTenantOverItsSubmitRateGets429() throws Exception {
    ApiClient gamma = tenant(rateLimited, "gamma");
    ApiClient delta = tenant(rateLimited, "delta");
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(submitGated(gamma, gate(), null));
    }
    for (String id : ids) {
      gamma.awaitState(id, "running", PATIENCE);
    }

    long events = rateLimited.journaledEvents();
    HttpResponse<String> refused = submit(gamma, gate(), "fourth");
    JsonNode problem = assertProblem(refused, 429, "too-many-requests", null);
    assertTrue(problem.get("detail").asText().contains("per second"), problem.toString());
    long retryAfter = Long.parseLong(refused.headers().firstValue("Retry-After").orElse("0"));
    assertTrue(retryAfter >= 1, "Retry-After " + retryAfter);
    assertEquals(events, rateLimited.journaledEvents(), "events written for a 429");
    assertProblem(gamma.get("/v1/runs/" + Runs.newRunId("gamma", "fourth")), 404, "not-found", null);

    // another tenant has a bucket of its own
    String deltas = submitGated(delta, gate(), null);
    delta.awaitState(deltas, "running", PATIENCE);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** A client of a new tenant that may submit, read, cancel and reset. */
  private static ApiClient tenant(TestServer server, String tenant) throws Exception {
    return server.as(server.createToken(tenant, "runs:submit", "runs:read", "runs:cancel", "runs:reset").get("token").asText());
  }

  private Path gate() {
    Path gate = gates.resolve("gate-" + opened.size());
    opened.add(gate);
    return gate;
  }

  private static void open(Path gate) throws Exception {
    if (!Files.exists(gate)) {
      Files.createFile(gate);
    }
  }

  /** Submits a run that ends (succeeds) once {@code gate} exists. */
  private static HttpResponse<String> submit(ApiClient client, Path gate, String idempotencyKey) throws Exception {
    String command = ReinsJson.mapper().writeValueAsString(
        List.of("sh", "-c", "while [ ! -e '" + gate + "' ]; do sleep 0.1; done"));
    String body = "{\"executor\":{\"command\":" + command + "}"
        + (idempotencyKey == null ? "" : ",\"idempotencyKey\":\"" + idempotencyKey + "\"") + "}";
    return client.post("/v1/runs", body);
  }

  private static String submitGated(ApiClient client, Path gate, String idempotencyKey) throws Exception {
    HttpResponse<String> r = submit(client, gate, idempotencyKey);
    assertEquals(202, r.statusCode(), r.body());
    return TestServer.json(r).get("id").asText();
  }
}
