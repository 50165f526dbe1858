package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.TestServer;
import dev.reins.persistence.RunJournal;
import dev.reins.persistence.TestDatabases;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.api.StoredEvent;
import dev.reins.protocol.json.ReinsJson;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal database goes away for a few seconds under a steady submit and cancel load, and
 * comes back. Throughout, the API answers 2xx only for what is journaled and 503 with Retry-After
 * for what is not (never another 5xx); processes keep running and their exits are recorded once
 * the database is back; and the same server, not restarted, takes new runs again.
 *
 * <p>The database is stopped ({@code pg_ctlcluster stop -m fast}) rather than its sessions killed
 * with {@code pg_terminate_backend}: terminating backends only breaks the connections of the
 * moment and the pool reconnects at once, so the server would never see a database that refuses
 * connections for a while. A stopped server is the outage operators meet (a restart, a failover,
 * a host that went away), and it also takes away new connections, the readiness probe's query and
 * the token lookups. It is brought back in a {@code finally}: other tests share this PostgreSQL.
 */
class JournalOutageTest {
  private static final int CLIENTS = 4;
  /**
   * How long the database stays down; the load goes on meanwhile. Short, as other tests share the
   * database; {@code -Doutage.seconds=15} tries a longer one by hand.
   */
  private static final Duration OUTAGE = Duration.ofSeconds(Long.getLong("outage.seconds", 4));
  /** Bound on the recovery after the database is back (the server must not need a restart). */
  private static final Duration RECOVERY = Duration.ofSeconds(60);

  /** One answer the load saw: what was asked, what came back, when and how fast. */
  record Answer(String op, String runId, int status, boolean retryAfter, boolean changed, long atMillis, long tookMillis,
      String body) {}

  private final List<Answer> answers = Collections.synchronizedList(new ArrayList<>());
  private final List<Answer> readiness = Collections.synchronizedList(new ArrayList<>());
  private final List<String> events = Collections.synchronizedList(new ArrayList<>());
  private long t0;

  @Test
  void requestsAnswer503WhileTheJournalIsDownAndEverythingRecoversWithoutARestart(@TempDir Path dir) throws Exception {
    String url = System.getenv("REINS_TEST_JDBC_URL");
    Assumptions.assumeTrue(url != null && !url.isBlank(),
        "skipped: REINS_TEST_JDBC_URL is not set (e.g. jdbc:postgresql://127.0.0.1:5432/test?user=postgres); this test "
            + "stops and starts that PostgreSQL");
    LocalPostgres postgres = LocalPostgres.forUrl(url);
    postgres.start();
    try (TestDatabases.TestDatabase db = TestDatabases.fresh(TestDatabases.Backend.POSTGRES, dir);
        TestServer server = TestServer.start(Map.of(
            "reins.db.url", db.journal().url(),
            "reins.db.user", db.journal().user(),
            "reins.db.password", db.journal().password()))) {
      try {
        outage(server, postgres, dir);
      } finally {
        postgres.start(); // whatever failed above, the shared database comes back
      }
    } finally {
      postgres.start();
    }
  }

  private void outage(TestServer server, LocalPostgres postgres, Path dir) throws Exception {
    t0 = System.nanoTime();
    // Processes that end while the database is down: each waits for a file created during the outage.
    Path gate = dir.resolve("gate");
    List<String> gated = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      gated.add(server.submit("[\"sh\",\"-c\",\"while [ ! -e '" + gate + "' ]; do sleep 0.05; done\"]", null));
    }
    for (String id : gated) {
      server.awaitState(id, "running", Duration.ofSeconds(30));
    }

