package dev.reins.runtime.delegation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.delegation.DelegationEvent;
import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.runtime.delegation.DelegationEntity.Outcome;
import dev.reins.runtime.delegation.DelegationEntity.Reply;
import dev.reins.runtime.run.RunEntity;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResultWithReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A delegation's life, one test per row of the transition table in {@link DelegationEntity}. The
 * remote work is a scripted driver: every driver the entity creates announces itself (with the
 * state it was created from and the ref it reports to) and forwards what the entity asks of it
 * to a probe, so a test plays the remote side. The parent run is a probe; the clock stands still
 * until a test moves it, so a deadline passes when the test says so.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DelegationEntityTest {

  private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");
  private static final Duration WAIT = Duration.ofSeconds(10);
  /** How long a test listens to be sure that something does not happen (not a timing claim). */
  private static final Duration QUIET = Duration.ofMillis(300);
  private static final String TENANT = "tenant-a";
  private static final String RUN = "run-1";

  private static final Config CONFIG =
      ConfigFactory.parseString(
              "pekko.actor.provider = local\n"
                  + "pekko.actor.testkit.typed.single-expect-default = 10s")
          .withFallback(EventSourcedBehaviorTestKit.config())
          .withFallback(PersistenceTestKitSnapshotPlugin.config())
          .withFallback(ConfigFactory.load());

  /** No resends, no passivation and no cancel wait run out during a test unless it asks for them. */
  private static final DelegationSettings SETTINGS = new DelegationSettings(Duration.ofMinutes(30), 64, Duration.ofMinutes(10),
      Duration.ofMinutes(10), Duration.ofMinutes(10), 100, Duration.ofSeconds(30));

  private final ActorTestKit kit = ActorTestKit.create("DelegationEntityTest", CONFIG);
  private final AtomicInteger ids = new AtomicInteger();

  private MutableClock clock;
  private TestProbe<Object> remote;
  private TestProbe<RunEntity.Command> parent;
  private String delegationId;
  private EventSourcedBehaviorTestKit<DelegationEntity.Command, DelegationEvent, DelegationState> entity;

  /** A driver the entity created: what it was created from, and how the test reports as it. */
  record DriverCreated(DelegationState state, ActorRef<DelegationDriver.Report> reportTo) {}

  @BeforeEach
  void newDelegation() {
    clock = new MutableClock(T0);
    remote = kit.createTestProbe();
    parent = kit.createTestProbe();
    delegationId = "delegation-" + ids.incrementAndGet();
    entity = entity(SETTINGS);
  }

  @AfterAll
  void shutdown() {
    kit.shutdownTestKit();
  }

  // ---- (none) ---------------------------------------------------------------------------------

  @Test
  void startJournalsTheAbsoluteDeadlineItWasGivenAndStartsTheRemoteWork() {
    Instant deadline = T0.plusSeconds(600);

    CommandResultWithReply<DelegationEntity.Command, DelegationEvent, DelegationState, DelegationEntity.Started> result =
        start(deadline);

    assertEquals(new DelegationEntity.Started(delegationId), result.reply());
    assertEquals(List.of(new DelegationEvent.DelegationCreated(delegationId, RUN, TENANT, spec(), deadline, T0)), result.events());
    assertEquals(DelegationStatus.PENDING, result.state().status());
    assertEquals(deadline, result.state().deadline());
    DriverCreated driver = driverCreated();
    assertEquals(result.state(), driver.state());

    // the run repeats its start until it hears of it: a repeat changes nothing, starts nothing
    CommandResultWithReply<DelegationEntity.Command, DelegationEvent, DelegationState, DelegationEntity.Started> again =
        start(deadline.plusSeconds(99));
    assertEquals(new DelegationEntity.Started(delegationId), again.reply());
    assertTrue(again.events().isEmpty());
    assertEquals(deadline, again.state().deadline());
    remote.expectNoMessage(QUIET);
  }

  @Test
  void anUnknownDelegationIsNotFoundAndWritesNothing() {
    assertEquals(Outcome.NOT_FOUND, entity.<Reply>runCommand(r -> new DelegationEntity.Get(null, r)).reply().outcome());
    assertEquals(Outcome.NOT_FOUND, entity.<Reply>runCommand(r -> new DelegationEntity.AwaitEnd(null, r)).reply().outcome());
    assertEquals(Outcome.NOT_FOUND, entity.<Reply>runCommand(r -> new DelegationEntity.Cancel(null, "why", r)).reply().outcome());
    assertTrue(persisted().isEmpty());
    remote.expectNoMessage(QUIET);
  }

  // ---- working --------------------------------------------------------------------------------

  @Test
  void theRemoteIdIsJournaledBeforeAnythingTheDriverReportsAfterIt() {
    start(T0.plusSeconds(600));
    DriverCreated driver = driverCreated();

    // reported back to back: each is written in order, the remote id first
    driver.reportTo().tell(new DelegationDriver.Started("task-1", "submitted"));
    driver.reportTo().tell(new DelegationDriver.StateChanged("working"));
    driver.reportTo().tell(new DelegationDriver.StateChanged("working")); // not a change: not journaled
    driver.reportTo().tell(new DelegationDriver.Completed(new DelegationResult(List.of(text("done")), null, false)));

    awaitStatus(DelegationStatus.COMPLETED);
    List<Object> events = persisted();
    assertEquals(4, events.size(), events.toString());
    assertInstanceOf(DelegationEvent.DelegationCreated.class, events.get(0));
    assertEquals("task-1", ((DelegationEvent.RemoteTaskStarted) events.get(1)).remoteId());
    assertEquals("working", ((DelegationEvent.RemoteStateChanged) events.get(2)).remoteState());
    assertInstanceOf(DelegationEvent.DelegationCompleted.class, events.get(3));
    DelegationState s = entity.getState();
    assertEquals("task-1", s.remoteId());
    assertEquals("working", s.remoteState());
    assertEquals(List.of(text("done")), s.result().parts());
    assertFalse(s.result().truncated());
    assertNull(s.reason());
  }

  @Test
  void aRestartReattachesTheDriverToTheJournaledRemoteWork() {
    start(T0.plusSeconds(600));
    driverCreated().reportTo().tell(new DelegationDriver.Started("task-1", "submitted"));
    awaitStatus(DelegationStatus.WORKING);

    assertRecovers();

    DriverCreated again = driverCreated();
    assertEquals("task-1", again.state().remoteId(), "a new driver re-attaches to the same remote task");
    // a re-attached driver's repeated Started is not journaled twice
    again.reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    again.reportTo().tell(new DelegationDriver.Failed("remote_failed", "the task ended failed"));
    awaitStatus(DelegationStatus.FAILED);
    assertEquals(1, persisted().stream().filter(e -> e instanceof DelegationEvent.RemoteTaskStarted).count());
  }

  @Test
  void aFailureOfTheDriverEndsTheDelegationFailedWithItsReasonAndDetailAndTellsTheRun() {
    start(T0.plusSeconds(600));
    driverCreated().reportTo().tell(new DelegationDriver.Failed("http_error", "HTTP 500 from http://127.0.0.1:9/"));

    awaitStatus(DelegationStatus.FAILED);
    assertEquals(new DelegationEvent.DelegationFailed("http_error", "HTTP 500 from http://127.0.0.1:9/", T0), last(persisted()));
    DelegationState s = entity.getState();
    assertEquals("http_error", s.reason());
    assertEquals("HTTP 500 from http://127.0.0.1:9/", s.detail());
    RunEntity.DelegationReport report = parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT);
    assertEquals(delegationId, report.delegationId());
    assertEquals(DelegationStatus.FAILED, report.status());
    assertEquals("http_error", report.reason());
  }

  @Test
  void aDriverThatStopsBeforeTheEndFailsTheDelegationLoudly() {
    start(T0.plusSeconds(600));
    DriverCreated driver = driverCreated();
    remote.expectNoMessage(QUIET);
    driver.reportTo().tell(new DelegationDriver.StateChanged("working"));
    awaitAssert(() -> assertEquals("working", entity.getState().remoteState()));
    lastDriver.tell(new StopDriver()); // the scripted driver stops when told so (a bug, in a real one)

    awaitStatus(DelegationStatus.FAILED);
    assertEquals("internal_error", entity.getState().reason());
  }

  @Test
  void aResultOverTheCapIsCutAndSaysTruncated() {
    start(T0.plusSeconds(600));
    DriverCreated driver = driverCreated();
    driver.reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    String big = "x".repeat(200); // the test settings cap results at 64 bytes
    driver.reportTo().tell(new DelegationDriver.Completed(new DelegationResult(List.of(text("abc"), text(big), text("never")), null, false)));

    awaitStatus(DelegationStatus.COMPLETED);
    DelegationResult result = entity.getState().result();
    assertTrue(result.truncated());
    assertEquals(List.of(text("abc"), text("x".repeat(61))), result.parts());
  }

  @Test
  void resultsAreCappedAtOneMebibyteByDefaultWithoutSplittingACharacter() {
    DelegationSettings configured = DelegationSettings.fromConfig(ConfigFactory.load());
    assertEquals(DelegationSettings.DEFAULTS, configured);
    assertEquals(1024 * 1024, configured.resultCap());

    String mebibyte = "y".repeat(1024 * 1024);
    DelegationResult fits = DelegationResults.cap(new DelegationResult(List.of(text(mebibyte)), null, false), configured.resultCap());
    assertFalse(fits.truncated());
    DelegationResult over = DelegationResults.cap(new DelegationResult(List.of(text(mebibyte), text("z")), null, false),
        configured.resultCap());
    assertTrue(over.truncated());
    assertEquals(List.of(text(mebibyte)), over.parts());

    // a data part that does not fit is left out, not cut; text is cut between characters
    DelegationResult data = DelegationResults.cap(new DelegationResult(List.of(
        new DelegationResult.Part("a", null, com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode().put("k", "v".repeat(100)))),
        null, false), 64);
    assertEquals(List.of(), data.parts());
    assertTrue(data.truncated());
    DelegationResult accents = DelegationResults.cap(new DelegationResult(List.of(text("\u00e9".repeat(40))), null, false), 65);
    assertEquals(List.of(text("\u00e9".repeat(32))), accents.parts());
  }

  // ---- the deadline ---------------------------------------------------------------------------

  @Test
  void pastItsDeadlineTheDelegationCancelsTheRemoteWorkAndEndsTimedOut() {
    start(T0.minusSeconds(1)); // asked for long ago: already over budget when it starts
    DriverCreated driver = driverCreated();
    driver.reportTo().tell(new DelegationDriver.Started("task-1", "working"));

    assertEquals(new DelegationDriver.CancelRemote(SETTINGS.cancelWait()), remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT));
    driver.reportTo().tell(new DelegationDriver.CancelOutcome(true, "task task-1 canceled"));

    awaitStatus(DelegationStatus.TIMED_OUT);
    DelegationState s = entity.getState();
    assertEquals("deadline", s.reason());
    assertTrue(s.detail().contains("remote work cancelled: task task-1 canceled"), s.detail());
    assertEquals(DelegationStatus.TIMED_OUT, parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT).status());
  }

  @Test
  void afterARestartTheDelegationHasOnlyTheBudgetThatWasLeft() {
    Instant deadline = T0.plusSeconds(600);
    start(deadline);
    driverCreated().reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    awaitStatus(DelegationStatus.WORKING);

    // the node was down for most of the budget: one second is left when it comes back
    clock.set(deadline.minusSeconds(1));
    assertRecovers();
    DriverCreated driver = driverCreated();
    assertEquals(deadline, driver.state().deadline());
    remote.expectNoMessage(QUIET);

    // once that second has passed (on the clock), it times out: a fresh budget would be 600 s
    clock.set(deadline.plusMillis(1));
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    driver.reportTo().tell(new DelegationDriver.CancelOutcome(true, "canceled"));
    awaitStatus(DelegationStatus.TIMED_OUT);
  }

  @Test
  void aDelegationRestartedPastItsDeadlineTimesOutAtOnce() {
    Instant deadline = T0.plusSeconds(600);
    start(deadline);
    driverCreated().reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    awaitStatus(DelegationStatus.WORKING);

    clock.set(deadline.plusSeconds(3600));
    assertRecovers();

    DriverCreated driver = driverCreated();
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    driver.reportTo().tell(new DelegationDriver.CancelOutcome(true, "canceled"));
    awaitStatus(DelegationStatus.TIMED_OUT);
  }

  @Test
  void aTimeoutWhoseRemoteCancelIsNotConfirmedStillEndsTimedOutSayingSo() {
    entity = entity(withCancelWait(Duration.ofMillis(200)));
    start(T0.minusSeconds(1));
    driverCreated().reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    // the remote side never answers

    awaitStatus(DelegationStatus.TIMED_OUT);
    assertTrue(entity.getState().detail().contains("remote cancel not confirmed"), entity.getState().detail());
    assertTrue(entity.getState().detail().contains("200 ms"), entity.getState().detail());
  }

  @Test
  void workThatCompletesAfterTheDeadlinePassedIsNotCompleted() {
    start(T0.minusSeconds(1));
    DriverCreated driver = driverCreated();
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    driver.reportTo().tell(new DelegationDriver.Completed(new DelegationResult(List.of(text("late")), null, false)));

    awaitStatus(DelegationStatus.TIMED_OUT);
    assertNull(entity.getState().result());
  }

  // ---- cancel ---------------------------------------------------------------------------------

  @Test
  void aCancelAsksTheRemoteSideAndEndsCancelledWhenItConfirms() {
    start(T0.plusSeconds(600));
    DriverCreated driver = driverCreated();
    driver.reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    awaitStatus(DelegationStatus.WORKING); // the report is a message of its own: journaled before the cancel

    CommandResultWithReply<DelegationEntity.Command, DelegationEvent, DelegationState, Reply> cancel = cancel(TENANT);
    assertEquals(Outcome.CHANGED, cancel.reply().outcome());
    assertEquals(List.of(new DelegationEvent.DelegationCancelRequested("a client asked", T0)), cancel.events());
    assertEquals(DelegationStatus.WORKING, cancel.state().status(), "working until the remote side answered");

    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    // a second cancel while the first is under way writes nothing and asks nothing more
    assertEquals(Outcome.OK, cancel(TENANT).reply().outcome());
    driver.reportTo().tell(new DelegationDriver.CancelOutcome(true, "task task-1 canceled"));

    awaitStatus(DelegationStatus.CANCELLED);
    assertEquals("remote work cancelled: task task-1 canceled", entity.getState().detail());
    assertEquals(DelegationStatus.CANCELLED, parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT).status());
    remote.expectNoMessage(QUIET);
    assertEquals(Outcome.ALREADY_TERMINAL, cancel(TENANT).reply().outcome());
  }

  @Test
  void aCancelWhoseRemoteCancelIsNeverConfirmedStillEndsCancelledWithinTheBound() {
    entity = entity(withCancelWait(Duration.ofMillis(200)));
    start(T0.plusSeconds(600));
    driverCreated().reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    cancel(TENANT);
    assertEquals(new DelegationDriver.CancelRemote(Duration.ofMillis(200)), remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT));
    // the peer never answers the cancel

    awaitStatus(DelegationStatus.CANCELLED);
    String detail = entity.getState().detail();
    assertTrue(detail.startsWith("remote cancel not confirmed"), detail);
    assertTrue(detail.contains("did not confirm the cancel within 200 ms"), detail);
  }

  @Test
  void aCancelIsNeverLostAcrossARestart() {
    start(T0.plusSeconds(600));
    driverCreated().reportTo().tell(new DelegationDriver.Started("task-1", "working"));
    cancel(TENANT);
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);

    assertRecovers();

    DriverCreated driver = driverCreated();
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    driver.reportTo().tell(new DelegationDriver.CancelOutcome(true, "canceled"));
    awaitStatus(DelegationStatus.CANCELLED);
  }

  @Test
  void theRemoteWorkFailingWhileBeingCancelledEndsCancelled() {
    start(T0.plusSeconds(600));
    DriverCreated driver = driverCreated();
    cancel(TENANT);
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    driver.reportTo().tell(new DelegationDriver.Failed("remote_canceled", "the task ended canceled"));

    awaitStatus(DelegationStatus.CANCELLED);
    assertTrue(entity.getState().detail().contains("the task ended canceled"), entity.getState().detail());
  }

  @Test
  void anotherTenantCanNeitherSeeNorCancelTheDelegation() {
    start(T0.plusSeconds(600));
    driverCreated();

    assertEquals(Outcome.NOT_FOUND, entity.<Reply>runCommand(r -> new DelegationEntity.Get("tenant-b", r)).reply().outcome());
    assertEquals(Outcome.NOT_FOUND, entity.<Reply>runCommand(r -> new DelegationEntity.AwaitEnd("tenant-b", r)).reply().outcome());
    CommandResultWithReply<DelegationEntity.Command, DelegationEvent, DelegationState, Reply> cancel = cancel("tenant-b");
    assertEquals(Outcome.NOT_FOUND, cancel.reply().outcome());
    assertTrue(cancel.events().isEmpty());
    remote.expectNoMessage(QUIET);
    assertEquals(Outcome.OK, entity.<Reply>runCommand(r -> new DelegationEntity.Get(TENANT, r)).reply().outcome());
  }

  @Test
  void aClientWaitingForTheEndHearsOfItWhenItComes() {
    start(T0.plusSeconds(600));
    DriverCreated driver = driverCreated();
    TestProbe<Reply> waiting = kit.createTestProbe();
    entity.runCommand(new DelegationEntity.AwaitEnd(TENANT, waiting.ref()));
    waiting.expectNoMessage(QUIET);

    driver.reportTo().tell(new DelegationDriver.Completed(new DelegationResult(List.of(), null, false)));

    Reply reply = waiting.receiveMessage(WAIT);
    assertEquals(DelegationStatus.COMPLETED, reply.state().status());
    assertTrue(DelegationEntity.ended(reply));
  }

  // ---- telling the run ------------------------------------------------------------------------

  @Test
  void theRunIsToldTheOutcomeAgainUntilItSaysItRecordedIt() {
    entity = entity(withParentResend(Duration.ofMillis(50)));
    start(T0.plusSeconds(600));
    driverCreated().reportTo().tell(new DelegationDriver.Failed("rpc_error", "JSON-RPC error -32000"));

    RunEntity.DelegationReport first = parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT);
    RunEntity.DelegationReport second = parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT);
    assertEquals(first, second);

    entity.runCommand(new DelegationEntity.ParentRecorded(delegationId));
    awaitAssert(() -> assertTrue(entity.getState().parentInformed()));
    assertInstanceOf(DelegationEvent.ParentInformed.class, last(persisted()));
    receiveUntilQuiet(parent, 5);
    parent.expectNoMessage(QUIET);

    // a repeated acknowledgement writes nothing
    assertTrue(entity.runCommand(new DelegationEntity.ParentRecorded(delegationId)).events().isEmpty());
  }

  @Test
  void anEndedDelegationTellsTheRunAgainAfterARestartUntilTheRunRecordedIt() {
    start(T0.plusSeconds(600));
    driverCreated().reportTo().tell(new DelegationDriver.Completed(new DelegationResult(List.of(), null, false)));
    parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT);

    assertRecovers();
    RunEntity.DelegationReport again = parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT);
    assertEquals(DelegationStatus.COMPLETED, again.status());
    remote.expectNoMessage(QUIET); // an ended delegation starts no driver

    entity.runCommand(new DelegationEntity.ParentRecorded(delegationId));
    assertRecovers();
    parent.expectNoMessage(QUIET);
  }

  // ---- recovery -------------------------------------------------------------------------------

  @Test
  void recoveryRebuildsTheSameStateAtEveryStep() {
    start(T0.plusSeconds(600));
    driverCreated();
    assertRecovers();
    DriverCreated driver = driverCreated();
    driver.reportTo().tell(new DelegationDriver.Started("task-1", "submitted"));
    awaitStatus(DelegationStatus.WORKING);
    assertRecovers();
    driver = driverCreated();
    driver.reportTo().tell(new DelegationDriver.StateChanged("working"));
    awaitAssert(() -> assertEquals("working", entity.getState().remoteState()));
    assertRecovers();
    driver = driverCreated();
    cancel(TENANT);
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    assertRecovers();
    driver = driverCreated();
    remote.expectMessageClass(DelegationDriver.CancelRemote.class, WAIT);
    driver.reportTo().tell(new DelegationDriver.CancelOutcome(false, "the peer answered 500"));
    awaitStatus(DelegationStatus.CANCELLED);
    assertRecovers();
    entity.runCommand(new DelegationEntity.ParentRecorded(delegationId));
    assertRecovers();
    assertTrue(entity.getState().parentInformed());
    assertEquals(6, persisted().size());
  }

  // ---- leaving memory -------------------------------------------------------------------------

  @Test
  void anEndedDelegationTheRunRecordedAsksItsShardToPassivateIt() {
    DelegationSettings eager = new DelegationSettings(SETTINGS.defaultTimeout(), SETTINGS.resultCap(), SETTINGS.cancelWait(),
        SETTINGS.parentResend(), Duration.ofMillis(100), SETTINGS.perRun(), SETTINGS.childRunWatch());
    TestProbe<ClusterSharding.ShardCommand> shard = kit.createTestProbe();
    TestProbe<DelegationEntity.Command> throughSharding = kit.createTestProbe();
    ActorRef<DelegationEntity.Command> d = kit.spawn(DelegationEntity.create(delegationId, new ScriptedDriver(remote.ref()),
        eager, clock, runId -> parent.ref(), new DelegationEntity.Sharded(shard.ref(), throughSharding.ref())));
    TestProbe<DelegationEntity.Started> started = kit.createTestProbe();
    d.tell(new DelegationEntity.Start(delegationId, RUN, TENANT, spec(), T0.plusSeconds(600), started.ref()));
    started.receiveMessage(WAIT);
    DriverCreated driver = driverCreated();
    shard.expectNoMessage(QUIET); // a live delegation stays

    driver.reportTo().tell(new DelegationDriver.Completed(new DelegationResult(List.of(), null, false)));
    RunEntity.DelegationReport report = parent.expectMessageClass(RunEntity.DelegationReport.class, WAIT);
    shard.expectNoMessage(QUIET); // not until the run recorded the end
    report.replyTo().tell(new DelegationEntity.ParentRecorded(delegationId));

    // through its shard: with remembered entities, stopping by itself would only start it again
    assertEquals(new ClusterSharding.Passivate<>(d), shard.receiveMessage(WAIT));
    d.tell(new DelegationEntity.StopEntity());
    throughSharding.expectTerminated(d, WAIT);
    throughSharding.expectNoMessage(QUIET);
  }

  @Test
  void aDelegationGivenWorkWhilePassivatingComesBackThroughSharding() {
    DelegationSettings eager = new DelegationSettings(SETTINGS.defaultTimeout(), SETTINGS.resultCap(), SETTINGS.cancelWait(),
        SETTINGS.parentResend(), Duration.ofMillis(100), SETTINGS.perRun(), SETTINGS.childRunWatch());
    TestProbe<ClusterSharding.ShardCommand> shard = kit.createTestProbe();
    TestProbe<DelegationEntity.Command> throughSharding = kit.createTestProbe();
    ActorRef<DelegationEntity.Command> d = kit.spawn(DelegationEntity.create(delegationId, new ScriptedDriver(remote.ref()),
        eager, clock, runId -> parent.ref(), new DelegationEntity.Sharded(shard.ref(), throughSharding.ref())));
    // a look-up before the run's start arrived: nothing here, so it asks to leave
    TestProbe<Reply> client = kit.createTestProbe();
    d.tell(new DelegationEntity.Get(TENANT, client.ref()));
    assertEquals(Outcome.NOT_FOUND, client.receiveMessage(WAIT).outcome());
    assertEquals(new ClusterSharding.Passivate<>(d), shard.receiveMessage(WAIT));

    // the run's start slips in before the shard's stop message
    TestProbe<DelegationEntity.Started> started = kit.createTestProbe();
    d.tell(new DelegationEntity.Start(delegationId, RUN, TENANT, spec(), T0.plusSeconds(600), started.ref()));
    started.receiveMessage(WAIT);
    d.tell(new DelegationEntity.StopEntity());

    throughSharding.expectMessage(WAIT, new DelegationEntity.Wake());
    throughSharding.expectTerminated(d, WAIT);
  }

  @Test
  void withoutAShardAnUnknownDelegationStops() {
    DelegationSettings eager = new DelegationSettings(SETTINGS.defaultTimeout(), SETTINGS.resultCap(), SETTINGS.cancelWait(),
        SETTINGS.parentResend(), Duration.ofMillis(100), SETTINGS.perRun(), SETTINGS.childRunWatch());
    ActorRef<DelegationEntity.Command> d = kit.spawn(DelegationEntity.create(delegationId, new ScriptedDriver(remote.ref()),
        eager, clock, runId -> parent.ref(), null));
    TestProbe<Reply> client = kit.createTestProbe();
    d.tell(new DelegationEntity.Get(null, client.ref()));
    assertEquals(Outcome.NOT_FOUND, client.receiveMessage(WAIT).outcome());
    client.expectTerminated(d, WAIT);
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Makes a {@link ScriptedDriver} stop, as a driver with a bug would. */
  record StopDriver() implements DelegationDriver.Command {}

  /** Announces each driver the entity creates, and forwards what the entity asks of it. */
  static final class ScriptedDriver implements DelegationDriver {
    private final ActorRef<Object> remote;

    ScriptedDriver(ActorRef<Object> remote) {
      this.remote = remote;
    }

    @Override
    public Behavior<Command> create(DelegationState state, ActorRef<Report> reportTo) {
      return Behaviors.setup(ctx -> {
        remote.tell(new DriverCreated(state, reportTo));
        remote.tell(ctx.getSelf());
        return Behaviors.receiveMessage(m -> {
          if (m instanceof StopDriver) {
            return Behaviors.stopped();
          }
          remote.tell(m);
          return Behaviors.same();
        });
      });
    }
  }

  /** The actor of the driver {@link #driverCreated} returned last. */
  private ActorRef<DelegationDriver.Command> lastDriver;

  /** The next driver the entity created. */
  @SuppressWarnings("unchecked")
  private DriverCreated driverCreated() {
    DriverCreated created = remote.expectMessageClass(DriverCreated.class, WAIT);
    lastDriver = remote.expectMessageClass(ActorRef.class, WAIT);
    return created;
  }

  private EventSourcedBehaviorTestKit<DelegationEntity.Command, DelegationEvent, DelegationState> entity(DelegationSettings settings) {
    return EventSourcedBehaviorTestKit.create(
        kit.system(),
        DelegationEntity.create(delegationId, new ScriptedDriver(remote.ref()), settings, clock, runId -> parent.ref(), null),
        EventSourcedBehaviorTestKit.enabledSerializationSettings().withVerifyEquality(true));
  }

  private static DelegationSettings withCancelWait(Duration cancelWait) {
    return new DelegationSettings(SETTINGS.defaultTimeout(), SETTINGS.resultCap(), cancelWait, SETTINGS.parentResend(),
        SETTINGS.passivateAfter(), SETTINGS.perRun(), SETTINGS.childRunWatch());
  }

  private static DelegationSettings withParentResend(Duration parentResend) {
    return new DelegationSettings(SETTINGS.defaultTimeout(), SETTINGS.resultCap(), SETTINGS.cancelWait(), parentResend,
        SETTINGS.passivateAfter(), SETTINGS.perRun(), SETTINGS.childRunWatch());
  }

  private static DelegationSpec spec() {
    return new DelegationSpec(new DelegationTarget.A2a("http://127.0.0.1:9/", new DelegationTarget.Message("hello", null)), 600,
        DelegationSpec.OnParentEnd.CANCEL, null);
  }

  private static DelegationResult.Part text(String text) {
    return new DelegationResult.Part("answer", text, null);
  }

  private CommandResultWithReply<DelegationEntity.Command, DelegationEvent, DelegationState, DelegationEntity.Started> start(
      Instant deadline) {
    return entity.runCommand(r -> new DelegationEntity.Start(delegationId, RUN, TENANT, spec(), deadline, r));
  }

  private CommandResultWithReply<DelegationEntity.Command, DelegationEvent, DelegationState, Reply> cancel(String tenant) {
    return entity.runCommand(r -> new DelegationEntity.Cancel(tenant, "a client asked", r));
  }

  private void assertRecovers() {
    DelegationState before = entity.getState();
    assertEquals(before, entity.restart().state());
    assertEquals(before, entity.getState());
  }

  private void awaitStatus(DelegationStatus status) {
    awaitAssert(() -> assertEquals(status, entity.getState().status()));
  }

  private void awaitAssert(Runnable check) {
    kit.createTestProbe().awaitAssert(WAIT, () -> {
      check.run();
      return null;
    });
  }

  private static void receiveUntilQuiet(TestProbe<?> probe, int max) {
    int received = 0;
    while (true) {
      try {
        probe.receiveMessage(QUIET);
      } catch (AssertionError quiet) {
        return;
      }
      assertTrue(++received <= max, "still receiving after " + max + " messages");
    }
  }

  private List<Object> persisted() {
    return entity.persistenceTestKit().persistedInStorage(DelegationEntity.persistenceIdOf(delegationId));
  }

  private static Object last(List<Object> list) {
    return list.get(list.size() - 1);
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
