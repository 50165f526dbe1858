package dev.reins.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.reins.protocol.api.SubmitRunRequest;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the client repeats and what it does not, against a stub that answers from a script: reads
 * and keyed submits are repeated after 503 and 429 (waiting at least {@code Retry-After}), a
 * submit without a key is not repeated after a 503, a refusal carries the server's problem, and a
 * watch resumes a broken stream after the last event it saw.
 */
class ReinsClientRetryTest {
  private static final String RUN = """
      {"id":"11111111-1111-1111-1111-111111111111","tenant":"default","state":"pending","attempt":1,
       "createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z",
       "executor":{"type":"process","command":["true"],"env":{}},"timeoutSeconds":60,"cancelGraceSeconds":10,
       "retry":{"maxAttempts":1,"backoffSeconds":1},"labels":{},"version":1,"someFutureField":true}""";

  private HttpServer server;
  private final ConcurrentLinkedQueue<int[]> script = new ConcurrentLinkedQueue<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final List<Duration> waits = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", exchange -> {
      requests.incrementAndGet();
      int[] next = script.poll();
      int status = next == null ? 200 : next[0];
      byte[] body;
      if (status >= 400) {
        exchange.getResponseHeaders().add("Content-Type", "application/problem+json");
        if (next[1] > 0) {
          exchange.getResponseHeaders().add("Retry-After", Integer.toString(next[1]));
        }
        body = ("{\"type\":\"urn:reins:problem:unavailable\",\"title\":\"Unavailable\",\"status\":" + status
            + ",\"detail\":\"nothing was done\"}").getBytes(StandardCharsets.UTF_8);
      } else {
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        body = RUN.getBytes(StandardCharsets.UTF_8);
        status = exchange.getRequestMethod().equals("POST") ? 202 : 200;
      }
      exchange.sendResponseHeaders(status, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private ReinsClient client() {
    return ReinsClient.builder(URI.create("http://127.0.0.1:" + server.getAddress().getPort()))
        .token("t").backoff(Duration.ofMillis(10), Duration.ofMillis(20)).sleeper(waits::add).build();
  }

  private static SubmitRunRequest submit(String key) {
    return new SubmitRunRequest(new SubmitRunRequest.Executor(null, List.of("true"), null, null), null, null, null,
        Map.of(), key);
  }

  @Test
  void aReadIsRepeatedAfter503And429WaitingAtLeastRetryAfter() {
    script.add(new int[] {503, 2});
    script.add(new int[] {429, 0});
    assertEquals("pending", client().get("11111111-1111-1111-1111-111111111111").state().json());
    assertEquals(3, requests.get());
    assertEquals(2, waits.size());
    assertTrue(waits.get(0).compareTo(Duration.ofSeconds(2)) >= 0, waits.toString());
  }

  @Test
  void aSubmitWithAKeyIsRepeatedOneWithoutIsNot() {
    script.add(new int[] {503, 1});
    ReinsClient.Submitted keyed = client().submit(submit("k-1"));
    assertTrue(keyed.created());
    assertEquals(2, requests.get());

    script.add(new int[] {503, 1});
    ReinsApiException e = assertThrows(ReinsApiException.class, () -> client().submit(submit(null)));
    assertEquals(503, e.status());
    assertEquals("unavailable", e.problem().kind());
    assertEquals(Duration.ofSeconds(1), e.retryAfter().orElseThrow());
    assertEquals(3, requests.get());
  }

  @Test
  void givesUpAfterMaxAttemptsAndOnARetryAfterTooLongToWait() {
    for (int i = 0; i < 5; i++) {
      script.add(new int[] {503, 0});
    }
    assertThrows(ReinsApiException.class, () -> client().get("x"));
    assertEquals(5, requests.get());

    script.clear();
    script.add(new int[] {503, 3600});
    ReinsApiException e = assertThrows(ReinsApiException.class, () -> client().get("x"));
    assertEquals(Duration.ofHours(1), e.retryAfter().orElseThrow());
    assertEquals(6, requests.get());
  }

  @Test
  void aNotFoundIsNotRepeated() {
    script.add(new int[] {404, 0});
    ReinsApiException e = assertThrows(ReinsApiException.class, () -> client().get("x"));
    assertEquals(404, e.status());
    assertEquals(1, requests.get());
    assertFalse(e.retryAfter().isPresent());
  }

  @Test
  void noAnswerAtAllIsAReinsException() {
    server.stop(0);
    ReinsClient c = ReinsClient.builder(URI.create("http://127.0.0.1:" + server.getAddress().getPort()))
        .maxAttempts(2).sleeper(waits::add).build();
    ReinsException e = assertThrows(ReinsException.class, () -> c.get("x"));
    assertFalse(e instanceof ReinsApiException);
    assertEquals(1, waits.size());
  }

  @Test
  void watchResumesABrokenStreamWithLastEventId() throws Exception {
    HttpServer sse = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    List<String> lastEventIds = new java.util.concurrent.CopyOnWriteArrayList<>();
    String event = "{\"seq\":%d,\"type\":\"%s\",\"at\":\"2026-01-01T00:00:00Z\",\"data\":{}}";
    sse.createContext("/v1/runs/r/events/stream", exchange -> {
      String last = exchange.getRequestHeaders().getFirst("Last-Event-ID");
      lastEventIds.add(String.valueOf(last));
      exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
      exchange.sendResponseHeaders(200, 0);
      String body = last == null
          ? "id: 1\ndata: " + event.formatted(1, "RunSubmitted") + "\n\n" // then the connection ends: no closed event
          : "id: 2\ndata: " + event.formatted(2, "AttemptExited") + "\n\nevent: closed\ndata: {\"reason\":\"terminal\"}\n\n";
      exchange.getResponseBody().write(body.getBytes(StandardCharsets.UTF_8));
      exchange.close();
    });
    sse.createContext("/v1/runs/r", exchange -> {
      byte[] body = RUN.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    sse.start();
    try {
      ReinsClient c = ReinsClient.builder(URI.create("http://127.0.0.1:" + sse.getAddress().getPort()))
          .sleeper(waits::add).build();
      List<Long> seen = new ArrayList<>();
      c.watch("r", 0, e -> seen.add(e.seq()));
      assertEquals(List.of(1L, 2L), seen);
      assertEquals(List.of("null", "1"), lastEventIds);
      assertEquals(1, waits.size());
    } finally {
      sse.stop(0);
    }
  }

  @Test
  void sseEventsAreParsedUntilTheClosedEvent() {
    List<String> lines = List.of(": keep-alive", "", "id: 1", "data: {\"seq\":1}", "", "id: 2", "data: {\"seq\":",
        "data: 2}", "", "event: closed", "data: {\"reason\":\"terminal\"}", "", "id: 3", "data: {}", "");
    List<String> seen = new ArrayList<>();
    ReinsClient.Sse.Outcome o = ReinsClient.Sse.read(lines.iterator(), e -> {
      seen.add(e.data());
      return Long.parseLong(e.id());
    });
    assertEquals(List.of("{\"seq\":1}", "{\"seq\":\n2}"), seen);
    assertEquals(2, o.lastSeq());
    assertEquals("terminal", o.closedReason());
  }
}
