package dev.reins.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.json.ReinsJson;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.awaitility.Awaitility;

/** Speaks the Reins HTTP API of a server on this machine, for tests (in this JVM or another). */
public class ApiClient {
  /** How often the waits look at the server (over HTTP: there is nothing to subscribe to). */
  protected static final Duration POLL = Duration.ofMillis(20);

  private static final HttpClient SHARED = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  public final HttpClient http = SHARED;
  private final int port;
  /** Sent as {@code Authorization: Bearer ...}; {@code null} sends none. */
  private final String token;

  public ApiClient(int port, String token) {
    this.port = port;
    this.token = token;
  }

  /** The same server, another token ({@code null}: none). */
  public ApiClient as(String otherToken) {
    return new ApiClient(port, otherToken);
  }

  public String token() {
    return token;
  }

  public int port() {
    return port;
  }

  public URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  public HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return checked(http.send(b.build(), STREAMS_UNREAD), body == null ? null : "application/json", body);
  }

  /** Sends raw bytes; {@code chunked} leaves out Content-Length (the body streams). */
  public HttpResponse<String> sendBytes(String method, String path, byte[] body, boolean chunked)
      throws IOException, InterruptedException {
    HttpRequest.BodyPublisher publisher = chunked
        ? HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body))
        : HttpRequest.BodyPublishers.ofByteArray(body);
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .method(method, publisher);
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    HttpRequest request = b.build();
    return checked(http.send(request, HttpResponse.BodyHandlers.ofString()), "application/json",
        new String(body, java.nio.charset.StandardCharsets.UTF_8));
  }

  /**
   * Sends {@code body} (or none) as {@code contentType} (or no Content-Type at all) with extra
   * {@code headers}; the Authorization header is this client's token, as always.
   */
  public HttpResponse<String> send(String method, String path, String contentType, String body, Map<String, String> headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    headers.forEach(b::header);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return checked(http.send(b.build(), STREAMS_UNREAD), contentType, body);
  }

  /**
   * The contract test: every exchange of this client is checked against the server's OpenAPI
   * description ({@link OpenApiContract}); a mismatch fails the test that made the request.
   */
  private static HttpResponse<String> checked(HttpResponse<String> response, String requestContentType, String requestBody) {
    if (OpenApiContract.ENABLED) {
      OpenApiContract.SPEC.verify(new OpenApiContract.Exchange(response.request().method(), response.request().uri(),
          requestContentType, requestBody, response.statusCode(),
          response.headers().firstValue("Content-Type").orElse(null), response.body(), response.headers().map()));
    }
    return response;
  }

  /**
   * The body as a string, except for an event stream (which may never end): its body is left
   * unread (the connection closed) and answers as empty.
   */
  static final HttpResponse.BodyHandler<String> STREAMS_UNREAD = info ->
      info.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")
          ? HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofInputStream(), in -> {
              try {
                in.close();
              } catch (IOException e) {
                // closing is all that is wanted
              }
              return "";
            })
          : HttpResponse.BodyHandlers.ofString().apply(info);

  public HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return send("GET", path, null);
  }

  public HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
    return send("POST", path, body);
  }

  public static JsonNode json(HttpResponse<String> response) throws IOException {
    return ReinsJson.mapper().readTree(response.body());
  }

  /** Submits {@code command} (JSON array text) and returns the run id. */
  public String submit(String commandJson, String extraFields) throws IOException, InterruptedException {
    String body = "{\"executor\":{\"type\":\"process\",\"command\":" + commandJson + "}"
        + (extraFields == null ? "" : "," + extraFields) + "}";
    HttpResponse<String> r = post("/v1/runs", body);
    if (r.statusCode() != 202) {
      throw new AssertionError("submit answered " + r.statusCode() + ": " + r.body());
    }
    return json(r).get("id").asText();
  }

  /**
   * Creates an API token with {@code POST /v1/admin/tokens} (this client must be an admin) and
   * answers the created token's JSON; its secret is in {@code token}.
   */
  public JsonNode createToken(String tenant, String... scopes) throws IOException, InterruptedException {
    return createToken(tenant, java.util.List.of(scopes), null);
  }

  /** As {@link #createToken(String, String...)}, expiring at {@code expiresAt} ({@code null}: never). */
  public JsonNode createToken(String tenant, java.util.List<String> scopes, java.time.Instant expiresAt)
      throws IOException, InterruptedException {
    var body = ReinsJson.mapper().createObjectNode();
    body.put("name", "test " + String.join(" ", scopes));
    if (tenant != null) {
      body.put("tenant", tenant);
    }
    body.putArray("scopes").addAll(scopes.stream().map(body::textNode).toList());
    if (expiresAt != null) {
      body.put("expiresAt", expiresAt.toString());
    }
    HttpResponse<String> r = post("/v1/admin/tokens", body.toString());
    if (r.statusCode() != 201) {
      throw new AssertionError("token creation answered " + r.statusCode() + ": " + r.body());
    }
    return json(r);
  }

  /** A run and the per-run token ({@code REINS_TOKEN}) its process got. */
  public record RunWithToken(String id, String token) {}

  /**
   * Submits a run whose process writes its {@code REINS_TOKEN} to its log, then runs {@code rest}
   * (shell), and reads the token from the log (with this client, which must be able to read it).
   */
  public RunWithToken submitShowingToken(String rest, Duration timeout) throws IOException, InterruptedException {
    String script = "echo \"$REINS_TOKEN\"" + (rest == null ? "" : "; " + rest);
    String id = submit(ReinsJson.mapper().writeValueAsString(java.util.List.of("sh", "-c", script)), null);
    String token = Awaitility.await("the token in the log of run " + id)
        .atMost(timeout)
        .pollInterval(POLL)
        .until(() -> {
          HttpResponse<String> logs = get("/v1/runs/" + id + "/logs");
          return logs.statusCode() == 200 ? logs.body().strip() : "";
        }, t -> !t.isEmpty());
    return new RunWithToken(id, token.lines().findFirst().orElseThrow());
  }

  /** Polls the run until it is in {@code state}; fails after {@code timeout}. */
  public JsonNode awaitState(String runId, String state, Duration timeout) {
    return Awaitility.await("run " + runId + " " + state)
        .atMost(timeout)
        .pollInterval(POLL)
        .until(() -> json(get("/v1/runs/" + runId)), run -> state.equals(run.path("state").asText()));
  }

  /**
   * Polls the output of the run's {@code attempt} until it contains {@code text} and returns it:
   * how a test hears from a job (its process has only its output to speak with).
   */
  public String awaitOutput(String runId, int attempt, String text, Duration timeout) {
    return Awaitility.await("run " + runId + " attempt " + attempt + " prints " + text)
        .atMost(timeout)
        .pollInterval(POLL)
        .until(() -> get("/v1/runs/" + runId + "/logs?attempt=" + attempt).body(), out -> out.contains(text));
  }

  /** The {@code NAME=value} lines of a job's output, by name (a later line wins). */
  public static Map<String, String> assignments(String output) {
    Map<String, String> out = new TreeMap<>();
    for (String line : output.split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        out.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    return out;
  }
}
