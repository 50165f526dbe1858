package dev.reins.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.awaitility.Awaitility;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * A real Reins server for tests: its own data directory, ephemeral HTTP and remoting ports, and
 * the {@link ApiClient} that speaks to it over the loopback.
 */
public final class TestServer extends ApiClient implements AutoCloseable {
  public final ReinsServer server;
  public final Path dataDir;

  /** The admin token of every test server ({@code REINS_ADMIN_TOKEN}): the default tenant, every scope. */
  public static final String ADMIN_TOKEN = "test-admin-token-" + java.util.UUID.randomUUID();

  private TestServer(ReinsServer server, Path dataDir) {
    super(server.address().getPort(), ADMIN_TOKEN);
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
            "reins.auth.admin-token", ADMIN_TOKEN,
            // tests stop servers often: stop running attempts at once (as a cancel would)
            "reins.shutdown.drain-seconds", 0,
            "reins.startup.settle", "0s",
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
    // a server's process watchdog is not a run's process: it lives as long as its server
    return ProcessHandle.current().descendants()
        .filter(ProcessHandle::isAlive)
        .filter(p -> !p.info().commandLine().orElse("").contains("reins-watchdog"))
        .toList();
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

  /**
   * How many events this server's journal holds, over every persistence id: a request that must
   * change nothing leaves this number as it was (when nothing else is going on).
   */
  public long journaledEvents() throws Exception {
    ActorSystem<Void> system = server.system();
    JdbcReadJournal journal =
        PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    return journal.currentPersistenceIds()
        .mapAsync(4, id -> journal.currentEventsByPersistenceId(id, 0L, Long.MAX_VALUE)
            .runWith(Sink.fold(0L, (n, e) -> n + 1), system))
        .runWith(Sink.fold(0L, Long::sum), system)
        .toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
  }

  /**
   * Cancels {@code runs} (waiting for their ends), checks that no process of this JVM is left,
   * and closes the server whatever happened.
   */
  public void closeAfterCancelling(String... runs) throws IOException, InterruptedException {
    try {
      for (String run : runs) {
        if (run != null) {
          post("/v1/runs/" + run + "/cancel?wait=15s", null);
        }
      }
      awaitNoChildProcesses(Duration.ofSeconds(30));
    } finally {
      close();
    }
  }

  @Override
  public void close() {
    server.close();
  }
}
