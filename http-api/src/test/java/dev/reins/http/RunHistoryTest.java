package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** A run as it was ({@code ?atSeq}, {@code ?at}), conditional reads (ETag, 304) and absolute Locations. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunHistoryTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
  private TestServer server;

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  void stop() throws Exception {
    server.closeAfterCancelling();
  }

  /**
   * Every answer the run gave while it lived (observed at each version the test saw: pending,
   * running, cancelling or cancelled, pending again after a reset, ...) is what time travel to
   * that version answers, and every version in between answers too.
   */
  @Test
  void timeTravelAtEverySequenceNumberIsTheRunAsItWasThen() throws Exception {
    Map<Long, JsonNode> observed = new TreeMap<>();
    String id = server.submit("[\"sleep\",\"600\"]", null);
    observe(id, observed);
    JsonNode running = server.awaitState(id, "running", PATIENCE);
    observed.put(running.get("version").asLong(), running);
    HttpResponse<String> cancelled = server.post("/v1/runs/" + id + "/cancel?wait=15s", "{\"reason\":\"history\"}");
    assertEquals(200, cancelled.statusCode(), cancelled.body());
    observe(id, observed);
    HttpResponse<String> reset = server.post("/v1/runs/" + id + "/reset", null);
    assertEquals(200, reset.statusCode());
    observed.put(TestServer.json(reset).get("version").asLong(), TestServer.json(reset));
    JsonNode again = server.awaitState(id, "running", PATIENCE);
    observed.put(again.get("version").asLong(), again);
    assertEquals(200, server.post("/v1/runs/" + id + "/cancel?wait=15s", null).statusCode());
    JsonNode last = observe(id, observed);
    long version = last.get("version").asLong();

    for (Map.Entry<Long, JsonNode> seen : observed.entrySet()) {
      HttpResponse<String> past = server.get("/v1/runs/" + id + "?atSeq=" + seen.getKey());
      assertEquals(200, past.statusCode(), past.body());
      assertEquals(seen.getValue(), TestServer.json(past), "the run at version " + seen.getKey());
      assertEquals("\"" + seen.getKey() + "\"", past.headers().firstValue("ETag").orElse(null));
    }
    JsonNode events = TestServer.json(server.get("/v1/runs/" + id + "/events"));
    assertEquals(version, events.size());
    for (JsonNode e : events) {
      long seq = e.get("seq").asLong();
      JsonNode atSeq = TestServer.json(server.get("/v1/runs/" + id + "?atSeq=" + seq));
      assertEquals(seq, atSeq.get("version").asLong());
      // by time: the fold of every event written at or before that instant
      long upTo = seq;
      for (JsonNode later : events) {
        if (!Instant.parse(later.get("at").asText()).isAfter(Instant.parse(e.get("at").asText()))) {
          upTo = Math.max(upTo, later.get("seq").asLong());
        }
      }
      JsonNode at = TestServer.json(server.get("/v1/runs/" + id + "?at=" + e.get("at").asText()));
      assertEquals(TestServer.json(server.get("/v1/runs/" + id + "?atSeq=" + upTo)), at, "at " + e.get("at"));
    }
    assertEquals(last, TestServer.json(server.get("/v1/runs/" + id + "?at=" + Instant.now().plusSeconds(3600))));

    assertProblem(server.get("/v1/runs/" + id + "?atSeq=0"), 400, "invalid-field", "atSeq");
    assertProblem(server.get("/v1/runs/" + id + "?atSeq=-1"), 400, "invalid-field", "atSeq");
    assertProblem(server.get("/v1/runs/" + id + "?atSeq=x"), 400, "invalid-field", "atSeq");
    assertProblem(server.get("/v1/runs/" + id + "?atSeq=" + (version + 1)), 400, "invalid-field", "atSeq");
    assertProblem(server.get("/v1/runs/" + id + "?atSeq=99999999999999999999"), 400, "invalid-field", "atSeq");
    assertProblem(server.get("/v1/runs/" + id + "?at=yesterday"), 400, "invalid-field", "at");
    assertProblem(server.get("/v1/runs/" + id + "?at=2026-01-01"), 400, "invalid-field", "at");
    assertProblem(server.get("/v1/runs/" + id + "?atSeq=1&at=2026-01-01T00:00:00Z"), 400, "invalid-field", "at");
    assertProblem(server.get("/v1/runs/" + id + "?at=2000-01-01T00:00:00Z"), 404, "not-found", null);
    // another tenant learns nothing, not even about the past
    ApiClient other = server.as(server.createToken("other", "runs:read").get("token").asText());
    assertProblem(other.get("/v1/runs/" + id + "?atSeq=1"), 404, "not-found", null);
  }

  private JsonNode observe(String id, Map<Long, JsonNode> observed) throws Exception {
    JsonNode now = TestServer.json(server.get("/v1/runs/" + id));
    observed.put(now.get("version").asLong(), now);
    return now;
  }

  @Test
  void conditionalReadsAnswer304WhileTheRunIsUnchanged() throws Exception {
    String id = server.submit("[\"sleep\",\"600\"]", null);
    server.awaitState(id, "running", PATIENCE);
    HttpResponse<String> first = server.get("/v1/runs/" + id);
    String etag = first.headers().firstValue("ETag").orElseThrow();
    assertEquals("\"" + TestServer.json(first).get("version").asLong() + "\"", etag);

    HttpResponse<String> same = server.send("GET", "/v1/runs/" + id, null, null, Map.of("If-None-Match", etag));
    assertEquals(304, same.statusCode());
    assertEquals(etag, same.headers().firstValue("ETag").orElse(null));
    assertEquals("", same.body());
    assertEquals(200, server.send("GET", "/v1/runs/" + id, null, null, Map.of("If-None-Match", "\"0\"")).statusCode());

    HttpResponse<String> events = server.get("/v1/runs/" + id + "/events");
    assertEquals(etag, events.headers().firstValue("ETag").orElse(null), "the journal's version is the run's");
    assertEquals(304, server.send("GET", "/v1/runs/" + id + "/events", null, null, Map.of("If-None-Match", etag)).statusCode());

    assertEquals(200, server.post("/v1/runs/" + id + "/cancel?wait=15s", null).statusCode());
    HttpResponse<String> changed = server.send("GET", "/v1/runs/" + id, null, null, Map.of("If-None-Match", etag));
    assertEquals(200, changed.statusCode());
    assertNotEquals(etag, changed.headers().firstValue("ETag").orElseThrow());
    assertEquals(200, server.send("GET", "/v1/runs/" + id + "/events", null, null, Map.of("If-None-Match", etag)).statusCode());
    // the run's past does not change: its ETag holds
    HttpResponse<String> past = server.send("GET", "/v1/runs/" + id + "?atSeq=1", null, null, Map.of("If-None-Match", "\"1\""));
    assertEquals(304, past.statusCode());
  }

  @Test
  void locationHeadersAreAbsolute() throws Exception {
    HttpResponse<String> created = server.post("/v1/runs", "{\"executor\":{\"command\":[\"true\"]}}");
    assertEquals(202, created.statusCode());
    String id = TestServer.json(created).get("id").asText();
    assertEquals("http://127.0.0.1:" + server.port() + "/v1/runs/" + id, created.headers().firstValue("Location").orElse(null));
    HttpResponse<String> token = server.post("/v1/admin/tokens", "{\"name\":\"loc\",\"scopes\":[\"runs:read\"]}");
    assertEquals(201, token.statusCode());
    assertTrue(token.headers().firstValue("Location").orElse("").startsWith("http://127.0.0.1:" + server.port() + "/v1/admin/tokens/tok_"),
        token.headers().toString());
    // the Host the client used names the server
    RawHttp.Response viaName = RawHttp.send(server.port(), "POST", "/v1/runs",
        Map.of("Host", "reins.example:8443", "Authorization", "Bearer " + TestServer.ADMIN_TOKEN), "{\"executor\":{\"command\":[\"true\"]}}");
    assertEquals(202, viaName.status(), viaName.bodyText());
    assertTrue(viaName.header("Location").startsWith("http://reins.example:8443/v1/runs/"), viaName.header("Location"));
  }

  @Test
  void aConfiguredPublicUrlIsTheBaseOfLocations() throws Exception {
    try (TestServer behindProxy = TestServer.start(Map.of("reins.http.public-url", "https://reins.example.com/"))) {
      HttpResponse<String> created = behindProxy.post("/v1/runs", "{\"executor\":{\"command\":[\"true\"]}}");
      assertEquals(202, created.statusCode());
      assertEquals("https://reins.example.com/v1/runs/" + TestServer.json(created).get("id").asText(),
          created.headers().firstValue("Location").orElse(null));
    }
  }
}
