package dev.reins.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.json.ReinsJson;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
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
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
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
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

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

  /** Polls the run until it is in {@code state}; fails after {@code timeout}. */
  public JsonNode awaitState(String runId, String state, Duration timeout) {
    return Awaitility.await("run " + runId + " " + state)
        .atMost(timeout)
        .pollInterval(POLL)
        .until(() -> json(get("/v1/runs/" + runId)), run -> state.equals(run.path("state").asText()));
  }

}
