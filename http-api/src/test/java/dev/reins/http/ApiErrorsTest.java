package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.runtime.run.RunEntity;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery;
import org.apache.pekko.cluster.sharding.typed.GetShardRegionState;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every client mistake gets its documented RFC 9457 problem, never a 500 or a text/plain answer,
 * and none of them harms the server: the last test checks that it is still ready and takes runs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ApiErrorsTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final String VALID = "{\"executor\":{\"type\":\"process\",\"command\":[\"true\"]}}";

  private TestServer server;
  /** A run whose attempt 1 runs {@code sleep 600} for the whole class; cancelled at the end. */
  private String running;

  @BeforeAll
  void start() throws Exception {
    // idle entities leave memory after a second (30 s by default), as they would in a long-lived
    // server; the running run stays
    server = TestServer.start(Map.of("reins.runs.passivate-after", "1s"));
    running = server.submit("[\"sleep\",\"600\"]", null);
    server.awaitState(running, "running", PATIENCE);
  }

  @AfterAll
  void stop() throws Exception {
    server.closeAfterCancelling(running);
  }

  // ---- POST /v1/runs bodies -------------------------------------------------------------------

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {
      "{\"executor\":",
      "not json",
      "{'executor':{'command':['true']}}",
      "{\"executor\":{\"command\":[\"true\",]}}",
      "{\"executor\":{\"command\":[\"true\"]}} {\"executor\":{\"command\":[\"false\"]}}",
      "{\"executor\":{\"command\":[\"true\"]}} trailing",
      // half of a surrogate pair is no text: it could be accepted but never journaled and read back
      "{\"executor\":{\"command\":[\"echo\",\"a\\ud800b\"]}}",
      "{\"executor\":{\"command\":[\"true\"]},\"labels\":{\"\\udc00\":\"x\"}}",
      "{\"executor\":{\"command\":[\"true\"],\"env\":{\"A\":\"\\ude00\\ud83d\"}}}",
  })
  void malformedJsonIsA400MalformedJson(String body) throws Exception {
    assertProblem(server.post("/v1/runs", body), 400, "malformed-json", null);
  }

  @Test
  void aWholeSurrogatePairIsText() throws Exception {
    HttpResponse<String> r = server.post("/v1/runs", "{\"executor\":{\"command\":[\"echo\",\"\\ud83d\\ude00\"]}}");
    assertEquals(202, r.statusCode(), r.body());
    assertEquals("\uD83D\uDE00", ReinsJson.mapper().readTree(r.body()).path("executor").path("command").path(1).asText());
  }

  static Stream<Arguments> invalidSubmissions() {
    return Stream.of(
        // wrong types
        Arguments.of("command is a string", "{\"executor\":{\"command\":\"sleep 1\"}}", "executor.command"),
        Arguments.of("command holds a number", "{\"executor\":{\"command\":[1]}}", "executor.command[0]"),
        Arguments.of("second argument is an object", "{\"executor\":{\"command\":[\"sleep\",{}]}}", "executor.command[1]"),
        Arguments.of("command holds null", "{\"executor\":{\"command\":[null]}}", "executor.command[0]"),
        Arguments.of("timeoutSeconds is a string", cmd(",\"timeoutSeconds\":\"10\""), "timeoutSeconds"),
        Arguments.of("timeoutSeconds is fractional", cmd(",\"timeoutSeconds\":1.5"), "timeoutSeconds"),
        Arguments.of("timeoutSeconds is a boolean", cmd(",\"timeoutSeconds\":true"), "timeoutSeconds"),
        Arguments.of("timeoutSeconds overflows a long", cmd(",\"timeoutSeconds\":99999999999999999999"), "timeoutSeconds"),
        Arguments.of("retry.maxAttempts is a string", cmd(",\"retry\":{\"maxAttempts\":\"x\"}"), "retry.maxAttempts"),
        Arguments.of("retry is a number", cmd(",\"retry\":3"), "retry"),
        Arguments.of("executor is a string", "{\"executor\":\"process\"}", "executor"),
        Arguments.of("executor.type is a number", "{\"executor\":{\"type\":1,\"command\":[\"true\"]}}", "executor.type"),
        Arguments.of("env value is a number", "{\"executor\":{\"command\":[\"true\"],\"env\":{\"A\":1}}}", "executor.env.A"),
        Arguments.of("workdir is a number", "{\"executor\":{\"command\":[\"true\"],\"workdir\":5}}", "executor.workdir"),
        Arguments.of("label value is a number", cmd(",\"labels\":{\"a\":1}"), "labels.a"),
        Arguments.of("idempotencyKey is a number", cmd(",\"idempotencyKey\":5"), "idempotencyKey"),
        // the required command
        Arguments.of("empty object", "{}", "executor"),
        Arguments.of("executor is null", "{\"executor\":null}", "executor"),
        Arguments.of("executor without command", "{\"executor\":{\"type\":\"process\"}}", "executor.command"),
        Arguments.of("command is null", "{\"executor\":{\"command\":null}}", "executor.command"),
        Arguments.of("command is empty", "{\"executor\":{\"command\":[]}}", "executor.command"),
        Arguments.of("empty body", "", "executor.command"),
        Arguments.of("blank body", "  \n ", "executor.command"),
        Arguments.of("JSON null body", "null", "executor.command"),
        // unknown fields
        Arguments.of("unknown top-level field", cmd(",\"timeoutSecond\":5"), "timeoutSecond"),
        Arguments.of("unknown executor field", "{\"executor\":{\"cmd\":[\"true\"]}}", "executor.cmd"),
        Arguments.of("unknown retry field", cmd(",\"retry\":{\"max\":2}"), "retry.max"),
        // values out of range
        Arguments.of("timeoutSeconds 0", cmd(",\"timeoutSeconds\":0"), "timeoutSeconds"),
        Arguments.of("timeoutSeconds negative", cmd(",\"timeoutSeconds\":-5"), "timeoutSeconds"),
        Arguments.of("timeoutSeconds over a year", cmd(",\"timeoutSeconds\":31536001"), "timeoutSeconds"),
        Arguments.of("cancelGraceSeconds -1", cmd(",\"cancelGraceSeconds\":-1"), "cancelGraceSeconds"),
        Arguments.of("cancelGraceSeconds over an hour", cmd(",\"cancelGraceSeconds\":3601"), "cancelGraceSeconds"),
        Arguments.of("retry.maxAttempts 0", cmd(",\"retry\":{\"maxAttempts\":0}"), "retry.maxAttempts"),
        Arguments.of("retry.maxAttempts 1001", cmd(",\"retry\":{\"maxAttempts\":1001}"), "retry.maxAttempts"),
        Arguments.of("retry.backoffSeconds -1", cmd(",\"retry\":{\"backoffSeconds\":-1}"), "retry.backoffSeconds"),
        Arguments.of("blank executable", "{\"executor\":{\"command\":[\" \"]}}", "executor.command[0]"),
        Arguments.of("NUL in an argument", "{\"executor\":{\"command\":[\"echo\",\"a\\u0000b\"]}}", "executor.command[1]"),
        Arguments.of("empty env name", "{\"executor\":{\"command\":[\"true\"],\"env\":{\"\":\"x\"}}}", "executor.env"),
        Arguments.of("'=' in an env name", "{\"executor\":{\"command\":[\"true\"],\"env\":{\"A=B\":\"x\"}}}", "executor.env"),
        Arguments.of("blank workdir", "{\"executor\":{\"command\":[\"true\"],\"workdir\":\"\"}}", "executor.workdir"),
        Arguments.of("relative workdir", "{\"executor\":{\"command\":[\"true\"],\"workdir\":\"tmp\"}}", "executor.workdir"),
        Arguments.of("empty idempotencyKey", cmd(",\"idempotencyKey\":\"\""), "idempotencyKey"),
        Arguments.of("idempotencyKey too long", cmd(",\"idempotencyKey\":\"" + "k".repeat(201) + "\""), "idempotencyKey"),
        Arguments.of("empty label name", cmd(",\"labels\":{\"\":\"x\"}"), "labels"),
        // executors this server does not have
        Arguments.of("unknown executor type", "{\"executor\":{\"type\":\"docker\",\"command\":[\"true\"]}}", "executor.type"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidSubmissions")
  void invalidSubmissionIsA400NamingTheField(String name, String body, String field) throws Exception {
    assertProblem(server.post("/v1/runs", body), 400, "invalid-field", field);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"[]", "42", "\"run\"", "true"})
  void aBodyThatIsNotAnObjectIsA400(String body) throws Exception {
    HttpResponse<String> r = server.post("/v1/runs", body);
    assertProblem(r, 400, "invalid-field", null);
  }

  @ParameterizedTest(name = "chunked={0}")
  @ValueSource(booleans = {false, true})
  void aBodyOverOneMebibyteIsA413(boolean chunked) throws Exception {
    byte[] huge = hugeSubmission();
    assertProblem(server.sendBytes("POST", "/v1/runs", huge, chunked), 413, "payload-too-large", null);
  }

  @Test
  void aCancelBodyOverOneMebibyteIsA413AndCancelsNothing() throws Exception {
    byte[] huge = ("{\"reason\":\"" + "x".repeat(1024 * 1024) + "\"}").getBytes(StandardCharsets.UTF_8);
    assertProblem(server.sendBytes("POST", "/v1/runs/" + running + "/cancel", huge, false), 413, "payload-too-large", null);
    assertEquals("running", TestServer.json(server.get("/v1/runs/" + running)).get("state").asText());
  }

  // ---- unknown runs and routes ----------------------------------------------------------------

  /**
   * Looking up a run that does not exist is answered from the journal: no entity starts (with
   * remembered entities, starting one writes to the journal, and one that failed would be
   * restarted every few seconds, for ever, for every id anyone ever looked up).
   */
  @Test
  void anUnknownRunStartsNoEntity() throws Exception {
    String id = UUID.randomUUID().toString();
    for (String suffix : new String[] {"", "/events", "/logs"}) {
      assertProblem(server.get("/v1/runs/" + id + suffix), 404, "not-found", null);
    }
    assertProblem(server.post("/v1/runs/" + id + "/cancel?wait=1s", null), 404, "not-found", null);
    assertProblem(server.post("/v1/runs/" + id + "/reset", null), 404, "not-found", null);
    assertFalse(activeRunEntities().contains(id), "an entity was started for an unknown run");
  }

  private Set<String> activeRunEntities() throws Exception {
    ActorSystem<Void> system = server.server.system();
    ShardRegion.CurrentShardRegionState state = AskPattern.<ClusterShardingQuery, ShardRegion.CurrentShardRegionState>ask(
            ClusterSharding.get(system).shardState(),
            replyTo -> new GetShardRegionState(RunEntity.TYPE_KEY, replyTo),
            PATIENCE,
            system.scheduler())
        .toCompletableFuture().get();
    return state.getShards().stream().flatMap(s -> s.getEntityIds().stream()).collect(Collectors.toSet());
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("runEndpoints")
  void anUnknownRunIsA404(String method, String suffix) throws Exception {
    String id = UUID.randomUUID().toString();
    assertProblem(server.send(method, "/v1/runs/" + id + suffix, null), 404, "not-found", null);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("runEndpoints")
  void anIdThatIsNotAUuidIsA404(String method, String suffix) throws Exception {
    for (String id : new String[] {"not-a-uuid", "..%2F..%2Fetc", UUID.randomUUID().toString().toUpperCase(), "1"}) {
      assertProblem(server.send(method, "/v1/runs/" + id + suffix, null), 404, "not-found", null);
    }
  }

  static Stream<Arguments> runEndpoints() {
    return Stream.of(
        Arguments.of("GET", ""),
        Arguments.of("POST", "/cancel"),
        Arguments.of("POST", "/reset"),
        Arguments.of("GET", "/events"),
        Arguments.of("GET", "/logs"));
  }

  /**
   * Pekko refuses these before any route sees them; they still get a problem, and never a 5xx
   * (Pekko's own answers would be text/plain, and 501 or 505 for the method and the version).
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {
      "BREW /v1/runs HTTP/1.1",
      "GET /v1/runs/%zz HTTP/1.1",
      "GET /v1/runs/a b HTTP/1.1",
      "GET /v1/runs HTTP/3.0",
      "GET /v1/runs HTTP/1.1\r\nX-Bad: a\u0001b",
      "POST /v1/runs HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6",
      "POST /v1/runs HTTP/1.1\r\nContent-Length: -1",
  })
  void aRequestThatIsNotWellFormedHttpIsA400Problem(String head) throws Exception {
    byte[] request = (head + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.UTF_8);
    List<RawHttp.Response> answers = RawHttp.exchange(server.port(), request, "GET", false, PATIENCE);
    assertEquals(1, answers.size(), "one answer");
    RawHttp.Response r = answers.get(0);
    String context = head + " -> " + r.status() + " " + r.bodyText();
    assertEquals(400, r.status(), context);
    assertEquals("application/problem+json", r.header("Content-Type"), context);
    JsonNode p = ReinsJson.mapper().readTree(r.bodyText());
    assertEquals("urn:reins:problem:malformed-request", p.path("type").asText(), context);
    assertEquals(400, p.path("status").asInt(), context);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"/", "/v1", "/v1/nope", "/v2/runs", "/v1/runs/{id}/nope", "/v1/health"})
  void anUnknownRouteIsA404(String path) throws Exception {
    assertProblem(server.get(path.replace("{id}", running)), 404, "not-found", null);
  }

  static Stream<Arguments> wrongMethods() {
    return Stream.of(
        Arguments.of("DELETE", "/v1/runs/{id}", "GET, HEAD, OPTIONS"),
        Arguments.of("PUT", "/v1/runs/{id}", "GET, HEAD, OPTIONS"),
        Arguments.of("PUT", "/v1/runs", "POST, GET, HEAD, OPTIONS"),
        Arguments.of("DELETE", "/v1/runs", "POST, GET, HEAD, OPTIONS"),
        Arguments.of("GET", "/v1/runs/{id}/cancel", "POST, OPTIONS"),
        Arguments.of("GET", "/v1/runs/{id}/reset", "POST, OPTIONS"),
        Arguments.of("POST", "/v1/runs/{id}/events", "GET, HEAD, OPTIONS"),
        Arguments.of("POST", "/v1/health/ready", "GET, HEAD, OPTIONS"));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("wrongMethods")
  void aWrongMethodIsA405ThatSaysWhichAreAllowed(String method, String path, String allowed) throws Exception {
    HttpResponse<String> r = server.send(method, path.replace("{id}", running), null);
    assertProblem(r, 405, "method-not-allowed", null);
    assertEquals(allowed, r.headers().firstValue("Allow").orElse(null), "Allow header");
    assertEquals("running", TestServer.json(server.get("/v1/runs/" + running)).get("state").asText());
  }

  // ---- query parameters and command bodies ----------------------------------------------------

  @ParameterizedTest(name = "wait={0}")
  @ValueSource(strings = {"abc", "", "-1", "5m", "61s", "99999999999999999999s"})
  void aBadWaitIsA400NamingWaitAndCancelsNothing(String wait) throws Exception {
    assertProblem(server.post("/v1/runs/" + running + "/cancel?wait=" + wait, null), 400, "invalid-field", "wait");
    assertEquals("running", TestServer.json(server.get("/v1/runs/" + running)).get("state").asText());
  }

  static Stream<Arguments> badLogQueries() {
    return Stream.of(
        Arguments.of("tail=-1", "tail"),
        Arguments.of("tail=abc", "tail"),
        Arguments.of("tail=99999999999", "tail"),
        Arguments.of("tail=10485761", "tail"),
        Arguments.of("attempt=0", "attempt"),
        Arguments.of("attempt=-1", "attempt"),
        Arguments.of("attempt=abc", "attempt"),
        Arguments.of("attempt=2", "attempt"),
        Arguments.of("attempt=abc&tail=10", "attempt"),
        Arguments.of("attempt=1&tail=abc", "tail"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badLogQueries")
  void aBadLogsQueryIsA400NamingTheParameter(String query, String field) throws Exception {
    assertProblem(server.get("/v1/runs/" + running + "/logs?" + query), 400, "invalid-field", field);
  }

  static Stream<Arguments> badCommandBodies() {
    return Stream.of(
        Arguments.of("/cancel", "{\"reason\":", "malformed-json", null),
        Arguments.of("/cancel", "{\"attempt\":\"1\"}", "invalid-field", "attempt"),
        Arguments.of("/cancel", "{\"attempt\":1.5}", "invalid-field", "attempt"),
        Arguments.of("/cancel", "{\"reason\":5}", "invalid-field", "reason"),
        Arguments.of("/cancel", "{\"reasn\":\"typo\"}", "invalid-field", "reasn"),
        Arguments.of("/cancel", "{\"reason\":\"" + "r".repeat(1001) + "\"}", "invalid-field", "reason"),
        Arguments.of("/cancel", "{} {}", "malformed-json", null),
        Arguments.of("/cancel", "[]", "invalid-field", null),
        Arguments.of("/reset", "{\"attempt\":", "malformed-json", null),
        Arguments.of("/reset", "{\"attempt\":\"x\"}", "invalid-field", "attempt"),
        Arguments.of("/reset", "{\"atempt\":1}", "invalid-field", "atempt"));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("badCommandBodies")
  void aBadCancelOrResetBodyIsA400AndChangesNothing(String suffix, String body, String kind, String field) throws Exception {
    long version = TestServer.json(server.get("/v1/runs/" + running)).get("version").asLong();
    assertProblem(server.post("/v1/runs/" + running + suffix, body), 400, kind, field);
    JsonNode after = TestServer.json(server.get("/v1/runs/" + running));
    assertEquals("running", after.get("state").asText());
    assertEquals(version, after.get("version").asLong(), "no event written");
  }

  // ---- commands the run refuses ---------------------------------------------------------------

  static Stream<Arguments> refusedCommands() {
    return Stream.of(
        Arguments.of("cancel of attempt 2", "/cancel", "{\"attempt\":2}", "stale-attempt"),
        Arguments.of("cancel of attempt 0", "/cancel", "{\"reason\":\"old\",\"attempt\":0}", "stale-attempt"),
        Arguments.of("reset of attempt 2", "/reset", "{\"attempt\":2}", "stale-attempt"),
        Arguments.of("reset of the running attempt", "/reset", "{\"attempt\":1}", "invalid-state"),
        Arguments.of("reset without a body", "/reset", null, "invalid-state"),
        Arguments.of("reset with a JSON null body", "/reset", "null", "invalid-state"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedCommands")
  void aRefusedCommandIsA409AndWritesNothing(String name, String suffix, String body, String kind) throws Exception {
    long version = TestServer.json(server.get("/v1/runs/" + running)).get("version").asLong();
    assertProblem(server.post("/v1/runs/" + running + suffix, body), 409, kind, null);
    JsonNode after = TestServer.json(server.get("/v1/runs/" + running));
    assertEquals("running", after.get("state").asText());
    assertEquals(1, after.get("attempt").asInt());
    assertEquals(version, after.get("version").asLong(), "no event written");
  }

  /** The cancel body is optional; JSON {@code null} is read as no body, not as a crash. */
  @Test
  void aJsonNullCancelBodyIsTheSameAsNoBody() throws Exception {
    String id = server.submit("[\"sleep\",\"30\"]", null);
    server.awaitState(id, "running", PATIENCE);
    HttpResponse<String> r = server.post("/v1/runs/" + id + "/cancel?wait=15s", "null");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("cancelled", TestServer.json(r).get("state").asText());
  }

  // ---- and afterwards ---------------------------------------------------------------------------

  /** Runs last, after every mistake above; a few more here so it also means something alone. */
  @Test
  @Order(Integer.MAX_VALUE)
  void theServerStaysHealthyAndTakesRuns() throws Exception {
    assertProblem(server.post("/v1/runs", "{\"executor\":"), 400, "malformed-json", null);
    assertProblem(server.sendBytes("POST", "/v1/runs", hugeSubmission(), false), 413, "payload-too-large", null);
    assertProblem(server.get("/v1/nope"), 404, "not-found", null);

    assertEquals(200, server.get("/v1/health/ready").statusCode());
    assertEquals(200, server.get("/v1/health/live").statusCode());
    HttpResponse<String> submitted = server.post("/v1/runs", VALID);
    assertEquals(202, submitted.statusCode(), submitted.body());
    String id = TestServer.json(submitted).get("id").asText();
    JsonNode done = server.awaitState(id, "succeeded", PATIENCE);
    assertEquals(0, done.get("exit").get("code").asInt());
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private static String cmd(String extraFields) {
    return "{\"executor\":{\"command\":[\"true\"]}" + extraFields + "}";
  }

  /** A valid submission, but 1 MiB and a bit: only its size is wrong. */
  private static byte[] hugeSubmission() {
    char[] filler = new char[1024 * 1024];
    Arrays.fill(filler, 'x');
    return ("{\"executor\":{\"command\":[\"true\"]},\"labels\":{\"filler\":\"" + new String(filler) + "\"}}")
        .getBytes(StandardCharsets.UTF_8);
  }

  /**
   * An RFC 9457 problem: the status, {@code application/problem+json}, {@code type}, a {@code
   * title}, the same {@code status} in the body, a {@code detail}, and {@code field} exactly when
   * the problem is about one (validation).
   */
  static JsonNode assertProblem(HttpResponse<String> r, int status, String kind, String field) throws Exception {
    String context = r.request().method() + " " + r.uri() + " -> " + r.statusCode() + " " + r.body();
    assertEquals(status, r.statusCode(), context);
    assertEquals("application/problem+json", r.headers().firstValue("Content-Type").orElse("").split(";")[0].trim(), context);
    JsonNode p = TestServer.json(r);
    assertEquals("urn:reins:problem:" + kind, p.path("type").asText(), context);
    assertTrue(p.path("title").isTextual() && !p.get("title").asText().isBlank(), "title: " + context);
    assertEquals(status, p.path("status").asInt(), "status in the body: " + context);
    assertTrue(p.path("detail").isTextual() && !p.get("detail").asText().isBlank(), "detail: " + context);
    if (field == null) {
      assertFalse(p.has("field"), "no field expected: " + context);
    } else {
      assertEquals(field, p.path("field").asText(null), "field: " + context);
    }
    return p;
  }
}
