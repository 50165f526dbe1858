package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.ApiClient.RunWithToken;
import dev.reins.protocol.json.ReinsJson;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The journal as a feed ({@code GET /v1/events}) and as live streams (Server-Sent Events): every
 * event exactly once and in each run's order, resumable from any offset, only the caller's own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EventFeedTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
  private TestServer server;
  private final List<String> toCancel = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start(Map.of(
        "reins.events.stream.keep-alive", "300ms",
        "reins.events.stream.buffer", 4,
        "reins.events.stream.slow-client-timeout", "1s",
        // small socket buffers, so that a client that does not read soon holds up the server's writes
        "pekko.http.server.socket-options.so-send-buffer-size", 8192));
  }

  @AfterAll
  void stop() throws Exception {
    server.closeAfterCancelling(toCancel.toArray(String[]::new));
  }

  /** An event's identity in the journal: its persistence id and sequence number. */
  private static String key(JsonNode e) {
    return (e.hasNonNull("delegationId") ? "Delegation|" + e.get("delegationId").asText() : "Run|" + e.get("runId").asText())
        + "#" + e.get("seq").asLong();
  }

  private String quick() throws Exception {
    return server.submit("[\"true\"]", null);
  }

  // ---- the feed -------------------------------------------------------------------------------

  @Test
  void pagesHoldEveryEventOnceAndInEachRunsOrderWhileRunsAreWritten() throws Exception {
    pagesHoldEveryEventOnceWhileRunsAreWritten(server);
  }

  /**
   * Reads the feed in small pages while runs are written, then to the end: every event of every
   * run exactly once, each run's in order without a gap; a caught-up page stays put; the same
   * offset reads the same page. (Also run on PostgreSQL by {@link EventFeedPostgresTest}.)
   */
  static void pagesHoldEveryEventOnceWhileRunsAreWritten(TestServer server) throws Exception {
    List<String> runs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      runs.add(server.submit("[\"true\"]", null));
    }
    ExecutorService writer = Executors.newSingleThreadExecutor();
    Future<List<String>> more = writer.submit(() -> {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        ids.add(server.submit("[\"true\"]", null));
      }
      return ids;
    });
    Set<String> seen = new HashSet<>();
    Map<String, Long> lastSeq = new HashMap<>();
    String[] after = {null};
    Runnable readPage = () -> {
      try {
        HttpResponse<String> r = server.get("/v1/events?limit=7" + (after[0] == null ? "" : "&after=" + after[0]));
        assertEquals(200, r.statusCode(), r.body());
        JsonNode page = TestServer.json(r);
        for (JsonNode e : page.get("events")) {
          assertTrue(seen.add(key(e)), "twice in the feed: " + e);
          String journal = key(e).substring(0, key(e).indexOf('#'));
          long seq = e.get("seq").asLong();
          assertEquals(lastSeq.getOrDefault(journal, 0L) + 1, seq, "out of order or a gap in " + journal + ": " + e);
          lastSeq.put(journal, seq);
        }
        after[0] = page.get("next").asText();
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    };
    while (!more.isDone()) {
      readPage.run(); // pages read while the writer writes
    }
    runs.addAll(more.get());
    writer.shutdown();
    for (String id : runs) {
      server.awaitState(id, "succeeded", PATIENCE);
    }
    Set<String> expected = new HashSet<>();
    for (String id : runs) {
      for (JsonNode e : TestServer.json(server.get("/v1/runs/" + id + "/events"))) {
        expected.add("Run|" + id + "#" + e.get("seq").asLong());
      }
    }
    TestServer.awaitAssert(PATIENCE, () -> {
      readPage.run();
      Set<String> missing = new HashSet<>(expected);
      missing.removeAll(seen);
      assertEquals(Set.of(), missing, "events of the runs not (yet) in the feed");
    });
    // caught up: an empty page that stays where it was
    TestServer.awaitAssert(PATIENCE, () -> {
      JsonNode page = TestServer.json(server.get("/v1/events?after=" + after[0]));
      assertEquals(0, page.get("events").size(), page.toString());
      assertEquals(after[0], page.get("next").asText());
    });
    // and the same offset reads the same page again
    JsonNode first = TestServer.json(server.get("/v1/events?limit=10"));
    JsonNode again = TestServer.json(server.get("/v1/events?limit=10"));
    assertEquals(first, again);
    assertEquals(first.get("events").get(9).get("offset"), first.get("next"));
  }

  @Test
  void filtersByTypeAndRun() throws Exception {
    String a = quick();
    String b = quick();
    server.awaitState(a, "succeeded", PATIENCE);
    server.awaitState(b, "succeeded", PATIENCE);
    int events = TestServer.json(server.get("/v1/runs/" + a + "/events")).size();
    TestServer.awaitAssert(PATIENCE, () -> {
      JsonNode page = TestServer.json(server.get("/v1/events?limit=1000&runId=" + a));
      assertEquals(events, page.get("events").size(), page.toString());
      for (JsonNode e : page.get("events")) {
        assertEquals(a, e.get("runId").asText());
      }
    });
    List<JsonNode> submitted = readAll("/v1/events?limit=1000&type=RunSubmitted,AttemptExited");
    Set<String> runIds = new HashSet<>();
    for (JsonNode e : submitted) {
      assertTrue(Set.of("RunSubmitted", "AttemptExited").contains(e.get("type").asText()), e.toString());
      runIds.add(e.get("runId").asText());
    }
    assertTrue(runIds.containsAll(Set.of(a, b)), runIds.toString());
    assertEquals(submitted.size(), readAll("/v1/events?limit=3&type=RunSubmitted&type=AttemptExited").size());
  }

  /** Every page from the start to the end, as {@code client} sees them. */
  private static List<JsonNode> readAll(ApiClient client, String path) throws Exception {
    List<JsonNode> all = new ArrayList<>();
    String after = null;
    while (true) {
      JsonNode page = TestServer.json(client.get(path + (after == null ? "" : "&after=" + after)));
      page.get("events").forEach(all::add);
      if (page.get("next").asText().equals(after)) {
        return all;
      }
      after = page.get("next").asText();
    }
  }

  private List<JsonNode> readAll(String path) throws Exception {
    return readAll(server, path);
  }

  @Test
  void badParametersAreA400NamingThem() throws Exception {
    Map<String, String> bad = new LinkedHashMap<>();
    bad.put("limit=0", "limit");
    bad.put("limit=1001", "limit");
    bad.put("limit=ten", "limit");
    bad.put("limit=-1", "limit");
    bad.put("after=nope", "after");
    bad.put("after=AQ", "after");
    bad.put("after=" + "A".repeat(500), "after");
    bad.put("type=Nope", "type");
    bad.put("type=RunSubmitted,", "type");
    bad.put("runId=x", "runId");
    for (var e : bad.entrySet()) {
      assertProblem(server.get("/v1/events?" + e.getKey()), 400, "invalid-field", e.getValue());
      assertProblem(server.get("/v1/events/stream?" + e.getKey().replace("limit=", "after=")), 400, "invalid-field",
          e.getValue().equals("limit") ? "after" : e.getValue());
    }
    assertProblem(server.send("GET", "/v1/events/stream", null, null, Map.of("Last-Event-ID", "-1")), 400, "invalid-field",
        "Last-Event-ID");
  }

  @Test
  void aTenantSeesOnlyItsOwnEventsAndOperatorsSeeAll() throws Exception {
    ApiClient acme = server.as(server.createToken("acme", "runs:submit", "runs:read").get("token").asText());
    ApiClient reader = server.as(server.createToken(null, "runs:read").get("token").asText());
    String theirs = acme.submit("[\"true\"]", null);
    String ours = quick();
    acme.awaitState(theirs, "succeeded", PATIENCE);
    server.awaitState(ours, "succeeded", PATIENCE);
    TestServer.awaitAssert(PATIENCE, () -> {
      Set<String> all = runIds(readAll(server, "/v1/events?limit=1000"));
      assertTrue(all.containsAll(Set.of(theirs, ours)), "the operators see every tenant");
    });
    Set<String> acmeSees = runIds(readAll(acme, "/v1/events?limit=1000"));
    assertEquals(Set.of(theirs), acmeSees);
    Set<String> readerSees = runIds(readAll(reader, "/v1/events?limit=1000"));
    assertTrue(readerSees.contains(ours));
    assertFalse(readerSees.contains(theirs), "another tenant's run in the feed");
    assertEquals(0, TestServer.json(acme.get("/v1/events?runId=" + ours)).get("events").size());

    // a per-run token: its own run only, while its attempt lives
    RunWithToken run = server.submitShowingToken("exec sleep 600", PATIENCE);
    toCancel.add(run.id());
    ApiClient own = server.as(run.token());
    TestServer.awaitAssert(PATIENCE, () -> assertEquals(Set.of(run.id()), runIds(readAll(own, "/v1/events?limit=1000"))));
    assertProblem(own.get("/v1/events?runId=" + ours), 404, "not-found", null);
    server.post("/v1/runs/" + run.id() + "/cancel?wait=15s", null);
    assertProblem(own.get("/v1/events"), 401, "unauthorized", null);
  }

  private static Set<String> runIds(List<JsonNode> events) {
    Set<String> ids = new HashSet<>();
    events.forEach(e -> ids.add(e.get("runId").asText()));
    return ids;
  }

  @Test
  void delegationEventsAreInTheFeedWithTheirDelegationId() throws Exception {
    String parent = server.submit("[\"sleep\",\"600\"]", null);
    toCancel.add(parent);
    server.awaitState(parent, "running", PATIENCE);
    HttpResponse<String> created = server.post("/v1/runs/" + parent + "/delegations",
        "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"true\"]}}}");
    assertEquals(202, created.statusCode(), created.body());
    String delegation = TestServer.json(created).get("id").asText();
    assertTrue(created.headers().firstValue("Location").orElseThrow()
        .startsWith("http://127.0.0.1:" + server.port() + "/v1/runs/" + parent + "/delegations/"), "an absolute Location");
    TestServer.awaitAssert(PATIENCE, () -> {
      List<JsonNode> events = readAll("/v1/events?limit=1000&runId=" + parent);
      List<JsonNode> ofDelegation = events.stream().filter(e -> delegation.equals(e.path("delegationId").asText())).toList();
      assertFalse(ofDelegation.isEmpty(), "no event of delegation " + delegation);
      assertEquals("DelegationCreated", ofDelegation.get(0).get("type").asText());
      assertEquals(1, ofDelegation.get(0).get("seq").asLong());
      assertTrue(events.stream().anyMatch(e -> !e.has("delegationId")), "the run's own events");
    });
  }

  // ---- live streams ---------------------------------------------------------------------------

  @Test
  void aRunsStreamSendsHistoryThenLiveEventsAndEndsAfterItsTerminalEvent() throws Exception {
    String id = server.submit("[\"sleep\",\"600\"]", null);
    toCancel.add(id);
    long running = server.awaitState(id, "running", PATIENCE).get("version").asLong();
    List<Long> seqs = new ArrayList<>();
    try (SseClient sse = SseClient.open(server, "/v1/runs/" + id + "/events/stream", Map.of())) {
      assertEquals(200, sse.status());
      assertEquals("text/event-stream", sse.response.headers().firstValue("Content-Type").orElse(""));
      for (long seq = 1; seq <= running; seq++) {
        SseClient.Event e = sse.next(PATIENCE);
        assertEquals(Long.toString(seq), e.id(), e.toString());
        assertEquals(seq, ReinsJson.mapper().readTree(e.data()).get("seq").asLong());
        seqs.add(seq);
      }
      server.post("/v1/runs/" + id + "/cancel", null); // live from here
      while (true) {
        SseClient.Event e = sse.next(PATIENCE);
        if ("closed".equals(e.type())) {
          assertEquals("terminal", ReinsJson.mapper().readTree(e.data()).get("reason").asText());
          break;
        }
        assertNull(e.type(), e.toString());
        seqs.add(Long.parseLong(e.id()));
      }
      assertEquals(SseClient.END, sse.next(PATIENCE), "the stream ends after the run's terminal event");
    }
    JsonNode events = TestServer.json(server.get("/v1/runs/" + id + "/events"));
    assertEquals(events.size(), seqs.size());
    assertEquals("cancelled", server.awaitState(id, "cancelled", PATIENCE).get("state").asText());
    // resuming after the end: nothing more to say, and 204 tells an EventSource not to reconnect
    HttpResponse<String> after = server.send("GET", "/v1/runs/" + id + "/events/stream", null, null,
        Map.of("Last-Event-ID", Long.toString(seqs.get(seqs.size() - 1))));
    assertEquals(204, after.statusCode(), after.body());
  }

  @Test
  void aRunsStreamResumesAfterLastEventIdWithoutGapOrRepeat() throws Exception {
    String id = quick();
    server.awaitState(id, "succeeded", PATIENCE);
    int total = TestServer.json(server.get("/v1/runs/" + id + "/events")).size();
    List<Long> seqs = new ArrayList<>();
    try (SseClient sse = SseClient.open(server, "/v1/runs/" + id + "/events/stream", Map.of())) {
      seqs.add(Long.parseLong(sse.next(PATIENCE).id()));
      seqs.add(Long.parseLong(sse.next(PATIENCE).id()));
    }
    try (SseClient sse = SseClient.open(server, "/v1/runs/" + id + "/events/stream", Map.of("Last-Event-ID", "2"))) {
      for (SseClient.Event e = sse.next(PATIENCE); e.type() == null; e = sse.next(PATIENCE)) {
        seqs.add(Long.parseLong(e.id()));
      }
    }
    List<Long> expected = new ArrayList<>();
    for (long s = 1; s <= total; s++) {
      expected.add(s);
    }
    assertEquals(expected, seqs);
    // ?after= does the same for a client that is not reconnecting
    try (SseClient sse = SseClient.open(server, "/v1/runs/" + id + "/events/stream?after=" + (total - 1), Map.of())) {
      assertEquals(Long.toString(total), sse.next(PATIENCE).id());
      assertEquals("closed", sse.next(PATIENCE).type());
    }
  }

  @Test
  void followKeepsARunsStreamOpenAfterTheEndWithKeepAlives() throws Exception {
    String id = quick();
    server.awaitState(id, "succeeded", PATIENCE);
    int total = TestServer.json(server.get("/v1/runs/" + id + "/events")).size();
    try (SseClient sse = SseClient.open(server, "/v1/runs/" + id + "/events/stream?follow=true", Map.of())) {
      for (int i = 1; i <= total; i++) {
        assertEquals(Long.toString(i), sse.next(PATIENCE).id());
      }
      // nothing more happens to the run, and the stream stays: keep-alives (300 ms here) say so
      assertEquals(SseClient.HEARTBEAT, sse.nextOrHeartbeat(PATIENCE));
      assertEquals(SseClient.HEARTBEAT, sse.nextOrHeartbeat(PATIENCE));
      // a reset makes the run live again, and the stream shows it
      assertEquals(200, server.post("/v1/runs/" + id + "/reset", null).statusCode());
      SseClient.Event next = sse.next(PATIENCE);
      assertEquals(Long.toString(total + 1), next.id());
      assertEquals("RunReset", ReinsJson.mapper().readTree(next.data()).get("type").asText());
    }
    assertProblem(server.get("/v1/runs/" + id + "/events/stream?follow=yes"), 400, "invalid-field", "follow");
    assertProblem(server.get("/v1/runs/" + id + "/events/stream?after=x"), 400, "invalid-field", "after");
    assertProblem(server.get("/v1/runs/00000000-0000-0000-0000-000000000000/events/stream"), 404, "not-found", null);
  }

  @Test
  void theGlobalStreamResumesFromLastEventIdWithoutGapOrRepeat() throws Exception {
    List<String> runs = new ArrayList<>(List.of(quick(), quick()));
    Set<String> seen = new HashSet<>();
    String lastId;
    try (SseClient sse = SseClient.open(server, "/v1/events/stream", Map.of())) {
      assertEquals(200, sse.status());
      SseClient.Event e = sse.next(PATIENCE);
      assertTrue(seen.add(key(ReinsJson.mapper().readTree(e.data()))));
      lastId = e.id();
      assertEquals(lastId, ReinsJson.mapper().readTree(e.data()).get("offset").asText());
    }
    // more events while nobody listens
    runs.add(quick());
    runs.add(quick());
    for (String id : runs) {
      server.awaitState(id, "succeeded", PATIENCE);
    }
    Set<String> expected = new HashSet<>();
    for (JsonNode e : readAll("/v1/events?limit=1000")) {
      expected.add(key(e));
    }
    for (String id : runs) {
      for (JsonNode e : TestServer.json(server.get("/v1/runs/" + id + "/events"))) {
        expected.add("Run|" + id + "#" + e.get("seq").asLong());
      }
    }
    try (SseClient sse = SseClient.open(server, "/v1/events/stream", Map.of("Last-Event-ID", lastId))) {
      while (!seen.containsAll(expected)) {
        SseClient.Event e = sse.next(PATIENCE);
        JsonNode event = ReinsJson.mapper().readTree(e.data());
        assertTrue(seen.add(key(event)), "repeated after the resume: " + event);
      }
    }
    // and with a filter, as the feed's: only the run asked for
    String one = runs.get(0);
    try (SseClient sse = SseClient.open(server, "/v1/events/stream?runId=" + one + "&type=RunSubmitted", Map.of())) {
      JsonNode event = ReinsJson.mapper().readTree(sse.next(PATIENCE).data());
      assertEquals(one, event.get("runId").asText());
      assertEquals("RunSubmitted", event.get("type").asText());
    }
  }

  @Test
  void aClientThatStopsReadingIsCutOffWithAFinalEvent() throws Exception {
    // about 3 MB of events: more than the socket buffers and the stream's buffer hold
    String big = "x".repeat(100_000);
    for (int i = 0; i < 30; i++) {
      server.post("/v1/runs", "{\"executor\":{\"command\":[\"true\"],\"env\":{\"BIG\":\"" + big + "\"}}}");
    }
    long cutBefore = server.server.slowStreamClientsCut();
    try (Socket socket = new Socket()) {
      socket.setReceiveBufferSize(4096);
      socket.connect(new InetSocketAddress("127.0.0.1", server.port()));
      socket.getOutputStream().write(("GET /v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
          + TestServer.ADMIN_TOKEN + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      // not reading: the server's writes stall, then the stream is cut off
      TestServer.awaitAssert(PATIENCE, () -> assertNotEquals(cutBefore, server.server.slowStreamClientsCut()));
      socket.setSoTimeout(30_000);
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[65536];
      String text = "";
      // until the whole closing event is in (it may come in more than one read) or the stream ends
      while (!closedAsSlow(text)) {
        int n;
        try {
          n = in.read(buf);
        } catch (SocketTimeoutException e) {
          break;
        }
        if (n < 0) {
          break;
        }
        got.write(buf, 0, n);
        text = got.toString(StandardCharsets.UTF_8);
      }
      assertTrue(text.startsWith("HTTP/1.1 200"), text.substring(0, Math.min(200, text.length())));
      assertTrue(closedAsSlow(text),
          "a last event says why the stream ends: ..." + text.substring(Math.max(0, text.length() - 600)));
      assertTrue(text.contains("\"reason\":\"slow_client\""));
    }
  }

  /** The stream's last event is a {@code closed} one whose data says the client was too slow. */
  private static boolean closedAsSlow(String text) {
    int data = text.indexOf("data:{\"reason\":\"slow_client\",\"detail\":");
    return data >= 0 && text.indexOf("\nevent:closed\n", data) > 0;
  }

  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
