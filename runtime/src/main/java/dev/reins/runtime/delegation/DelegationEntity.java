package dev.reins.runtime.delegation;

import dev.reins.persistence.JournalTags;
import dev.reins.protocol.delegation.DelegationEvent;
import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.runtime.CborSerializable;
import dev.reins.runtime.run.RunEntity;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import dev.reins.runtime.metrics.ReinsMetrics;
import dev.reins.protocol.delegation.DelegationTarget;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerBuilder;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One delegation: a cluster-sharded, event-sourced actor with its own journal and its own
 * deadline, created by its parent run (never by an HTTP request: nothing about the request that
 * asked for it can affect it). It persists an absolute deadline, so after any restart it goes on
 * with the budget that is left; past it, the delegation ends {@code timed_out} and cancels the
 * remote work. Every error ends it {@code failed} with a reason, logged at WARN and reported to
 * the run; a cancel never hangs (the remote side gets {@code cancel-wait} to confirm).
 *
 * <p>The remote work is done by a {@link DelegationDriver}, a child actor created from the state
 * (with the remote id once journaled, so a restart re-attaches instead of sending again).
 */
public final class DelegationEntity extends EventSourcedBehavior<DelegationEntity.Command, DelegationEvent, DelegationState> {
  private static final Logger log = LoggerFactory.getLogger(DelegationEntity.class);

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Delegation");

  // ---- protocol -------------------------------------------------------------------------------

  public sealed interface Command extends CborSerializable {}

  /** From the parent run, after it journaled the request; idempotent. {@code replyTo} hears {@link Started}. */
  public record Start(String delegationId, String runId, String tenant, DelegationSpec spec, Instant deadline,
      ActorRef<Started> replyTo) implements Command {}

  public record Started(String delegationId) implements CborSerializable {}

  /** The delegation as it is; {@code tenant} must be the delegation's ({@code null}: Reins itself). */
  public record Get(String tenant, ActorRef<Reply> replyTo) implements Command {}

  /** Answers once the delegation is terminal (at once if it is); the caller bounds the wait. */
  public record AwaitEnd(String tenant, ActorRef<Reply> replyTo) implements Command {}

  /** Cancel it (from a client, or the parent run's cancel or end); {@code replyTo} may be null. */
  public record Cancel(String tenant, String reason, ActorRef<Reply> replyTo) implements Command {}

  /** The parent run recorded the delegation's end. */
  public record ParentRecorded(String delegationId) implements Command {}

  record FromDriver(DelegationDriver.Report report) implements Command {}

  private record DeadlineReached() implements Command {}

  private record CancelWaitOver() implements Command {}

  private record TellParent() implements Command {}

  private record DriverStopped() implements Command {}

  private record Idle() implements Command {}

  /** Sent by sharding once passivation is agreed. */
  record StopEntity() implements Command {}

  /** Brings a delegation that must not sleep back through sharding (see {@link StopEntity}). */
  record Wake() implements Command {}

  public enum Outcome {
    OK,
    CHANGED,
    ALREADY_TERMINAL,
    NOT_FOUND
  }

  public record Reply(Outcome outcome, DelegationState state) implements CborSerializable {}

  // ---- wiring ---------------------------------------------------------------------------------

