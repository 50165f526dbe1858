package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a page on another site can make a browser send without asking first (a "simple" request:
 * {@code text/plain}, form or multipart bodies, no Authorization header, its own Origin) starts
 * no run and changes none, and the answer gives that page nothing to read (no CORS headers). With
 * a token, such a body is still refused (415): only JSON is a command.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CrossSiteRequestTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final String FOREIGN_ORIGIN = "https://evil.example";
  private static final String RUN_JSON = "{\"executor\":{\"type\":\"process\",\"command\":[\"touch\",\"/tmp/reins-csrf\"]}}";
  private static final String BOUNDARY = "----reinsboundary7MA4YWxkTrZu0gW";

  private TestServer server;
  /** Running: a cancel that got through would cancel it. */
  private String running;
  /** Succeeded: a reset that got through would start its attempt 2. */
  private String ended;

  @BeforeAll
  void start() throws Exception {
    server = TestServer.start();
    running = server.submit("[\"sleep\",\"600\"]", null);
    server.awaitState(running, "running", PATIENCE);
    ended = server.submit("[\"true\"]", null);
    server.awaitState(ended, "succeeded", PATIENCE);
  }

  @AfterAll
  void stop() throws Exception {
    try {
      server.post("/v1/runs/" + running + "/cancel?wait=15s", null);
      TestServer.awaitNoChildProcesses(PATIENCE);
    } finally {
      server.close();
    }
  }

  /** Each command, each body a browser sends cross-site without a preflight. */
  static Stream<Arguments> simpleRequests() {
    List<Arguments> all = new ArrayList<>();
    for (String command : List.of("submit", "cancel", "reset")) {
      String json = switch (command) {
        case "submit" -> RUN_JSON;
        case "cancel" -> "{\"reason\":\"csrf\"}";
        default -> "{}";
      };
      all.add(Arguments.of(command, "text/plain", json));
      all.add(Arguments.of(command, "text/plain;charset=UTF-8", json));
      // the classic form trick: the JSON is the name of a field with an empty value
      all.add(Arguments.of(command, "application/x-www-form-urlencoded", URLEncoder.encode(json, StandardCharsets.UTF_8) + "="));
      all.add(Arguments.of(command, "multipart/form-data; boundary=" + BOUNDARY, "--" + BOUNDARY + "\r\n"
          + "Content-Disposition: form-data; name=\"run\"\r\n\r\n" + json + "\r\n--" + BOUNDARY + "--\r\n"));
      // a Blob without a type: a body with no Content-Type at all
      all.add(Arguments.of(command, null, json));
    }
    return all.stream();
  }

  @ParameterizedTest(name = "{0} as {1}, no token")
  @MethodSource("simpleRequests")
  void aCrossSiteRequestWithoutATokenIs401AndChangesNothing(String command, String contentType, String body) throws Exception {
    HttpResponse<String> r = sendUnchanged(server.as(null), command, contentType, body);
    assertProblem(r, 401, "unauthorized", null);
  }

  @ParameterizedTest(name = "{0} as {1}, with a token")
  @MethodSource("simpleRequests")
  void aBodyThatIsNotJsonIsA415EvenWithAToken(String command, String contentType, String body) throws Exception {
    HttpResponse<String> r = sendUnchanged(server, command, contentType, body);
    assertProblem(r, 415, "unsupported-media-type", null);
  }

  /** Sends the command from a foreign origin and checks that it changed nothing and exposed nothing. */
  private HttpResponse<String> sendUnchanged(ApiClient client, String command, String contentType, String body)
      throws Exception {
    long events = server.journaledEvents();
    JsonNode runningBefore = run(running);
    JsonNode endedBefore = run(ended);
    String path = switch (command) {
      case "submit" -> "/v1/runs";
      case "cancel" -> "/v1/runs/" + running + "/cancel";
      default -> "/v1/runs/" + ended + "/reset";
    };
    HttpResponse<String> r = client.send("POST", path, contentType, body, Map.of("Origin", FOREIGN_ORIGIN));

    assertEquals(List.of(), corsHeaders(r), "CORS headers in the answer");
    assertEquals(events, server.journaledEvents(), "events written: " + r.statusCode() + " " + r.body());
    assertUnchanged(runningBefore, run(running));
    assertUnchanged(endedBefore, run(ended));
    return r;
  }

  static List<String> corsHeaders(HttpResponse<String> r) {
    return r.headers().map().keySet().stream()
        .filter(name -> name.toLowerCase(Locale.ROOT).startsWith("access-control-"))
        .toList();
  }

  private JsonNode run(String id) throws Exception {
    return TestServer.json(server.get("/v1/runs/" + id));
  }

  private static void assertUnchanged(JsonNode before, JsonNode after) {
    assertEquals(before.get("state").asText(), after.get("state").asText(), "state of run " + before.get("id"));
    assertEquals(before.get("attempt").asInt(), after.get("attempt").asInt(), "attempt of run " + before.get("id"));
    assertEquals(before.get("version").asLong(), after.get("version").asLong(), "version of run " + before.get("id"));
  }
}
