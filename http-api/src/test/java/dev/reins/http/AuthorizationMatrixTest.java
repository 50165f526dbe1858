package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.ApiClient.RunWithToken;
import dev.reins.persistence.auth.TokenStore;
import dev.reins.protocol.auth.Scope;
import dev.reins.protocol.auth.Tenants;
import dev.reins.runtime.run.Runs;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

/**
 * Every endpoint of the server's own table, asked by every kind of caller, answers what the
 * endpoint's {@link Access} says, and a refused request changes nothing. The expected answer comes
 * from one oracle ({@link #expected}); the requests come from one sample per endpoint, and an
 * endpoint without a sample fails the test: a new route cannot be forgotten here.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthorizationMatrixTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final String OTHER_TENANT = "other";
  private static final Pattern PARAM = Pattern.compile("\\{([^}]+)}");

  private TestServer server;
  /** Running for the whole class: reads name it, and so does every refused command on a run. */
  private RunWithToken target;
  /** Running too: its token is "another run's token". */
  private RunWithToken another;
  /** Succeeded: a refused reset names it (a reset that got through would start its attempt 2). */
  private RunWithToken ended;
  /** A token a refused revocation names. */
  private String victimTokenId;
  /** A delegation of {@link #target} (a sleeping child run): reads name it, and so does a refused cancel. */
  private String targetDelegation;
  private List<Caller> callers;
  private final List<String> toCancel = new ArrayList<>();

  enum Kind { NO_TOKEN, WRONG_TOKEN, SCOPED, OTHER_TENANT, OWN_RUN, OTHER_RUN }

  enum Outcome { ALLOWED, UNAUTHORIZED, FORBIDDEN, NOT_FOUND }

  /** Who asks: what the oracle needs to know, and the token (per-run tokens are picked per request). */
  record Caller(String name, Kind kind, Set<Scope> scopes, String token) {}

  /**
   * A request to one endpoint: its path parameters, its body, the answer that proves it got past
   * authorization, the run it names (whose token is "the run's own"), and a check that it left
   * everything as it was, for when it must be refused.
   */
  record Prepared(Map<String, String> params, String body, int success, RunWithToken run, TestServer.Check unchanged) {}

  @FunctionalInterface
  interface Sample {
    /** @param allowed whether the request will get through: then it may need a fresh run or token */
    Prepared prepare(boolean allowed) throws Exception;
  }

  @BeforeAll
  void start() throws Exception {
    // the allowed delegation samples keep runs and child runs going until the end: room for all
    server = TestServer.start(Map.of("reins.worker.slots", 32));
    target = running();
    another = running();
    ended = server.submitShowingToken(null, PATIENCE);
    server.awaitState(ended.id(), "succeeded", PATIENCE);
    victimTokenId = server.createToken(null, "runs:read").get("id").asText();
    targetDelegation = delegate(target.id());

    callers = new ArrayList<>();
    callers.add(new Caller("no token", Kind.NO_TOKEN, Set.of(), null));
    callers.add(new Caller("an unknown API token", Kind.WRONG_TOKEN, Set.of(), TokenStore.TOKEN_PREFIX + "x".repeat(43)));
    callers.add(new Caller("a run token with another's signature", Kind.WRONG_TOKEN, Set.of(), withSignatureOf(target.token(), another.token())));
    callers.add(new Caller("an unsigned run token", Kind.WRONG_TOKEN, Set.of(), unsigned(target.token())));
    callers.add(new Caller("not a token", Kind.WRONG_TOKEN, Set.of(), "let-me-in"));
    for (Scope scope : Scope.values()) {
      callers.add(new Caller(scope.json(), Kind.SCOPED, Set.of(scope), secret(server.createToken(null, scope.json()))));
    }
    Set<Scope> runScopes = EnumSet.complementOf(EnumSet.of(Scope.ADMIN));
    callers.add(new Caller("another tenant's run scopes", Kind.OTHER_TENANT, runScopes,
        secret(server.createToken(OTHER_TENANT, runScopes.stream().map(Scope::json).toArray(String[]::new)))));
    callers.add(new Caller("another tenant's admin", Kind.OTHER_TENANT, Set.of(Scope.ADMIN),
        secret(server.createToken(OTHER_TENANT, "admin"))));
    callers.add(new Caller("the run's own token", Kind.OWN_RUN, Set.of(), null));
    callers.add(new Caller("another run's token", Kind.OTHER_RUN, Set.of(), null));
  }

  @AfterAll
  void stop() throws Exception {
    try {
      for (String id : toCancel) {
        server.post("/v1/runs/" + id + "/cancel?wait=15s", null);
      }
      TestServer.awaitNoChildProcesses(PATIENCE);
    } finally {
      server.close();
    }
  }

  // ---- the oracle -------------------------------------------------------------------------------

  /**
   * What {@code caller} must get from {@code endpoint}, from the endpoint's access rule alone. The
   * samples' path parameters all name things of the default tenant, so another tenant finds none of
   * them (404, as if they did not exist); a per-run token reaches only {@code ownRun} endpoints, and
   * there only its own run.
   */
  static Outcome expected(Endpoint endpoint, Caller caller) {
    Access access = endpoint.access();
    if (access.isPublic()) {
      return Outcome.ALLOWED;
    }
    return switch (caller.kind()) {
      case NO_TOKEN, WRONG_TOKEN -> Outcome.UNAUTHORIZED;
      case SCOPED -> has(caller, access.scope()) ? Outcome.ALLOWED : Outcome.FORBIDDEN;
      case OTHER_TENANT -> !has(caller, access.scope()) || access.operatorsOnly() ? Outcome.FORBIDDEN
          : PARAM.matcher(endpoint.path()).find() ? Outcome.NOT_FOUND : Outcome.ALLOWED;
      case OWN_RUN -> access.ownRun() ? Outcome.ALLOWED : Outcome.FORBIDDEN;
      // on a path naming a run, another run's token finds nothing; elsewhere (the feed) it reads its own run's
      case OTHER_RUN -> !access.ownRun() ? Outcome.FORBIDDEN
          : PARAM.matcher(endpoint.path()).find() ? Outcome.NOT_FOUND : Outcome.ALLOWED;
    };
  }

  private static boolean has(Caller caller, Scope scope) {
    return caller.scopes().contains(scope) || caller.scopes().contains(Scope.ADMIN);
  }

  // ---- one sample request per endpoint ---------------------------------------------------------

  private Map<String, Sample> samples() {
    Map<String, Sample> samples = new LinkedHashMap<>();
    samples.put("POST /runs", allowed -> {
      // an idempotency key fixes the id the run would get, so that its absence can be checked
      String key = "matrix-" + UUID.randomUUID();
      String wouldBe = Runs.newRunId(Tenants.DEFAULT, key);
      return new Prepared(Map.of(), "{\"executor\":{\"command\":[\"true\"]},\"idempotencyKey\":\"" + key + "\"}", 202, target,
          () -> assertEquals(404, server.get("/v1/runs/" + wouldBe).statusCode(), "a refused submit created run " + wouldBe));
    });
    samples.put("GET /runs/{id}", allowed -> onRun(target, null, 200));
    samples.put("GET /runs/{id}/events", allowed -> onRun(target, null, 200));
    samples.put("GET /runs/{id}/logs", allowed -> onRun(target, null, 200));
    samples.put("GET /runs/{id}/events/stream", allowed -> onRun(target, null, 200));
    samples.put("GET /events", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("GET /events/stream", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("POST /runs/{id}/cancel", allowed -> onRun(allowed ? running() : target, "{\"reason\":\"matrix\"}", 202));
    samples.put("POST /runs/{id}/reset", allowed -> {
      RunWithToken run = ended;
      if (allowed) {
        run = server.submitShowingToken(null, PATIENCE);
        server.awaitState(run.id(), "succeeded", PATIENCE);
      }
      return onRun(run, "{}", 200);
    });
    samples.put("POST /admin/tokens", allowed -> {
      int before = tokenCount();
      return new Prepared(Map.of(), "{\"name\":\"matrix\",\"scopes\":[\"runs:read\"]}", 201, target,
          () -> assertEquals(before, tokenCount(), "a refused request created a token"));
    });
    samples.put("GET /admin/tokens", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("GET /admin/tokens/{tokenId}", allowed -> new Prepared(Map.of("tokenId", victimTokenId), null, 200, target, () -> {}));
    samples.put("DELETE /admin/tokens/{tokenId}", allowed -> {
      String id = allowed ? server.createToken(null, "runs:read").get("id").asText() : victimTokenId;
      return new Prepared(Map.of("tokenId", id), null, 200, target, () -> assertFalse(
          token(victimTokenId).has("revokedAt"), "a refused request revoked token " + victimTokenId));
    });
    samples.put("POST /runs/{id}/delegations", allowed -> {
      RunWithToken run = allowed ? running() : target;
      JsonNode before = TestServer.json(server.get("/v1/runs/" + run.id() + "/delegations"));
      Prepared onRun = onRun(run, "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}}}", 202);
      return new Prepared(onRun.params(), onRun.body(), 202, run, () -> {
        onRun.unchanged().run();
        assertEquals(before.size(), TestServer.json(server.get("/v1/runs/" + run.id() + "/delegations")).size(),
            "a refused request created a delegation");
      });
    });
    samples.put("GET /runs/{id}/delegations", allowed -> onRun(target, null, 200));
    samples.put("GET /runs/{id}/delegations/{did}", allowed -> onDelegation(target, targetDelegation, 200));
    samples.put("POST /runs/{id}/delegations/{did}/cancel", allowed -> {
      if (allowed) {
        RunWithToken run = running();
        return onDelegation(run, delegate(run.id()), 202);
      }
      return onDelegation(target, targetDelegation, 202);
    });
    samples.put("GET /runs", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("GET /admin/projections", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("POST /admin/projections/runs/rebuild", allowed -> new Prepared(Map.of(), null, 202, target, () -> {}));
    samples.put("GET /cluster", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("GET /health/live", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("GET /metrics", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("GET /health/ready", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    samples.put("GET /openapi.json", allowed -> new Prepared(Map.of(), null, 200, target, () -> {}));
    return samples;
  }

  /** A request naming {@code run}; refused, it must leave the run's state and version as they are. */
  private Prepared onRun(RunWithToken run, String body, int success) throws Exception {
    JsonNode before = TestServer.json(server.get("/v1/runs/" + run.id()));
    return new Prepared(Map.of("id", run.id()), body, success, run, () -> {
      JsonNode after = TestServer.json(server.get("/v1/runs/" + run.id()));
      assertEquals(before.get("state").asText(), after.get("state").asText(), "state of run " + run.id());
      assertEquals(before.get("version").asLong(), after.get("version").asLong(), "a refused request wrote an event");
    });
  }

  /**
   * A request naming delegation {@code did} of {@code run}; refused, it must leave the run's
   * version and the delegation's state as they are.
   */
  private Prepared onDelegation(RunWithToken run, String did, int success) throws Exception {
    Prepared onRun = onRun(run, null, success);
    String path = "/v1/runs/" + run.id() + "/delegations/" + did;
    String state = TestServer.json(server.get(path)).get("state").asText();
    return new Prepared(Map.of("id", run.id(), "did", did), null, success, run, () -> {
      onRun.unchanged().run();
      assertEquals(state, TestServer.json(server.get(path)).get("state").asText(), "state of delegation " + did);
    });
  }

  /** A delegation of {@code runId} to a child run that sleeps until it is cancelled (with its parent). */
  private String delegate(String runId) throws Exception {
    HttpResponse<String> r = server.post("/v1/runs/" + runId + "/delegations",
        "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"600\"]}}}");
    assertEquals(202, r.statusCode(), r.body());
    String id = TestServer.json(r).get("id").asText();
    // working: its child run exists, so that a cancel has something to cancel
    TestServer.awaitAssert(PATIENCE, () -> assertEquals("working",
        TestServer.json(server.get("/v1/runs/" + runId + "/delegations/" + id)).get("state").asText()));
    return id;
  }

  // ---- the matrix ------------------------------------------------------------------------------

  @TestFactory
  Stream<DynamicTest> everyEndpointAnswersEveryCallerAsItsAccessRuleSays() {
    List<Endpoint> table = server.server.endpoints();
    Map<String, Sample> samples = samples();
    List<DynamicTest> tests = new ArrayList<>();
    tests.add(dynamicTest("no sample without an endpoint", () -> {
      Set<String> stale = new TreeSet<>(samples.keySet());
      stale.removeAll(table.stream().map(AuthorizationMatrixTest::key).toList());
      assertEquals(Set.of(), stale, "samples of endpoints the server no longer has");
    }));
    for (Endpoint endpoint : table) {
      for (Caller caller : callers) {
        Outcome outcome = expected(endpoint, caller);
        String name = key(endpoint) + " as " + caller.name() + ": " + outcome;
        tests.add(dynamicTest(name, () -> {
          try {
            check(endpoint, caller, outcome, samples.get(key(endpoint)));
          } catch (AssertionError e) {
            throw new AssertionError(name + ": " + e.getMessage(), e);
          }
        }));
      }
    }
    return tests.stream();
  }

  private void check(Endpoint endpoint, Caller caller, Outcome outcome, Sample sample) throws Exception {
    assertNotNull(sample, "no sample request for " + key(endpoint) + ": add one to samples(), so that its access is tested");
    Prepared p = sample.prepare(outcome == Outcome.ALLOWED);
    String token = switch (caller.kind()) {
      case OWN_RUN -> p.run().token();
      case OTHER_RUN -> another.token();
      default -> caller.token();
    };
    if (caller.kind() == Kind.OTHER_RUN) {
      assertNotEquals(another.id(), p.run().id(), "the sample names the run whose token is 'another run's'");
    }
    String path = "/v1" + fill(endpoint.path(), p.params(), key(endpoint));
    HttpResponse<String> r = server.as(token)
        .send(endpoint.method(), path, p.body() == null ? null : "application/json", p.body(), Map.of());
    String context = endpoint.method() + " " + path + " as " + caller.name() + " -> " + r.statusCode() + " " + r.body();
    switch (outcome) {
      case ALLOWED -> assertEquals(p.success(), r.statusCode(), context);
      case UNAUTHORIZED -> {
        assertProblem(r, 401, "unauthorized", null);
        assertTrue(r.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer realm=\"reins\""), context);
      }
      case FORBIDDEN -> assertProblem(r, 403, "forbidden", null);
      case NOT_FOUND -> assertProblem(r, 404, "not-found", null);
    }
    if (outcome != Outcome.ALLOWED) {
      p.unchanged().run();
    }
  }

  // ---- tokens over time ------------------------------------------------------------------------

  /** On every endpoint a per-run token may call, it stops working when its attempt ends. */
  @Test
  void aRunsOwnTokenStopsWorkingWhenItsAttemptEnds() throws Exception {
    List<Endpoint> ownRun = server.server.endpoints().stream().filter(e -> e.access().ownRun()).toList();
    assertFalse(ownRun.isEmpty(), "no endpoint takes per-run tokens");
    RunWithToken run = running();
    assertEquals(200, server.as(run.token()).get("/v1/runs/" + run.id()).statusCode());

    assertEquals(200, server.post("/v1/runs/" + run.id() + "/cancel?wait=15s", null).statusCode());
    for (Endpoint e : ownRun) {
      assertProblem(sendAsOwnRun(e, run), 401, "unauthorized", null);
    }
    // nor does it come back with attempt 2, which gets a token of its own
    assertEquals(200, server.post("/v1/runs/" + run.id() + "/reset", null).statusCode());
    for (Endpoint e : ownRun) {
      assertProblem(sendAsOwnRun(e, run), 401, "unauthorized", null);
    }
  }

  /** The endpoint's sample, but naming {@code run} and sent with its token. */
  private HttpResponse<String> sendAsOwnRun(Endpoint e, RunWithToken run) throws Exception {
    Sample sample = samples().get(key(e));
    assertNotNull(sample, "no sample request for " + key(e));
    Prepared p = sample.prepare(false);
    Map<String, String> params = new LinkedHashMap<>(p.params());
    params.put("id", run.id());
    return server.as(run.token()).send(e.method(), "/v1" + fill(e.path(), params, key(e)),
        p.body() == null ? null : "application/json", p.body(), Map.of());
  }

  @Test
  void anExpiredTokenIs401() throws Exception {
    Instant expiresAt = Instant.now().plusSeconds(3);
    JsonNode created = server.createToken(null, List.of("runs:read"), expiresAt);
    ApiClient client = server.as(secret(created));
    HttpResponse<String> before = client.get("/v1/runs/" + target.id());
    if (Instant.now().isBefore(expiresAt)) {
      assertEquals(200, before.statusCode(), before.body()); // and now the node has it in its cache
    }
    TestServer.awaitAssert(PATIENCE, () -> assertTrue(Instant.now().isAfter(expiresAt)));
    HttpResponse<String> after = client.get("/v1/runs/" + target.id());
    assertProblem(after, 401, "unauthorized", null);
    assertTrue(after.headers().firstValue("WWW-Authenticate").orElse("").contains("invalid_token"));
  }

  @Test
  void aRevokedTokenIs401AtOnceOnTheNodeThatRevokedIt() throws Exception {
    JsonNode created = server.createToken(null, "runs:read");
    ApiClient client = server.as(secret(created));
    assertEquals(200, client.get("/v1/runs/" + target.id()).statusCode()); // and now the node has it in its cache

    HttpResponse<String> revoked = server.send("DELETE", "/v1/admin/tokens/" + created.get("id").asText(), null);
    assertEquals(200, revoked.statusCode(), revoked.body());
    assertProblem(client.get("/v1/runs/" + target.id()), 401, "unauthorized", null);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** A fresh running run that showed its token; cancelled at the end if the test did not. */
  private RunWithToken running() throws Exception {
    RunWithToken run = server.submitShowingToken("exec sleep 600", PATIENCE);
    toCancel.add(run.id());
    server.awaitState(run.id(), "running", PATIENCE);
    return run;
  }

  private static String key(Endpoint e) {
    return e.method() + " " + e.path();
  }

  /** The path of an endpoint's {@code template} with its parameters filled in from {@code params}. */
  static String fill(String template, Map<String, String> params, String key) {
    Matcher m = PARAM.matcher(template);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String value = params.get(m.group(1));
      assertNotNull(value, "the sample for " + key + " gives no {" + m.group(1) + "}");
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
  }

  private int tokenCount() throws Exception {
    return TestServer.json(server.get("/v1/admin/tokens")).size();
  }

  private JsonNode token(String id) throws Exception {
    HttpResponse<String> r = server.get("/v1/admin/tokens/" + id);
    assertEquals(200, r.statusCode(), r.body());
    return TestServer.json(r);
  }

  private static String secret(JsonNode createdToken) {
    return createdToken.get("token").asText();
  }

  /** {@code token}'s header and claims with {@code other}'s signature. */
  private static String withSignatureOf(String token, String other) {
    String[] parts = token.split("\\.");
    return parts[0] + "." + parts[1] + "." + other.split("\\.")[2];
  }

  /** {@code token}'s claims under {@code "alg":"none"}, without a signature. */
  private static String unsigned(String token) {
    String header = Base64.getUrlEncoder().withoutPadding()
        .encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
    return header + "." + token.split("\\.")[1] + ".";
  }
}
