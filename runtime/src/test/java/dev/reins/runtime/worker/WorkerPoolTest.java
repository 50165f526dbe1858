package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.run.RunSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

/**
 * The slots of a node: one process per slot; waiting requests start in the order their attempts
 * became pending; a slot is held from the worker's claim on, and given back when the run refuses
 * the claim, never answers it, or withdraws the attempt before the grant.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WorkerPoolTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  /** How long a test listens to be sure that something does not happen (not a timing claim). */
  private static final Duration QUIET = Duration.ofMillis(500);
  private static final Config CONFIG =
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load());
  private static final RunSpec SLEEP = ProcessWorkerTest.spec(List.of("sleep", "600"), Map.of(), null);
  private static final RunSpec QUICK = ProcessWorkerTest.spec(List.of("sh", "-c", "exit 0"), Map.of(), null);
  private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");

  private final ActorTestKit kit = ActorTestKit.create("WorkerPoolTest", CONFIG);
  private final String prefix = "wpt-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  private final List<String> runIds = new ArrayList<>();
  private Path dataDir;
  private RunReports reports;
  private ActorRef<WorkerPool.Command> pool;

  /** A pool with one slot, in a data directory of its own (a pool reaps what it finds there). */
  @BeforeEach
  void onePool(@TempDir Path dataDir) {
    this.dataDir = dataDir;
    reports = new RunReports(kit);
    pool = kit.spawn(WorkerPool.create(settings(Duration.ofSeconds(30)), JobCredentials.NONE, "test-node", reports.sink()));
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
  void theQueueIsOrderedByWhenTheAttemptsBecamePendingNotByWhenTheirRequestsArrived() {
    String busy = request(SLEEP, T0);
    WorkerReport.Started started = reports.next(WorkerReport.Started.class, busy, WAIT);
    RunReports.ack(started);

    // after a restart, runs ask again in any order: here the newest first
    String newest = request(QUICK, T0.plusSeconds(30));
    String middle = request(QUICK, T0.plusSeconds(20));
    String oldest = request(QUICK, T0.plusSeconds(10));

    assertEquals(List.of(oldest + "#1", middle + "#1", newest + "#1"), status().queued());

    started.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(10)));
    RunReports.ack(reports.next(WorkerReport.Exited.class, busy, WAIT));
    List<WorkerReport.Started> starts = new ArrayList<>();
    for (String runId : List.of(oldest, middle, newest)) {
      WorkerReport.Started s = reports.next(WorkerReport.Started.class, runId, WAIT);
      RunReports.ack(s);
      RunReports.ack(reports.next(WorkerReport.Exited.class, runId, WAIT));
      starts.add(s);
    }
    List<WorkerReport> arrived = reports.arrived();
    assertTrue(arrived.indexOf(starts.get(0)) < arrived.indexOf(starts.get(1))
        && arrived.indexOf(starts.get(1)) < arrived.indexOf(starts.get(2)), "start order: " + arrived);
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

  @Test
  void aDeniedClaimStartsNothingAndFreesTheSlot() {
    String denied = newRunId();
    reports.answerClaims(denied, RunReports.Claims.DENY);
    request(denied, SLEEP, T0);
    String next = request(QUICK, T0.plusSeconds(1));

    reports.next(WorkerReport.Claim.class, denied, WAIT);

    RunReports.ack(reports.next(WorkerReport.Started.class, next, WAIT));
    RunReports.ack(reports.next(WorkerReport.Exited.class, next, WAIT));
    reports.expectNothingStartedFor(denied, QUIET);
    assertEquals(Set.of(), RunProcesses.pidsOf(denied));
    assertEquals(List.of(), status().running());
  }

  @Test
  void aStopBeforeTheGrantEndsTheWorkerWithoutAProcessAndFreesTheSlot() {
    String held = newRunId();
    reports.answerClaims(held, RunReports.Claims.HOLD);
    request(held, SLEEP, T0);
    String next = request(QUICK, T0.plusSeconds(1));
    WorkerReport.Claim claim = reports.next(WorkerReport.Claim.class, held, WAIT);
    // the claiming worker holds the only slot
    assertEquals(List.of(held + "#1"), status().running());
    assertEquals(List.of(next + "#1"), status().queued());

    // the run was cancelled while its claim was on the way
    pool.tell(new WorkerPool.Withdraw(held, 1, Duration.ofSeconds(10)));

    // the worker tells its run why the attempt never ran (the run may have granted it already)
    WorkerReport.StartFailed never = reports.next(WorkerReport.StartFailed.class, held, WAIT);
    assertEquals("stopped before its process started", never.message());
    RunReports.ack(reports.next(WorkerReport.Started.class, next, WAIT));
    RunReports.ack(reports.next(WorkerReport.Exited.class, next, WAIT));
    // a grant that comes too late finds no worker
    RunReports.grant(claim);
    RunReports.ack(never);
    reports.expectNothingStartedFor(held, QUIET);
    assertEquals(Set.of(), RunProcesses.pidsOf(held));
  }

  @Test
  void aClaimTheRunNeverAnswersGivesTheSlotBackAfterTheGiveUpTime(@TempDir Path ownDir) {
    kit.stop(pool);
    dataDir = ownDir;
    pool = kit.spawn(WorkerPool.create(settings(Duration.ofSeconds(1)), JobCredentials.NONE, "test-node", reports.sink()));
    String unanswered = newRunId();
    reports.answerClaims(unanswered, RunReports.Claims.HOLD);
    request(unanswered, SLEEP, T0);
    String next = request(QUICK, T0.plusSeconds(1));
    WorkerReport.Claim claim = reports.next(WorkerReport.Claim.class, unanswered, WAIT);

    RunReports.ack(reports.next(WorkerReport.Started.class, next, WAIT));

    RunReports.grant(claim); // too late: the worker gave up
    reports.expectNothingStartedFor(unanswered, QUIET);
    assertEquals(Set.of(), RunProcesses.pidsOf(unanswered));
  }

  /** One slot; claims given up after {@code claimGiveUpAfter}; reports and claims repeated rarely. */
  private WorkerSettings settings(Duration claimGiveUpAfter) {
    return new WorkerSettings(1, 1 << 20, Duration.ofMinutes(1), Duration.ofMinutes(10), dataDir, "http://127.0.0.1:1",
        List.of(), claimGiveUpAfter, Duration.ofSeconds(5), Duration.ofSeconds(1));
  }

  /** A request pending since a second after the previous one (submission order). */
  private String request(RunSpec spec) {
    return request(spec, T0.plusSeconds(runIds.size()));
  }

  private String request(RunSpec spec, Instant pendingSince) {
    return request(newRunId(), spec, pendingSince);
  }

  private String request(String runId, RunSpec spec, Instant pendingSince) {
    pool.tell(new WorkerPool.RequestSlot(runId, Tenants.DEFAULT, 1, spec, pendingSince));
    return runId;
  }

  private String newRunId() {
    String runId = prefix + runIds.size();
    runIds.add(runId);
    return runId;
  }

  private WorkerPool.Status status() {
    TestProbe<WorkerPool.Status> probe = kit.createTestProbe();
    pool.tell(new WorkerPool.GetStatus(probe.ref()));
    return probe.receiveMessage(WAIT);
  }
}