  public static void init(ActorSystem<?> system, DelegationDrivers drivers, DelegationSettings settings, Clock clock) {
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(TYPE_KEY, ctx -> create(ctx.getEntityId(), drivers, settings, clock,
            runId -> sharding.entityRefFor(RunEntity.TYPE_KEY, runId),
            new Sharded(ctx.getShard(), sharding.entityRefFor(TYPE_KEY, ctx.getEntityId()))))
        .withStopMessage(new StopEntity()));
  }

  /**
   * How a sharded delegation leaves memory: it asks its shard to passivate it (with remembered
   * entities, one that simply stopped would be started again at once), and can reach itself
   * again through sharding.
   */
  public record Sharded(ActorRef<ClusterSharding.ShardCommand> shard, RecipientRef<Command> self) {}

  /**
   * @param parents how the delegation reaches its run (through sharding; a probe in tests)
   * @param sharded the entity's shard, or {@code null} when not sharded (tests): then an idle
   *     delegation simply stops
   */
  public static Behavior<Command> create(
      String delegationId, DelegationDriver drivers, DelegationSettings settings, Clock clock,
      Function<String, RecipientRef<RunEntity.Command>> parents, Sharded sharded) {
    // every log line about the delegation carries its id in the MDC (the JSON log's field)
    return Behaviors.withMdc(Command.class, Map.of("delegationId", delegationId), Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new DelegationEntity(delegationId, ctx, timers, drivers, settings, clock, parents, sharded))));
  }

  public static String persistenceIdOf(String delegationId) {
    return TYPE_KEY.name() + "|" + delegationId;
  }

  private static final String DEADLINE_TIMER = "deadline";
  private static final String CANCEL_TIMER = "cancel-wait";
  private static final String PARENT_TIMER = "parent";
  private static final String IDLE_TIMER = "idle";

  private final String delegationId;
  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final DelegationDriver drivers;
  private final DelegationSettings settings;
  private final Clock clock;
  private final Function<String, RecipientRef<RunEntity.Command>> parents;
  private final Sharded sharded;
  private final List<ActorRef<Reply>> awaitingEnd = new ArrayList<>();
  private ActorRef<DelegationDriver.Command> driver;
  /** The deadline passed and the remote side was asked to cancel: the end is {@code timed_out}. */
  private boolean timingOut;
  private boolean cancelSent;

  private DelegationEntity(
      String delegationId, ActorContext<Command> ctx, TimerScheduler<Command> timers, DelegationDriver drivers,
      DelegationSettings settings, Clock clock, Function<String, RecipientRef<RunEntity.Command>> parents, Sharded sharded) {
    super(PersistenceId.ofUniqueId(persistenceIdOf(delegationId)),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.delegationId = delegationId;
    this.ctx = ctx;
    this.timers = timers;
    this.drivers = drivers;
    this.settings = settings;
    this.clock = clock;
    this.parents = parents;
    this.sharded = sharded;
  }

  @Override
  public DelegationState emptyState() {
    return DelegationState.EMPTY;
  }

  @Override
  public EventHandler<DelegationState, DelegationEvent> eventHandler() {
    return (s, e) -> {
      DelegationState next = s.apply(e);
      // counted when a live entity accepts the event (replay after recovery is not counted again)
      if (recovered && next.exists() && (!s.exists() || s.status() != next.status())) {
        ReinsMetrics.get(ctx.getSystem()).delegationChanged(
            next.spec().target() instanceof DelegationTarget.A2a ? "a2a" : "run", next.status().json());
      }
      return next;
    };
  }

  /** Set once the journal is replayed: from then on, every event is a new one. */
  private boolean recovered;

  @Override
  public Set<String> tagsFor(DelegationEvent event) {
    return Set.of(JournalTags.sliceOf(persistenceIdOf(delegationId)));
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2);
  }

  @Override
  public SignalHandler<DelegationState> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), s -> {
      recovered = true;
      resume(s);
    }).build();
  }

  // ---- the transition table -------------------------------------------------------------------

  @Override
  public CommandHandler<Command, DelegationEvent, DelegationState> commandHandler() {
    CommandHandlerBuilder<Command, DelegationEvent, DelegationState> b = newCommandHandlerBuilder();

    b.forState(s -> !s.exists())
        .onCommand(Start.class, (s, c) -> Effect()
            .persist(new DelegationEvent.DelegationCreated(delegationId, c.runId(), c.tenant(), c.spec(), c.deadline(), now()))
            .thenRun(this::resume)
            .thenRun(next -> c.replyTo().tell(new Started(delegationId))))
        .onCommand(Get.class, (s, c) -> notFound(c.replyTo()))
        .onCommand(AwaitEnd.class, (s, c) -> notFound(c.replyTo()))
        .onCommand(Cancel.class, (s, c) -> c.replyTo() == null ? Effect().none() : notFound(c.replyTo()))
        .onCommand(Idle.class, (s, c) -> passivate());

    b.forState(s -> s.exists() && !s.status().isTerminal())
        .onCommand(FromDriver.class, (s, c) -> onDriver(s, c.report()))
        .onCommand(DeadlineReached.class, (s, c) -> {
          if (clock.instant().isBefore(s.deadline())) {
            resume(s); // a step of a far deadline
            return Effect().none();
          }
          if (s.cancelReason() != null) {
            return Effect().none(); // asked to cancel first: that ends it, within the cancel wait
          }
          if (!timingOut) {
            timingOut = true;
            log.warn("delegation {} of run {}: deadline {} passed; cancelling the remote work", delegationId, s.runId(), s.deadline());
            askDriverToCancel();
          }
          return Effect().none();
        })
        .onCommand(Cancel.class, (s, c) -> {
          if (denied(s, c.tenant())) {
            return c.replyTo() == null ? Effect().none() : notFound(c.replyTo());
          }
          if (s.cancelReason() != null) {
            return c.replyTo() == null ? Effect().none() : Effect().reply(c.replyTo(), new Reply(Outcome.OK, s));
          }
          return Effect().persist(new DelegationEvent.DelegationCancelRequested(c.reason(), now()))
              .thenRun(this::resume)
              .thenRun(next -> {
                if (c.replyTo() != null) {
                  c.replyTo().tell(new Reply(Outcome.CHANGED, next));
                }
              });
        })
        .onCommand(CancelWaitOver.class, (s, c) -> endAfterCancel(s, false, "the remote side did not confirm the cancel within "
            + readable(settings.cancelWait())))
        .onCommand(DriverStopped.class, (s, c) -> {
          // a driver never stops by itself before the delegation ends: that is a bug, and it fails loudly
          return fail(s, "internal_error", "the delegation's driver stopped unexpectedly");
        });

    b.forState(s -> s.exists() && s.status().isTerminal())
        .onCommand(Cancel.class, (s, c) -> c.replyTo() == null || denied(s, c.tenant())
            ? (c.replyTo() == null ? Effect().none() : notFound(c.replyTo()))
            : Effect().reply(c.replyTo(), new Reply(Outcome.ALREADY_TERMINAL, s)))
        .onCommand(ParentRecorded.class, (s, c) -> s.parentInformed()
            ? Effect().none()
            : Effect().persist(new DelegationEvent.ParentInformed(now())).thenRun(this::resume))
        .onCommand(TellParent.class, (s, c) -> {
          tellParent(s);
          return Effect().none();
        })
        .onCommand(Idle.class, (s, c) -> s.parentInformed() ? passivate() : Effect().none())
        .onCommand(FromDriver.class, (s, c) -> Effect().none())
        .onCommand(DeadlineReached.class, (s, c) -> Effect().none())
        .onCommand(CancelWaitOver.class, (s, c) -> Effect().none())
        .onCommand(DriverStopped.class, (s, c) -> Effect().none());

    b.forAnyState()
        .onCommand(Start.class, (s, c) -> {
          c.replyTo().tell(new Started(delegationId)); // already created: idempotent
          return Effect().none();
        })
        .onCommand(Get.class, (s, c) -> denied(s, c.tenant()) ? notFound(c.replyTo()) : Effect().reply(c.replyTo(), new Reply(Outcome.OK, s)))
        .onCommand(AwaitEnd.class, (s, c) -> {
          if (denied(s, c.tenant())) {
            return notFound(c.replyTo());
          }
          if (s.status().isTerminal()) {
            return Effect().reply(c.replyTo(), new Reply(Outcome.OK, s));
          }
          awaitingEnd.add(c.replyTo());
          return Effect().none();
        })
        .onCommand(ParentRecorded.class, (s, c) -> Effect().none())
        .onCommand(TellParent.class, (s, c) -> Effect().none())
        .onCommand(Idle.class, (s, c) -> Effect().none())
        .onCommand(StopEntity.class, (s, c) -> {
          if (sharded != null && s.exists() && !(s.status().isTerminal() && s.parentInformed()) && !shuttingDown()) {
            // A command (a Start, say) reached the delegation between its request to passivate and
            // this stop, and gave it work to do. It must not sleep: a passivated entity is
            // forgotten by remembered entities, and its deadline with it. The shard holds this
            // message until the stop is done, then starts the delegation again.
            sharded.self().tell(new Wake());
          }
          return Effect().stop();
        })
        .onCommand(Wake.class, (s, c) -> Effect().none());

    return b.build();
  }

  private Effect<DelegationEvent, DelegationState> onDriver(DelegationState s, DelegationDriver.Report r) {
    if (r instanceof DelegationDriver.Started started) {
      if (s.remoteId() != null) {
        return Effect().none(); // re-attached: already journaled
      }
      return Effect().persist(new DelegationEvent.RemoteTaskStarted(started.remoteId(), started.remoteState(), now()));
    }
    if (r instanceof DelegationDriver.StateChanged changed) {
      if (changed.remoteState() == null || changed.remoteState().equals(s.remoteState())) {
        return Effect().none();
      }
      return Effect().persist(new DelegationEvent.RemoteStateChanged(changed.remoteState(), now()));
    }
    if (r instanceof DelegationDriver.Completed completed) {
      if (timingOut) {
        // the deadline passed first: late work is not completed work
        return endAfterCancel(s, false, "the deadline passed; the remote work completed after it");
      }
      DelegationResult result = DelegationResults.cap(completed.result(), settings.resultCap());
      return Effect().persist(new DelegationEvent.DelegationCompleted(result, now())).thenRun(this::resume);
    }
    if (r instanceof DelegationDriver.Failed failed) {
      if (s.cancelReason() != null || timingOut) {
        return endAfterCancel(s, false, "the remote work ended while being cancelled: " + failed.detail());
      }
      return fail(s, failed.reason(), failed.detail());
    }
    DelegationDriver.CancelOutcome outcome = (DelegationDriver.CancelOutcome) r;
    return endAfterCancel(s, outcome.confirmed(), outcome.detail());
  }

  /** The end of a cancel or of a deadline, confirmed by the remote side or not. */
  private Effect<DelegationEvent, DelegationState> endAfterCancel(DelegationState s, boolean confirmed, String detail) {
    timers.cancel(CANCEL_TIMER);
    String how = (confirmed ? "remote work cancelled" : "remote cancel not confirmed") + (detail == null ? "" : ": " + detail);
    DelegationEvent end = timingOut
        ? new DelegationEvent.DelegationTimedOut("deadline " + s.deadline() + " passed; " + how, now())
        : new DelegationEvent.DelegationCancelled(how, now());
    if (timingOut) {
      log.warn("delegation {} of run {}: timed out ({})", delegationId, s.runId(), how);
    }
    return Effect().persist(end).thenRun(this::resume);
  }

  private Effect<DelegationEvent, DelegationState> fail(DelegationState s, String reason, String detail) {
    log.warn("delegation {} of run {} failed: {}: {}", delegationId, s.runId(), reason, detail);
    return Effect().persist(new DelegationEvent.DelegationFailed(reason, detail, now())).thenRun(this::resume);
  }

  private Effect<DelegationEvent, DelegationState> notFound(ActorRef<Reply> replyTo) {
    timers.startSingleTimer(IDLE_TIMER, new Idle(), settings.passivateAfter());
    return Effect().reply(replyTo, new Reply(Outcome.NOT_FOUND, DelegationState.EMPTY));
  }

  /** Only callers of the delegation's tenant see it ({@code null}: Reins itself). */
  private static boolean denied(DelegationState s, String tenant) {
    return tenant != null && !tenant.equals(s.tenant());
  }

  // ---- side effects of being in a state -------------------------------------------------------

  /** After recovery or an event: drive the remote work, watch the deadline, tell the parent. */
  private void resume(DelegationState s) {
    if (!s.exists()) {
      return;
    }
    if (!s.status().isTerminal()) {
      timers.cancel(IDLE_TIMER);
      if (driver == null) {
        driver = ctx.spawn(drivers.create(s, ctx.messageAdapter(DelegationDriver.Report.class, FromDriver::new)), "driver");
        ctx.watchWith(driver, new DriverStopped());
      }
      Duration left = Duration.between(clock.instant(), s.deadline());
      if (!timingOut) {
        timers.startSingleTimer(DEADLINE_TIMER, new DeadlineReached(), left.isNegative() ? Duration.ZERO : min(left, LONGEST_TIMER));
      }
      if (s.cancelReason() != null && !cancelSent) {
        askDriverToCancel();
      }
      return;
    }
    // terminal: the work is over; the parent run hears of it until it says it recorded it
    timers.cancel(DEADLINE_TIMER);
    timers.cancel(CANCEL_TIMER);
    if (driver != null) {
      ctx.unwatch(driver);
      ctx.stop(driver);
      driver = null;
    }
    for (ActorRef<Reply> waiting : awaitingEnd) {
      waiting.tell(new Reply(Outcome.OK, s));
    }
    awaitingEnd.clear();
    if (!s.parentInformed()) {
      tellParent(s);
      timers.startTimerWithFixedDelay(PARENT_TIMER, new TellParent(), settings.parentResend());
    } else {
      timers.cancel(PARENT_TIMER);
      timers.startSingleTimer(IDLE_TIMER, new Idle(), settings.passivateAfter());
    }
  }

  /** Pekko's timers cannot wait much beyond 248 days; a far deadline is reached in steps. */
  private static final Duration LONGEST_TIMER = Duration.ofDays(1);

  private static String readable(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private void askDriverToCancel() {
    cancelSent = true;
    if (driver != null) {
      driver.tell(new DelegationDriver.CancelRemote(settings.cancelWait()));
    }
    // never hang: the end comes with the remote side's answer, or after this wait without it
    timers.startSingleTimer(CANCEL_TIMER, new CancelWaitOver(), settings.cancelWait().plusSeconds(1));
  }

  private void tellParent(DelegationState s) {
    parents.apply(s.runId()).tell(new RunEntity.DelegationReport(delegationId, s.status(), s.reason(), ctx.getSelf()));
  }

  private Instant now() {
    return clock.instant();
  }

  /**
   * An idle delegation (ended and recorded by its run, or never created) leaves memory. Through
   * sharding it must ask its shard: with remembered entities, one that simply stopped would be
   * started again.
   */
  private Effect<DelegationEvent, DelegationState> passivate() {
    if (sharded == null) {
      return Effect().stop();
    }
    sharded.shard().tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
    return Effect().none();
  }

  /** A node that shuts down hands its delegations over by remembered entities, not by waking them. */
  private boolean shuttingDown() {
    return CoordinatedShutdown.get(ctx.getSystem()).getShutdownReason().isPresent();
  }

  /** For the route's long poll: whether a reply shows an end. */
  public static boolean ended(Reply reply) {
    return reply.state().exists() && reply.state().status() != DelegationStatus.PENDING
        && reply.state().status() != DelegationStatus.WORKING;
  }
}
