package dev.reins.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.json.ReinsJson;
import org.awaitility.Awaitility;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A real Reins server for tests: its own data directory, ephemeral HTTP and remoting ports, and a
 * small HTTP client speaking to it over the loopback.
 */
public final class TestServer implements AutoCloseable {
  /** How often the waits below look at the server (over HTTP: there is nothing to subscribe to). */
  private static final Duration POLL = Duration.ofMillis(20);

  public final ReinsServer server;
  public final Path dataDir;
  public final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private TestServer(ReinsServer server, Path dataDir) {
    this.server = server;
    this.dataDir = dataDir;
  }

  /** @param overrides extra configuration, e.g. {@code reins.db.url} for PostgreSQL */
  public static TestServer start(Map<String, Object> overrides) throws IOException {
    Path dataDir = Files.createTempDirectory("reins-test-");
    // Resolved only once everything is layered: reference.conf derives the remoting port (and
    // more) from reins.* keys by substitution, so a config resolved earlier would keep 25520 and
    // two servers (or two test JVMs) would fight over it.
    Config config = ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.parseMap(Map.of(
            "reins.data-dir", dataDir.toString(),
            "reins.http.port", 0,
            "reins.remote.port", 0,
            "pekko.cluster.seed-nodes", java.util.List.of(),
            "pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on")))
        .withFallback(ConfigFactory.defaultApplication())
        .withFallback(ConfigFactory.defaultReferenceUnresolved())
        .resolve();
    return new TestServer(ReinsServer.start(config), dataDir);
  }

  public static TestServer start() throws IOException {
    return start(Map.of());
  }

  public URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.address().getPort() + path);
  }

  public HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30));
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
    HttpRequest request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .method(method, publisher)
        .build();
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

  /** Polls {@code probe} until it returns normally; rethrows its last failure after {@code timeout}. */
  public static <T> T await(Duration timeout, java.util.concurrent.Callable<T> probe) {
    java.util.concurrent.atomic.AtomicReference<T> result = new java.util.concurrent.atomic.AtomicReference<>();
    Awaitility.await().atMost(timeout).pollInterval(POLL).ignoreExceptions().untilAsserted(() -> result.set(probe.call()));
    return result.get();
  }

  /** An assertion that may throw. */
  @FunctionalInterface
  public interface Check {
    void run() throws Exception;
  }

  /** Repeats {@code check} until it passes; rethrows its last failure after {@code timeout}. */
  public static void awaitAssert(Duration timeout, Check check) {
    Awaitility.await().atMost(timeout).pollInterval(POLL).ignoreExceptions().untilAsserted(check::run);
  }

  /**
   * The OS processes started by this JVM that are still alive. The server's workers start run
   * processes as children of the test JVM, so this is every process the tests' runs left behind.
   */
  public static java.util.List<ProcessHandle> liveChildProcesses() {
    return ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).toList();
  }

  /** Waits until every process started by this JVM is gone; fails naming them otherwise. */
  public static void awaitNoChildProcesses(Duration timeout) {
    awaitAssert(timeout, () -> {
      java.util.List<ProcessHandle> left = liveChildProcesses();
      if (!left.isEmpty()) {
        throw new AssertionError("processes left running: " + left.stream()
            .map(p -> p.pid() + " " + p.info().commandLine().orElse("?")).toList());
      }
    });
  }

  @Override
  public void close() {
    server.close();
  }
}
