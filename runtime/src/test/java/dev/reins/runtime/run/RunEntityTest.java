package dev.reins.runtime.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import dev.reins.protocol.run.WorkerInfo;
import dev.reins.runtime.run.RunEntity.Outcome;
import dev.reins.runtime.run.RunEntity.Reply;
import dev.reins.runtime.worker.ProcessWorker;
import dev.reins.runtime.worker.WorkerPool;
import dev.reins.runtime.worker.WorkerReport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.ProcessingSuccess;
import org.apache.pekko.persistence.testkit.WriteEvents;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResult;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResultWithReply;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The run lifecycle, one test per row of the transition table in {@link RunEntity}. Commands run
 * through the {@link EventSourcedBehaviorTestKit}, which also checks that every command, reply,
 * event and state survives our Jackson serialization unchanged. The pool and the worker are
 * probes; the clock is frozen, so every event's time is known.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunEntityTest {

  private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");
  private static final long GRACE = 7;
  private static final Duration WAIT = Duration.ofSeconds(10);

  private static final Config CONFIG =
      ConfigFactory.parseString(
              "pekko.actor.provider = local\n"
                  // the test kit's own waits (reply, state): generous for a busy build machine
                  + "pekko.actor.testkit.typed.single-expect-default = 10s")
          .withFallback(EventSourcedBehaviorTestKit.config())
          .withFallback(PersistenceTestKitSnapshotPlugin.config())
          .withFallback(ConfigFactory.load());

  /** Long enough that no entity passivates during a test, unless the test asks for it. */
  private static final RunSettings SETTINGS = settings(Duration.ofMinutes(10), 100);

  private final ActorTestKit kit = ActorTestKit.create("RunEntityTest", CONFIG);
  private final ActorRefResolver resolver = ActorRefResolver.get(kit.system());
  private final AtomicInteger runs = new AtomicInteger();

  private MutableClock clock;
  private TestProbe<WorkerPool.Command> pool;
  private TestProbe<ProcessWorker.Command> worker;
  private String runId;
  private EventSourcedBehaviorTestKit<RunEntity.Command, RunEvent, RunState> entity;

  @BeforeEach
  void newRun() {
    clock = new MutableClock(T0);
    pool = kit.createTestProbe();
    worker = kit.createTestProbe();
    runId = "run-" + runs.incrementAndGet();
    entity = entity(SETTINGS);
  }

  @AfterAll
  void shutdown() {
    kit.shutdownTestKit();
  }

  // ---- (none) ---------------------------------------------------------------------------------

  @Test
  void submitCreatesAPendingFirstAttemptAndAsksThePoolForASlot() {
    RunSpec spec = spec(RetryPolicy.NONE, 3600);

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = submit(spec);

    assertEquals(Outcome.CREATED, result.reply().outcome());
    assertEquals(List.of(new RunEvent.RunSubmitted(runId, spec, 1, T0)), result.events());
    RunState s = result.state();
    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(1, s.attempt());
    assertEquals(runId, s.runId());
    assertEquals(spec, s.spec());
    assertEquals(T0, s.createdAt());
    assertEquals(s, result.reply().state());
    assertEquals(new WorkerPool.RequestSlot(runId, 1, spec), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  @Test
  void anUnknownRunIsNotFoundForGetCancelResetAndAwait() {
    List<Function<ActorRef<Reply>, RunEntity.Command>> commands =
        List.of(RunEntity.Get::new, r -> new RunEntity.Cancel("why", null, r), r -> new RunEntity.Reset(null, r),
            RunEntity.AwaitTerminal::new);
    for (Function<ActorRef<Reply>, RunEntity.Command> command : commands) {
      CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = run(command);
      assertEquals(Outcome.NOT_FOUND, result.reply().outcome());
      assertTrue(result.events().isEmpty());
      assertFalse(result.state().exists());
      assertEquals(0, result.reply().version());
    }
  }

  @Test
  void submittingAgainWithTheSameSpecIsExistsAndWithAnotherSpecIsAConflict() {
    RunSpec spec = spec(RetryPolicy.NONE, 3600);
    RunState created = submit(spec).state();

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> same = submit(spec);
    assertEquals(Outcome.EXISTS, same.reply().outcome());
    assertTrue(same.events().isEmpty());
    assertEquals(created, same.state());

    RunSpec other = new RunSpec(new ProcessSpec(List.of("sleep", "1"), Map.of(), null), 3600, GRACE, RetryPolicy.NONE,
        Map.of("team", "a"), "key-1");
    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> conflict = submit(other);
    assertEquals(Outcome.IDEMPOTENCY_CONFLICT, conflict.reply().outcome());
    assertTrue(conflict.reply().detail().contains("key-1"), conflict.reply().detail());
    assertTrue(conflict.events().isEmpty());
    assertEquals(spec, conflict.state().spec());
  }

  // ---- pending --------------------------------------------------------------------------------

  @Test
  void aStartedReportMakesThePendingAttemptRunningAndIsAcknowledged() {
    submitAndTakeSlot(spec(RetryPolicy.NONE, 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(started(1, worker));

    WorkerInfo info = new WorkerInfo("node-a", 4242, resolver.toSerializationFormat(worker.ref()));
    assertEquals(List.of(new RunEvent.AttemptStarted(1, info, T0)), result.events());
    assertEquals(RunStatus.RUNNING, result.state().status());
    assertEquals("node-a", result.state().worker().node());
    assertEquals(4242, result.state().worker().pid());
    assertEquals(T0, result.state().attemptStartedAt());
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.expectMessageClass(ProcessWorker.Ack.class, WAIT));
  }

  @Test
  void cancellingAPendingRunEndsItAtOnceAndWithdrawsItsSlotRequest() {
    RunSpec spec = submitAndTakeSlot(spec(RetryPolicy.NONE, 3600));

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = cancel("not needed", null);

    assertEquals(Outcome.CHANGED, result.reply().outcome());
    assertEquals(List.of(new RunEvent.CancelRequested(1, "not needed", T0)), result.events());
    assertEquals(RunStatus.CANCELLED, result.state().status());
    assertEquals("not needed", result.state().cancel().reason());
    assertNull(result.state().worker());
    assertEquals(new WorkerPool.Withdraw(runId, 1, Duration.ofSeconds(spec.cancelGraceSeconds())),
        pool.expectMessageClass(WorkerPool.Withdraw.class, WAIT));

    // the slot was granted just before the cancel: the process that starts anyway is stopped
    CommandResult<RunEntity.Command, RunEvent, RunState> late = report(started(1, worker));
    assertTrue(late.events().isEmpty());
    assertEquals(RunStatus.CANCELLED, late.state().status());
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));
  }

  @Test
  void anAttemptThatCannotStartFailsTheRun() {
    submitAndTakeSlot(spec(RetryPolicy.NONE, 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result =
        report(new WorkerReport.StartFailed(runId, 1, "executable nope not found on PATH", worker.ref()));

    assertEquals(List.of(new RunEvent.AttemptStartFailed(1, "executable nope not found on PATH", T0)), result.events());
    assertEquals(RunStatus.FAILED, result.state().status());
    assertEquals("start_failed", result.state().exit().reason());
    assertEquals("executable nope not found on PATH", result.state().exit().message());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.expectMessageClass(ProcessWorker.Ack.class, WAIT));
  }

  @Test
  void anAttemptThatCannotStartIsRetriedWhenAttemptsRemain() {
    RunSpec spec = submitAndTakeSlot(spec(new RetryPolicy(2, 0), 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result =
        report(new WorkerReport.StartFailed(runId, 1, "no such directory", worker.ref()));

    assertEquals(List.of(new RunEvent.AttemptStartFailed(1, "no such directory", T0)), result.events());
    assertEquals(RunStatus.PENDING, result.state().status());
    assertEquals(2, result.state().attempt());
    assertEquals(new WorkerPool.RequestSlot(runId, 2, spec), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  // ---- running --------------------------------------------------------------------------------

  @Test
  void cancellingARunningRunStopsTheWorkerWithTheRunsGraceAndEndsWhenTheProcessExits() {
    running(spec(RetryPolicy.NONE, 3600));

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = cancel("user asked", 1);

    assertEquals(Outcome.CHANGED, result.reply().outcome());
    assertEquals(List.of(new RunEvent.CancelRequested(1, "user asked", T0)), result.events());
    assertEquals(RunStatus.CANCELLING, result.state().status());
    assertEquals(RunState.StopCause.CANCEL, result.state().stopCause());
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));

    CommandResult<RunEntity.Command, RunEvent, RunState> exited = report(exited(1, null, "TERM", worker));

    assertEquals(List.of(new RunEvent.AttemptExited(1, null, "TERM", T0)), exited.events());
    assertEquals(RunStatus.CANCELLED, exited.state().status());
    assertEquals("user asked", exited.state().cancel().reason());
    assertEquals("TERM", exited.state().exit().signal());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.receiveMessage(WAIT));
  }

  // ---- restarts and lost workers ----------------------------------------------------------------

  @Test
  void aRestartedRunningRunReattachesToItsLiveWorker() {
    running(spec(RetryPolicy.NONE, 3600));

    entity.restart(); // passivation, rebalance or a crash of the entity alone: the worker lives on

    CommandResult<RunEntity.Command, RunEvent, RunState> exited = report(exited(1, 0, null, worker));
    assertEquals(List.of(new RunEvent.AttemptExited(1, 0, null, T0)), exited.events());
    assertEquals(RunStatus.SUCCEEDED, exited.state().status());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.expectMessageClass(ProcessWorker.Ack.class, WAIT));
  }

  @Test
  void aRestartedCancellingRunRepeatsTheStopSoTheCancelIsNeverLost() {
    given(RunStatus.CANCELLING, 1);
    worker.expectMessage(WAIT, new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)));

    entity.restart();

    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.expectMessageClass(ProcessWorker.Stop.class, WAIT));
  }

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"RUNNING", "CANCELLING"})
  void aWorkerThatDiesWithoutReportingIsLostAndTheRunIsResolvedByPolicy(RunStatus status) {
    given(status, 1); // one attempt allowed: a lost running attempt fails the run

    worker.stop();

    org.apache.pekko.actor.testkit.typed.javadsl.TestProbe<Object> await = kit.createTestProbe();
    await.awaitAssert(WAIT, () -> {
      assertEquals(status == RunStatus.RUNNING ? RunStatus.FAILED : RunStatus.CANCELLED, entity.getState().status());
      return null;
    });
    RunState s = entity.getState();
    assertTrue(last(persisted()) instanceof RunEvent.WorkerLost, "last event: " + last(persisted()));
    assertEquals("worker_lost", s.exit().reason());
    assertNull(s.worker());
  }

  @Test
  void aLostWorkerWithAttemptsLeftIsRetriedAsANewAttempt() {
    RunSpec spec = spec(new RetryPolicy(2, 0), 3600);
    running(spec);

    worker.stop();

    assertEquals(new WorkerPool.RequestSlot(runId, 2, spec), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
    RunState s = entity.getState();
    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(2, s.attempt());
    assertEquals("worker_lost", s.exit().reason());
  }

  @Test
  void exitCodeZeroSucceeds() {
    running(spec(RetryPolicy.NONE, 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(exited(1, 0, null, worker));

    assertEquals(List.of(new RunEvent.AttemptExited(1, 0, null, T0)), result.events());
    assertEquals(RunStatus.SUCCEEDED, result.state().status());
    assertEquals(0, result.state().exit().code());
    assertEquals("exited", result.state().exit().reason());
    assertNull(result.state().worker());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.receiveMessage(WAIT));
  }

  @Test
  void aNonZeroExitFailsTheRunWhenNoAttemptIsLeft() {
    running(spec(RetryPolicy.NONE, 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(exited(1, 3, null, worker));

    assertEquals(List.of(new RunEvent.AttemptExited(1, 3, null, T0)), result.events());
    assertEquals(RunStatus.FAILED, result.state().status());
    assertEquals(3, result.state().exit().code());
    assertEquals(1, result.state().attempt());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.receiveMessage(WAIT));
  }

  @Test
  void aNonZeroExitIsRetriedAsTheNextAttemptAfterTheBackoff() {
    RunSpec spec = running(spec(new RetryPolicy(2, 0), 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(exited(1, 1, null, worker));

    assertEquals(List.of(new RunEvent.AttemptExited(1, 1, null, T0)), result.events());
    RunState s = result.state();
    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(2, s.attempt());
    assertEquals(T0, s.retryAt());
    assertEquals(1, s.exit().code());
    assertEquals(new WorkerPool.RequestSlot(runId, 2, spec), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  @Test
  void aRetryWaitsForItsBackoffAlsoAcrossARestart() {
    RunSpec spec = running(spec(new RetryPolicy(3, 30), 3600));

    RunState s = report(exited(1, 1, null, worker)).state();

    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(2, s.attempt());
    assertEquals(T0.plusSeconds(30), s.retryAt());
    pool.expectNoMessage(Duration.ofMillis(300));

    clock.set(T0.plusSeconds(31));
    assertEquals(s, entity.restart().state());
    assertEquals(new WorkerPool.RequestSlot(runId, 2, spec), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  @Test
  void theLastAttemptFailingFailsTheRun() {
    RunSpec spec = running(spec(new RetryPolicy(2, 0), 3600));
    report(exited(1, 1, null, worker));
    pool.expectMessage(WAIT, new WorkerPool.RequestSlot(runId, 2, spec));
    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();
    report(started(2, second));
    second.expectMessage(WAIT, new ProcessWorker.Ack(2, "started"));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(exited(2, 4, null, second));

    assertEquals(List.of(new RunEvent.AttemptExited(2, 4, null, T0)), result.events());
    assertEquals(RunStatus.FAILED, result.state().status());
    assertEquals(2, result.state().attempt());
    assertEquals(4, result.state().exit().code());
  }

  @Test
  void aRunPastItsTimeoutIsStoppedAndEndsTimedOut() {
    running(spec(RetryPolicy.NONE, 1));

    // the entity's timer is real: the stop comes once the second has passed
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));
    RunState stopping = entity.getState();
    assertEquals(RunStatus.CANCELLING, stopping.status());
    assertEquals(RunState.StopCause.TIMEOUT, stopping.stopCause());
    assertEquals(new RunEvent.TimeoutReached(1, T0), last(persisted()));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(exited(1, null, "TERM", worker));

    assertEquals(List.of(new RunEvent.AttemptExited(1, null, "TERM", T0)), result.events());
    assertEquals(RunStatus.TIMED_OUT, result.state().status());
    assertEquals(
        List.of(RunEvent.RunSubmitted.class, RunEvent.AttemptStarted.class, RunEvent.TimeoutReached.class,
            RunEvent.AttemptExited.class),
        persisted().stream().map(Object::getClass).toList());
  }

  // ---- cancelling -----------------------------------------------------------------------------

  @Test
  void cancellingACancellingRunChangesNothing() {
    running(spec(RetryPolicy.NONE, 3600));
    RunState cancelling = cancel("first", null).state();
    worker.expectMessage(WAIT, new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)));

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = cancel("second", 1);

    assertEquals(Outcome.UNCHANGED, result.reply().outcome());
    assertTrue(result.events().isEmpty());
    assertEquals(cancelling, result.state());
    assertEquals("first", result.state().cancel().reason());
  }

  @Test
  void aCancelThatIsNotConfirmedIsRepeatedUntilTheProcessExits() {
    entity = entity(new RunSettings(SETTINGS.defaults(), SETTINGS.passivateAfter(), Duration.ofMillis(100), 100, Duration.ofSeconds(20)));
    running(spec(RetryPolicy.NONE, 3600));
    cancel("user asked", null);

    ProcessWorker.Stop stop = new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE));
    assertEquals(stop, worker.receiveMessage(WAIT));
    assertEquals(stop, worker.receiveMessage(WAIT));
    assertEquals(stop, worker.receiveMessage(WAIT));

    report(exited(1, null, "TERM", worker));

    ProcessWorker.Command next;
    while ((next = worker.receiveMessage(WAIT)) instanceof ProcessWorker.Stop) {
      assertEquals(stop, next); // sent before the exit was recorded
    }
    assertEquals(new ProcessWorker.Ack(1, "exited"), next);
    worker.expectNoMessage(Duration.ofMillis(300));
  }

  // ---- terminal -------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"CANCELLED", "SUCCEEDED", "FAILED", "TIMED_OUT"})
  void cancellingATerminalRunIsAlreadyTerminal(RunStatus status) {
    RunState before = given(status, 1);

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = cancel("too late", null);

    assertEquals(Outcome.ALREADY_TERMINAL, result.reply().outcome());
    assertTrue(result.events().isEmpty());
    assertEquals(before, result.state());
  }

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"CANCELLED", "SUCCEEDED", "FAILED", "TIMED_OUT"})
  void resettingATerminalRunStartsTheNextAttemptWithAFreshCancellationScope(RunStatus status) {
    RunState before = given(status, 1);

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = run(r -> new RunEntity.Reset(1, r));

    assertEquals(Outcome.CHANGED, result.reply().outcome());
    assertEquals(List.of(new RunEvent.RunReset(2, T0)), result.events());
    RunState s = result.state();
    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(2, s.attempt());
    assertNull(s.cancel());
    assertNull(s.exit());
    assertNull(s.worker());
    assertNull(s.stopCause());
    assertEquals(before.createdAt(), s.createdAt());
    // the attempt ended with its exit recorded: there is no slot request of attempt 1 to withdraw
    assertEquals(new WorkerPool.RequestSlot(runId, 2, before.spec()), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"PENDING", "RUNNING", "CANCELLING"})
  void aRunThatIsNotTerminalCannotBeReset(RunStatus status) {
    RunState before = given(status, 1);

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = run(r -> new RunEntity.Reset(null, r));

    assertEquals(Outcome.INVALID_STATE, result.reply().outcome());
    assertTrue(result.events().isEmpty());
    assertEquals(before, result.state());
  }

  // ---- fencing --------------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(RunStatus.class)
  void aCancelOrResetNamingAnotherAttemptIsStale(RunStatus status) {
    RunState before = given(status, 2);

    for (int attempt : new int[] {1, 3}) {
      CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> cancel = cancel("stale", attempt);
      assertEquals(Outcome.STALE_ATTEMPT, cancel.reply().outcome());
      assertTrue(cancel.events().isEmpty());
      assertEquals(before, cancel.state());

      int stale = attempt;
      CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> reset = run(r -> new RunEntity.Reset(stale, r));
      assertEquals(Outcome.STALE_ATTEMPT, reset.reply().outcome());
      assertTrue(reset.events().isEmpty());
      assertEquals(before, reset.state());
    }
  }

  @ParameterizedTest
  @EnumSource(RunStatus.class)
  void reportsFromAnOlderAttemptChangeNothingAndAStrayProcessIsStopped(RunStatus status) {
    RunState before = given(status, 2);
    TestProbe<ProcessWorker.Command> old = kit.createTestProbe();

    CommandResult<RunEntity.Command, RunEvent, RunState> started = report(started(1, old));
    assertTrue(started.events().isEmpty());
    assertEquals(before, started.state());
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), old.receiveMessage(WAIT));
    assertEquals(new ProcessWorker.Ack(1, "started"), old.receiveMessage(WAIT));

    CommandResult<RunEntity.Command, RunEvent, RunState> exited = report(exited(1, 0, null, old));
    assertTrue(exited.events().isEmpty());
    assertEquals(before, exited.state());
    // acknowledged, not stopped: a Stop would have come before the Ack
    assertEquals(new ProcessWorker.Ack(1, "exited"), old.receiveMessage(WAIT));
  }

  @Test
  void aProcessStartedForARunThatDoesNotExistIsStoppedAtOnce() {
    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(started(1, worker));

    assertTrue(result.events().isEmpty());
    assertFalse(result.state().exists());
    assertEquals(new ProcessWorker.Stop(1, Duration.ZERO), worker.receiveMessage(WAIT));
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));
  }

  // ---- recovery -------------------------------------------------------------------------------

  @Test
  void recoveryRebuildsTheSameStateAtEveryStepAndTheVersionCountsTheEvents() {
    entity = entity(settings(SETTINGS.passivateAfter(), 2)); // snapshots too, not only events
    RunSpec spec = spec(new RetryPolicy(2, 0), 3600);

    submitAndTakeSlot(spec);
    assertRecovers();
    pool.expectMessage(WAIT, new WorkerPool.RequestSlot(runId, 1, spec)); // asked again after restart

    report(started(1, worker));
    worker.expectMessage(WAIT, new ProcessWorker.Ack(1, "started"));
    assertRecovers();

    report(exited(1, 1, null, worker));
    worker.expectMessage(WAIT, new ProcessWorker.Ack(1, "exited"));
    pool.expectMessage(WAIT, new WorkerPool.RequestSlot(runId, 2, spec));
    assertRecovers();
    pool.expectMessage(WAIT, new WorkerPool.RequestSlot(runId, 2, spec));

    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();
    report(started(2, second));
    second.expectMessage(WAIT, new ProcessWorker.Ack(2, "started"));
    cancel("user asked", 2);
    second.expectMessage(WAIT, new ProcessWorker.Stop(2, Duration.ofSeconds(GRACE)));
    assertRecovers();
    // the recovered entity carries on with the cancel
    second.expectMessage(WAIT, new ProcessWorker.Stop(2, Duration.ofSeconds(GRACE)));

    Reply reply = run(RunEntity.Get::new).reply();
    assertEquals(Outcome.UNCHANGED, reply.outcome());
    assertEquals(RunStatus.CANCELLING, reply.state().status());
    assertEquals(5, reply.version());
  }

  // ---- passivation (spawned directly: the test kit cannot wait for a reply that comes later) ---

  @Test
  void aClientWaitingForTheEndHearsOfItOnceTheRunIsTerminal() {
    ActorRef<RunEntity.Command> ref = kit.spawn(RunEntity.create(runId, pool.ref(), SETTINGS, clock, null));
    TestProbe<Reply> client = kit.createTestProbe();
    ref.tell(new RunEntity.Submit(runId, spec(RetryPolicy.NONE, 3600), client.ref()));
    assertEquals(Outcome.CREATED, client.receiveMessage(WAIT).outcome());

    TestProbe<Reply> waiting = kit.createTestProbe();
    ref.tell(new RunEntity.AwaitTerminal(waiting.ref()));
    ref.tell(new RunEntity.Cancel("done", null, client.ref()));

    assertEquals(Outcome.CHANGED, client.receiveMessage(WAIT).outcome());
    Reply end = waiting.receiveMessage(WAIT);
    assertEquals(RunStatus.CANCELLED, end.state().status());
  }

  @Test
  void anIdleTimerThatFiredWhileTheFirstEventWasWrittenDoesNotPassivateTheNewRun() throws Exception {
    // passivate-after 0: the empty entity's idle timer fires as soon as recovery completes, while
    // the submit that was sent during recovery is being written
    RunSettings eager = settings(Duration.ZERO, 100);
    TestProbe<Reply> client = kit.createTestProbe();
    CountDownLatch submitSent = new CountDownLatch(1);
    String persistenceId = PersistenceId.of(RunEntity.TYPE_KEY.name(), runId).id();
    PersistenceTestKit journal = PersistenceTestKit.create(kit.system());
    journal.withPolicy((id, operation) -> {
      if (id.equals(persistenceId) && !(operation instanceof WriteEvents)) {
        awaitQuietly(submitSent); // recovery waits until the submit is in the mailbox (stashed)
      }
      return ProcessingSuccess.getInstance();
    });
    try {
      ActorRef<RunEntity.Command> ref = kit.spawn(RunEntity.create(runId, pool.ref(), eager, clock, null));
      ref.tell(new RunEntity.Submit(runId, spec(RetryPolicy.NONE, 3600), client.ref()));
      submitSent.countDown();
      assertEquals(Outcome.CREATED, client.receiveMessage(WAIT).outcome());

      ref.tell(new RunEntity.Get(client.ref()));
      assertEquals(RunStatus.PENDING, client.receiveMessage(WAIT).state().status());
    } finally {
      journal.resetPolicy();
    }
  }

  @Test
  void aRunThatWasNeverSubmittedAndATerminalRunAskTheirShardToPassivateThem() {
    RunSettings eager = settings(Duration.ofMillis(100), 100);
    TestProbe<ClusterSharding.ShardCommand> shard = kit.createTestProbe();
    TestProbe<Reply> client = kit.createTestProbe();

    ActorRef<RunEntity.Command> unknown =
        kit.spawn(RunEntity.create(runId + "-unknown", pool.ref(), eager, clock, new RunEntity.Sharded(shard.ref(), kit.<RunEntity.Command>createTestProbe().ref())));
    unknown.tell(new RunEntity.Get(client.ref()));
    assertEquals(Outcome.NOT_FOUND, client.receiveMessage(WAIT).outcome());
    assertEquals(new ClusterSharding.Passivate<>(unknown), shard.receiveMessage(WAIT));

    // A brand-new entity may ask to leave before its first command arrives (sharding would hold
    // that command and start it again), so the terminal case starts from a journal that already
    // holds a cancelled run, with a shard of its own.
    submitAndTakeSlot(spec(RetryPolicy.NONE, 3600));
    assertEquals(RunStatus.CANCELLED, cancel("done", null).state().status());
    TestProbe<ClusterSharding.ShardCommand> endedShard = kit.createTestProbe();
    ActorRef<RunEntity.Command> ended = kit.spawn(RunEntity.create(runId, pool.ref(), eager, clock,
        new RunEntity.Sharded(endedShard.ref(), kit.<RunEntity.Command>createTestProbe().ref())));
    assertEquals(new ClusterSharding.Passivate<>(ended), endedShard.receiveMessage(WAIT));
  }

  @Test
  void aRunMadeLiveAgainWhilePassivatingComesBackThroughSharding() {
    RunSettings eager = settings(Duration.ofMillis(100), 100);
    TestProbe<ClusterSharding.ShardCommand> shard = kit.createTestProbe();
    TestProbe<RunEntity.Command> throughSharding = kit.createTestProbe();
    TestProbe<Reply> client = kit.createTestProbe();
    ActorRef<RunEntity.Command> run =
        kit.spawn(RunEntity.create(runId, pool.ref(), eager, clock, new RunEntity.Sharded(shard.ref(), throughSharding.ref())));
    run.tell(new RunEntity.Submit(runId, spec(RetryPolicy.NONE, 3600), client.ref()));
    client.receiveMessage(WAIT);
    run.tell(new RunEntity.Cancel(null, null, client.ref()));
    assertEquals(RunStatus.CANCELLED, client.receiveMessage(WAIT).state().status());
    assertEquals(new ClusterSharding.Passivate<>(run), shard.receiveMessage(WAIT));

    // a reset slips in before the shard's stop message
    run.tell(new RunEntity.Reset(null, client.ref()));
    assertEquals(RunStatus.PENDING, client.receiveMessage(WAIT).state().status());
    run.tell(new RunEntity.StopEntity());

    throughSharding.expectMessage(WAIT, new RunEntity.Wake());
    throughSharding.expectTerminated(run, WAIT);
  }

  @Test
  void anIdleRunStopsWithoutWakingItself() {
    TestProbe<ClusterSharding.ShardCommand> shard = kit.createTestProbe();
    TestProbe<RunEntity.Command> throughSharding = kit.createTestProbe();
    ActorRef<RunEntity.Command> unknown =
        kit.spawn(RunEntity.create(runId, pool.ref(), SETTINGS, clock, new RunEntity.Sharded(shard.ref(), throughSharding.ref())));

    unknown.tell(new RunEntity.StopEntity());

    throughSharding.expectTerminated(unknown, WAIT);
    throughSharding.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void withoutAShardAnIdleRunStops() {
    RunSettings eager = settings(Duration.ofMillis(100), 100);
    TestProbe<Reply> client = kit.createTestProbe();
    ActorRef<RunEntity.Command> unknown = kit.spawn(RunEntity.create(runId, pool.ref(), eager, clock, null));
    unknown.tell(new RunEntity.Get(client.ref()));
    assertEquals(Outcome.NOT_FOUND, client.receiveMessage(WAIT).outcome());
    client.expectTerminated(unknown, WAIT);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static RunSettings settings(Duration passivateAfter, int snapshotEvery) {
    return new RunSettings(new SubmitRunRequest.Defaults(3600, GRACE, 1, 1), passivateAfter, Duration.ofMinutes(10), snapshotEvery,
        Duration.ofSeconds(20));
  }

  private EventSourcedBehaviorTestKit<RunEntity.Command, RunEvent, RunState> entity(RunSettings settings) {
    return EventSourcedBehaviorTestKit.create(
        kit.system(),
        RunEntity.create(runId, pool.ref(), settings, clock, null),
        EventSourcedBehaviorTestKit.enabledSerializationSettings().withVerifyEquality(true));
  }

  private static RunSpec spec(RetryPolicy retry, long timeoutSeconds) {
    return new RunSpec(new ProcessSpec(List.of("sleep", "600"), Map.of("A", "b"), null), timeoutSeconds, GRACE, retry,
        Map.of("team", "a"), "key-1");
  }

  /** Runs a command that expects a reply, and checks that the reply's version counts the events. */
  private CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> run(
      Function<ActorRef<Reply>, RunEntity.Command> command) {
    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = entity.runCommand(command);
    assertEquals(persisted().size(), result.reply().version(), "version of " + result.reply());
    return result;
  }

  private CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> submit(RunSpec spec) {
    return run(r -> new RunEntity.Submit(runId, spec, r));
  }

  private CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> cancel(String reason, Integer attempt) {
    return run(r -> new RunEntity.Cancel(reason, attempt, r));
  }

  private CommandResult<RunEntity.Command, RunEvent, RunState> report(WorkerReport report) {
    return entity.runCommand(new RunEntity.FromWorker(report));
  }

  private RunSpec submitAndTakeSlot(RunSpec spec) {
    assertEquals(Outcome.CREATED, submit(spec).reply().outcome());
    pool.expectMessage(WAIT, new WorkerPool.RequestSlot(runId, 1, spec));
    return spec;
  }

  private RunSpec running(RunSpec spec) {
    submitAndTakeSlot(spec);
    assertEquals(RunStatus.RUNNING, report(started(1, worker)).state().status());
    worker.expectMessage(WAIT, new ProcessWorker.Ack(1, "started"));
    return spec;
  }

  private WorkerReport.Started started(int attempt, TestProbe<ProcessWorker.Command> by) {
    return new WorkerReport.Started(runId, attempt, "node-a", 4242, by.ref());
  }

  private WorkerReport.Exited exited(int attempt, Integer code, String signal, TestProbe<ProcessWorker.Command> by) {
    return new WorkerReport.Exited(runId, attempt, code, signal, by.ref());
  }

  /**
   * Recovers the entity from a journal holding the history that ends in {@code status} at {@code
   * attempt} (1, or 2 after a first attempt that could not start). The spec allows exactly {@code
   * attempt} attempts, so a failure of the last one is final.
   */
  private RunState given(RunStatus status, int attempt) {
    RunSpec spec = spec(new RetryPolicy(attempt, 0), 3600);
    WorkerInfo info = new WorkerInfo("node-a", 4242, resolver.toSerializationFormat(worker.ref()));
    List<RunEvent> events = new ArrayList<>();
    events.add(new RunEvent.RunSubmitted(runId, spec, 1, T0));
    if (attempt == 2) {
      events.add(new RunEvent.AttemptStartFailed(1, "no such directory", T0));
    }
    if (status != RunStatus.PENDING) {
      events.add(new RunEvent.AttemptStarted(attempt, info, T0));
    }
    switch (status) {
      case CANCELLING -> events.add(new RunEvent.CancelRequested(attempt, "user asked", T0));
      case CANCELLED -> {
        events.add(new RunEvent.CancelRequested(attempt, "user asked", T0));
        events.add(new RunEvent.AttemptExited(attempt, null, "TERM", T0));
      }
      case SUCCEEDED -> events.add(new RunEvent.AttemptExited(attempt, 0, null, T0));
      case FAILED -> events.add(new RunEvent.AttemptExited(attempt, 2, null, T0));
      case TIMED_OUT -> {
        events.add(new RunEvent.TimeoutReached(attempt, T0));
        events.add(new RunEvent.AttemptExited(attempt, null, "TERM", T0));
      }
      default -> {}
    }
    entity.initialize(events.toArray());
    RunState s = entity.getState();
    assertEquals(status, s.status());
    assertEquals(attempt, s.attempt());
    return s;
  }

  private void assertRecovers() {
    RunState before = entity.getState();
    assertEquals(before, entity.restart().state());
    assertEquals(before, entity.getState());
  }

  private List<Object> persisted() {
    return entity.persistenceTestKit().persistedInStorage(PersistenceId.of(RunEntity.TYPE_KEY.name(), runId).id());
  }

  private static Object last(List<Object> list) {
    assertNotNull(list);
    return list.get(list.size() - 1);
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A clock that stands still until a test moves it. */
  private static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void set(Instant now) {
      this.now = now;
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }
}
