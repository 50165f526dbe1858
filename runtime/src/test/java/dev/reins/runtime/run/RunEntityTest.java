package dev.reins.runtime.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.api.SubmitRunRequest;
import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.protocol.run.RunDelegation;
import dev.reins.runtime.delegation.DelegationEntity;
import dev.reins.runtime.delegation.DelegationSettings;
import dev.reins.runtime.tenant.TenantQuota;
import java.util.HashSet;
import java.util.Set;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import dev.reins.protocol.run.WorkerInfo;
import dev.reins.runtime.run.RunEntity.Outcome;
import dev.reins.runtime.run.RunEntity.Reply;
import dev.reins.runtime.cluster.MemberRemovals;
import dev.reins.runtime.tenant.TenantQuota;
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
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.ProcessingSuccess;
import org.apache.pekko.persistence.testkit.WriteEvents;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResult;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResultWithReply;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The run lifecycle, one test per row of the transition table in {@link RunEntity}. Commands run
 * through the {@link EventSourcedBehaviorTestKit}, which also checks that every command, reply,
 * event and state survives our Jackson serialization unchanged. The pool and the workers are
 * probes; the clock is frozen, so every event's time is known.
 *
 * <p>An attempt gets a process in three steps, each its own row: the run asks its pool for a slot
 * ({@code RequestSlot}); the pool's worker claims the attempt and the run records it ({@code
 * AttemptPlaced}, then {@code ClaimGranted}); the worker starts the process and reports it ({@code
 * AttemptStarted}, then an ack).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RunEntityTest {

  private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");
  private static final long GRACE = 7;
  private static final Duration WAIT = Duration.ofSeconds(10);
  /** How long a test listens to be sure that something does not happen (not a timing claim). */
  private static final Duration QUIET = Duration.ofMillis(300);

  private static final Config CONFIG =
      ConfigFactory.parseString(
              "pekko.actor.provider = local\n"
                  // the test kit's own waits (reply, state): generous for a busy build machine
                  + "pekko.actor.testkit.typed.single-expect-default = 10s")
          .withFallback(EventSourcedBehaviorTestKit.config())
          .withFallback(PersistenceTestKitSnapshotPlugin.config())
          .withFallback(ConfigFactory.load());

  /**
   * Long enough that no entity passivates, repeats a stop or asks for a slot again during a test,
   * and no lost-worker delay, unless the test asks for them.
   */
  private static final RunSettings SETTINGS = settings(Duration.ofMinutes(10), 100);

  private final ActorTestKit kit = ActorTestKit.create("RunEntityTest", CONFIG);
  private final ActorRefResolver resolver = ActorRefResolver.get(kit.system());
  private final AtomicInteger runs = new AtomicInteger();

  private MutableClock clock;
  private TestProbe<WorkerPool.Command> pool;
  private TestProbe<ProcessWorker.Command> worker;
  /** What the run under test tells its delegations, each message with the id it was sent to. */
  private TestProbe<ToDelegation> delegations;

  record ToDelegation(String delegationId, DelegationEntity.Command command) {}
  private String runId;
  private EventSourcedBehaviorTestKit<RunEntity.Command, RunEvent, RunState> entity;

  @BeforeEach
  void newRun() {
    clock = new MutableClock(T0);
    pool = kit.createTestProbe();
    worker = kit.createTestProbe();
    delegations = kit.createTestProbe();
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
    // pools order their queues by the time the attempt became pending: here, the submit
    assertEquals(slot(1, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
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

  @Test
  void aClaimOrAProcessForARunThatDoesNotExistIsRefusedAtOnce() {
    CommandResult<RunEntity.Command, RunEvent, RunState> claimed = report(claim(1, worker));
    assertTrue(claimed.events().isEmpty());
    assertFalse(claimed.state().exists());
    assertEquals(1, worker.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT).attempt());

    CommandResult<RunEntity.Command, RunEvent, RunState> started = report(started(1, worker));
    assertTrue(started.events().isEmpty());
    assertFalse(started.state().exists());
    assertEquals(new ProcessWorker.Stop(1, Duration.ZERO), worker.receiveMessage(WAIT));
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));
  }

  // ---- pending --------------------------------------------------------------------------------

  @Test
  void aClaimPlacesThePendingAttemptOnThatWorkerAndIsGrantedOnlyAfterTheWrite() {
    RunSpec spec = submitAndTakeSlot(spec(RetryPolicy.NONE, 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(claim(1, worker));

    assertEquals(List.of(new RunEvent.AttemptPlaced(1, placedOn(worker), T0)), result.events());
    RunState s = result.state();
    assertEquals(RunStatus.PENDING, s.status(), "running means a process runs");
    assertEquals(placedOn(worker), s.worker());
    assertEquals(0, s.worker().pid(), "no process yet");
    assertNull(s.attemptStartedAt(), "no process yet: the timeout has not begun");
    assertEquals(new ProcessWorker.ClaimGranted(1), worker.receiveMessage(WAIT));
    worker.expectNoMessage(QUIET);
    // a placed attempt asks for no further slot
    pool.expectNoMessage(QUIET);
    assertEquals(spec, s.spec());
  }

  @Test
  void theStartOfThePlacedWorkersProcessIsRecordedAndAcknowledged() {
    placed(spec(RetryPolicy.NONE, 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(started(1, worker));

    assertEquals(List.of(new RunEvent.AttemptStarted(1, startedOn(worker), T0)), result.events());
    assertEquals(RunStatus.RUNNING, result.state().status());
    assertEquals("node-a", result.state().worker().node());
    assertEquals(4242, result.state().worker().pid());
    assertEquals(T0, result.state().attemptStartedAt());
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));

    // the worker repeats its report when the ack was lost: acknowledged again, nothing written
    CommandResult<RunEntity.Command, RunEvent, RunState> again = report(started(1, worker));
    assertTrue(again.events().isEmpty());
    assertEquals(result.state(), again.state());
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));
  }

  @Test
  void aSecondWorkerClaimingAPlacedAttemptIsDeniedAndItsStrayProcessIsStopped() {
    placed(spec(RetryPolicy.NONE, 3600));
    RunState placed = entity.getState();
    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();

    CommandResult<RunEntity.Command, RunEvent, RunState> claimed = report(claim(1, second));

    assertTrue(claimed.events().isEmpty());
    assertEquals(placed, claimed.state());
    ProcessWorker.ClaimDenied denied = second.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT);
    assertEquals(1, denied.attempt());
    assertTrue(denied.reason().contains("another worker"), denied.reason());

    // a second worker that started a process anyway is stopped, and the placement stands
    assertStrayProcessIsStoppedAndChangesNothing(1, second, placed);
    worker.expectNoMessage(QUIET);
  }

  @Test
  void theRecordedWorkersRepeatedClaimIsGrantedAgainWithoutASecondEvent() {
    placed(spec(RetryPolicy.NONE, 3600));
    RunState placed = entity.getState();

    // the grant was lost on its way: the worker claims again
    CommandResult<RunEntity.Command, RunEvent, RunState> again = report(claim(1, worker));

    assertTrue(again.events().isEmpty());
    assertEquals(placed, again.state());
    assertEquals(new ProcessWorker.ClaimGranted(1), worker.receiveMessage(WAIT));
    assertEquals(2, persisted().size(), "RunSubmitted and one AttemptPlaced: " + persisted());
  }

  @Test
  void aStartedReportFromAWorkerThePendingRunNeverPlacedStopsThatProcess() {
    submitAndTakeSlot(spec(RetryPolicy.NONE, 3600));
    RunState pending = entity.getState();
    TestProbe<ProcessWorker.Command> stranger = kit.createTestProbe();

    assertStrayProcessIsStoppedAndChangesNothing(1, stranger, pending);

    // the attempt is still free for a worker of the run's own asking
    assertEquals(placedOn(worker), report(claim(1, worker)).state().worker());
    assertEquals(new ProcessWorker.ClaimGranted(1), worker.receiveMessage(WAIT));
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

    // the slot was given just before the cancel: the worker's claim is refused, so nothing starts
    CommandResult<RunEntity.Command, RunEvent, RunState> late = report(claim(1, worker));
    assertTrue(late.events().isEmpty());
    assertEquals(RunStatus.CANCELLED, late.state().status());
    assertEquals(1, worker.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT).attempt());

    // and a process that starts anyway (a worker that did not wait for its grant) is stopped
    CommandResult<RunEntity.Command, RunEvent, RunState> started = report(started(1, worker));
    assertTrue(started.events().isEmpty());
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));
  }

  @Test
  void anAttemptThatCannotStartFailsTheRun() {
    placed(spec(RetryPolicy.NONE, 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result =
        report(new WorkerReport.StartFailed(runId, 1, "executable nope not found on PATH", worker.ref()));

    assertEquals(List.of(new RunEvent.AttemptStartFailed(1, "executable nope not found on PATH", T0)), result.events());
    assertEquals(RunStatus.FAILED, result.state().status());
    assertEquals("start_failed", result.state().exit().reason());
    assertEquals("executable nope not found on PATH", result.state().exit().message());
    assertNull(result.state().worker());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.expectMessageClass(ProcessWorker.Ack.class, WAIT));
  }

  @Test
  void anAttemptThatCannotStartIsRetriedWhenAttemptsRemain() {
    RunSpec spec = placed(spec(new RetryPolicy(2, 0), 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result =
        report(new WorkerReport.StartFailed(runId, 1, "no such directory", worker.ref()));

    assertEquals(List.of(new RunEvent.AttemptStartFailed(1, "no such directory", T0)), result.events());
    assertEquals(RunStatus.PENDING, result.state().status());
    assertEquals(2, result.state().attempt());
    assertEquals(slot(2, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  @Test
  void aPendingAttemptAsksForASlotAgainEveryRecheckUntilAWorkerHasIt() {
    entity = entity(withPendingRecheck(SETTINGS, Duration.ofMillis(100)));
    RunSpec spec = spec(RetryPolicy.NONE, 3600);
    submit(spec);

    // a request can be lost with a node or between pools: the run keeps asking
    for (int i = 0; i < 3; i++) {
      assertEquals(slot(1, spec, T0), pool.receiveMessage(WAIT));
    }
    place(1, worker);

    // once placed it stops asking (what still arrives was sent before the placement)
    receiveUntilQuiet(pool, 5);
  }

  @Test
  void aClaimForARetryThatIsNotDueYetIsDenied() {
    RunSpec spec = running(spec(new RetryPolicy(2, 30), 3600));
    report(exited(1, 1, null, worker));
    worker.expectMessage(WAIT, new ProcessWorker.Ack(1, "exited"));
    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();

    CommandResult<RunEntity.Command, RunEvent, RunState> early = report(claim(2, second));

    assertTrue(early.events().isEmpty());
    assertEquals(RunStatus.PENDING, early.state().status());
    ProcessWorker.ClaimDenied denied = second.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT);
    assertEquals(2, denied.attempt());
    assertTrue(denied.reason().contains(T0.plusSeconds(30).toString()), denied.reason());

    clock.set(T0.plusSeconds(30));
    CommandResult<RunEntity.Command, RunEvent, RunState> due = report(claim(2, second));
    assertEquals(List.of(new RunEvent.AttemptPlaced(2, placedOn(second), T0.plusSeconds(30))), due.events());
    assertEquals(new ProcessWorker.ClaimGranted(2), second.receiveMessage(WAIT));
    assertEquals(spec, due.state().spec());
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

  @Test
  void aCancelBetweenPlacementAndStartStaysCancellingAndStopsTheProcessOnceItStarted() {
    placed(spec(RetryPolicy.NONE, 3600));

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, Reply> result = cancel("user asked", 1);

    assertEquals(Outcome.CHANGED, result.reply().outcome());
    assertEquals(RunStatus.CANCELLING, result.state().status());
    // the stop goes to the placed worker at once (a worker that has not started leaves quietly)
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));

    // its start report was on the way: recorded, but the run stays cancelling and stops it again
    CommandResult<RunEntity.Command, RunEvent, RunState> started = report(started(1, worker));

    assertEquals(List.of(new RunEvent.AttemptStarted(1, startedOn(worker), T0)), started.events());
    RunState s = started.state();
    assertEquals(RunStatus.CANCELLING, s.status());
    assertEquals(RunState.StopCause.CANCEL, s.stopCause());
    assertEquals("user asked", s.cancel().reason());
    assertEquals(4242, s.worker().pid());
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));

    CommandResult<RunEntity.Command, RunEvent, RunState> exited = report(exited(1, null, "TERM", worker));
    assertEquals(RunStatus.CANCELLED, exited.state().status());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.receiveMessage(WAIT));
  }

  @Test
  void theTimeoutCountsFromTheStartOfTheProcessNotFromThePlacement() {
    placed(spec(RetryPolicy.NONE, 1));
    Instant later = T0.plus(Duration.ofHours(1));
    clock.set(later);

    // an hour after the placement, with a one-second timeout: a timeout counted from the placement
    // would be due at once on recovery
    entity.restart();
    worker.expectNoMessage(QUIET);
    assertEquals(RunStatus.PENDING, entity.getState().status());
    assertEquals(placedOn(worker), entity.getState().worker());

    CommandResult<RunEntity.Command, RunEvent, RunState> started = report(started(1, worker));
    assertEquals(later, started.state().attemptStartedAt());
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));

    // from the start, the timeout applies as usual
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));
    assertEquals(new RunEvent.TimeoutReached(1, later), last(persisted()));
  }

  @Test
  void aWorkerThatDiesWhileTheJournalFailsIsRecordedAsLostOnceTheJournalWritesAgain() {
    given(RunStatus.RUNNING, 1);
    // the journal is down when the death is noticed: writing WorkerLost fails, the entity restarts
    entity.persistenceTestKit().failNextPersisted(PersistenceId.of(RunEntity.TYPE_KEY.name(), runId).id());

    worker.stop();

    TestProbe<Object> await = kit.createTestProbe();
    await.awaitAssert(WAIT, () -> {
      assertEquals(RunStatus.FAILED, entity.getState().status());
      return null;
    });
    assertTrue(last(persisted()) instanceof RunEvent.WorkerLost, "last event: " + last(persisted()));
    assertEquals("worker_lost", entity.getState().exit().reason());
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
    assertNull(s.worker());
    assertEquals(slot(2, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  @Test
  void aRetryWaitsForItsBackoffAlsoAcrossARestart() {
    RunSpec spec = running(spec(new RetryPolicy(3, 30), 3600));

    RunState s = report(exited(1, 1, null, worker)).state();

    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(2, s.attempt());
    assertEquals(T0.plusSeconds(30), s.retryAt());
    pool.expectNoMessage(QUIET);

    clock.set(T0.plusSeconds(31));
    assertEquals(s, entity.restart().state());
    // pending since its retry time, not since the failure: it queues behind runs that waited longer
    assertEquals(slot(2, spec, T0.plusSeconds(30)), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
  }

  @Test
  void theLastAttemptFailingFailsTheRun() {
    RunSpec spec = running(spec(new RetryPolicy(2, 0), 3600));
    report(exited(1, 1, null, worker));
    pool.expectMessage(WAIT, slot(2, spec, T0));
    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();
    place(2, second);
    start(2, second);

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
        List.of(RunEvent.RunSubmitted.class, RunEvent.AttemptPlaced.class, RunEvent.AttemptStarted.class,
            RunEvent.TimeoutReached.class, RunEvent.AttemptExited.class),
        persisted().stream().map(Object::getClass).toList());
  }

  // ---- interrupted attempts (the node shut down) ------------------------------------------------

  @Test
  void anAttemptInterruptedByItsNodeShuttingDownStartsOverAtOnceWithoutUsingTheRetryBudget() {
    // one attempt allowed, and a backoff that would show if the new attempt were a retry
    RunSpec spec = running(spec(new RetryPolicy(1, 30), 3600));

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(interrupted(1, worker));

    assertEquals(List.of(new RunEvent.AttemptInterrupted(1, ProcessWorker.NODE_SHUTDOWN, null, "TERM", T0)),
        result.events());
    RunState s = result.state();
    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(2, s.attempt());
    assertEquals(1, s.interruptions());
    assertNull(s.retryAt(), "due at once, no backoff");
    assertNull(s.worker());
    assertEquals(ProcessWorker.NODE_SHUTDOWN, s.exit().reason());
    assertEquals("TERM", s.exit().signal());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.receiveMessage(WAIT));
    assertEquals(slot(2, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));

    // the interruption did not count: attempt 2 is the run's one real attempt, and its failure
    // fails the run
    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();
    place(2, second);
    start(2, second);
    CommandResult<RunEntity.Command, RunEvent, RunState> failed = report(exited(2, 1, null, second));
    assertEquals(RunStatus.FAILED, failed.state().status());
    assertEquals(2, failed.state().attempt());
    assertEquals(1, failed.state().interruptions());
  }

  @Test
  void anInterruptedRunWithTwoAttemptsStillRetriesAFailureOnce() {
    RunSpec spec = running(spec(new RetryPolicy(2, 0), 3600));
    report(interrupted(1, worker));
    pool.expectMessage(WAIT, slot(2, spec, T0));

    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();
    place(2, second);
    start(2, second);
    RunState retried = report(exited(2, 1, null, second)).state();
    assertEquals(RunStatus.PENDING, retried.status(), "attempt 2 was the first real attempt: one retry is left");
    assertEquals(3, retried.attempt());
    pool.expectMessage(WAIT, slot(3, spec, T0));

    TestProbe<ProcessWorker.Command> third = kit.createTestProbe();
    place(3, third);
    start(3, third);
    RunState failed = report(exited(3, 1, null, third)).state();
    assertEquals(RunStatus.FAILED, failed.status());
    assertEquals(3, failed.attempt());
  }

  @Test
  void anInterruptionWhileCancellingEndsTheRunCancelled() {
    running(spec(new RetryPolicy(3, 0), 3600));
    cancel("user asked", 1);
    worker.expectMessage(WAIT, new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)));

    // the node's shutdown stopped the process before the cancel's stop did
    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(interrupted(1, worker));

    assertEquals(List.of(new RunEvent.AttemptExited(1, null, "TERM", T0)), result.events());
    assertEquals(RunStatus.CANCELLED, result.state().status());
    assertEquals(1, result.state().attempt());
    assertEquals(0, result.state().interruptions());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.receiveMessage(WAIT));
    pool.expectNoMessage(QUIET); // no new attempt
  }

  /** Longer than any one Pekko timer can wait (about 248 days): the entity must neither fail nor time out early. */
  @Test
  void aTimeoutOfAYearIsAllowedAndKeepsTheRunAliveAcrossARestart() {
    running(spec(RetryPolicy.NONE, 365L * 24 * 3600));

    assertEquals(RunStatus.RUNNING, entity.getState().status());
    assertEquals(RunStatus.RUNNING, entity.restart().state().status());
    worker.expectNoMessage(Duration.ofMillis(300));
    assertEquals(Outcome.CHANGED, cancel("done", null).reply().outcome());
  }

  @Test
  void aFarDeadlineIsReachedInStepsOfTheLongestTimer() {
    entity = entity(new RunSettings(SETTINGS.defaults(), SETTINGS.passivateAfter(), SETTINGS.stopResendInterval(), 100,
        SETTINGS.leaseRefresh(), SETTINGS.pendingRecheck(), SETTINGS.lostWorkerDelay(), Duration.ofMillis(100)));
    running(spec(RetryPolicy.NONE, 3600));

    // steps come and go while the (frozen) clock is short of the deadline
    worker.expectNoMessage(Duration.ofMillis(500));
    assertEquals(RunStatus.RUNNING, entity.getState().status());

    clock.set(T0.plusSeconds(3600));
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));
    assertEquals(RunState.StopCause.TIMEOUT, entity.getState().stopCause());
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
    entity = entity(withStopResend(SETTINGS, Duration.ofMillis(100)));
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
    worker.expectNoMessage(QUIET);
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

    awaitStatus(status == RunStatus.RUNNING ? RunStatus.FAILED : RunStatus.CANCELLED);
    RunState s = entity.getState();
    assertTrue(last(persisted()) instanceof RunEvent.WorkerLost, "last event: " + last(persisted()));
    assertEquals("worker_lost", s.exit().reason());
    assertNull(s.worker());
  }

  @Test
  void aPlacedWorkerThatDiesBeforeItsProcessStartedIsLostToo() {
    placed(spec(RetryPolicy.NONE, 3600));

    worker.stop();

    awaitStatus(RunStatus.FAILED);
    assertEquals(new RunEvent.WorkerLost(1, "node-a", T0), last(persisted()));
  }

  @Test
  void aLostWorkerWithAttemptsLeftIsRetriedAsANewAttempt() {
    RunSpec spec = spec(new RetryPolicy(2, 0), 3600);
    running(spec);

    worker.stop();

    assertEquals(slot(2, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
    RunState s = entity.getState();
    assertEquals(RunStatus.PENDING, s.status());
    assertEquals(2, s.attempt());
    assertEquals("worker_lost", s.exit().reason());
  }

  @Test
  void afterALostWorkerTheNextAttemptWaitsForTheLostWorkerDelay() {
    Duration delay = Duration.ofSeconds(3);
    entity = entity(withLostWorkerDelay(SETTINGS, delay));
    RunSpec spec = running(spec(new RetryPolicy(2, 0), 3600));

    worker.stop();
    awaitStatus(RunStatus.PENDING);

    // no backoff, yet the run neither asks for a slot nor lets a worker claim the attempt while the
    // lost node may still be stopping the old process
    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();
    assertTrue(report(claim(2, second)).events().isEmpty());
    assertEquals(2, second.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT).attempt());
    pool.expectNoMessage(Duration.ofSeconds(1));

    // the entity's timer wakes it once the delay has passed
    assertEquals(slot(2, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
    clock.set(T0.plus(delay));
    place(2, second);
  }

  @Test
  void theLostWorkerDelayCountsFromWhenThisNodeSawTheWorkersNodeRemoved() {
    // a run restarted on a survivor after Pekko's removal margin learns of its lost worker late:
    // the node was removed an hour ago, so the delay is over and the next attempt asks at once
    Duration delay = Duration.ofHours(1);
    entity = EventSourcedBehaviorTestKit.create(kit.system(),
        RunEntity.create(runId, pool.ref(), withLostWorkerDelay(SETTINGS, delay), TenantQuota.Client.UNLIMITED, clock, null,
            MemberRemovals.of(Map.of("node-a", T0.minus(delay)))),
        EventSourcedBehaviorTestKit.enabledSerializationSettings().withVerifyEquality(true));
    RunSpec spec = running(spec(new RetryPolicy(2, 0), 3600));

    worker.stop();

    assertEquals(slot(2, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
    assertEquals("worker_lost", entity.getState().exit().reason());
  }

  @Test
  void theLostWorkerDelayIsCountedOnTheRunsClockAlsoAcrossRestarts() {
    Duration delay = Duration.ofHours(1);
    entity = entity(withLostWorkerDelay(SETTINGS, delay));
    RunSpec spec = running(spec(new RetryPolicy(2, 0), 3600));
    worker.stop();
    awaitStatus(RunStatus.PENDING);
    pool.expectNoMessage(QUIET);

    clock.set(T0.plus(delay).minusSeconds(1));
    entity.restart();
    pool.expectNoMessage(QUIET);

    clock.set(T0.plus(delay));
    entity.restart();
    assertEquals(slot(2, spec, T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
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
  void aClaimForATerminalRunIsDenied(RunStatus status) {
    RunState before = given(status, 1);
    TestProbe<ProcessWorker.Command> late = kit.createTestProbe();

    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(claim(1, late));

    assertTrue(result.events().isEmpty());
    assertEquals(before, result.state());
    ProcessWorker.ClaimDenied denied = late.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT);
    assertEquals(1, denied.attempt());
    assertTrue(denied.reason().contains(status.json()), denied.reason());
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
    assertEquals(slot(2, before.spec(), T0), pool.expectMessageClass(WorkerPool.RequestSlot.class, WAIT));
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

    CommandResult<RunEntity.Command, RunEvent, RunState> claimed = report(claim(1, old));
    assertTrue(claimed.events().isEmpty());
    assertEquals(before, claimed.state());
    assertEquals(1, old.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT).attempt());

    assertStrayProcessIsStoppedAndChangesNothing(1, old, before);
  }

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"RUNNING", "CANCELLING"})
  void reportsOfTheCurrentAttemptFromAWorkerThatIsNotRecordedChangeNothingAndItsProcessIsStopped(RunStatus status) {
    RunState before = given(status, 1);
    if (status == RunStatus.CANCELLING) {
      worker.expectMessage(WAIT, new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE))); // the recovered cancel
    }
    TestProbe<ProcessWorker.Command> other = kit.createTestProbe();

    CommandResult<RunEntity.Command, RunEvent, RunState> claimed = report(claim(1, other));
    assertTrue(claimed.events().isEmpty());
    assertEquals(1, other.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT).attempt());

    assertStrayProcessIsStoppedAndChangesNothing(1, other, before);

    // its end, however it ended, is acknowledged (so it stops repeating it) and changes nothing
    List<WorkerReport> ends = List.of(exited(1, 2, null, other), interrupted(1, other),
        new WorkerReport.StartFailed(runId, 1, "no such directory", other.ref()));
    for (WorkerReport end : ends) {
      CommandResult<RunEntity.Command, RunEvent, RunState> result = report(end);
      assertTrue(result.events().isEmpty(), end + " wrote " + result.events());
      assertEquals(before, result.state());
      assertEquals(new ProcessWorker.Ack(1, "exited"), other.receiveMessage(WAIT));
    }

    // the recorded worker is left alone, and still speaks for the attempt
    worker.expectNoMessage(QUIET);
    CommandResult<RunEntity.Command, RunEvent, RunState> own = report(exited(1, 0, null, worker));
    assertEquals(1, own.events().size());
    assertTrue(own.state().status().isTerminal(), own.state().status().json());
  }

  // ---- recovery -------------------------------------------------------------------------------

  @Test
  void recoveryRebuildsTheSameStateAtEveryStepAndTheVersionCountsTheEvents() {
    entity = entity(settings(SETTINGS.passivateAfter(), 2)); // snapshots too, not only events
    RunSpec spec = spec(new RetryPolicy(2, 0), 3600);

    submitAndTakeSlot(spec);
    assertRecovers();
    pool.expectMessage(WAIT, slot(1, spec, T0)); // asked again after restart

    place(1, worker);
    assertRecovers();
    pool.expectNoMessage(QUIET); // a placed attempt asks for nothing

    start(1, worker);
    assertRecovers();

    report(interrupted(1, worker));
    worker.expectMessage(WAIT, new ProcessWorker.Ack(1, "exited"));
    pool.expectMessage(WAIT, slot(2, spec, T0));
    assertRecovers();
    pool.expectMessage(WAIT, slot(2, spec, T0));

    TestProbe<ProcessWorker.Command> second = kit.createTestProbe();
    place(2, second);
    start(2, second);
    report(exited(2, 1, null, second));
    second.expectMessage(WAIT, new ProcessWorker.Ack(2, "exited"));
    pool.expectMessage(WAIT, slot(3, spec, T0));
    assertRecovers();
    pool.expectMessage(WAIT, slot(3, spec, T0));

    TestProbe<ProcessWorker.Command> third = kit.createTestProbe();
    place(3, third);
    cancel("user asked", 3);
    third.expectMessage(WAIT, new ProcessWorker.Stop(3, Duration.ofSeconds(GRACE)));
    assertRecovers();
    // the recovered entity carries on with the cancel
    third.expectMessage(WAIT, new ProcessWorker.Stop(3, Duration.ofSeconds(GRACE)));

    assertEquals(List.of(new RunEvent.AttemptStarted(3, startedOn(third), T0)), report(started(3, third)).events());
    third.expectMessage(WAIT, new ProcessWorker.Ack(3, "started"));
    third.expectMessage(WAIT, new ProcessWorker.Stop(3, Duration.ofSeconds(GRACE)));
    assertRecovers();
    third.expectMessage(WAIT, new ProcessWorker.Stop(3, Duration.ofSeconds(GRACE)));

    Reply reply = run(RunEntity.Get::new).reply();
    assertEquals(Outcome.UNCHANGED, reply.outcome());
    RunState s = reply.state();
    assertEquals(RunStatus.CANCELLING, s.status());
    assertEquals(3, s.attempt());
    assertEquals(1, s.interruptions());
    // submitted; placed, started, interrupted; placed, started, exited; placed, cancel, started
    assertEquals(10, reply.version());
  }

  @Test
  void theJournalOfAOneNodeReinsWithoutPlacementsStillRecoversAndBehaves() {
    // before placements, a run went from pending to running with its process's start
    RunSpec spec = spec(RetryPolicy.NONE, 3600);
    entity.initialize(new RunEvent.RunSubmitted(runId, spec, 1, T0), new RunEvent.AttemptStarted(1, startedOn(worker), T0));
    RunState s = entity.getState();
    assertEquals(RunStatus.RUNNING, s.status());
    assertEquals(startedOn(worker), s.worker());
    assertEquals(T0, s.attemptStartedAt());
    assertEquals(0, s.interruptions());
    assertRecovers();

    // its worker re-attaches as the recorded one: a repeated start is acknowledged, nothing written
    CommandResult<RunEntity.Command, RunEvent, RunState> again = report(started(1, worker));
    assertTrue(again.events().isEmpty());
    assertEquals(new ProcessWorker.Ack(1, "started"), worker.receiveMessage(WAIT));

    // fencing by worker holds for it
    TestProbe<ProcessWorker.Command> other = kit.createTestProbe();
    report(claim(1, other));
    assertEquals(1, other.expectMessageClass(ProcessWorker.ClaimDenied.class, WAIT).attempt());

    CommandResult<RunEntity.Command, RunEvent, RunState> exited = report(exited(1, 0, null, worker));
    assertEquals(List.of(new RunEvent.AttemptExited(1, 0, null, T0)), exited.events());
    assertEquals(RunStatus.SUCCEEDED, exited.state().status());
    assertEquals(new ProcessWorker.Ack(1, "exited"), worker.receiveMessage(WAIT));
  }

  @Test
  void aCancellingRunFromAOneNodeJournalRepeatsItsStop() {
    RunSpec spec = spec(RetryPolicy.NONE, 3600);
    entity.initialize(new RunEvent.RunSubmitted(runId, spec, 1, T0), new RunEvent.AttemptStarted(1, startedOn(worker), T0),
        new RunEvent.CancelRequested(1, "user asked", T0));

    assertEquals(RunStatus.CANCELLING, entity.getState().status());
    assertEquals(new ProcessWorker.Stop(1, Duration.ofSeconds(GRACE)), worker.receiveMessage(WAIT));
    assertEquals(RunStatus.CANCELLED, report(exited(1, null, "TERM", worker)).state().status());
  }

  @Test
  void aSnapshotWrittenBeforeInterruptionsExistedReadsAsNoInterruptions() throws Exception {
    // a snapshot of one-node Reins, as JSON: the state without the interruptions field
    RunState running = new RunState(runId, Tenants.DEFAULT, RunStatus.RUNNING, 1, spec(RetryPolicy.NONE, 3600), T0, T0,
        startedOn(worker), null, null, null, null, T0, 0, null, java.util.Map.of());
    Serialization serialization = SerializationExtension.get(kit.system());
    byte[] bytes = serialization.serialize(running).get();
    ObjectMapper json = new ObjectMapper();
    ObjectNode old = (ObjectNode) json.readTree(bytes);
    assertTrue(old.has("interruptions"), old.toString());
    old.remove("interruptions");

    var serializer = serialization.findSerializerFor(running);
    Object read = serialization.deserialize(json.writeValueAsBytes(old), serializer.identifier(),
        Serializers.manifestFor(serializer, running)).get();

    assertEquals(running, read);
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

  // ---- delegations ----------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"PENDING", "RUNNING"})
  void aLiveRunJournalsADelegationBeforeItStartsIt(RunStatus status) {
    given(status, 1);
    DelegationSpec spec = delegationSpec("d", DelegationSpec.OnParentEnd.CANCEL);

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, RunEntity.DelegateReply> result = delegate("d-1", spec);

    assertEquals(Outcome.CREATED, result.reply().outcome());
    Instant deadline = T0.plusSeconds(spec.timeoutSeconds());
    assertEquals(List.of(new RunEvent.DelegationRequested("d-1", spec, deadline, 1, T0)), result.events());
    assertEquals(new RunDelegation("d-1", spec, deadline, DelegationStatus.PENDING, T0), result.reply().delegation());
    assertEquals(result.reply().delegation(), result.state().delegations().get("d-1"));
    DelegationEntity.Start start = nextStart();
    assertEquals(List.of("d-1", runId, Tenants.DEFAULT, spec, deadline),
        List.of(start.delegationId(), start.runId(), start.tenant(), start.spec(), start.deadline()));
    assertRecovers();
  }

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"CANCELLING", "CANCELLED", "SUCCEEDED", "FAILED", "TIMED_OUT"})
  void onlyAPendingOrRunningRunMayDelegate(RunStatus status) {
    RunState before = given(status, 1);

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, RunEntity.DelegateReply> result =
        delegate("d-1", delegationSpec("d", DelegationSpec.OnParentEnd.CANCEL));

    assertEquals(Outcome.INVALID_STATE, result.reply().outcome());
    assertTrue(result.reply().detail().contains(status.json()), result.reply().detail());
    assertTrue(result.events().isEmpty());
    assertEquals(before, result.state());
    delegations.expectNoMessage(QUIET);
  }

  @Test
  void anUnknownRunCannotDelegate() {
    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, RunEntity.DelegateReply> result =
        delegate("d-1", delegationSpec("d", DelegationSpec.OnParentEnd.CANCEL));
    assertEquals(Outcome.NOT_FOUND, result.reply().outcome());
    assertTrue(result.events().isEmpty());
  }

  @Test
  void theSameDelegationAskedForAgainIsTheSameOneAndAnotherWithItsIdIsAConflict() {
    given(RunStatus.RUNNING, 1);
    DelegationSpec spec = delegationSpec("same", DelegationSpec.OnParentEnd.CANCEL);
    RunDelegation created = delegate("d-1", spec).reply().delegation();
    clock.set(T0.plusSeconds(5));

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, RunEntity.DelegateReply> same = delegate("d-1", spec);
    assertEquals(Outcome.EXISTS, same.reply().outcome());
    assertEquals(created, same.reply().delegation(), "the same delegation, with its first deadline");
    assertTrue(same.events().isEmpty());

    // the journaled spec is compared after a restart too (it went through the journal's JSON)
    assertRecovers();
    assertEquals(Outcome.EXISTS, delegate("d-1", spec).reply().outcome());

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, RunEntity.DelegateReply> other =
        delegate("d-1", delegationSpec("other", DelegationSpec.OnParentEnd.CANCEL));
    assertEquals(Outcome.IDEMPOTENCY_CONFLICT, other.reply().outcome());
    assertTrue(other.events().isEmpty());
  }

  @Test
  void aRunMayHaveAsManyDelegationsAsTheCapAndNoMore() {
    entity = entity(withDelegations(SETTINGS, 2));
    given(RunStatus.RUNNING, 1);
    assertEquals(Outcome.CREATED, delegate("d-1", delegationSpec("1", DelegationSpec.OnParentEnd.CANCEL)).reply().outcome());
    assertEquals(Outcome.CREATED, delegate("d-2", delegationSpec("2", DelegationSpec.OnParentEnd.CANCEL)).reply().outcome());

    CommandResultWithReply<RunEntity.Command, RunEvent, RunState, RunEntity.DelegateReply> third =
        delegate("d-3", delegationSpec("3", DelegationSpec.OnParentEnd.CANCEL));

    assertEquals(Outcome.LIMIT_REACHED, third.reply().outcome());
    assertTrue(third.reply().detail().contains("delegations-per-run"), third.reply().detail());
    assertTrue(third.events().isEmpty());
    // asking again for one it has is still answered
    assertEquals(Outcome.EXISTS, delegate("d-2", delegationSpec("2", DelegationSpec.OnParentEnd.CANCEL)).reply().outcome());
  }

  @Test
  void anotherTenantOrAPerRunTokenOfAnEndedAttemptCannotDelegate() {
    given(RunStatus.RUNNING, 1);
    DelegationSpec spec = delegationSpec("d", DelegationSpec.OnParentEnd.CANCEL);
    assertEquals(Outcome.NOT_FOUND, entity.<RunEntity.DelegateReply>runCommand(
        r -> new RunEntity.Delegate(RunAccess.tenant("other"), "d-1", spec, r)).reply().outcome());
    assertEquals(Outcome.ATTEMPT_ENDED, entity.<RunEntity.DelegateReply>runCommand(
        r -> new RunEntity.Delegate(RunAccess.runToken(Tenants.DEFAULT, runId, 2), "d-1", spec, r)).reply().outcome());
    assertEquals(Outcome.CREATED, entity.<RunEntity.DelegateReply>runCommand(
        r -> new RunEntity.Delegate(RunAccess.runToken(Tenants.DEFAULT, runId, 1), "d-1", spec, r)).reply().outcome());
    assertTrue(entity.getState().delegations().containsKey("d-1"));
  }

  @Test
  void theRunStartsItsDelegationsAgainUntilEachConfirmedAlsoAfterARestart() {
    entity = entity(withDelegations(SETTINGS, 100, Duration.ofMillis(100)));
    given(RunStatus.RUNNING, 1);
    delegate("d-1", delegationSpec("d", DelegationSpec.OnParentEnd.CANCEL));
    DelegationEntity.Start first = nextStart();
    assertEquals(first, nextStart());

    first.replyTo().tell(new DelegationEntity.Started("d-1"));
    receiveUntilQuiet(delegations, 5);
    delegations.expectNoMessage(QUIET);

    entity.restart();
    DelegationEntity.Start again = nextStart();
    assertEquals("d-1", again.delegationId());
  }

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"PENDING", "RUNNING"})
  void cancellingTheRunCancelsEveryLiveDelegationWhateverItsOnParentEnd(RunStatus status) {
    given(status, 1);
    confirmedDelegation("d-1", DelegationSpec.OnParentEnd.CANCEL);
    confirmedDelegation("d-2", DelegationSpec.OnParentEnd.ABANDON);
    confirmedDelegation("d-3", DelegationSpec.OnParentEnd.CANCEL);
    recordEnd("d-3", DelegationStatus.COMPLETED);

    cancel("user asked", null);

    assertEquals(Set.of("d-1", "d-2"), cancelled(2));
    delegations.expectNoMessage(QUIET);
  }

  @ParameterizedTest
  @EnumSource(value = RunStatus.class, names = {"SUCCEEDED", "FAILED"})
  void aRunEndingOtherwiseCancelsOnlyTheDelegationsThatAskedForIt(RunStatus end) {
    given(RunStatus.RUNNING, 1);
    confirmedDelegation("d-1", DelegationSpec.OnParentEnd.CANCEL);
    confirmedDelegation("d-2", DelegationSpec.OnParentEnd.ABANDON);

    CommandResult<RunEntity.Command, RunEvent, RunState> exit = report(exited(1, end == RunStatus.SUCCEEDED ? 0 : 2, null, worker));
    assertEquals(end, exit.state().status());

    assertEquals(Set.of("d-1"), cancelled(1));
    delegations.expectNoMessage(QUIET);
    // the cancel is repeated until the delegation's end is recorded, also after a restart
    entity.restart();
    assertEquals(Set.of("d-1"), cancelled(1));
  }

  @Test
  void aTimedOutRunCancelsItsOnParentEndCancelDelegationsFromItsJournal() {
    RunSpec spec = spec(RetryPolicy.NONE, 3600);
    DelegationSpec cancel = delegationSpec("d-1", DelegationSpec.OnParentEnd.CANCEL);
    DelegationSpec abandon = delegationSpec("d-2", DelegationSpec.OnParentEnd.ABANDON);
    entity.initialize(
        new RunEvent.RunSubmitted(runId, spec, 1, T0),
        new RunEvent.AttemptPlaced(1, placedOn(worker), T0),
        new RunEvent.AttemptStarted(1, startedOn(worker), T0),
        new RunEvent.DelegationRequested("d-1", cancel, T0.plusSeconds(600), 1, T0),
        new RunEvent.DelegationRequested("d-2", abandon, T0.plusSeconds(600), 1, T0),
        new RunEvent.TimeoutReached(1, T0),
        new RunEvent.AttemptExited(1, null, "TERM", T0));
    assertEquals(RunStatus.TIMED_OUT, entity.getState().status());

    // recovered: both are started again (idempotent), and the one that asked for it is cancelled
    assertEquals(Set.of("d-1"), cancelled(1));
    receiveUntilQuiet(delegations, 5);
  }

  @Test
  void aDelegationsEndIsRecordedOnceAndAcknowledgedEveryTime() {
    given(RunStatus.RUNNING, 1);
    confirmedDelegation("d-1", DelegationSpec.OnParentEnd.CANCEL);
    TestProbe<DelegationEntity.Command> delegation = kit.createTestProbe();

    CommandResult<RunEntity.Command, RunEvent, RunState> ended = entity.runCommand(
        new RunEntity.DelegationReport("d-1", DelegationStatus.FAILED, "http_error", delegation.ref()));

    assertEquals(List.of(new RunEvent.DelegationEnded("d-1", DelegationStatus.FAILED, "http_error", 1, T0)), ended.events());
    assertEquals(DelegationStatus.FAILED, ended.state().delegations().get("d-1").status());
    assertEquals(new DelegationEntity.ParentRecorded("d-1"), delegation.receiveMessage(WAIT));

    CommandResult<RunEntity.Command, RunEvent, RunState> again = entity.runCommand(
        new RunEntity.DelegationReport("d-1", DelegationStatus.FAILED, "http_error", delegation.ref()));
    assertTrue(again.events().isEmpty());
    assertEquals(new DelegationEntity.ParentRecorded("d-1"), delegation.receiveMessage(WAIT));
    assertRecovers();

    // an ended delegation is not cancelled with its run
    cancel("user asked", null);
    delegations.expectNoMessage(QUIET);
  }

  @Test
  void aTerminalRunStillRecordsTheEndOfADelegationThatOutlivedIt() {
    given(RunStatus.RUNNING, 1);
    confirmedDelegation("d-1", DelegationSpec.OnParentEnd.ABANDON);
    report(exited(1, 0, null, worker));
    TestProbe<DelegationEntity.Command> delegation = kit.createTestProbe();

    CommandResult<RunEntity.Command, RunEvent, RunState> ended = entity.runCommand(
        new RunEntity.DelegationReport("d-1", DelegationStatus.COMPLETED, null, delegation.ref()));

    assertEquals(1, ended.events().size());
    assertEquals(DelegationStatus.COMPLETED, ended.state().delegations().get("d-1").status());
    assertEquals(RunStatus.SUCCEEDED, ended.state().status());
    assertEquals(new DelegationEntity.ParentRecorded("d-1"), delegation.receiveMessage(WAIT));
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static RunSettings settings(Duration passivateAfter, int snapshotEvery) {
    return withDelegations(new RunSettings(new SubmitRunRequest.Defaults(3600, GRACE, 1, 1), passivateAfter, Duration.ofMinutes(10),
        snapshotEvery, Duration.ofSeconds(20), Duration.ofMinutes(10), Duration.ZERO, RunSettings.LONGEST_TIMER), 100);
  }

  private static RunSettings withStopResend(RunSettings s, Duration stopResendInterval) {
    return new RunSettings(s.defaults(), s.passivateAfter(), stopResendInterval, s.snapshotEvery(), s.leaseRefresh(),
        s.pendingRecheck(), s.lostWorkerDelay(), s.longestTimer(), s.delegations());
  }

  private static RunSettings withPendingRecheck(RunSettings s, Duration pendingRecheck) {
    return new RunSettings(s.defaults(), s.passivateAfter(), s.stopResendInterval(), s.snapshotEvery(), s.leaseRefresh(),
        pendingRecheck, s.lostWorkerDelay(), s.longestTimer(), s.delegations());
  }

  private static RunSettings withLostWorkerDelay(RunSettings s, Duration lostWorkerDelay) {
    return new RunSettings(s.defaults(), s.passivateAfter(), s.stopResendInterval(), s.snapshotEvery(), s.leaseRefresh(),
        s.pendingRecheck(), lostWorkerDelay, s.longestTimer(), s.delegations());
  }

  private static RunSettings withDelegations(RunSettings s, int perRun) {
    return withDelegations(s, perRun, Duration.ofMinutes(10));
  }

  private static RunSettings withDelegations(RunSettings s, int perRun, Duration resend) {
    DelegationSettings d = new DelegationSettings(Duration.ofMinutes(30), 1024 * 1024, Duration.ofSeconds(5), resend,
        Duration.ofSeconds(30), perRun, Duration.ofSeconds(30));
    return new RunSettings(s.defaults(), s.passivateAfter(), s.stopResendInterval(), s.snapshotEvery(), s.leaseRefresh(),
        s.pendingRecheck(), s.lostWorkerDelay(), s.longestTimer(), d);
  }

  /** Delegations as the run reaches them: its test's probe (an entity of an earlier test keeps its own). */
  private static Function<String, RecipientRef<DelegationEntity.Command>> delegationRefs(ActorRef<ToDelegation> probe) {
    return delegationId -> new RecipientRef<>() {
      @Override
      public void tell(DelegationEntity.Command command) {
        probe.tell(new ToDelegation(delegationId, command));
      }
    };
  }

  private DelegationEntity.Start nextStart() {
    return assertInstanceOf(DelegationEntity.Start.class, delegations.receiveMessage(WAIT).command());
  }

  private static DelegationSpec delegationSpec(String text, DelegationSpec.OnParentEnd onParentEnd) {
    return new DelegationSpec(new DelegationTarget.A2a("http://127.0.0.1:9/", new DelegationTarget.Message(text, null)), 600,
        onParentEnd, "key-" + text);
  }

  private CommandResultWithReply<RunEntity.Command, RunEvent, RunState, RunEntity.DelegateReply> delegate(
      String delegationId, DelegationSpec spec) {
    return entity.runCommand(r -> new RunEntity.Delegate(RunAccess.INTERNAL, delegationId, spec, r));
  }

  /** A delegation the run asked for and whose start the delegation confirmed. */
  private void confirmedDelegation(String delegationId, DelegationSpec.OnParentEnd onParentEnd) {
    assertEquals(Outcome.CREATED, delegate(delegationId, delegationSpec(delegationId, onParentEnd)).reply().outcome());
    DelegationEntity.Start start = nextStart();
    assertEquals(delegationId, start.delegationId());
    start.replyTo().tell(new DelegationEntity.Started(delegationId));
  }

  private void recordEnd(String delegationId, DelegationStatus status) {
    TestProbe<DelegationEntity.Command> delegation = kit.createTestProbe();
    entity.runCommand(new RunEntity.DelegationReport(delegationId, status, null, delegation.ref()));
    delegation.expectMessage(WAIT, new DelegationEntity.ParentRecorded(delegationId));
  }

  /** The ids of the next {@code count} delegations the run cancels (each a cancel from Reins itself). */
  private Set<String> cancelled(int count) {
    Set<String> ids = new HashSet<>();
    while (ids.size() < count) {
      ToDelegation to = delegations.receiveMessage(WAIT);
      if (to.command() instanceof DelegationEntity.Start start) {
        start.replyTo().tell(new DelegationEntity.Started(start.delegationId())); // after a restart
        continue;
      }
      DelegationEntity.Cancel cancel = assertInstanceOf(DelegationEntity.Cancel.class, to.command());
      assertNull(cancel.tenant());
      assertNull(cancel.replyTo());
      assertTrue(ids.add(to.delegationId()), "cancelled twice: " + to.delegationId());
    }
    return ids;
  }

  private EventSourcedBehaviorTestKit<RunEntity.Command, RunEvent, RunState> entity(RunSettings settings) {
    return EventSourcedBehaviorTestKit.create(
        kit.system(),
        RunEntity.create(runId, pool.ref(), settings, TenantQuota.Client.UNLIMITED, clock, null, MemberRemovals.NONE,
            delegationRefs(delegations.ref())),
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

  /** What the run asks its pool for. */
  private WorkerPool.RequestSlot slot(int attempt, RunSpec spec, Instant pendingSince) {
    return new WorkerPool.RequestSlot(runId, Tenants.DEFAULT, attempt, spec, pendingSince);
  }

  private RunSpec submitAndTakeSlot(RunSpec spec) {
    assertEquals(Outcome.CREATED, submit(spec).reply().outcome());
    pool.expectMessage(WAIT, slot(1, spec, T0));
    return spec;
  }

  /** Submitted, and the first attempt placed on {@link #worker} (no process yet). */
  private RunSpec placed(RunSpec spec) {
    submitAndTakeSlot(spec);
    place(1, worker);
    return spec;
  }

  /** Submitted, placed on {@link #worker} and its process started. */
  private RunSpec running(RunSpec spec) {
    placed(spec);
    start(1, worker);
    return spec;
  }

  /** {@code by} claims the attempt: the run records it, then grants it. */
  private void place(int attempt, TestProbe<ProcessWorker.Command> by) {
    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(claim(attempt, by));
    assertEquals(List.of(new RunEvent.AttemptPlaced(attempt, placedOn(by), clock.instant())), result.events());
    // running means a process runs: until it has started, the placed attempt is still pending
    assertEquals(RunStatus.PENDING, result.state().status());
    assertEquals(placedOn(by), result.state().worker());
    by.expectMessage(WAIT, new ProcessWorker.ClaimGranted(attempt));
  }

  /** {@code by}, the placed worker, reports its process: the run records it, then acknowledges. */
  private void start(int attempt, TestProbe<ProcessWorker.Command> by) {
    CommandResult<RunEntity.Command, RunEvent, RunState> result = report(started(attempt, by));
    assertEquals(List.of(new RunEvent.AttemptStarted(attempt, startedOn(by), clock.instant())), result.events());
    assertEquals(RunStatus.RUNNING, result.state().status());
    by.expectMessage(WAIT, new ProcessWorker.Ack(attempt, "started"));
  }

  private WorkerInfo placedOn(TestProbe<ProcessWorker.Command> by) {
    return new WorkerInfo("node-a", 0, resolver.toSerializationFormat(by.ref()));
  }

  private WorkerInfo startedOn(TestProbe<ProcessWorker.Command> by) {
    return new WorkerInfo("node-a", 4242, resolver.toSerializationFormat(by.ref()));
  }

  private WorkerReport.Claim claim(int attempt, TestProbe<ProcessWorker.Command> by) {
    return new WorkerReport.Claim(runId, attempt, "node-a", by.ref());
  }

  private WorkerReport.Started started(int attempt, TestProbe<ProcessWorker.Command> by) {
    return new WorkerReport.Started(runId, attempt, "node-a", 4242, by.ref());
  }

  private WorkerReport.Exited exited(int attempt, Integer code, String signal, TestProbe<ProcessWorker.Command> by) {
    return new WorkerReport.Exited(runId, attempt, code, signal, by.ref());
  }

  /** The process was stopped (TERM) because its node was draining. */
  private WorkerReport.Exited interrupted(int attempt, TestProbe<ProcessWorker.Command> by) {
    return new WorkerReport.Exited(runId, attempt, null, "TERM", ProcessWorker.NODE_SHUTDOWN, by.ref());
  }

  /**
   * A worker the run does not want reports a process of {@code attempt}: its start is stopped and
   * acknowledged, its exit only acknowledged (a Stop would come before the Ack), and the run
   * stays {@code unchanged}.
   */
  private void assertStrayProcessIsStoppedAndChangesNothing(
      int attempt, TestProbe<ProcessWorker.Command> by, RunState unchanged) {
    CommandResult<RunEntity.Command, RunEvent, RunState> started = report(started(attempt, by));
    assertTrue(started.events().isEmpty(), "written: " + started.events());
    assertEquals(unchanged, started.state());
    assertEquals(new ProcessWorker.Stop(attempt, Duration.ofSeconds(GRACE)), by.receiveMessage(WAIT));
    assertEquals(new ProcessWorker.Ack(attempt, "started"), by.receiveMessage(WAIT));

    CommandResult<RunEntity.Command, RunEvent, RunState> exited = report(exited(attempt, 0, null, by));
    assertTrue(exited.events().isEmpty(), "written: " + exited.events());
    assertEquals(unchanged, exited.state());
    assertEquals(new ProcessWorker.Ack(attempt, "exited"), by.receiveMessage(WAIT));
  }

  /**
   * Recovers the entity from a journal holding the history that ends in {@code status} at {@code
   * attempt} (1, or 2 after a first attempt that could not start), with {@link #worker} placed
   * and started for the attempt unless it is pending. The spec allows exactly {@code attempt}
   * attempts, so a failure of the last one is final.
   */
  private RunState given(RunStatus status, int attempt) {
    RunSpec spec = spec(new RetryPolicy(attempt, 0), 3600);
    List<RunEvent> events = new ArrayList<>();
    events.add(new RunEvent.RunSubmitted(runId, spec, 1, T0));
    if (attempt == 2) {
      events.add(new RunEvent.AttemptPlaced(1, placedOn(kit.createTestProbe()), T0));
      events.add(new RunEvent.AttemptStartFailed(1, "no such directory", T0));
    }
    if (status != RunStatus.PENDING) {
      events.add(new RunEvent.AttemptPlaced(attempt, placedOn(worker), T0));
      events.add(new RunEvent.AttemptStarted(attempt, startedOn(worker), T0));
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

  private void awaitStatus(RunStatus status) {
    kit.createTestProbe().awaitAssert(WAIT, () -> {
      assertEquals(status, entity.getState().status());
      return null;
    });
  }

  /**
   * Takes what {@code probe} receives until nothing has come for {@link #QUIET}; fails if more
   * than {@code max} messages keep coming (something is still sending them).
   */
  private static int receiveUntilQuiet(TestProbe<?> probe, int max) {
    int received = 0;
    while (true) {
      try {
        probe.receiveMessage(QUIET);
      } catch (AssertionError quiet) {
        return received;
      }
      assertTrue(++received <= max, "still receiving after " + max + " messages");
    }
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
