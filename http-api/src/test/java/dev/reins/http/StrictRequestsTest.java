package dev.reins.http;

import static dev.reins.http.ApiErrorsTest.assertProblem;
import static dev.reins.http.CrossSiteRequestTest.corsHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.json.ReinsJson;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The edges of a request: CORS only for configured origins (and never with credentials), {@code
 * Host} only among the allowed hosts when they are configured (a defence against DNS rebinding),
 * {@code HEAD} and {@code OPTIONS} on every route of the table, 404 for anything else.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StrictRequestsTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final String DASHBOARD = "https://dash.example";
  private static final String FOREIGN = "https://evil.example";

  /** No CORS origins, no allowed hosts: the defaults. */
  private TestServer plain;
  /** CORS for {@link #DASHBOARD}; Host must be 127.0.0.1 or localhost. */
  private TestServer strict;
  private String plainRun;
  private String plainTokenId;
  /** A delegation of {@link #plainRun} to a sleeping child run (cancelled with its parent). */
  private String plainDelegation;
  private String strictRun;

  @BeforeAll
  void start() throws Exception {
    plain = TestServer.start();
    strict = TestServer.start(Map.of(
        "reins.http.cors-origins", DASHBOARD,
        "reins.http.allowed-hosts", "127.0.0.1, LocalHost"));
    plainRun = plain.submitShowingToken("exec sleep 600", PATIENCE).id(); // it has output, for HEAD of its logs
    plainTokenId = plain.createToken(null, "runs:read").get("id").asText();
    HttpResponse<String> delegated = plain.post("/v1/runs/" + plainRun + "/delegations",
        "{\"target\":{\"type\":\"run\",\"executor\":{\"command\":[\"sleep\",\"600\"]}}}");
    assertEquals(202, delegated.statusCode(), delegated.body());
    plainDelegation = TestServer.json(delegated).get("id").asText();
    strictRun = strict.submit("[\"sleep\",\"600\"]", null);
    plain.awaitState(plainRun, "running", PATIENCE);
    strict.awaitState(strictRun, "running", PATIENCE);
  }

  @AfterAll
  void stop() throws Exception {
    try {
      plain.post("/v1/runs/" + plainRun + "/cancel?wait=15s", null);
      strict.post("/v1/runs/" + strictRun + "/cancel?wait=15s", null);
      TestServer.awaitNoChildProcesses(PATIENCE);
    } finally {
      try {
        plain.close();
      } finally {
        strict.close();
      }
    }
  }

  // ---- CORS ------------------------------------------------------------------------------------

  @Test
  void noCorsHeadersByDefault() throws Exception {
    HttpResponse<String> get = plain.send("GET", "/v1/runs/" + plainRun, null, null, Map.of("Origin", DASHBOARD));
    assertEquals(200, get.statusCode());
    assertEquals(List.of(), corsHeaders(get));
    HttpResponse<String> preflight = preflight(plain.as(null), "/v1/runs", DASHBOARD);
    assertEquals(204, preflight.statusCode());
    assertEquals(List.of(), corsHeaders(preflight));
  }

  @Test
  void anAllowedOriginMayReadAnswersButNeverWithCredentials() throws Exception {
    HttpResponse<String> get = strict.send("GET", "/v1/runs/" + strictRun, null, null, Map.of("Origin", DASHBOARD));
    assertEquals(200, get.statusCode());
    assertEquals(DASHBOARD, get.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
    assertFalse(get.headers().firstValue("Access-Control-Allow-Credentials").isPresent());
    assertTrue(get.headers().allValues("Vary").stream().anyMatch(v -> v.contains("Origin")), "Vary: Origin");
    Set<String> exposed = list(get.headers().firstValue("Access-Control-Expose-Headers").orElse(""));
    assertTrue(exposed.containsAll(Set.of("location", "etag", "retry-after")), "exposed: " + exposed);

    // a problem is readable too (a page must see its 401 to ask for a token)
    HttpResponse<String> denied = strict.as(null).send("GET", "/v1/runs/" + strictRun, null, null, Map.of("Origin", DASHBOARD));
    assertProblem(denied, 401, "unauthorized", null);
    assertEquals(DASHBOARD, denied.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
    assertFalse(denied.headers().firstValue("Access-Control-Allow-Credentials").isPresent());
  }

  @Test
  void aPreflightFromAnAllowedOriginIs204WithTheRoutesMethodsAndTheHeadersTheApiReads() throws Exception {
    HttpResponse<String> r = preflight(strict.as(null), "/v1/runs/" + strictRun + "/cancel", DASHBOARD);
    assertEquals(204, r.statusCode(), r.body());
    assertEquals("", r.body());
    assertEquals(DASHBOARD, r.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
    assertFalse(r.headers().firstValue("Access-Control-Allow-Credentials").isPresent());
    assertEquals(Set.of("post", "options"), list(r.headers().firstValue("Access-Control-Allow-Methods").orElse("")));
    assertTrue(list(r.headers().firstValue("Access-Control-Allow-Headers").orElse(""))
        .containsAll(Set.of("authorization", "content-type")), r.headers().map().toString());
    // and a preflight changes nothing
    assertEquals("running", TestServer.json(strict.get("/v1/runs/" + strictRun)).get("state").asText());
  }

  @ParameterizedTest
  @ValueSource(strings = {FOREIGN, "null", "https://dash.example.evil.example", "http://dash.example", DASHBOARD + ":8443"})
  void anotherOriginGetsNoCorsHeaders(String origin) throws Exception {
    HttpResponse<String> get = strict.send("GET", "/v1/runs/" + strictRun, null, null, Map.of("Origin", origin));
    assertEquals(200, get.statusCode());
    assertEquals(List.of(), corsHeaders(get));
    HttpResponse<String> preflight = preflight(strict.as(null), "/v1/runs", origin);
    assertEquals(List.of(), corsHeaders(preflight));
  }

  // ---- Host ------------------------------------------------------------------------------------

  @Test
  void anotherHostIs421AndChangesNothing() throws Exception {
    long events = strict.journaledEvents();
    long version = TestServer.json(strict.get("/v1/runs/" + strictRun)).get("version").asLong();
    String run = "{\"executor\":{\"command\":[\"true\"]}}";

    assertMisdirected(raw(strict, "POST", "/v1/runs", "evil.example", run));
    assertMisdirected(raw(strict, "POST", "/v1/runs/" + strictRun + "/cancel", "evil.example:" + strict.port(), "{}"));
    assertMisdirected(raw(strict, "GET", "/v1/runs/" + strictRun, "127.0.0.1.evil.example", null));
    assertMisdirected(raw(strict, "OPTIONS", "/v1/runs", "evil.example", null));
    // in absolute form, the request target names the host (RFC 9112, 3.2.2)...
    String absolute = "http://evil.example:" + strict.port() + "/v1/runs";
    assertMisdirected(raw(strict, "POST", absolute, "evil.example:" + strict.port(), run));
    // ...and a Host header that says otherwise makes the request malformed
    assertEquals(400, raw(strict, "POST", absolute, "127.0.0.1:" + strict.port(), run).status());

    assertEquals(events, strict.journaledEvents(), "events written");
    JsonNode after = TestServer.json(strict.get("/v1/runs/" + strictRun));
    assertEquals("running", after.get("state").asText());
    assertEquals(version, after.get("version").asLong());
  }

  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "127.0.0.1"})
  void anAllowedHostIsServed(String host) throws Exception {
    RawHttp.Response r = raw(strict, "GET", "/v1/runs/" + strictRun, host.replace("{port}", Integer.toString(strict.port())), null);
    assertEquals(200, r.status(), r.bodyText());
  }

  @Test
  void healthIsServedForAnyHost() throws Exception {
    assertEquals(200, raw(strict, "GET", "/v1/health/live", "10.1.2.3:8080", null).status());
    assertEquals(200, raw(strict, "GET", "/v1/health/ready", "10.1.2.3:8080", null).status());
  }

  @Test
  void withoutAllowedHostsAnyHostIsServed() throws Exception {
    assertEquals(200, raw(plain, "GET", "/v1/runs/" + plainRun, "evil.example", null).status());
  }

  // ---- HEAD, OPTIONS, unknown routes -------------------------------------------------------------

  @Test
  void headOfEveryGetRouteAnswersLikeGetWithoutABody() throws Exception {
    for (Endpoint e : plain.server.endpoints()) {
      // an event stream never ends, so a GET of it would not either (EventFeedTest covers streams)
      if (!e.method().equals("GET") || e.path().endsWith("/stream")) {
        continue;
      }
      String path = "/v1" + fill(e.path());
      HttpResponse<String> get = plain.get(path);
      HttpResponse<String> head = plain.send("HEAD", path, null);
      String context = "HEAD " + path + " -> " + head.statusCode() + " " + head.headers().map();
      assertEquals(200, get.statusCode(), "GET " + path + ": " + get.body());
      assertEquals(get.statusCode(), head.statusCode(), context);
      assertEquals("", head.body(), context);
      assertEquals(get.headers().firstValue("Content-Type"), head.headers().firstValue("Content-Type"), context);
      assertEquals(get.headers().firstValue("ETag"), head.headers().firstValue("ETag"), context);
      // and without a token, HEAD is refused as GET is
      assertEquals(e.access().isPublic() ? 200 : 401, plain.as(null).send("HEAD", path, null).statusCode(), context);
    }
  }

  @Test
  void optionsOfEveryRouteIs204WithAllowAndNeedsNoToken() throws Exception {
    Map<String, Set<String>> methodsByPath = new LinkedHashMap<>();
    for (Endpoint e : plain.server.endpoints()) {
      Set<String> methods = methodsByPath.computeIfAbsent(e.path(), p -> new LinkedHashSet<>(List.of("OPTIONS")));
      methods.add(e.method());
      if (e.method().equals("GET")) {
        methods.add("HEAD");
      }
    }
    for (Map.Entry<String, Set<String>> route : methodsByPath.entrySet()) {
      String path = "/v1" + fill(route.getKey());
      HttpResponse<String> r = plain.as(null).send("OPTIONS", path, null);
      assertEquals(204, r.statusCode(), "OPTIONS " + path + ": " + r.body());
      assertEquals("", r.body());
      Set<String> allow = Arrays.stream(r.headers().firstValue("Allow").orElse("").split(","))
          .map(String::trim).collect(Collectors.toCollection(TreeSet::new));
      assertEquals(new TreeSet<>(route.getValue()), allow, "Allow of " + path);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"/", "/v1", "/v1/", "/v1/run", "/v1/runs/{id}/nope", "/v1/admin", "/v1/admin/tokens/{tokenId}/x",
      "/v1/health/", "/v1//runs", "/v2/runs", "/v1/RUNS"})
  void anUnknownRouteIs404WithOrWithoutAToken(String path) throws Exception {
    String p = path.replace("{id}", plainRun).replace("{tokenId}", "tok_x");
    assertProblem(plain.get(p), 404, "not-found", null);
    assertProblem(plain.as(null).get(p), 404, "not-found", null);
    assertProblem(plain.as(null).send("POST", p, "{}"), 404, "not-found", null);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private static HttpResponse<String> preflight(ApiClient client, String path, String origin) throws Exception {
    return client.send("OPTIONS", path, null, null, Map.of(
        "Origin", origin,
        "Access-Control-Request-Method", "POST",
        "Access-Control-Request-Headers", "authorization,content-type"));
  }

  private static RawHttp.Response raw(TestServer server, String method, String target, String host, String body) throws Exception {
    return RawHttp.send(server.port(), method, target,
        Map.of("Host", host, "Authorization", "Bearer " + TestServer.ADMIN_TOKEN), body);
  }

  private static void assertMisdirected(RawHttp.Response r) throws Exception {
    assertEquals(421, r.status(), r.bodyText());
    assertEquals("application/problem+json", java.util.Optional.ofNullable(r.header("Content-Type")).orElse("").split(";")[0].trim());
    assertEquals("urn:reins:problem:host-not-allowed", ReinsJson.mapper().readTree(r.bodyText()).path("type").asText(), r.bodyText());
  }

  /** The table's path with real values: the running run, a real token. */
  private String fill(String template) {
    return AuthorizationMatrixTest.fill(template, Map.of("id", plainRun, "tokenId", plainTokenId, "did", plainDelegation), template);
  }

  private static Set<String> list(String header) {
    return Arrays.stream(header.split(",")).map(s -> s.trim().toLowerCase(Locale.ROOT)).filter(s -> !s.isEmpty())
        .collect(Collectors.toSet());
  }
}
