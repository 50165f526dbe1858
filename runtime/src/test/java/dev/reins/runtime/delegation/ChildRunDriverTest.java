package dev.reins.runtime.delegation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.reins.protocol.delegation.DelegationEvent;
import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import dev.reins.protocol.run.WorkerInfo;
import dev.reins.runtime.run.RunEntity;
import dev.reins.runtime.tenant.TenantQuota;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The child-run driver against scripted runs and a scripted quota: every call it makes is queued
 * with a future the test completes, so each step (and each race, such as a cancel that comes
 * before the child exists) happens in the order the test chooses.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChildRunDriverTest {
  private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final Duration QUIET = Duration.ofMillis(300);
  private static final String TENANT = "tenant-a";
  private static final String PARENT = "parent-run";
  private static final String DELEGATION = "delegation-1";
  private static final String CHILD = ChildRunDriver.childRunId(DELEGATION);
  private static final TenantQuota.Admission ADMITTED = new TenantQuota.Admission(true, null, null, null);

  private final ActorTestKit kit = ActorTestKit.create("ChildRunDriverTest");

  /** A call the driver made, and the answer the test gives it. */
  record Call(String what, String runId, Object argument, CompletableFuture<Object> answer) {}

  private LinkedBlockingQueue<Call> calls;
  private TestProbe<DelegationDriver.Report> reports;

  @BeforeEach
  void fresh() {
    calls = new LinkedBlockingQueue<>();
    reports = kit.createTestProbe();
  }

  @AfterAll
  void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void theChildIsSubmittedUnderItsDerivedIdAndItsSuccessCompletesTheDelegation() {
    start(created());
    answer(next("admit"), ADMITTED);
    Call submit = next("submit");
    assertEquals(CHILD, submit.runId());
    assertEquals(PARENT, ((RunSpecAndParent) submit.argument()).parentRunId());
    assertEquals(List.of("sh", "-c", "exit 0"), ((ProcessSpec) ((RunSpecAndParent) submit.argument()).spec().executor()).command());
    answer(submit, reply(RunEntity.Outcome.CREATED, pending()));
    assertEquals(new DelegationDriver.Started(CHILD, "pending"), reports.receiveMessage(WAIT));

    answer(next("get"), reply(RunEntity.Outcome.UNCHANGED, running()));
    assertEquals(new DelegationDriver.StateChanged("running"), reports.receiveMessage(WAIT));
    answer(next("await"), reply(RunEntity.Outcome.UNCHANGED, exited(0)));

    assertEquals(new DelegationDriver.StateChanged("succeeded"), reports.receiveMessage(WAIT));
    DelegationDriver.Completed completed = assertInstanceOf(DelegationDriver.Completed.class, reports.receiveMessage(WAIT));
    assertEquals(new DelegationResult.ChildOutcome(CHILD, "succeeded", 0, null), completed.result().child());
  }

  @Test
  void aChildThatFailsFailsTheDelegationSayingHow() {
    start(withChild());
    answer(next("get"), reply(RunEntity.Outcome.UNCHANGED, exited(3)));

    assertEquals(new DelegationDriver.StateChanged("failed"), reports.receiveMessage(WAIT));
    DelegationDriver.Failed failed = assertInstanceOf(DelegationDriver.Failed.class, reports.receiveMessage(WAIT));
    assertEquals("child_failed", failed.reason());
    assertTrue(failed.detail().contains("exit 3"), failed.detail());
  }

  @Test
  void aRestartedDriverReattachesToTheJournaledChildWithoutSubmittingAgain() {
    start(withChild());
    Call first = next("get");
    assertEquals(CHILD, first.runId());
    answer(first, reply(RunEntity.Outcome.UNCHANGED, running()));
    assertEquals(new DelegationDriver.StateChanged("running"), reports.receiveMessage(WAIT));
    assertEquals("await", next("await").what());
  }

  @Test
  void aChildTheTenantsQuotaRefusesFailsTheDelegation() {
    start(created());
    answer(next("admit"), new TenantQuota.Admission(false, TenantQuota.Limit.ACTIVE_RUNS, Duration.ofSeconds(5), "too many active runs"));

    DelegationDriver.Failed failed = assertInstanceOf(DelegationDriver.Failed.class, reports.receiveMessage(WAIT));
    assertEquals("tenant_limit", failed.reason());
    assertNull(calls.poll());
  }

  @Test
  void aCancelBeforeTheChildWasSubmittedSubmitsNothingAndEndsConfirmed() {
    ActorRef<DelegationDriver.Command> driver = start(created());
    Call admit = next("admit");
    driver.tell(new DelegationDriver.CancelRemote(Duration.ofSeconds(5)));
    answer(admit, ADMITTED);

    // no submit: the admission's lease goes back, and the cancel goes to the child's id (a child
    // of an earlier life of this delegation would have it)
    assertEquals(CHILD, next("release").runId());
    Call cancel = next("cancel");
    assertEquals(CHILD, cancel.runId());
    answer(cancel, reply(RunEntity.Outcome.NOT_FOUND, RunState.EMPTY));

    DelegationDriver.CancelOutcome outcome = assertInstanceOf(DelegationDriver.CancelOutcome.class, reports.receiveMessage(WAIT));
    assertTrue(outcome.confirmed());
    assertTrue(outcome.detail().contains("no child run exists"), outcome.detail());
    reports.expectNoMessage(QUIET);
    assertNull(calls.poll(), "nothing more is asked");
  }

  @Test
  void aCancelWhileTheChildIsBeingSubmittedCancelsItOnceItExists() {
    ActorRef<DelegationDriver.Command> driver = start(created());
    answer(next("admit"), ADMITTED);
    Call submit = next("submit");
    driver.tell(new DelegationDriver.CancelRemote(Duration.ofSeconds(5)));
    reports.expectNoMessage(QUIET);
    answer(submit, reply(RunEntity.Outcome.CREATED, pending()));

    assertEquals(new DelegationDriver.Started(CHILD, "pending"), reports.receiveMessage(WAIT), "journaled before anything else");
    Call cancel = next("cancel");
    assertEquals(CHILD, cancel.runId());
    answer(cancel, reply(RunEntity.Outcome.CHANGED, cancelledWhilePending()));

    assertEquals(new DelegationDriver.StateChanged("cancelled"), reports.receiveMessage(WAIT));
    assertTrue(assertInstanceOf(DelegationDriver.CancelOutcome.class, reports.receiveMessage(WAIT)).confirmed());
  }

  @Test
  void aChildOfAnEarlierLifeThatTheCancelFindsIsReportedThenWaitedFor() {
    ActorRef<DelegationDriver.Command> driver = start(created());
    Call admit = next("admit");
    driver.tell(new DelegationDriver.CancelRemote(Duration.ofSeconds(5)));
    answer(admit, ADMITTED);
    next("release");
    Call cancel = next("cancel");
    answer(cancel, reply(RunEntity.Outcome.CHANGED, cancelling()));

    assertEquals(new DelegationDriver.Started(CHILD, "cancelling"), reports.receiveMessage(WAIT));
    answer(next("await"), reply(RunEntity.Outcome.UNCHANGED, cancelledAfterStop()));
    assertEquals(new DelegationDriver.StateChanged("cancelled"), reports.receiveMessage(WAIT));
    assertTrue(assertInstanceOf(DelegationDriver.CancelOutcome.class, reports.receiveMessage(WAIT)).confirmed());
  }

  @Test
  void aCancelOfAWorkingChildEndsWhenTheChildHasEnded() {
    ActorRef<DelegationDriver.Command> driver = start(withChild());
    answer(next("get"), reply(RunEntity.Outcome.UNCHANGED, running()));
    reports.receiveMessage(WAIT);
    Call watching = next("await");

    driver.tell(new DelegationDriver.CancelRemote(Duration.ofSeconds(5)));
    answer(next("cancel"), reply(RunEntity.Outcome.CHANGED, cancelling()));
    Call await = next("await");
    answer(await, reply(RunEntity.Outcome.UNCHANGED, cancelledAfterStop()));
    assertEquals(new DelegationDriver.StateChanged("cancelled"), reports.receiveMessage(WAIT));
    assertTrue(assertInstanceOf(DelegationDriver.CancelOutcome.class, reports.receiveMessage(WAIT)).confirmed());
    // the first watch ending as well changes nothing more than another look
    answer(watching, reply(RunEntity.Outcome.UNCHANGED, cancelledAfterStop()));
  }

  @Test
  void aCancelTheChildDoesNotAnswerIsNotConfirmed() {
    ActorRef<DelegationDriver.Command> driver = start(withChild());
    answer(next("get"), reply(RunEntity.Outcome.UNCHANGED, running()));
    reports.receiveMessage(WAIT);
    next("await");

    driver.tell(new DelegationDriver.CancelRemote(Duration.ofSeconds(5)));
    next("cancel").answer().completeExceptionally(new java.util.concurrent.TimeoutException("no answer"));

    DelegationDriver.CancelOutcome outcome = assertInstanceOf(DelegationDriver.CancelOutcome.class, reports.receiveMessage(WAIT));
    assertEquals(false, outcome.confirmed());
    assertTrue(outcome.detail().contains("did not answer"), outcome.detail());
  }

  // ---- helpers --------------------------------------------------------------------------------

  record RunSpecAndParent(RunSpec spec, String parentRunId, String delegationId) {}

  private ActorRef<DelegationDriver.Command> start(DelegationState state) {
    ChildRunDriver driver = new ChildRunDriver(new ScriptedRuns(), new ScriptedQuota(), Duration.ofSeconds(7), Duration.ofSeconds(30));
    return kit.spawn(driver.create(state, reports.ref()));
  }

  private Call next(String what) {
    Call call;
    try {
      call = calls.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertNotNull(call, "the driver asked nothing; expected " + what);
    assertEquals(what, call.what(), "the driver's next call: " + call);
    return call;
  }

  private static void answer(Call call, Object answer) {
    call.answer().complete(answer);
  }

  @SuppressWarnings("unchecked")
  private <T> CompletionStage<T> ask(String what, String runId, Object argument) {
    CompletableFuture<Object> answer = new CompletableFuture<>();
    calls.add(new Call(what, runId, argument, answer));
    return (CompletionStage<T>) answer;
  }

  private final class ScriptedRuns implements ChildRunDriver.ChildRuns {
    @Override
    public CompletionStage<RunEntity.Reply> submitChild(String runId, String tenant, RunSpec spec, String parentRunId, String delegationId) {
      assertEquals(TENANT, tenant);
      return ask("submit", runId, new RunSpecAndParent(spec, parentRunId, delegationId));
    }

    @Override
    public CompletionStage<RunEntity.Reply> get(String runId) {
      return ask("get", runId, null);
    }

    @Override
    public CompletionStage<RunEntity.Reply> cancel(String runId, String reason) {
      return ask("cancel", runId, reason);
    }

    @Override
    public CompletionStage<RunEntity.Reply> awaitTerminal(String runId, Duration wait) {
      return ask("await", runId, wait);
    }
  }

  private final class ScriptedQuota implements TenantQuota.Client {
    @Override
    public CompletionStage<TenantQuota.Admission> admit(String tenant, String runId) {
      return ask("admit", runId, tenant);
    }

    @Override
    public void hold(String tenant, String runId) {
      calls.add(new Call("hold", runId, tenant, new CompletableFuture<>()));
    }

    @Override
    public void release(String tenant, String runId) {
      calls.add(new Call("release", runId, tenant, new CompletableFuture<>()));
    }
  }

  private static DelegationState created() {
    DelegationSpec spec = new DelegationSpec(
        new DelegationTarget.Run(new ProcessSpec(List.of("sh", "-c", "exit 0"), Map.of(), null), 60), 600,
        DelegationSpec.OnParentEnd.CANCEL, null);
    return DelegationState.EMPTY.apply(new DelegationEvent.DelegationCreated(DELEGATION, PARENT, TENANT, spec, T0.plusSeconds(600), T0));
  }

  /** The child's id is journaled (a restart). */
  private static DelegationState withChild() {
    return created().apply(new DelegationEvent.RemoteTaskStarted(CHILD, "pending", T0));
  }

  private static RunEntity.Reply reply(RunEntity.Outcome outcome, RunState state) {
    return new RunEntity.Reply(outcome, state, 1, null);
  }

  private static RunState pending() {
    RunSpec spec = new RunSpec(new ProcessSpec(List.of("sh", "-c", "exit 0"), Map.of(), null), 60, 7,
        dev.reins.protocol.run.RetryPolicy.NONE, Map.of(), null);
    return RunState.EMPTY.apply(new RunEvent.RunSubmitted(CHILD, spec, 1, T0, TENANT, PARENT, DELEGATION));
  }

  private static RunState running() {
    WorkerInfo worker = new WorkerInfo("node-a", 42, "pekko://x/user/w");
    return pending().apply(new RunEvent.AttemptPlaced(1, worker, T0)).apply(new RunEvent.AttemptStarted(1, worker, T0));
  }

  private static RunState exited(int code) {
    RunState s = running().apply(new RunEvent.AttemptExited(1, code, null, T0));
    assertEquals(code == 0 ? RunStatus.SUCCEEDED : RunStatus.FAILED, s.status());
    return s;
  }

  private static RunState cancelledWhilePending() {
    return pending().apply(new RunEvent.CancelRequested(1, "its delegation was cancelled", T0));
  }

  private static RunState cancelling() {
    return running().apply(new RunEvent.CancelRequested(1, "its delegation was cancelled", T0));
  }

  private static RunState cancelledAfterStop() {
    return cancelling().apply(new RunEvent.AttemptExited(1, null, "TERM", T0));
  }
}
