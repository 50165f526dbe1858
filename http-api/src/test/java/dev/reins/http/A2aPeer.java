package dev.reins.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.protocol.json.ReinsJson;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.opentest4j.TestAbortedException;

/**
 * A real A2A agent for tests: {@code src/test/a2a-peer/peer.mjs} on the official {@code
 * @a2a-js/sdk}, installed by the build into {@code http-api/target/a2a-peer} (npm ci) and started
 * here with node on a free loopback port. What it does is chosen by the message (see peer.mjs);
 * {@link #log()} tells what it saw: tasks, cancels, JSON-RPC methods.
 *
 * <p>Without node or the installed peer, the tests are skipped with a message, so that a machine
 * with only a JDK runs the suite; where {@code REINS_REQUIRE_A2A_PEER=1} (CI), they fail instead.
 */
public final class A2aPeer implements AutoCloseable {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final Process process;
  private final int port;
  private final List<String> output = java.util.Collections.synchronizedList(new ArrayList<>());

  private A2aPeer(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** Set (to 1) where the A2A tests must run, as in CI: without the peer they fail instead of skipping. */
  public static final String REQUIRED_ENV = "REINS_REQUIRE_A2A_PEER";

  /** The installed peer: {@code -Dreins.a2a.peer.dir}, else http-api's {@code target/a2a-peer} seen from this module. */
  public static Path dir() {
    String configured = System.getProperty("reins.a2a.peer.dir");
    List<Path> candidates = configured != null
        ? List.of(Path.of(configured))
        : List.of(Path.of("target/a2a-peer"), Path.of("../http-api/target/a2a-peer"));
    for (Path p : candidates) {
      if (Files.isRegularFile(p.resolve("peer.mjs")) && Files.isDirectory(p.resolve("node_modules/@a2a-js/sdk"))) {
        return p.toAbsolutePath().normalize();
      }
    }
    String why = "the A2A test peer is not installed at " + candidates
        + ": build http-api through Maven (process-test-resources runs npm ci), with node and npm on the PATH";
    if ("1".equals(System.getenv(REQUIRED_ENV))) {
      throw new IllegalStateException(why + " (" + REQUIRED_ENV + "=1: the A2A tests must run)");
    }
    throw new TestAbortedException("A2A tests skipped: " + why + "; .ci/run installs node and npm and sets " + REQUIRED_ENV + "=1");
  }

  public static A2aPeer start(String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("node", "peer.mjs", "--port", "0"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).directory(dir().toFile()).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    CompletableFuture<Integer> port = new CompletableFuture<>();
    List<String> seen = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread reader = new Thread(() -> {
      try {
        for (String line; (line = out.readLine()) != null; ) {
          seen.add(line);
          if (line.startsWith("PEER LISTENING ")) {
            port.complete(Integer.parseInt(line.substring("PEER LISTENING ".length()).trim()));
          }
        }
      } catch (IOException e) {
        // the peer is gone
      }
      port.completeExceptionally(new IllegalStateException("the A2A peer exited: " + seen));
    }, "a2a-peer-output");
    reader.setDaemon(true);
    reader.start();
    try {
      A2aPeer peer = new A2aPeer(p, port.get(30, TimeUnit.SECONDS));
      peer.output.addAll(seen);
      return peer;
    } catch (Exception e) {
      p.destroyForcibly();
      throw new IllegalStateException("the A2A peer did not start: " + seen, e);
    }
  }

  public int port() {
    return port;
  }

  /** The URL a delegation targets. */
  public String url() {
    return "http://127.0.0.1:" + port + "/";
  }

  /** {@code {"tasks":[{taskId, contextId, messageId, text, data, at, endedAt, end}], "cancels":[{taskId, at}], "methods":[...]}} */
  public JsonNode log() throws IOException, InterruptedException {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/_peer/log")).build(),
        HttpResponse.BodyHandlers.ofString());
    return ReinsJson.mapper().readTree(r.body());
  }

  public List<String> taskStates() throws IOException, InterruptedException {
    List<String> out = new ArrayList<>();
    log().path("tasks").forEach(t -> out.add(t.path("end").asText("")));
    return out;
  }

  /** Lets every task waiting for release ({@code waitForRelease}) complete. */
  public int release() throws IOException, InterruptedException {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/_peer/release"))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    return ReinsJson.mapper().readTree(r.body()).path("released").asInt();
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
