package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.run.RunSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The slots of a node: one process per slot, waiting requests start in submission order. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WorkerPoolTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Config CONFIG =
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load());
  private static final RunSpec SLEEP = ProcessWorkerTest.spec(List.of("sleep", "600"), Map.of(), null);
  private static final RunSpec QUICK = ProcessWorkerTest.spec(List.of("sh", "-c", "exit 0"), Map.of(), null);

  private final ActorTestKit kit = ActorTestKit.create("WorkerPoolTest", CONFIG);
  private final String prefix = "wpt-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  private final List<String> runIds = new ArrayList<>();
  private RunReports reports;
  private ActorRef<WorkerPool.Command> pool;

  /** A pool with one slot, in a data directory of its own (a pool reaps what it finds there). */
  @BeforeEach
  void onePool(@TempDir Path dataDir) {
    reports = new RunReports(kit);
    WorkerSettings settings =
        new WorkerSettings(1, 1 << 20, Duration.ofMinutes(1), Duration.ofMinutes(10), dataDir, "http://127.0.0.1:1",
            List.of());
    pool = kit.spawn(WorkerPool.create(settings, JobCredentials.NONE, "test-node", reports.sink()));
  }

  @AfterEach
  void stopPool() {
    kit.stop(pool);
    runIds.forEach(RunProcesses::killAll);
  }

  @AfterAll
  void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void requestsBeyondTheSlotsWaitAndStartInSubmissionOrderAsProcessesEnd() {
    String a = request(SLEEP);
    String b = request(QUICK);
    String c = request(QUICK);

    WorkerReport.Started startedA = reports.next(WorkerReport.Started.class, a, WAIT);
    RunReports.ack(startedA);
    WorkerPool.Status status = status();
    assertEquals(List.of(a + "#1"), status.running());
    assertEquals(List.of(b + "#1", c + "#1"), status.queued());

    startedA.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(10)));
    RunReports.ack(reports.next(WorkerReport.Exited.class, a, WAIT));

    WorkerReport.Started startedB = reports.next(WorkerReport.Started.class, b, WAIT);
    assertFalse(RunProcesses.isAlive(startedA.pid()), "b started while a's process was still running");
    RunReports.ack(startedB);
    WorkerReport.Started startedC = reports.next(WorkerReport.Started.class, c, WAIT);
    assertFalse(RunProcesses.isAlive(startedB.pid()), "c started while b's process was still running");
    RunReports.ack(startedC);
    RunReports.ack(reports.next(WorkerReport.Exited.class, b, WAIT));
    RunReports.ack(reports.next(WorkerReport.Exited.class, c, WAIT));
    assertTrue(reports.arrived().indexOf(startedB) < reports.arrived().indexOf(startedC));
  }

  @Test
  void aWithdrawnRequestLeavesTheQueueAndNeverStarts() {
    String a = request(SLEEP);
    String b = request(QUICK);
    WorkerReport.Started startedA = reports.next(WorkerReport.Started.class, a, WAIT);
    RunReports.ack(startedA);

    pool.tell(new WorkerPool.Withdraw(b, 1, Duration.ofSeconds(10)));

    assertEquals(List.of(), status().queued());
    startedA.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(10)));
    RunReports.ack(reports.next(WorkerReport.Exited.class, a, WAIT));
    // the next request gets the slot: had b still been queued, it would have started first
    String d = request(QUICK);
    RunReports.ack(reports.next(WorkerReport.Started.class, d, WAIT));
    assertTrue(reports.arrived().stream().noneMatch(r -> r.runId().equals(b)), "b started: " + reports.arrived());
  }

  @Test
  void withdrawingARunningAttemptStopsItsProcess() {
    String a = request(SLEEP);
    RunReports.ack(reports.next(WorkerReport.Started.class, a, WAIT));

    pool.tell(new WorkerPool.Withdraw(a, 1, Duration.ofSeconds(10)));

    assertEquals("TERM", reports.next(WorkerReport.Exited.class, a, WAIT).signal());
  }

  @Test
  void aStartFailureFreesItsSlot() {
    String broken = request(ProcessWorkerTest.spec(List.of("reins-no-such-executable"), Map.of(), null));
    String next = request(QUICK);

    reports.next(WorkerReport.StartFailed.class, broken, WAIT); // not acknowledged: the slot is free anyway

    RunReports.ack(reports.next(WorkerReport.Started.class, next, WAIT));
    assertEquals(0, reports.next(WorkerReport.Exited.class, next, WAIT).code());
  }

  private String request(RunSpec spec) {
    String runId = prefix + runIds.size();
    runIds.add(runId);
    pool.tell(new WorkerPool.RequestSlot(runId, 1, spec));
    return runId;
  }

  private WorkerPool.Status status() {
    TestProbe<WorkerPool.Status> probe = kit.createTestProbe();
    pool.tell(new WorkerPool.GetStatus(probe.ref()));
    return probe.receiveMessage(WAIT);
  }
}