    AtomicBoolean loading = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS + 1);
    try {
      List<Future<?>> clients = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        clients.add(pool.submit(() -> load(server, loading)));
      }
      clients.add(pool.submit(() -> probeReadiness(server, loading)));
      outageUnderLoad(server, postgres, gate);
      loading.set(false);
      for (Future<?> f : clients) {
        f.get(2, TimeUnit.MINUTES);
      }
      mark("load stopped");
    } finally {
      loading.set(false);
      pool.shutdownNow();
    }
    printTimeline();
    verify(server, gated);
  }

  /** The load runs throughout: before, during and after the outage. */
  private void outageUnderLoad(TestServer server, LocalPostgres postgres, Path gate) throws Exception {
    mark("load running");
    Thread.sleep(2000); // some load before the outage (pacing the scenario, not waiting for a result)
    mark("stopping PostgreSQL");
    postgres.stop();
    mark("PostgreSQL stopped");
    Files.createFile(gate);
    mark("gate open: the gated processes exit");
    Thread.sleep(OUTAGE.toMillis());
    mark("starting PostgreSQL");
    postgres.start();
    mark("PostgreSQL accepts connections");

    // The same server takes a new run, end to end, within a bounded time.
    TestServer.await(RECOVERY, () -> {
      String id = server.submit("[\"true\"]", null);
      return server.awaitState(id, "succeeded", Duration.ofSeconds(20));
    });
    mark("a new run was accepted and succeeded");
    Thread.sleep(2000); // load after the recovery, too
  }

  private void verify(TestServer server, List<String> gated) throws Exception {
    // Only 2xx, the 409s of the load itself, and 503 + Retry-After.
    List<Answer> wrong = answers.stream()
        .filter(a -> !(a.status() / 100 == 2 || a.status() == 409 || (a.status() == 503 && a.retryAfter())))
        .toList();
    assertEquals(List.of(), wrong, "only 2xx, 409 or 503 with Retry-After may answer during and after the outage");
    assertTrue(answers.stream().anyMatch(a -> a.status() == 503), "the outage must be visible to the load");
    assertTrue(readiness.stream().anyMatch(a -> a.status() == 503), "readiness must say 503 while the journal is down");
    assertEquals(200, server.get("/v1/health/ready").statusCode(), "ready again after the outage");

    // A process that exited during the outage has its exit recorded once the database is back.
    for (String id : gated) {
      JsonNode run = server.awaitState(id, "succeeded", RECOVERY);
      assertEquals(0, run.get("exit").get("code").asInt(), run.toString());
    }
    RunJournal journal = new RunJournal(server.server.system());
    for (String id : gated) {
      List<StoredEvent> log = journal.events(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(1, log.stream().filter(e -> e.type().equals("AttemptExited")).count(), "AttemptExited of " + id + ": " + log);
    }

    // Every 2xx was journaled: each accepted run exists and replays to what GET shows, and each
    // cancel that said "changed" has its CancelRequested.
    Set<String> accepted = answers.stream().filter(a -> a.op().equals("submit") && a.status() / 100 == 2)
        .map(Answer::runId).collect(Collectors.toSet());
    Set<String> cancelled = answers.stream().filter(a -> a.op().equals("cancel") && a.changed())
        .map(Answer::runId).collect(Collectors.toSet());
    assertTrue(accepted.size() > 10, "the load must have submitted runs: " + accepted.size());
    for (String id : accepted) {
      HttpResponse<String> r = server.get("/v1/runs/" + id);
      assertEquals(200, r.statusCode(), id + ": " + r.body());
      JsonNode shown = TestServer.json(r);
      RunJournal.Replayed replayed = journal.replay(id, shown.get("version").asLong()).toCompletableFuture().get(30, TimeUnit.SECONDS);
      JsonNode rebuilt = ReinsJson.mapper().readTree(ReinsJson.mapper().writeValueAsString(RunView.of(replayed.state(), replayed.version())));
      assertEquals(rebuilt, shown, "run " + id + ": the journal replayed must equal what GET shows");
      if (cancelled.contains(id)) {
        List<StoredEvent> log = journal.events(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertTrue(log.stream().anyMatch(e -> e.type().equals("CancelRequested")), "run " + id + " said cancelled: " + log);
      }
    }
  }

  /** One client: submits short runs and cancels some of them, paced, until told to stop. */
  private Void load(TestServer server, AtomicBoolean loading) throws Exception {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    List<String> mine = new ArrayList<>();
    while (loading.get()) {
      String body = "{\"executor\":{\"type\":\"process\",\"command\":[\"sleep\",\"0." + random.nextInt(1, 9) + "\"]}}";
      HttpResponse<String> r = call(server, "submit", null, "POST", "/v1/runs", body);
      if (r != null && r.statusCode() / 100 == 2) {
        mine.add(TestServer.json(r).get("id").asText());
      }
      if (!mine.isEmpty() && random.nextBoolean()) {
        String id = mine.get(random.nextInt(mine.size()));
        call(server, "cancel", id, "POST", "/v1/runs/" + id + "/cancel" + (random.nextBoolean() ? "?wait=1s" : ""), null);
      }
      if (!mine.isEmpty()) {
        String id = mine.get(random.nextInt(mine.size()));
        boolean events = random.nextInt(4) == 0;
        call(server, events ? "events" : "get", id, "GET", "/v1/runs/" + id + (events ? "/events" : ""), null);
      }
      Thread.sleep(100); // a steady pace, not a flood: the point is what each request gets
    }
    return null;
  }

  private Void probeReadiness(TestServer server, AtomicBoolean loading) throws Exception {
    while (loading.get()) {
      long start = System.nanoTime();
      HttpResponse<String> r = server.as(null).get("/v1/health/ready");
      readiness.add(new Answer("ready", null, r.statusCode(), false, false, millis(start), (System.nanoTime() - start) / 1_000_000, null));
      Thread.sleep(200);
    }
    return null;
  }

  private HttpResponse<String> call(TestServer server, String op, String runId, String method, String path, String body) {
    long start = System.nanoTime();
    HttpResponse<String> r;
    try {
      r = server.send(method, path, body);
    } catch (Exception e) {
      answers.add(new Answer(op, runId, -1, false, false, millis(start), (System.nanoTime() - start) / 1_000_000, e.toString()));
      return null;
    }
    String id = runId;
    if (op.equals("submit") && r.statusCode() / 100 == 2) {
      try {
        id = TestServer.json(r).get("id").asText();
      } catch (Exception e) {
        id = "?";
      }
    }
    answers.add(new Answer(op, id, r.statusCode(), r.headers().firstValue("Retry-After").isPresent(),
        r.headers().firstValue("Reins-Outcome").filter("changed"::equals).isPresent(),
        millis(start), (System.nanoTime() - start) / 1_000_000, r.statusCode() >= 500 ? r.body() : null));
    return r;
  }

  private long millis(long nanos) {
    return (nanos - t0) / 1_000_000;
  }

  private void mark(String what) {
    events.add(String.format("%06d %s", millis(System.nanoTime()), what));
  }

  /** The outage as the clients saw it, per second: answers by status and the slowest answer. */
  private void printTimeline() {
    StringBuilder sb = new StringBuilder("journal outage timeline (ms since start):\n");
    events.forEach(event -> sb.append("  ").append(event).append('\n'));
    Map<Long, List<Answer>> bySecond = new TreeMap<>();
    synchronized (answers) {
      for (Answer a : answers) {
        bySecond.computeIfAbsent((a.atMillis() + a.tookMillis()) / 1000, k -> new ArrayList<>()).add(a);
      }
    }
    synchronized (readiness) {
      for (Answer a : readiness) {
        bySecond.computeIfAbsent((a.atMillis() + a.tookMillis()) / 1000, k -> new ArrayList<>()).add(a);
      }
    }
    bySecond.forEach((second, list) -> {
      Map<String, Long> counts = new TreeMap<>(list.stream().collect(Collectors.groupingBy(a -> a.op() + ":" + a.status(), Collectors.counting())));
      long slowest = list.stream().filter(a -> !a.op().equals("ready")).mapToLong(Answer::tookMillis).max().orElse(0);
      sb.append(String.format("  answered in second %3d: %s, slowest %d ms%n", second, counts, slowest));
    });
    answers.stream().filter(a -> a.status() >= 500 || a.status() < 0).limit(5)
        .forEach(a -> sb.append("  e.g. ").append(a).append('\n'));
    System.out.println(sb);
  }
}
