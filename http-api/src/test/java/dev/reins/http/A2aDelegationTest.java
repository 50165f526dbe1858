package dev.reins.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.json.ReinsJson;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Delegations to a real A2A agent (the official JS SDK, {@link A2aPeer}) through a real server:
 * the delegation outlives the request that asked for it, ends at its deadline, follows its
 * parent's cancel and end, and fails loudly (with a reason, within its deadline) whatever the
 * peer does wrong.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class A2aDelegationTest {
  private static final Duration CANCEL_WAIT = Duration.ofSeconds(2);
  /** How long after a deadline a delegation may take to end: the cancel wait, plus slack for a busy machine. */
  private static final Duration BOUND = CANCEL_WAIT.plusSeconds(3);
  private static final String SECRET = "Bearer peer-secret-" + UUID.randomUUID();

  private A2aPeer peer;
  private A2aPeer legacyPeer;
  private TestServer server;
  private Path tmp;
  private final List<String> runs = new ArrayList<>();

  @BeforeAll
  void start() throws IOException {
    peer = A2aPeer.start();
    legacyPeer = A2aPeer.start("--v03-only");
    tmp = Files.createTempDirectory("reins-a2a-test-");
    server = TestServer.start(Map.of(
        "reins.delegations.cancel-wait", CANCEL_WAIT.toMillis() + "ms",
        // loopback by address only: http://localhost/... is outside the allowlist
        "reins.delegations.a2a.allowed-urls", "http://127.0.0.1",
        "reins.delegations.a2a.peers", List.of(Map.of("url", "http://127.0.0.1:" + peer.port(),
            "headers", Map.of("Authorization", SECRET)))));
  }

  @AfterAll
  void stop() throws Exception {
    // the peers first: the server's close waits for every child process of this JVM to be gone
    if (peer != null) {
      peer.close();
    }
    if (legacyPeer != null) {
      legacyPeer.close();
    }
    if (server != null) {
      server.closeAfterCancelling(runs.toArray(String[]::new));
    }
  }

  // ---- the stories ----------------------------------------------------------------------------

  @Test
  void aDelegationCompletesAfterItsClientHungUpAndTheParentRecordsIt() throws Exception {
    Parent parent = parent();
    String body = target(peer.url(), "summarize", "{\"workMs\":300}", 60, null);
    // the client sends the request and closes the connection at once, without reading the answer
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      OutputStream out = s.getOutputStream();
      out.write(("POST /v1/runs/" + parent.id + "/delegations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
          + server.token() + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.write(bytes);
      out.flush();
    }
    JsonNode list = TestServer.await(Duration.ofSeconds(20), () -> {
      JsonNode l = ApiClient.json(server.get("/v1/runs/" + parent.id + "/delegations"));
      assertEquals(1, l.size());
      return l;
    });
    String did = list.get(0).path("id").asText();
    JsonNode d = awaitDelegation(parent.id, did, "completed", Duration.ofSeconds(20));
    String taskId = d.path("remote").path("id").asText();
    assertEquals("completed", d.path("remote").path("state").asText());
    assertTrue(d.path("result").toString().contains("done: summarize"), d.toString());
    assertTrue(d.path("result").toString().contains("\"workMs\":300"), d.toString());
    assertEquals(1, tasksOf(peer, taskId), "the peer saw one task");
    TestServer.awaitAssert(Duration.ofSeconds(10), () -> {
      String events = server.get("/v1/runs/" + parent.id + "/events").body();
      assertTrue(events.contains("DelegationRequested"), events);
      assertTrue(events.contains("DelegationEnded") && events.contains("\"completed\""), events);
    });
    // the peer's credentials went to the peer, and nowhere else
    JsonNode methods = peer.log().path("methods");
    assertTrue(methods.toString().contains(SECRET), "the configured header reaches the peer");
    assertTrue(methods.toString().contains("\"version\":\"1.0\""), methods.toString());
    assertFalse(server.get("/v1/runs/" + parent.id + "/delegations/" + did).body().contains(SECRET));
    assertFalse(server.get("/v1/runs/" + parent.id + "/events").body().contains(SECRET));
    parent.end();
  }

  @Test
  void theDeadlineCancelsThePeersTask() throws Exception {
    Parent parent = parent();
    String did = delegate(parent.id, target(peer.url(), "long work", "{\"workMs\":600000}", 2, null));
    String taskId = awaitRemote(parent.id, did);
    JsonNode d = awaitDelegation(parent.id, did, "timed_out", Duration.ofSeconds(2).plus(BOUND));
    assertEquals("deadline", d.path("reason").asText());
    assertTrue(Duration.between(Instant.parse(d.path("deadline").asText()), Instant.parse(d.path("updatedAt").asText()))
        .compareTo(BOUND) < 0, d.toString());
    TestServer.awaitAssert(Duration.ofSeconds(5), () -> {
      assertTrue(cancelsOf(peer, taskId) >= 1, "the peer saw CancelTask");
      assertEquals("canceled", endOf(peer, taskId));
    });
    parent.end();
  }

  @Test
  void cancellingTheParentCancelsThePeersTask() throws Exception {
    Parent parent = parent();
    String did = delegate(parent.id, target(peer.url(), "long work", "{\"workMs\":600000}", 120, null));
    String taskId = awaitRemote(parent.id, did);
    assertEquals(202, server.post("/v1/runs/" + parent.id + "/cancel", "").statusCode());
    JsonNode d = awaitDelegation(parent.id, did, "cancelled", Duration.ofSeconds(15));
    assertTrue(d.path("detail").asText().contains("remote work cancelled"), d.toString());
    assertTrue(cancelsOf(peer, taskId) >= 1, "the peer saw CancelTask");
    assertEquals("canceled", endOf(peer, taskId));
  }

  @Test
  void aParentThatEndsCancelsItsDelegationsUnlessTheyAreAbandoned() throws Exception {
    Parent parent = parent();
    String cancelled = delegate(parent.id, target(peer.url(), "long work", "{\"workMs\":600000}", 120, "cancel"));
    String abandoned = delegate(parent.id, target(peer.url(), "wait for release", "{\"waitForRelease\":true}", 120, "abandon"));
    String cancelledTask = awaitRemote(parent.id, cancelled);
    String abandonedTask = awaitRemote(parent.id, abandoned);
    parent.end();
    server.awaitState(parent.id, "succeeded", Duration.ofSeconds(20));
    awaitDelegation(parent.id, cancelled, "cancelled", Duration.ofSeconds(15));
    assertEquals("canceled", endOf(peer, cancelledTask));
    // the abandoned one works on, and completes when its peer does
    assertEquals("working", ApiClient.json(server.get("/v1/runs/" + parent.id + "/delegations/" + abandoned)).path("state").asText());
    assertEquals(0, cancelsOf(peer, abandonedTask));
    assertTrue(peer.release() >= 1);
    awaitDelegation(parent.id, abandoned, "completed", Duration.ofSeconds(15));
  }

  @Test
  void aPeerThatIsDownFailsTheDelegation() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    Parent parent = parent();
    String did = delegate(parent.id, target("http://127.0.0.1:" + closed + "/", "hello", "{}", 30, null));
    JsonNode d = awaitDelegation(parent.id, did, "failed", Duration.ofSeconds(15));
    assertEquals("peer_unreachable", d.path("reason").asText(), d.toString());
    parent.end();
  }

  @Test
  void aPeerThatAnswersHttp500FailsTheDelegation() throws Exception {
    assertFailsWith("http500", "http_error");
  }

  @Test
  void aPeerThatAnswersGarbageFailsTheDelegation() throws Exception {
    assertFailsWith("garbage", "malformed_response");
  }

  @Test
  void aJsonRpcErrorFailsTheDelegation() throws Exception {
    assertFailsWith("rpcerror", "rpc_error");
  }

  @Test
  void aRejectedRemoteTaskFailsTheDelegation() throws Exception {
    Parent parent = parent();
    String did = delegate(parent.id, target(peer.url(), "please reject", "{\"reject\":true}", 30, null));
    JsonNode d = awaitDelegation(parent.id, did, "failed", Duration.ofSeconds(15));
    assertEquals("remote_rejected", d.path("reason").asText(), d.toString());
    parent.end();
  }

  @Test
  void aPeerThatDiesWhileItsTaskIsWatchedEndsTheDelegationAtItsDeadline() throws Exception {
    A2aPeer mortal = A2aPeer.start();
    Parent parent = parent();
    String did;
    try {
      did = delegate(parent.id, target(mortal.url(), "long work", "{\"workMs\":600000}", 3, null));
      awaitRemote(parent.id, did);
    } finally {
      mortal.close(); // the stream breaks; every retry is refused until the deadline
    }
    JsonNode d = awaitDelegation(parent.id, did, "timed_out", Duration.ofSeconds(3).plus(BOUND));
    assertTrue(d.path("detail").asText().contains("not confirmed"), d.toString());
    parent.end();
  }

  @Test
  void aRemoteTaskThatFailsFailsTheDelegation() throws Exception {
    Parent parent = parent();
    String did = delegate(parent.id, target(peer.url(), "please fail", "{\"fail\":true}", 30, null));
    JsonNode d = awaitDelegation(parent.id, did, "failed", Duration.ofSeconds(15));
    assertEquals("remote_failed", d.path("reason").asText(), d.toString());
    assertTrue(d.path("detail").asText().contains("the test asked this task to fail"), d.toString());
    parent.end();
  }

  @Test
  void aPeerThatStallsTimesOutWithinTheDeadline() throws Exception {
    Parent parent = parent();
    String did = delegate(parent.id, target(peer.url(), "stall", "{}", 2, null));
    JsonNode d = awaitDelegation(parent.id, did, "timed_out", Duration.ofSeconds(2).plus(BOUND));
    assertEquals("deadline", d.path("reason").asText(), d.toString());
    parent.end();
  }

  @Test
  void aPeerThatOnlySpeaksV03IsDrivenWithTheV03Methods() throws Exception {
    Parent parent = parent();
    String did = delegate(parent.id, target(legacyPeer.url(), "old peer", "{\"workMs\":200}", 30, null));
    JsonNode d = awaitDelegation(parent.id, did, "completed", Duration.ofSeconds(20));
    assertTrue(d.path("result").toString().contains("done: old peer"), d.toString());
    String methods = legacyPeer.log().path("methods").toString();
    assertTrue(methods.contains("message/send"), methods);
    assertFalse(methods.contains("SendMessage"), methods);
    // and a cancel, in the v0.3 name
    String other = delegate(parent.id, target(legacyPeer.url(), "long", "{\"workMs\":600000}", 60, null));
    String taskId = awaitRemote(parent.id, other);
    assertEquals(202, server.post("/v1/runs/" + parent.id + "/delegations/" + other + "/cancel", "").statusCode());
    awaitDelegation(parent.id, other, "cancelled", Duration.ofSeconds(15));
    assertTrue(legacyPeer.log().path("methods").toString().contains("tasks/cancel"));
    assertEquals("canceled", endOf(legacyPeer, taskId));
    parent.end();
  }

  @Test
  void aTargetOutsideTheAllowlistIsRefusedBeforeAnyRequestLeaves() throws Exception {
    try (A2aPeer lonely = A2aPeer.start()) {
      Parent parent = parent();
      String url = "http://localhost:" + lonely.port() + "/";
      HttpResponse<String> r = server.post("/v1/runs/" + parent.id + "/delegations", target(url, "hello", "{}", 30, null));
      assertEquals(403, r.statusCode(), r.body());
      assertTrue(r.body().contains("target-not-allowed"), r.body());
      assertEquals(0, ApiClient.json(server.get("/v1/runs/" + parent.id + "/delegations")).size());
      JsonNode log = lonely.log();
      assertEquals(0, log.path("requests").size(), "no request reached the peer: " + log);
      parent.end();
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** A running parent run whose process ends when the test says so. */
  private final class Parent {
    final String id;
    final Path flag;

    Parent(String id, Path flag) {
      this.id = id;
      this.flag = flag;
    }

    void end() throws IOException {
      if (!Files.exists(flag)) {
        Files.createFile(flag);
      }
    }
  }

  private Parent parent() throws Exception {
    Path flag = tmp.resolve(UUID.randomUUID().toString());
    String script = "while [ ! -f '" + flag + "' ]; do sleep 0.1; done";
    String id = server.submit(ReinsJson.mapper().writeValueAsString(List.of("sh", "-c", script)), null);
    runs.add(id);
    server.awaitState(id, "running", Duration.ofSeconds(20));
    return new Parent(id, flag);
  }

  private static String target(String url, String text, String data, long timeoutSeconds, String onParentEnd) {
    return "{\"target\":{\"type\":\"a2a\",\"url\":\"" + url + "\",\"message\":{\"text\":\"" + text + "\",\"data\":" + data + "}},"
        + "\"timeoutSeconds\":" + timeoutSeconds + (onParentEnd == null ? "" : ",\"onParentEnd\":\"" + onParentEnd + "\"") + "}";
  }

  private String delegate(String runId, String body) throws Exception {
    HttpResponse<String> r = server.post("/v1/runs/" + runId + "/delegations", body);
    assertEquals(202, r.statusCode(), r.body());
    return ApiClient.json(r).path("id").asText();
  }

  private JsonNode awaitDelegation(String runId, String did, String state, Duration within) {
    return Awaitility.await("delegation " + did + " " + state)
        .atMost(within)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> ApiClient.json(server.get("/v1/runs/" + runId + "/delegations/" + did)), d -> {
          String s = d.path("state").asText();
          if (!s.equals(state) && !s.equals("pending") && !s.equals("working")) {
            throw new AssertionError("delegation ended " + s + " instead of " + state + ": " + d);
          }
          return s.equals(state);
        });
  }

  private String awaitRemote(String runId, String did) {
    return TestServer.await(Duration.ofSeconds(15), () -> {
      JsonNode d = ApiClient.json(server.get("/v1/runs/" + runId + "/delegations/" + did));
      String id = d.path("remote").path("id").asText("");
      assertFalse(id.isEmpty(), d.toString());
      return id;
    });
  }

  private void assertFailsWith(String word, String reason) throws Exception {
    Parent parent = parent();
    String did = delegate(parent.id, target(peer.url(), word, "{}", 30, null));
    JsonNode d = awaitDelegation(parent.id, did, "failed", Duration.ofSeconds(20));
    assertEquals(reason, d.path("reason").asText(), d.toString());
    assertFalse(d.path("detail").asText().isBlank(), d.toString());
    parent.end();
  }

  static int tasksOf(A2aPeer peer, String taskId) throws Exception {
    int n = 0;
    for (JsonNode t : peer.log().path("tasks")) {
      n += t.path("taskId").asText().equals(taskId) ? 1 : 0;
    }
    return n;
  }

  static int cancelsOf(A2aPeer peer, String taskId) throws Exception {
    int n = 0;
    for (JsonNode c : peer.log().path("cancels")) {
      n += c.path("taskId").asText().equals(taskId) ? 1 : 0;
    }
    return n;
  }

  static String endOf(A2aPeer peer, String taskId) throws Exception {
    for (JsonNode t : peer.log().path("tasks")) {
      if (t.path("taskId").asText().equals(taskId)) {
        return t.path("end").asText("");
      }
    }
    return "";
  }
}
