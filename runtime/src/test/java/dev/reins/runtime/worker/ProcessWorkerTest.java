package dev.reins.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The process of one attempt, started and stopped for real through a {@link WorkerPool}: what
 * the run hears, what ends up in the attempt's log, and that nothing of the process tree outlives
 * the attempt. The stand-in run ({@link RunReports}) grants every claim unless a test says
 * otherwise. Linux only ({@code /proc}, {@code setsid}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProcessWorkerTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  /** How long a test listens to be sure that something does not happen (not a timing claim). */
  private static final Duration QUIET = Duration.ofMillis(500);
  private static final Config CONFIG =
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load());

  private final ActorTestKit kit = ActorTestKit.create("ProcessWorkerTest", CONFIG);
  private final String prefix = "pwt-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  private final List<String> runIds = new ArrayList<>();
  private Path dataDir;
  private RunReports reports;
  private ActorRef<WorkerPool.Command> pool;

  @BeforeAll
  void startPool(@TempDir Path dir) {
    dataDir = dir;
    reports = new RunReports(kit);
    // reports and claims are repeated rarely, so each test sees each of them once
    WorkerSettings settings =
        new WorkerSettings(4, 1 << 20, Duration.ofMinutes(1), Duration.ofMinutes(10), dataDir, "http://127.0.0.1:1",
            List.of(), Duration.ofSeconds(30), Duration.ofSeconds(5), Duration.ofSeconds(1));
    pool = kit.spawn(WorkerPool.create(settings, JobCredentials.NONE, "test-node", reports.sink()), "pool");
  }

  @AfterAll
  void cleanUp() {
    kit.shutdownTestKit();
    runIds.forEach(RunProcesses::killAll);
  }

  @Test
  void aStopEndsTheWholeProcessTreeAndTheRunHearsOfTheExit() {
    String runId = request("sh", "-c", "sleep 600 & sleep 600 & wait");
    WorkerReport.Started started = reports.next(WorkerReport.Started.class, runId, WAIT);
    RunReports.ack(started);
    assertEquals("test-node", started.node());
    assertTrue(Files.exists(pidFile(runId)), "the pid is recorded while the process runs");

    Set<Long> children = new TreeSet<>();
    awaitAssert(() -> {
      Set<Long> pids = RunProcesses.pidsOf(runId);
      assertEquals(3, pids.size(), "sh and its two sleeps: " + pids);
      assertTrue(pids.contains(started.pid()));
      children.clear();
      children.addAll(pids);
      children.remove(started.pid());
    });

    started.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(10)));

    WorkerReport.Exited exited = reports.next(WorkerReport.Exited.class, runId, WAIT);
    assertEquals("TERM", exited.signal());
    assertNull(exited.code());
    assertNull(exited.interruption(), "the run asked for this stop");
    awaitAssert(() -> {
      assertEquals(Set.of(), RunProcesses.pidsOf(runId));
      for (long child : children) {
        assertFalse(RunProcesses.isAlive(child), "sleep " + child + " outlived its attempt");
      }
    });
    assertFalse(Files.exists(pidFile(runId)), "the pid file goes with the process");
    RunReports.ack(exited);
  }

  @Test
  void aWorkerClaimsTheAttemptAndStartsNothingBeforeTheRunGrantsIt() {
    String runId = newRunId();
    reports.answerClaims(runId, RunReports.Claims.HOLD);
    request(runId, spec(List.of("sleep", "600"), Map.of(), null));

    WorkerReport.Claim claim = reports.next(WorkerReport.Claim.class, runId, WAIT);
    assertEquals(1, claim.attempt());
    assertEquals("test-node", claim.node());

    reports.expectNothingStartedFor(runId, QUIET);
    assertEquals(Set.of(), RunProcesses.pidsOf(runId), "a process before the grant");
    assertFalse(Files.exists(pidFile(runId)), "a pid file before the grant");
    assertEquals("", log(runId), "an attempt log before the grant");

    RunReports.grant(claim);

    WorkerReport.Started started = reports.next(WorkerReport.Started.class, runId, WAIT);
    RunReports.ack(started);
    assertTrue(Files.exists(pidFile(runId)));
    awaitAssert(() -> assertEquals(Set.of(started.pid()), RunProcesses.pidsOf(runId)));

    // a repeated grant (the run answers every claim it gets) starts no second process
    RunReports.grant(claim);
    reports.expectNothingStartedFor(runId, QUIET);
    assertEquals(Set.of(started.pid()), RunProcesses.pidsOf(runId));

    started.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(10)));
    RunReports.ack(reports.next(WorkerReport.Exited.class, runId, WAIT));
  }

  @Test
  void aStopBecauseTheNodeShutsDownSaysSoInTheExitReport() {
    String runId = request("sleep", "600");
    WorkerReport.Started started = reports.next(WorkerReport.Started.class, runId, WAIT);
    RunReports.ack(started);

    started.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(10), ProcessWorker.NODE_SHUTDOWN));

    WorkerReport.Exited exited = reports.next(WorkerReport.Exited.class, runId, WAIT);
    assertEquals("TERM", exited.signal());
    assertEquals(ProcessWorker.NODE_SHUTDOWN, exited.interruption());
    awaitAssert(() -> assertEquals(Set.of(), RunProcesses.pidsOf(runId)));
    RunReports.ack(exited);
  }

  @Test
  void aProcessThatIgnoresTermIsKilledOnceTheGracePeriodIsOver() {
    String runId = request("sh", "-c", "trap '' TERM; echo ready; while true; do sleep 1; done");
    WorkerReport.Started started = reports.next(WorkerReport.Started.class, runId, WAIT);
    RunReports.ack(started);
    // the trap is in place once the shell got past it
    awaitAssert(() -> assertTrue(log(runId).contains("ready"), log(runId)));

    started.worker().tell(new ProcessWorker.Stop(1, Duration.ofSeconds(1)));

    // TERM alone would have ended it with TERM: KILL means the grace period ran out first
    WorkerReport.Exited exited = reports.next(WorkerReport.Exited.class, runId, WAIT);
    assertEquals("KILL", exited.signal());
    assertNull(exited.code());
    awaitAssert(() -> assertEquals(Set.of(), RunProcesses.pidsOf(runId)));
    RunReports.ack(exited);
  }

  @Test
  void aStopWithoutGraceKillsAtOnce() {
    String runId = request("sh", "-c", "trap '' TERM; echo ready; while true; do sleep 1; done");
    WorkerReport.Started started = reports.next(WorkerReport.Started.class, runId, WAIT);
    RunReports.ack(started);
    awaitAssert(() -> assertTrue(log(runId).contains("ready"), log(runId)));

    started.worker().tell(new ProcessWorker.Stop(1, Duration.ZERO));

    WorkerReport.Exited exited = reports.next(WorkerReport.Exited.class, runId, WAIT);
    assertEquals("KILL", exited.signal());
    RunReports.ack(exited);
  }

  @Test
  void theExitCodeIsReported() {
    String runId = request("sh", "-c", "exit 3");
    RunReports.ack(reports.next(WorkerReport.Started.class, runId, WAIT));

    WorkerReport.Exited exited = reports.next(WorkerReport.Exited.class, runId, WAIT);

    assertEquals(3, exited.code());
    assertNull(exited.signal());
    RunReports.ack(exited);
  }

  @Test
  void theExitIsReportedOnlyAfterTheRunRecordedTheStart() {
    RunSpec spec = spec(List.of("sh", "-c", "exit 0"), Map.of(), null);
    String runId = request(spec);
    WorkerReport.Started started = reports.next(WorkerReport.Started.class, runId, WAIT);
    TestProbe<WorkerPool.Status> status = kit.createTestProbe();
    awaitAssert(() -> {
      pool.tell(new WorkerPool.GetStatus(status.ref()));
      assertFalse(status.receiveMessage(WAIT).running().contains(runId + "#1"));
    });

    // the process is gone, but the start is not acknowledged: asking again repeats the start
    pool.tell(new WorkerPool.RequestSlot(runId, 1, spec));
    assertEquals(started, reports.next(WorkerReport.Started.class, runId, WAIT));
    assertTrue(reports.arrived().stream().noneMatch(r -> r instanceof WorkerReport.Exited && r.runId().equals(runId)),
        "exit reported before its start was acknowledged: " + reports.arrived());

    RunReports.ack(started);

    assertEquals(0, reports.next(WorkerReport.Exited.class, runId, WAIT).code());
  }

  @Test
  void aMissingExecutableIsAStartFailureThatSaysSo() {
    String runId = request("reins-no-such-executable");

    WorkerReport.StartFailed failed = reports.next(WorkerReport.StartFailed.class, runId, WAIT);

    assertTrue(failed.message().contains("reins-no-such-executable") && failed.message().contains("not found"),
        failed.message());
    RunReports.ack(failed);
  }

  @Test
  void anExecutablePathThatDoesNotExistOrAMissingWorkdirIsAStartFailure() {
    String byPath = request("/nonexistent/bin/tool");
    WorkerReport.StartFailed noTool = reports.next(WorkerReport.StartFailed.class, byPath, WAIT);
    assertTrue(noTool.message().contains("/nonexistent/bin/tool"), noTool.message());
    RunReports.ack(noTool);

    String inNowhere = request(spec(List.of("true"), Map.of(), "/nonexistent/workdir"));
    WorkerReport.StartFailed noDir = reports.next(WorkerReport.StartFailed.class, inNowhere, WAIT);
    assertTrue(noDir.message().contains("/nonexistent/workdir"), noDir.message());
    RunReports.ack(noDir);
  }

  @Test
  void outputAndErrorsGoToTheAttemptLogAndTheProcessKnowsItsRun() throws IOException {
    String runId = request(spec(
        List.of("sh", "-c", "echo hello; echo err >&2; echo \"run=$REINS_RUN_ID attempt=$REINS_ATTEMPT "
            + "api=$REINS_API_URL extra=$EXTRA\"; pwd"),
        Map.of("EXTRA", "given"), null));
    RunReports.ack(reports.next(WorkerReport.Started.class, runId, WAIT));
    assertEquals(0, reports.next(WorkerReport.Exited.class, runId, WAIT).code());

    Path workdir = dataDir.resolve("work").resolve(runId).toRealPath();
    awaitAssert(() -> {
      String log = log(runId);
      assertTrue(log.contains("hello\n"), log);
      assertTrue(log.contains("err\n"), log);
      assertTrue(log.contains("run=" + runId + " attempt=1 api=http://127.0.0.1:1 extra=given\n"), log);
      // without a workdir of its own, a run works in its directory under the data dir
      assertTrue(log.contains(workdir + "\n"), log);
    });
  }

  // ---- helpers --------------------------------------------------------------------------------

  private String request(String... command) {
    return request(spec(List.of(command), Map.of(), null));
  }

  private String request(RunSpec spec) {
    return request(newRunId(), spec);
  }

  private String request(String runId, RunSpec spec) {
    pool.tell(new WorkerPool.RequestSlot(runId, 1, spec));
    return runId;
  }

  private String newRunId() {
    String runId = prefix + runIds.size();
    runIds.add(runId);
    return runId;
  }

  static RunSpec spec(List<String> command, Map<String, String> env, String workdir) {
    return new RunSpec(new ProcessSpec(command, env, workdir), 3600, 10, RetryPolicy.NONE, Map.of(), null);
  }

  private String log(String runId) {
    try {
      return AttemptLog.tail(dataDir, runId, 1, 65536)
          .map(b -> new String(b, StandardCharsets.UTF_8))
          .orElse("");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private Path pidFile(String runId) {
    return dataDir.resolve("workers").resolve(runId + ".1.pid");
  }

  private void awaitAssert(Runnable assertion) {
    TestProbe<Object> probe = kit.createTestProbe();
    probe.awaitAssert(WAIT, () -> {
      assertion.run();
      return null;
    });
  }
}
