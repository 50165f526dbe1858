package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.ApiClient.RunWithToken;
import dev.reins.protocol.json.ReinsJson;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Delegations over real HTTP, with child runs as their targets (real OS processes): creating,
 * listing, watching and cancelling them, the ways they end, the cascade of a parent's cancel or
 * end, per-run tokens, tenants, and every error as a problem. (A2A targets, against a real peer,
 * are tested where the A2A client lives.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DelegationApiTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final Pattern UUID_PATTERN =
      Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  /** Shorter than the waits the long-poll test asks for: a long poll must outlast it. */
  private static final String REQUEST_TIMEOUT = "3s";
  private static final String SLEEPING_CHILD = "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"600\"]}}}";

  private TestServer server;
  private ApiClient otherTenant;
  /** Runs the current test started (parents and children); cancelled after it. */
  private final List<String> started = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    // a known port, so that processes get a REINS_API_URL that reaches this server
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    server = TestServer.start(Map.of("pekko.http.server.request-timeout", REQUEST_TIMEOUT, "reins.http.port", port,
        "reins.worker.api-url", "http://127.0.0.1:" + port));
    otherTenant = server.as(server.createToken("other-tenant", "runs:read", "runs:submit", "runs:cancel", "delegations:write")
        .get("token").asText());
  }

  @AfterAll
  void stop() {
    server.close();
  }

  @AfterEach
  void cancelEverythingAndCheckNoProcessIsLeft() throws Exception {
    try {
      for (String id : started) {
        server.post("/v1/runs/" + id + "/cancel?wait=20s", null);
      }
      TestServer.awaitNoChildProcesses(PATIENCE);
    } finally {
      started.clear();
    }
  }

  // ---- create, list, show ---------------------------------------------------------------------

  @Test
  void createAnswers202WithTheDelegationAndItsLocationAsSoonAsTheRunJournaledIt() throws Exception {
    String run = running();
    Instant before = Instant.now();

    HttpResponse<String> r = server.post(delegations(run),
        "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"600\"]},\"timeoutSeconds\":300},"
            + "\"timeoutSeconds\":120,\"onParentEnd\":\"abandon\"}");

    assertEquals(202, r.statusCode(), r.body());
    JsonNode d = TestServer.json(r);
    String id = d.get("id").asText();
    assertTrue(UUID_PATTERN.matcher(id).matches(), id);
    assertEquals(server.uri(delegations(run) + "/" + id), server.uri("/").resolve(r.headers().firstValue("Location").orElseThrow()));
    assertEquals(run, d.get("runId").asText());
    assertEquals("pending", d.get("state").asText());
    assertEquals("run", d.get("target").get("type").asText());
    assertEquals(List.of("sleep", "600"), strings(d.get("target").get("executor").get("command")));
    assertEquals(300, d.get("target").get("timeoutSeconds").asLong());
    assertEquals(120, d.get("timeoutSeconds").asLong());
    assertEquals("abandon", d.get("onParentEnd").asText());
    Instant createdAt = Instant.parse(d.get("createdAt").asText());
    assertFalse(createdAt.isBefore(before.minusSeconds(5)));
    assertEquals(createdAt.plusSeconds(120), Instant.parse(d.get("deadline").asText()), "an absolute deadline");

    // the run journaled it before answering
    assertTrue(eventTypes(run).contains("DelegationRequested"), eventTypes(run).toString());

    JsonNode shown = TestServer.json(server.get(delegations(run) + "/" + id));
    assertEquals(id, shown.get("id").asText());
    assertEquals(d.get("deadline").asText(), shown.get("deadline").asText());
    JsonNode working = awaitDelegation(run, id, "working");
    String child = working.get("remote").get("id").asText();
    started.add(child);
    assertTrue(UUID_PATTERN.matcher(child).matches(), child);

    JsonNode list = TestServer.json(server.get(delegations(run)));
    assertEquals(1, list.size(), list.toString());
    assertEquals(id, list.get(0).get("id").asText());
    assertEquals("working", list.get(0).get("state").asText());
  }

  @Test
  void theSameIdempotencyKeyAndBodyIsTheSameDelegationAndAnotherBodyIsAConflict() throws Exception {
    String run = running();
    String body = "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"600\"]}},\"idempotencyKey\":\"k-1\"}";
    HttpResponse<String> first = server.post(delegations(run), body);
    assertEquals(202, first.statusCode(), first.body());
    String id = TestServer.json(first).get("id").asText();

    HttpResponse<String> again = server.post(delegations(run), body);
    assertEquals(200, again.statusCode(), again.body());
    assertEquals(id, TestServer.json(again).get("id").asText());
    assertEquals(first.headers().firstValue("Location"), again.headers().firstValue("Location"));
    started.add(awaitDelegation(run, id, "working").get("remote").get("id").asText());

    HttpResponse<String> other = server.post(delegations(run),
        "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"601\"]}},\"idempotencyKey\":\"k-1\"}");
    assertProblem(other, 409, "idempotency-conflict", null);
    assertEquals(1, TestServer.json(server.get(delegations(run))).size());

    // the same key on another run is another delegation
    String otherRun = running();
    HttpResponse<String> elsewhere = server.post(delegations(otherRun), body);
    assertEquals(202, elsewhere.statusCode(), elsewhere.body());
    assertNotEquals(id, TestServer.json(elsewhere).get("id").asText());
  }

  @Test
  void onlyAPendingOrRunningRunMayDelegate() throws Exception {
    String done = server.submit("[\"true\"]", null);
    server.awaitState(done, "succeeded", PATIENCE);
    long version = TestServer.json(server.get("/v1/runs/" + done)).get("version").asLong();

    assertProblem(server.post(delegations(done), SLEEPING_CHILD), 409, "invalid-state", null);
    assertEquals(version, TestServer.json(server.get("/v1/runs/" + done)).get("version").asLong());
  }

  @Test
  void unknownRunsAndDelegationsAre404() throws Exception {
    String unknownRun = UUID.randomUUID().toString();
    assertProblem(server.post(delegations(unknownRun), SLEEPING_CHILD), 404, "not-found", null);
    assertProblem(server.get(delegations(unknownRun)), 404, "not-found", null);
    assertProblem(server.get(delegations(unknownRun) + "/" + UUID.randomUUID()), 404, "not-found", null);
    assertProblem(server.get(delegations("not-a-uuid")), 404, "not-found", null);

    String run = running();
    String unknown = UUID.randomUUID().toString();
    assertProblem(server.get(delegations(run) + "/" + unknown), 404, "not-found", null);
    assertProblem(server.get(delegations(run) + "/" + unknown + "?wait=1s"), 404, "not-found", null);
    assertProblem(server.post(delegations(run) + "/" + unknown + "/cancel", null), 404, "not-found", null);
    assertProblem(server.get(delegations(run) + "/not-a-uuid"), 404, "not-found", null);
    assertEquals(0, TestServer.json(server.get(delegations(run))).size());
  }

  @Test
  void anotherTenantsRunAndDelegationsAre404AndUnchanged() throws Exception {
    String run = running();
    String id = create(run, SLEEPING_CHILD);
    started.add(awaitDelegation(run, id, "working").get("remote").get("id").asText());
    long version = TestServer.json(server.get("/v1/runs/" + run)).get("version").asLong();

    assertProblem(otherTenant.post(delegations(run), SLEEPING_CHILD), 404, "not-found", null);
    assertProblem(otherTenant.get(delegations(run)), 404, "not-found", null);
    assertProblem(otherTenant.get(delegations(run) + "/" + id), 404, "not-found", null);
    assertProblem(otherTenant.get(delegations(run) + "/" + id + "?wait=1s"), 404, "not-found", null);
    assertProblem(otherTenant.post(delegations(run) + "/" + id + "/cancel", null), 404, "not-found", null);

    assertEquals(version, TestServer.json(server.get("/v1/runs/" + run)).get("version").asLong());
    assertEquals("working", TestServer.json(server.get(delegations(run) + "/" + id)).get("state").asText());
  }

  static Stream<Arguments> invalidDelegations() {
    return Stream.of(
        Arguments.of("no body", "", "target"),
        Arguments.of("no target", "{\"timeoutSeconds\":10}", "target"),
        Arguments.of("target is a string", "{\"target\":\"run\"}", "target"),
        Arguments.of("unknown target type", "{\"target\":{\"type\":\"ftp\"}}", "target.type"),
        Arguments.of("no target type", "{\"target\":{\"url\":\"http://127.0.0.1:1/\"}}", "target.type"),
        Arguments.of("a2a without url", "{\"target\":{\"type\":\"a2a\",\"message\":{\"text\":\"hi\"}}}", "target.url"),
        Arguments.of("a2a url not http", "{\"target\":{\"type\":\"a2a\",\"url\":\"file:///etc/passwd\",\"message\":{\"text\":\"hi\"}}}",
            "target.url"),
        Arguments.of("a2a url with credentials",
            "{\"target\":{\"type\":\"a2a\",\"url\":\"http://u:p@127.0.0.1:1/\",\"message\":{\"text\":\"hi\"}}}", "target.url"),
        Arguments.of("a2a without message", "{\"target\":{\"type\":\"a2a\",\"url\":\"http://127.0.0.1:1/\"}}", "target.message"),
        Arguments.of("a2a data not an object",
            "{\"target\":{\"type\":\"a2a\",\"url\":\"http://127.0.0.1:1/\",\"message\":{\"data\":[1]}}}", "target.message.data"),
        Arguments.of("a2a with an executor",
            "{\"target\":{\"type\":\"a2a\",\"url\":\"http://127.0.0.1:1/\",\"message\":{\"text\":\"hi\"},\"executor\":{\"command\":[\"x\"]}}}",
            "target.executor"),
        Arguments.of("run without executor", "{\"target\":{\"type\":\"run\"}}", "target.executor"),
        Arguments.of("run with empty command", "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[]}}}", "target.executor.command"),
        Arguments.of("run with a url", "{\"target\":{\"type\":\"run\",\"url\":\"http://127.0.0.1:1/\",\"executor\":{\"command\":[\"true\"]}}}",
            "target.url"),
        Arguments.of("unknown target field", "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]},\"shell\":true}}",
            "target.shell"),
        Arguments.of("timeoutSeconds zero", "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}},\"timeoutSeconds\":0}",
            "timeoutSeconds"),
        Arguments.of("timeoutSeconds a string",
            "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}},\"timeoutSeconds\":\"10\"}", "timeoutSeconds"),
        Arguments.of("onParentEnd unknown", "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}},\"onParentEnd\":\"keep\"}",
            "onParentEnd"),
        Arguments.of("idempotencyKey empty", "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}},\"idempotencyKey\":\"\"}",
            "idempotencyKey"),
        Arguments.of("unknown top-level field", "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}},\"priority\":1}",
            "priority"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidDelegations")
  void anInvalidDelegationIsA400NamingTheFieldAndWritesNothing(String name, String body, String field) throws Exception {
    String run = running();
    long version = TestServer.json(server.get("/v1/runs/" + run)).get("version").asLong();

    assertProblem(server.post(delegations(run), body), 400, "invalid-field", field);

    assertEquals(version, TestServer.json(server.get("/v1/runs/" + run)).get("version").asLong());
  }

  @Test
  void aMalformedBodyIsA400() throws Exception {
    String run = running();
    assertProblem(server.post(delegations(run), "{\"target\":"), 400, "malformed-json", null);
  }

  @Test
  void anAgentOutsideTheAllowlistIs403BeforeAnythingIsJournaled() throws Exception {
    String run = running();
    long events = server.journaledEvents();

    HttpResponse<String> r = server.post(delegations(run),
        "{\"target\":{\"type\":\"a2a\",\"url\":\"http://192.0.2.1:8080/\",\"message\":{\"text\":\"hi\"}}}");

    JsonNode p = assertProblem(r, 403, "target-not-allowed", null);
    assertTrue(p.get("detail").asText().contains("192.0.2.1"), p.toString());
    assertEquals(events, server.journaledEvents(), "nothing journaled");
    assertEquals(0, TestServer.json(server.get(delegations(run))).size());
    // a host that only starts like an allowed one is another host
    assertProblem(server.post(delegations(run),
        "{\"target\":{\"type\":\"a2a\",\"url\":\"http://127.0.0.1.nip.io/\",\"message\":{\"text\":\"hi\"}}}"), 403, "target-not-allowed", null);
  }

  // ---- watch ----------------------------------------------------------------------------------

  @Test
  void aLongPollAnswersWhenTheDelegationEndsOrWhenTheWaitIsOverEvenPastTheRequestTimeout() throws Exception {
    String run = running();
    String sleeping = create(run, SLEEPING_CHILD);
    started.add(awaitDelegation(run, sleeping, "working").get("remote").get("id").asText());

    // the server's request timeout is 3 s here: a longer wait still ends with the delegation as it is
    HttpResponse<String> waited = server.get(delegations(run) + "/" + sleeping + "?wait=5s");
    assertEquals(200, waited.statusCode(), waited.body());
    assertEquals("working", TestServer.json(waited).get("state").asText());

    String quick = create(run, "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"1\"]}}}");
    HttpResponse<String> ended = server.get(delegations(run) + "/" + quick + "?wait=30s");
    assertEquals(200, ended.statusCode(), ended.body());
    assertEquals("completed", TestServer.json(ended).get("state").asText());
  }

  @Test
  void aWaitOverSixtySecondsOrNotADurationIsA400() throws Exception {
    String run = running();
    String id = create(run, SLEEPING_CHILD);
    started.add(awaitDelegation(run, id, "working").get("remote").get("id").asText());
    for (String wait : List.of("61s", "61000ms", "abc", "-1s", "5m")) {
      assertProblem(server.get(delegations(run) + "/" + id + "?wait=" + wait), 400, "invalid-field", "wait");
    }
    assertEquals(200, server.get(delegations(run) + "/" + id + "?wait=500ms").statusCode());
  }

  // ---- child runs -----------------------------------------------------------------------------

  @Test
  void aChildRunDelegationCompletesWithTheChildsFinalStateAndExit() throws Exception {
    String run = running();
    String id = create(run, "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}}}");

    JsonNode d = TestServer.json(server.get(delegations(run) + "/" + id + "?wait=30s"));

    assertEquals("completed", d.get("state").asText(), d.toString());
    String child = d.get("remote").get("id").asText();
    JsonNode outcome = d.get("result").get("child");
    assertEquals(child, outcome.get("runId").asText());
    assertEquals("succeeded", outcome.get("state").asText());
    assertEquals(0, outcome.get("exitCode").asInt());
    assertFalse(d.get("result").path("truncated").asBoolean(true));
    assertFalse(d.has("reason"), d.toString());

    JsonNode childRun = TestServer.json(server.get("/v1/runs/" + child));
    assertEquals(run, childRun.get("parentRunId").asText());
    assertEquals("succeeded", childRun.get("state").asText());
    // the parent records the end in its own journal
    TestServer.awaitAssert(PATIENCE, () -> assertTrue(eventTypes(run).contains("DelegationEnded"), eventTypes(run).toString()));
    JsonNode ended = events(run).stream().filter(e -> e.get("type").asText().equals("DelegationEnded")).findFirst().orElseThrow();
    assertEquals("completed", ended.get("data").get("status").asText(), ended.toString());
  }

  @Test
  void aChildRunThatFailsFailsTheDelegationWithAReasonAndDetail() throws Exception {
    String run = running();
    String id = create(run, "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sh\",\"-c\",\"exit 3\"]}}}");

    JsonNode d = TestServer.json(server.get(delegations(run) + "/" + id + "?wait=30s"));

    assertEquals("failed", d.get("state").asText(), d.toString());
    assertEquals("child_failed", d.get("reason").asText());
    assertTrue(d.get("detail").asText().contains("exit 3"), d.toString());
    assertFalse(d.has("result"), d.toString());
    TestServer.awaitAssert(PATIENCE, () -> assertTrue(eventTypes(run).contains("DelegationEnded")));
  }

  @Test
  void cancellingADelegationCancelsItsChildRun() throws Exception {
    String run = running();
    String id = create(run, SLEEPING_CHILD);
    String child = awaitDelegation(run, id, "working").get("remote").get("id").asText();
    started.add(child);
    server.awaitState(child, "running", PATIENCE);

    HttpResponse<String> r = server.post(delegations(run) + "/" + id + "/cancel", null);
    assertEquals(202, r.statusCode(), r.body());
    assertEquals("working", TestServer.json(r).get("state").asText(), "until the child has ended");

    JsonNode d = awaitDelegation(run, id, "cancelled");
    assertEquals("cancelled", d.get("reason").asText());
    assertTrue(d.get("detail").asText().startsWith("remote work cancelled"), d.toString());
    assertEquals("cancelled", TestServer.json(server.get("/v1/runs/" + child)).get("state").asText());
    assertEquals("running", TestServer.json(server.get("/v1/runs/" + run)).get("state").asText(), "the parent goes on");

    HttpResponse<String> again = server.post(delegations(run) + "/" + id + "/cancel", null);
    assertEquals(200, again.statusCode(), again.body());
    assertEquals("cancelled", TestServer.json(again).get("state").asText());
  }

  @Test
  void cancellingTheParentCancelsEveryLiveDelegationAndItsChildRun() throws Exception {
    String run = running();
    String cancel = create(run, SLEEPING_CHILD);
    String abandon = create(run, "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"600\"]}},\"onParentEnd\":\"abandon\"}");
    String cancelChild = awaitDelegation(run, cancel, "working").get("remote").get("id").asText();
    String abandonChild = awaitDelegation(run, abandon, "working").get("remote").get("id").asText();
    started.add(cancelChild);
    started.add(abandonChild);

    assertEquals(200, server.post("/v1/runs/" + run + "/cancel?wait=20s", null).statusCode());

    // a cancel of the run takes every delegation with it, whatever its onParentEnd
    awaitDelegation(run, cancel, "cancelled");
    awaitDelegation(run, abandon, "cancelled");
    server.awaitState(cancelChild, "cancelled", PATIENCE);
    server.awaitState(abandonChild, "cancelled", PATIENCE);
    TestServer.awaitAssert(PATIENCE, () ->
        assertEquals(2, eventTypes(run).stream().filter("DelegationEnded"::equals).count(), eventTypes(run).toString()));
  }

  @Test
  void aParentThatEndsOtherwiseCancelsOnlyTheDelegationsThatAskedForIt() throws Exception {
    Path go = Files.createTempFile("reins-parent-", ".go");
    Files.delete(go);
    String script = "while [ ! -e " + go + " ]; do sleep 0.05; done";
    String run = server.submit(ReinsJson.mapper().writeValueAsString(List.of("sh", "-c", script)), null);
    started.add(run);
    server.awaitState(run, "running", PATIENCE);
    String cancel = create(run, SLEEPING_CHILD);
    String abandon = create(run, "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"600\"]}},\"onParentEnd\":\"abandon\"}");
    String cancelChild = awaitDelegation(run, cancel, "working").get("remote").get("id").asText();
    String abandonChild = awaitDelegation(run, abandon, "working").get("remote").get("id").asText();
    started.add(cancelChild);
    started.add(abandonChild);

    Files.createFile(go); // the parent's process exits 0
    server.awaitState(run, "succeeded", PATIENCE);

    awaitDelegation(run, cancel, "cancelled");
    server.awaitState(cancelChild, "cancelled", PATIENCE);
    // abandon: it keeps going after its parent's end
    JsonNode kept = TestServer.json(server.get(delegations(run) + "/" + abandon));
    assertEquals("working", kept.get("state").asText(), kept.toString());
    assertEquals("running", TestServer.json(server.get("/v1/runs/" + abandonChild)).get("state").asText());
    Files.deleteIfExists(go);
  }

  // ---- a run's own process --------------------------------------------------------------------

  @Test
  void aRunsOwnTokenDelegatesAndManagesItsDelegationsAndChildRunsButNoOtherRunsOnes() throws Exception {
    RunWithToken own = server.submitShowingToken("exec sleep 600", PATIENCE);
    started.add(own.id());
    server.awaitState(own.id(), "running", PATIENCE);
    RunWithToken other = server.submitShowingToken("exec sleep 600", PATIENCE);
    started.add(other.id());
    server.awaitState(other.id(), "running", PATIENCE);
    ApiClient asOwn = server.as(own.token());
    ApiClient asOther = server.as(other.token());

    HttpResponse<String> created = asOwn.post(delegations(own.id()), SLEEPING_CHILD);
    assertEquals(202, created.statusCode(), created.body());
    String id = TestServer.json(created).get("id").asText();
    String child = awaitDelegation(own.id(), id, "working").get("remote").get("id").asText();
    started.add(child);

    assertEquals(200, asOwn.get(delegations(own.id())).statusCode());
    assertEquals(id, TestServer.json(asOwn.get(delegations(own.id()) + "/" + id)).get("id").asText());
    JsonNode childRun = TestServer.json(asOwn.get("/v1/runs/" + child));
    assertEquals(own.id(), childRun.get("parentRunId").asText(), childRun.toString());

    // another run's token sees none of it
    assertProblem(asOther.get(delegations(own.id())), 404, "not-found", null);
    assertProblem(asOther.get(delegations(own.id()) + "/" + id), 404, "not-found", null);
    assertProblem(asOther.post(delegations(own.id()) + "/" + id + "/cancel", null), 404, "not-found", null);
    assertProblem(asOther.post(delegations(own.id()), SLEEPING_CHILD), 404, "not-found", null);
    assertProblem(asOther.get("/v1/runs/" + child), 404, "not-found", null);
    // nor does the run's token reach another run's delegations
    assertProblem(asOwn.post(delegations(other.id()), SLEEPING_CHILD), 404, "not-found", null);
    assertEquals(0, TestServer.json(server.get(delegations(other.id()))).size());

    HttpResponse<String> cancelled = asOwn.post(delegations(own.id()) + "/" + id + "/cancel", null);
    assertTrue(cancelled.statusCode() == 202 || cancelled.statusCode() == 200, cancelled.body());
    awaitDelegation(own.id(), id, "cancelled");
    server.awaitState(child, "cancelled", PATIENCE);
  }

  @Test
  void aRunsProcessDelegatesWithTheApiUrlAndTokenItIsGiven() throws Exception {
    String script = "curl -sf -X POST -H \"Authorization: Bearer $REINS_TOKEN\" -H 'Content-Type: application/json' "
        + "-d '{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"echo\",\"from-child\"]}}}' "
        + "\"$REINS_API_URL/v1/runs/$REINS_RUN_ID/delegations\"; echo; exec sleep 600";
    String run = server.submit(ReinsJson.mapper().writeValueAsString(List.of("sh", "-c", script)), null);
    started.add(run);

    String out = server.awaitOutput(run, 1, "\"state\":\"pending\"", PATIENCE);
    String id = ReinsJson.mapper().readTree(out.lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow()).get("id").asText();
    JsonNode d = TestServer.json(server.get(delegations(run) + "/" + id + "?wait=30s"));
    assertEquals("completed", d.get("state").asText(), d.toString());
    String child = d.get("remote").get("id").asText();
    assertTrue(server.awaitOutput(child, 1, "from-child", PATIENCE).contains("from-child"));
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static String delegations(String run) {
    return "/v1/runs/" + run + "/delegations";
  }

  /** A running run (sleeping) that the test owns. */
  private String running() throws Exception {
    String run = server.submit("[\"sleep\",\"600\"]", null);
    started.add(run);
    server.awaitState(run, "running", PATIENCE);
    return run;
  }

  private String create(String run, String body) throws Exception {
    HttpResponse<String> r = server.post(delegations(run), body);
    assertEquals(202, r.statusCode(), r.body());
    return TestServer.json(r).get("id").asText();
  }

  private JsonNode awaitDelegation(String run, String id, String state) {
    return Awaitility.await("delegation " + id + " " + state)
        .atMost(PATIENCE)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> TestServer.json(server.get(delegations(run) + "/" + id)), d -> state.equals(d.path("state").asText()));
  }

  private List<JsonNode> events(String run) throws Exception {
    HttpResponse<String> r = server.get("/v1/runs/" + run + "/events");
    assertEquals(200, r.statusCode(), r.body());
    List<JsonNode> out = new ArrayList<>();
    TestServer.json(r).forEach(out::add);
    return out;
  }

  private List<String> eventTypes(String run) throws Exception {
    return events(run).stream().map(e -> e.get("type").asText()).toList();
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
