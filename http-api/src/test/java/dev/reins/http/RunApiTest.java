package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The run lifecycle over real HTTP, with real OS processes: submit, watch, cancel, reset, the
 * journal, the logs, the ways a process ends, retries, timeouts and idempotent submission. Every
 * test cancels what it started and checks that no process is left behind.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunApiTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final Pattern UUID_PATTERN =
      Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  /** Prints its attempt, then waits to be stopped. */
  private static final String ECHO_AND_SLEEP = "[\"sh\",\"-c\",\"echo hello-$REINS_ATTEMPT; sleep 30\"]";

  private TestServer server;
  /** Runs the current test submitted; cancelled after it. */
  private final List<String> started = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  void stop() {
    server.close();
  }

  @AfterEach
  void cancelEverythingAndCheckNoProcessIsLeft() throws Exception {
    try {
      for (String id : started) {
        HttpResponse<String> r = server.post("/v1/runs/" + id + "/cancel?wait=20s", null);
        assertEquals(200, r.statusCode(), "final cancel of " + id + ": " + r.body());
      }
      TestServer.awaitNoChildProcesses(PATIENCE);
    } finally {
      started.clear();
    }
  }

  // ---- submit and watch -------------------------------------------------------------------------

  @Test
  void submitAnswers202WithTheRunItsLocationAndItsVersionAsETag() throws Exception {
    Instant before = Instant.now();
    HttpResponse<String> r = server.post("/v1/runs",
        "{\"executor\":{\"type\":\"process\",\"command\":[\"sleep\",\"30\"]},\"labels\":{\"team\":\"core\"}}");
    assertEquals(202, r.statusCode(), r.body());
    JsonNode run = TestServer.json(r);
    String id = run.get("id").asText();
    started.add(id);

    assertTrue(UUID_PATTERN.matcher(id).matches(), id);
    assertEquals(server.uri("/v1/runs/" + id), server.uri("/").resolve(r.headers().firstValue("Location").orElseThrow()));
    assertEquals("application/json", r.headers().firstValue("Content-Type").orElseThrow());
    assertEquals("pending", run.get("state").asText());
    assertEquals(1, run.get("attempt").asInt());
    assertFalse(Instant.parse(run.get("createdAt").asText()).isBefore(before.minusSeconds(5)));
    assertEquals(1, run.get("version").asLong());
    assertEquals("\"1\"", r.headers().firstValue("ETag").orElseThrow());
    assertEquals(List.of("sleep", "30"), strings(run.get("executor").get("command")));
    assertEquals("core", run.get("labels").get("team").asText());

    HttpResponse<String> shown = server.get("/v1/runs/" + id);
    assertEquals(200, shown.statusCode());
    assertEquals(id, TestServer.json(shown).get("id").asText());
    assertEquals(etag(TestServer.json(shown)), shown.headers().firstValue("ETag").orElseThrow());
  }

  @Test
  void aStartedRunShowsRunningWithTheWorkersNodeAndPid() throws Exception {
    String id = submit("[\"sleep\",\"30\"]", null);
    JsonNode run = server.awaitState(id, "running", PATIENCE);

    long pid = run.get("worker").get("pid").asLong();
    assertFalse(run.get("worker").get("node").asText().isBlank());
    ProcessHandle process = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("no process " + pid));
    assertTrue(process.info().commandLine().orElse("").contains("sleep 30"), process.info().toString());
    assertEquals(3, run.get("version").asLong(), "RunSubmitted, AttemptPlaced, AttemptStarted");

    HttpResponse<String> shown = server.get("/v1/runs/" + id);
    assertEquals(etag(TestServer.json(shown)), shown.headers().firstValue("ETag").orElseThrow());
  }

  // ---- cancel ---------------------------------------------------------------------------------

  @Test
  void cancelOfARunningRunIs202CancellingThenTheProcessDiesAndTheRunIsCancelled() throws Exception {
    String id = submit("[\"sleep\",\"30\"]", null);
    long pid = server.awaitState(id, "running", PATIENCE).get("worker").get("pid").asLong();

    HttpResponse<String> r = server.post("/v1/runs/" + id + "/cancel", "{\"reason\":\"not needed\"}");
    assertEquals(202, r.statusCode(), r.body());
    assertEquals("changed", r.headers().firstValue("Reins-Outcome").orElseThrow());
    JsonNode cancelling = TestServer.json(r);
    assertEquals("cancelling", cancelling.get("state").asText());
    assertEquals("not needed", cancelling.get("cancel").get("reason").asText());
    Instant.parse(cancelling.get("cancel").get("requestedAt").asText());

    JsonNode cancelled = server.awaitState(id, "cancelled", PATIENCE);
    assertFalse(cancelled.has("worker"), "no worker once the process is gone: " + cancelled);
    TestServer.awaitAssert(PATIENCE, () -> assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)));
  }

  @Test
  void cancelWithWaitAnswers200CancelledOnceTheProcessIsGone() throws Exception {
    String id = submit("[\"sleep\",\"30\"]", null);
    long pid = server.awaitState(id, "running", PATIENCE).get("worker").get("pid").asLong();

    HttpResponse<String> r = server.post("/v1/runs/" + id + "/cancel?wait=10s", null);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("changed", r.headers().firstValue("Reins-Outcome").orElseThrow());
    JsonNode run = TestServer.json(r);
    assertEquals("cancelled", run.get("state").asText());
    assertEquals(etag(run), r.headers().firstValue("ETag").orElseThrow());
    TestServer.awaitAssert(PATIENCE, () -> assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)));
  }

  @Test
  void aSecondCancelAnswersAlreadyTerminalAndWritesNoEvent() throws Exception {
    String id = submit("[\"sleep\",\"30\"]", null);
    server.awaitState(id, "running", PATIENCE);
    assertEquals(200, server.post("/v1/runs/" + id + "/cancel?wait=10s", null).statusCode());
    int events = TestServer.json(server.get("/v1/runs/" + id + "/events")).size();
    long version = TestServer.json(server.get("/v1/runs/" + id)).get("version").asLong();

    HttpResponse<String> again = server.post("/v1/runs/" + id + "/cancel", "{\"reason\":\"again\"}");
    assertEquals(200, again.statusCode(), again.body());
    assertEquals("already_terminal", again.headers().firstValue("Reins-Outcome").orElseThrow());
    assertEquals("cancelled", TestServer.json(again).get("state").asText());
    assertEquals(version, TestServer.json(again).get("version").asLong());
    assertEquals(events, TestServer.json(server.get("/v1/runs/" + id + "/events")).size(), "no new event");
  }

  @Test
  void cancelOfAPendingRunCancelsItAtOnceAndItsProcessNeverStarts() throws Exception {
    Path marker = Files.createTempDirectory("reins-never-started-").resolve("started");
    try (TestServer oneSlot = TestServer.start(Map.of("reins.worker.slots", 1))) {
      List<String> runs = new ArrayList<>();
      try {
        String blocker = oneSlot.submit("[\"sleep\",\"30\"]", null);
        runs.add(blocker);
        oneSlot.awaitState(blocker, "running", PATIENCE);
        String waiting = oneSlot.submit("[\"sh\",\"-c\",\"touch '" + marker + "'; sleep 30\"]", null);
        runs.add(waiting);
        assertEquals("pending", TestServer.json(oneSlot.get("/v1/runs/" + waiting)).get("state").asText());

        HttpResponse<String> r = oneSlot.post("/v1/runs/" + waiting + "/cancel", null);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("changed", r.headers().firstValue("Reins-Outcome").orElseThrow());
        assertEquals("cancelled", TestServer.json(r).get("state").asText());

        // Free the slot, then let a later run through it: slots go in submission order, so once
        // the later run has finished, the cancelled one would have started before it.
        assertEquals(200, oneSlot.post("/v1/runs/" + blocker + "/cancel?wait=10s", null).statusCode());
        String later = oneSlot.submit("[\"true\"]", null);
        runs.add(later);
        oneSlot.awaitState(later, "succeeded", PATIENCE);

        assertFalse(Files.exists(marker), "the cancelled run's process ran");
        assertEquals(List.of("RunSubmitted", "CancelRequested"), eventTypes(oneSlot, waiting));
        JsonNode run = TestServer.json(oneSlot.get("/v1/runs/" + waiting));
        assertEquals("cancelled", run.get("state").asText());
        assertFalse(run.has("worker"), run.toString());
        assertEquals(404, oneSlot.get("/v1/runs/" + waiting + "/logs").statusCode(), "no output: it never started");
      } finally {
        for (String id : runs) {
          oneSlot.post("/v1/runs/" + id + "/cancel?wait=20s", null);
        }
        TestServer.awaitNoChildProcesses(PATIENCE);
        Files.deleteIfExists(marker);
        Files.deleteIfExists(marker.getParent());
      }
    }
  }

  // ---- reset, the journal and the logs ------------------------------------------------------------

  @Test
  void resetOfACancelledRunStartsAttempt2AndTheJournalTellsTheWholeStory() throws Exception {
    String id = submit(ECHO_AND_SLEEP, null);
    long firstPid = server.awaitState(id, "running", PATIENCE).get("worker").get("pid").asLong();
    assertEquals(200, server.post("/v1/runs/" + id + "/cancel?wait=10s", null).statusCode());

    HttpResponse<String> reset = server.post("/v1/runs/" + id + "/reset", null);
    assertEquals(200, reset.statusCode(), reset.body());
    assertEquals("changed", reset.headers().firstValue("Reins-Outcome").orElseThrow());
    JsonNode pending = TestServer.json(reset);
    assertEquals("pending", pending.get("state").asText());
    assertEquals(2, pending.get("attempt").asInt());
    assertFalse(pending.has("cancel"), "a reset starts a fresh cancellation scope: " + pending);

    JsonNode running = server.awaitState(id, "running", PATIENCE);
    assertEquals(2, running.get("attempt").asInt());
    assertNotEquals(firstPid, running.get("worker").get("pid").asLong());

    JsonNode events = TestServer.json(server.get("/v1/runs/" + id + "/events"));
    assertEquals(
        List.of("RunSubmitted", "AttemptPlaced", "AttemptStarted", "CancelRequested", "AttemptExited", "RunReset", "AttemptPlaced", "AttemptStarted"),
        types(events));
    for (int i = 0; i < events.size(); i++) {
      JsonNode e = events.get(i);
      assertEquals(i + 1, e.get("seq").asLong(), e.toString());
      Instant.parse(e.get("at").asText());
      assertEquals(i < 5 ? 1 : 2, e.get("data").get("attempt").asInt(), e.toString());
    }
    assertEquals(events.get(events.size() - 1).get("seq").asLong(),
        TestServer.json(server.get("/v1/runs/" + id)).get("version").asLong());
  }

  @Test
  void logsShowEachAttemptsOutput() throws Exception {
    String id = submit(ECHO_AND_SLEEP, null);
    server.awaitState(id, "running", PATIENCE);
    TestServer.awaitAssert(PATIENCE, () -> assertEquals("hello-1\n", logs(id, "?attempt=1")));
    assertEquals(200, server.post("/v1/runs/" + id + "/cancel?wait=10s", null).statusCode());
    assertEquals(200, server.post("/v1/runs/" + id + "/reset", "{\"attempt\":1}").statusCode());
    server.awaitState(id, "running", PATIENCE);

    TestServer.awaitAssert(PATIENCE, () -> assertEquals("hello-2\n", logs(id, "?attempt=2")));
    assertEquals("hello-2\n", logs(id, ""), "without ?attempt: the current attempt");
    assertEquals("hello-1\n", logs(id, "?attempt=1"), "attempt 1's output is kept");
    assertEquals("1\n", logs(id, "?attempt=1&tail=2"), "tail: the last bytes");
  }

  // ---- how a process ends ---------------------------------------------------------------------

  @Test
  void aProcessThatExits0Succeeds() throws Exception {
    String id = submit("[\"sh\",\"-c\",\"exit 0\"]", null);
    JsonNode run = server.awaitState(id, "succeeded", PATIENCE);
    assertEquals(0, run.get("exit").get("code").asInt());
    assertFalse(run.has("worker"));
    assertEquals(List.of("RunSubmitted", "AttemptPlaced", "AttemptStarted", "AttemptExited"), eventTypes(server, id));
  }

  @Test
  void aProcessThatExits3FailsWithExitCode3() throws Exception {
    String id = submit("[\"sh\",\"-c\",\"exit 3\"]", null);
    JsonNode run = server.awaitState(id, "failed", PATIENCE);
    assertEquals(3, run.get("exit").get("code").asInt());
    assertEquals(1, run.get("attempt").asInt());
  }

  @Test
  void aFailingRunWithTwoAttemptsFailsAtAttempt2() throws Exception {
    String id = submit("[\"sh\",\"-c\",\"echo try-$REINS_ATTEMPT; exit 3\"]",
        "\"retry\":{\"maxAttempts\":2,\"backoffSeconds\":0}");
    JsonNode run = server.awaitState(id, "failed", PATIENCE);
    assertEquals(2, run.get("attempt").asInt());
    assertEquals(3, run.get("exit").get("code").asInt());
    assertEquals(
        List.of("RunSubmitted", "AttemptPlaced", "AttemptStarted", "AttemptExited", "AttemptPlaced", "AttemptStarted", "AttemptExited"),
        eventTypes(server, id));
    TestServer.awaitAssert(PATIENCE, () -> assertEquals("try-1\n", logs(id, "?attempt=1")));
    TestServer.awaitAssert(PATIENCE, () -> assertEquals("try-2\n", logs(id, "?attempt=2")));
  }

  @Test
  void aRunPastItsTimeoutIsStoppedAndTimedOut() throws Exception {
    String id = submit("[\"sleep\",\"30\"]", "\"timeoutSeconds\":1");
    long pid = server.awaitState(id, "running", PATIENCE).get("worker").get("pid").asLong();
    JsonNode run = server.awaitState(id, "timed_out", PATIENCE);
    assertFalse(run.has("worker"));
    assertEquals(List.of("RunSubmitted", "AttemptPlaced", "AttemptStarted", "TimeoutReached", "AttemptExited"), eventTypes(server, id));
    TestServer.awaitAssert(PATIENCE, () -> assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)));
  }

  // ---- idempotent submission ------------------------------------------------------------------

  @Test
  void theSameIdempotencyKeyAndBodyReturnTheSameRunAndADifferentBodyIsA409() throws Exception {
    String key = "\"idempotencyKey\":\"job-" + UUID.randomUUID() + "\"";
    String body = "{\"executor\":{\"command\":[\"sleep\",\"30\"]}," + key + "}";
    HttpResponse<String> first = server.post("/v1/runs", body);
    assertEquals(202, first.statusCode(), first.body());
    String id = TestServer.json(first).get("id").asText();
    started.add(id);
    server.awaitState(id, "running", PATIENCE);
    long version = TestServer.json(server.get("/v1/runs/" + id)).get("version").asLong();

    HttpResponse<String> repeat = server.post("/v1/runs", body);
    assertEquals(200, repeat.statusCode(), repeat.body());
    assertEquals(id, TestServer.json(repeat).get("id").asText());
    assertEquals("running", TestServer.json(repeat).get("state").asText(), "the existing run, as it is now");
    assertEquals(server.uri("/v1/runs/" + id), server.uri("/").resolve(repeat.headers().firstValue("Location").orElseThrow()));
    assertEquals(version, TestServer.json(server.get("/v1/runs/" + id)).get("version").asLong(), "no new event");

    HttpResponse<String> conflict = server.post("/v1/runs", "{\"executor\":{\"command\":[\"sleep\",\"31\"]}," + key + "}");
    ApiErrorsTest.assertProblem(conflict, 409, "idempotency-conflict", null);
    assertEquals(List.of("sleep", "30"),
        strings(TestServer.json(server.get("/v1/runs/" + id)).get("executor").get("command")), "the run is untouched");
  }

  // ---- helpers --------------------------------------------------------------------------------

  private String submit(String commandJson, String extraFields) throws Exception {
    String id = server.submit(commandJson, extraFields);
    started.add(id);
    return id;
  }

  private String logs(String id, String query) throws Exception {
    HttpResponse<String> r = server.get("/v1/runs/" + id + "/logs" + query);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("text/plain; charset=UTF-8", r.headers().firstValue("Content-Type").orElseThrow());
    return r.body();
  }

  private static List<String> eventTypes(TestServer on, String id) throws Exception {
    HttpResponse<String> r = on.get("/v1/runs/" + id + "/events");
    assertEquals(200, r.statusCode(), r.body());
    return types(TestServer.json(r));
  }

  private static List<String> types(JsonNode events) {
    List<String> out = new ArrayList<>();
    events.forEach(e -> out.add(e.get("type").asText()));
    return out;
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(e -> out.add(e.asText()));
    return out;
  }

  private static String etag(JsonNode run) {
    return "\"" + run.get("version").asLong() + "\"";
  }
}
