package dev.reins.deploy;

import dev.reins.http.ApiClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;

/**
 * A Reins server in a child JVM, started by {@link Main} with this test's classpath: what an
 * operator runs, with its own environment and no way for a test to reach inside. Its output goes
 * to {@code server.log} in its data directory.
 */
final class ServerProcess {
  private ServerProcess() {}

  /**
   * @param env the child's environment: this JVM's, without REINS_ADMIN_TOKEN, plus these
   */
  static Process start(Path dataDir, int httpPort, int remotePort, Map<String, String> env) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        Main.class.getName());
    pb.environment().remove("REINS_ADMIN_TOKEN");
    pb.environment().put("REINS_DATA_DIR", dataDir.toString());
    pb.environment().put("REINS_HTTP_PORT", Integer.toString(httpPort));
    pb.environment().put("REINS_REMOTE_PORT", Integer.toString(remotePort));
    pb.environment().putAll(env);
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve("server.log").toFile()));
    return pb.start();
  }

  /** Waits until the server answers ready (2 minutes at most: a loaded machine starts a JVM slowly). */
  static void awaitReady(ApiClient api) {
    Awaitility.await("server ready").atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(100)).until(() -> {
      try {
        return api.get("/v1/health/ready").statusCode() == 200;
      } catch (IOException e) {
        return false;
      }
    });
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
