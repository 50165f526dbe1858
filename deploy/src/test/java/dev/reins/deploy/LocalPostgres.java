package dev.reins.deploy;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;

/**
 * The PostgreSQL cluster of this machine that a JDBC URL points at, stopped and started with
 * {@code pg_ctlcluster} (Debian's postgresql-common). Tests that take the database away use it;
 * without the tools, root, or a local cluster on the URL's port they are skipped with a message.
 */
final class LocalPostgres {
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);

  private final String version;
  private final String cluster;
  private final int port;

  private LocalPostgres(String version, String cluster, int port) {
    this.version = version;
    this.cluster = cluster;
    this.port = port;
  }

  /** The local cluster serving {@code jdbcUrl}; skips the calling test when it cannot be controlled. */
  static LocalPostgres forUrl(String jdbcUrl) {
    Assumptions.assumeTrue(onPath("pg_ctlcluster") && onPath("pg_lsclusters"),
        "skipped: pg_ctlcluster is not on PATH, so this test cannot stop and start PostgreSQL");
    Assumptions.assumeTrue("0".equals(run("id", "-u").trim()),
        "skipped: stopping PostgreSQL with pg_ctlcluster needs root, and this test does not run as root");
    URI uri = URI.create(jdbcUrl.substring("jdbc:".length()));
    int port = uri.getPort() < 0 ? 5432 : uri.getPort();
    String host = uri.getHost() == null ? "localhost" : uri.getHost();
    Assumptions.assumeTrue(List.of("127.0.0.1", "localhost", "::1", "[::1]").contains(host),
        "skipped: " + jdbcUrl + " is not a PostgreSQL of this machine, so pg_ctlcluster cannot stop it");
    // pg_lsclusters -h: "<version> <cluster> <port> <status> <owner> <data directory> <log file>"
    for (String line : run("pg_lsclusters", "-h").split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 3 && f[2].equals(Integer.toString(port))) {
        return new LocalPostgres(f[0], f[1], port);
      }
    }
    Assumptions.abort("skipped: no local PostgreSQL cluster listens on port " + port + " (pg_lsclusters)");
    return null;
  }

  /** Stops the cluster at once ({@code -m fast}: sessions are disconnected, nothing waits for clients). */
  void stop() {
    run("pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "stop", "-m", "fast");
  }

  /** Starts the cluster (if it is not running) and waits until it accepts connections. */
  void start() {
    if (!isReady()) {
      run("pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "start");
    }
    Awaitility.await("PostgreSQL " + version + "/" + cluster + " accepts connections")
        .atMost(COMMAND_TIMEOUT).pollInterval(Duration.ofMillis(100)).until(this::isReady);
  }

  boolean isReady() {
    try {
      Process p = new ProcessBuilder("pg_isready", "-q", "-h", "127.0.0.1", "-p", Integer.toString(port))
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  @Override
  public String toString() {
    return "PostgreSQL " + version + "/" + cluster + " on port " + port;
  }

  private static boolean onPath(String command) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      File f = new File(dir.isEmpty() ? "." : dir, command);
      if (f.isFile() && f.canExecute()) {
        return true;
      }
    }
    return false;
  }

  private static String run(String... command) {
    try {
      // output to a file, not a pipe: the server that pg_ctlcluster starts could hold a pipe open
      File out = File.createTempFile("reins-pg-", ".out");
      try {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out).start();
        if (!p.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IllegalStateException(String.join(" ", command) + " did not finish in " + COMMAND_TIMEOUT);
        }
        String text = Files.readString(out.toPath(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
          throw new IllegalStateException(String.join(" ", command) + " failed (" + p.exitValue() + "): " + text);
        }
        return text;
      } finally {
        Files.deleteIfExists(out.toPath());
      }
    } catch (IOException e) {
      throw new IllegalStateException(String.join(" ", command) + " could not run: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(String.join(" ", command) + " interrupted", e);
    }
  }
}
