package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.TestServer;
import dev.reins.persistence.RunJournal;
import dev.reins.protocol.api.RunView;
import dev.reins.protocol.api.StoredEvent;
import dev.reins.protocol.json.ReinsJson;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import dev.reins.persistence.TestDatabases;
import dev.reins.runtime.worker.RunProcesses;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Many clients cancel and reset one run at once over real HTTP while its attempts run real
 * processes. The run entity takes the messages one at a time, so the journal must account for
 * every accepted change exactly once, and no two processes of the run may ever coexist.
 */
class CancelResetStormTest {
  private static final int THREADS = 8;
  private static final int REQUESTS_PER_THREAD = 64;

  /** On the embedded H2 journal and on PostgreSQL (skipped with a message when there is none). */
  @ParameterizedTest
  @EnumSource(TestDatabases.Backend.class)
  void interleavedCancelAndResetAreEachJournaledOnceAndNeverOverlapProcesses(TestDatabases.Backend backend, @TempDir Path dir)
      throws Exception {
    try (TestDatabases.TestDatabase db = TestDatabases.fresh(backend, dir);
        TestServer server = TestServer.start(Map.of(
            "reins.db.url", backend == TestDatabases.Backend.H2 ? "" : db.journal().url(),
            "reins.db.user", db.journal().user(),
            "reins.db.password", db.journal().password()))) {
      storm(server);
    }
  }

  private void storm(TestServer server) throws Exception {
    String runId = server.submit("[\"sleep\",\"600\"]", "\"cancelGraceSeconds\":5");
    server.awaitState(runId, "running", Duration.ofSeconds(30));

    AtomicBoolean storming = new AtomicBoolean(true);
    AtomicInteger mostProcessesAtOnce = new AtomicInteger();
    Thread watcher = new Thread(() -> {
      while (storming.get()) {
        mostProcessesAtOnce.accumulateAndGet(RunProcesses.pidsOf(runId).size(), Math::max);
      }
    }, "process-watcher");
    watcher.start();

    AtomicInteger acceptedResets = new AtomicInteger();
    AtomicInteger changingCancels = new AtomicInteger();
    Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> clients = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      clients.add(pool.submit(() -> {
        go.await();
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < REQUESTS_PER_THREAD; i++) {
          boolean cancel = random.nextBoolean();
          HttpResponse<String> r = server.post("/v1/runs/" + runId + (cancel ? "/cancel" : "/reset"), null);
          statuses.computeIfAbsent(r.statusCode(), k -> new AtomicInteger()).incrementAndGet();
          boolean changed = r.headers().firstValue("Reins-Outcome").filter("changed"::equals).isPresent();
          if (cancel && changed) {
            changingCancels.incrementAndGet();
          } else if (!cancel && changed) {
            assertEquals(200, r.statusCode(), r.body());
            acceptedResets.incrementAndGet();
          } else {
            // not changed: an idempotent cancel (200/202) or a rejected reset (409); never a 5xx
            assertTrue(r.statusCode() == 200 || r.statusCode() == 202 || r.statusCode() == 409, r.statusCode() + " " + r.body());
          }
        }
        return null;
      }));
    }
    go.countDown();
    for (Future<?> f : clients) {
      f.get(5, TimeUnit.MINUTES);
    }
    pool.shutdown();

    // Let the run come to rest, then count what the journal says happened.
    HttpResponse<String> last = server.post("/v1/runs/" + runId + "/cancel?wait=30s", null);
    if (last.headers().firstValue("Reins-Outcome").filter("changed"::equals).isPresent()) {
      changingCancels.incrementAndGet();
    }
    assertEquals(200, last.statusCode(), last.body());
    storming.set(false);
    watcher.join();

    JsonNode shown = TestServer.json(server.get("/v1/runs/" + runId));
    RunJournal journal = new RunJournal(server.server.system());
    List<StoredEvent> events = journal.events(runId).toCompletableFuture().get(30, TimeUnit.SECONDS);
    RunJournal.Replayed replayed = journal.replay(runId, Long.MAX_VALUE).toCompletableFuture().get(30, TimeUnit.SECONDS);

    JsonNode rebuilt = ReinsJson.mapper().readTree(ReinsJson.mapper().writeValueAsString(RunView.of(replayed.state(), replayed.version())));
    assertEquals(rebuilt, shown,
        "the journal replayed through the event handler must equal what GET shows");
    assertEquals(events.size(), shown.get("version").asLong());
    assertEquals(acceptedResets.get(), count(events, "RunReset"), "one RunReset event per accepted reset");
    assertEquals(changingCancels.get(), count(events, "CancelRequested"), "one CancelRequested event per cancel that changed the state");
    assertTrue(acceptedResets.get() > 0 && changingCancels.get() > 1, "the storm must exercise both commands: " + statuses);
    assertTrue(mostProcessesAtOnce.get() <= 1, "at most one process of the run at any time, saw " + mostProcessesAtOnce.get());
    assertEquals(java.util.Set.of(), RunProcesses.pidsOf(runId), "no process of the run is left behind");
  }

  private static long count(List<StoredEvent> events, String type) {
    return events.stream().filter(e -> e.type().equals(type)).count();
  }
}
