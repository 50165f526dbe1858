package dev.reins.runtime.run;

import dev.reins.persistence.JournalTags;
import dev.reins.persistence.RunJournal;
import dev.reins.protocol.auth.Tenants;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.protocol.run.RunDelegation;
import dev.reins.runtime.delegation.DelegationEntity;
import dev.reins.runtime.delegation.DelegationSettings;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import dev.reins.protocol.run.WorkerInfo;
import dev.reins.runtime.CborSerializable;
import dev.reins.runtime.cluster.MemberRemovals;
import dev.reins.runtime.tenant.TenantQuota;
import dev.reins.runtime.metrics.ReinsMetrics;
import dev.reins.runtime.worker.ProcessWorker;
import dev.reins.runtime.worker.WorkerPool;
import dev.reins.runtime.worker.WorkerReport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
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
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerBuilder;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * One run: a cluster-sharded, event-sourced actor that takes submit, cancel, reset, timeout and
 * worker messages one at a time. Every accepted command writes one event and replies after the
 * write; a rejected one writes nothing and replies with the reason. The transition table of the
 * run lifecycle is the set of {@code forState} blocks in {@link #commandHandler()}.
 *
 * <p>Fencing: every worker message carries its attempt; a message from any attempt but the
 * current one never changes the state. A stray process (one whose attempt the run no longer
 * wants) is told to stop.
 */
public final class RunEntity extends EventSourcedBehavior<RunEntity.Command, RunEvent, RunState> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, RunJournal.ENTITY_TYPE);

  // ---- protocol -------------------------------------------------------------------------------

  public sealed interface Command extends CborSerializable {}

  /** A command from a client: the run checks {@link RunAccess} before anything else. */
  public sealed interface ClientCommand extends Command {
    RunAccess access();

    ActorRef<Reply> replyTo();
  }

  /** {@code parentRunId} and {@code delegationId} are set for a child run (a delegation's target). */
  public record Submit(String runId, String tenant, RunSpec spec, String parentRunId, String delegationId, ActorRef<Reply> replyTo)
      implements Command {
    public Submit(String runId, String tenant, RunSpec spec, ActorRef<Reply> replyTo) {
      this(runId, tenant, spec, null, null, replyTo);
    }

    public Submit(String runId, RunSpec spec, ActorRef<Reply> replyTo) {
      this(runId, Tenants.DEFAULT, spec, null, null, replyTo);
    }
  }

  /**
   * Asks for a delegation (a new one, or the one already asked for with this id: {@code
   * delegationId} is derived from an idempotency key when there is one).
   */
  public record Delegate(RunAccess access, String delegationId, DelegationSpec spec, ActorRef<DelegateReply> replyTo)
      implements Command {}

  public record DelegateReply(Outcome outcome, RunState state, RunDelegation delegation, String detail) implements CborSerializable {}

  /** From a delegation of this run: it ended; {@code replyTo} hears that the run recorded it. */
  public record DelegationReport(
      String delegationId, DelegationStatus status, String reason, ActorRef<DelegationEntity.Command> replyTo)
      implements Command {}

  private record DelegationStartConfirmed(String delegationId) implements Command {}

  private record TendDelegations() implements Command {}

  public record Get(RunAccess access, ActorRef<Reply> replyTo) implements ClientCommand {
    public Get(ActorRef<Reply> replyTo) {
      this(RunAccess.INTERNAL, replyTo);
    }
  }

  /** {@code attempt}, when given, must be the current attempt (else {@link Outcome#STALE_ATTEMPT}). */
  public record Cancel(RunAccess access, String reason, Integer attempt, ActorRef<Reply> replyTo) implements ClientCommand {
    public Cancel(String reason, Integer attempt, ActorRef<Reply> replyTo) {
      this(RunAccess.INTERNAL, reason, attempt, replyTo);
    }
  }

  public record Reset(RunAccess access, Integer attempt, ActorRef<Reply> replyTo) implements ClientCommand {
    public Reset(Integer attempt, ActorRef<Reply> replyTo) {
      this(RunAccess.INTERNAL, attempt, replyTo);
    }
  }

  /** Replies once the run is terminal (at once if it is already); the caller bounds the wait. */
  public record AwaitTerminal(RunAccess access, ActorRef<Reply> replyTo) implements ClientCommand {
    public AwaitTerminal(ActorRef<Reply> replyTo) {
      this(RunAccess.INTERNAL, replyTo);
    }
  }

  /** A worker's report, routed here by run id. */
  public record FromWorker(WorkerReport report) implements Command {}

  /** {@code step}: an intermediate wake-up on the way to a deadline too far for one timer. */
  private record TimeoutFired(int attempt, boolean step) implements Command {}

  private record RetryDue(int attempt) implements Command {}

  private record WorkerTerminated(int attempt, String node) implements Command {}

  private record ResendStop(int attempt) implements Command {}

  private record Idle() implements Command {}

  private record RenewLease() implements Command {}

  /** Sent by sharding once passivation is agreed. */
  record StopEntity() implements Command {}

  /**
   * Brings a run that must not sleep back through sharding (see the {@link StopEntity} handler);
   * its recovery does the rest.
   */
  record Wake() implements Command {}

  public enum Outcome {
    /** submit: a new run. */
    CREATED,
    /** submit with an idempotency key already used with the same request. */
    EXISTS,
    /** the command changed the state (one event written). */
    CHANGED,
    /** the command was already in effect (cancel while cancelling); nothing written. */
    UNCHANGED,
    /** cancel of a terminal run; nothing written. */
    ALREADY_TERMINAL,
    NOT_FOUND,
    /** the command named an attempt that is not the current one. */
    STALE_ATTEMPT,
    /** the command is not allowed in the run's state (reset while not terminal). */
    INVALID_STATE,
    /** submit with an idempotency key already used with a different request. */
    IDEMPOTENCY_CONFLICT,
    /** a per-run token whose attempt is over (a newer attempt runs, or the run is terminal). */
    ATTEMPT_ENDED,
    /** the run has as many delegations as one run may have. */
    LIMIT_REACHED
  }

  /** The answer to every client command: what happened, and the run as it is now. */
  public record Reply(Outcome outcome, RunState state, long version, String detail) implements CborSerializable {}

  // ---- wiring ---------------------------------------------------------------------------------

  /** Registers the entity type with sharding; the guardian calls this once per node. */
  public static void init(
      ActorSystem<?> system,
      ActorRef<WorkerPool.Command> localPool,
      RunSettings settings,
      TenantQuota.Client quota,
      Clock clock) {
    MemberRemovals removals = MemberRemovals.start(system, clock);
    ClusterSharding.get(system)
        .init(
            Entity.of(
                    TYPE_KEY,
                    ctx -> create(ctx.getEntityId(), localPool, settings, quota, clock,
                        new Sharded(ctx.getShard(), ClusterSharding.get(system).entityRefFor(TYPE_KEY, ctx.getEntityId())),
                        removals))
                .withStopMessage(new StopEntity()));
  }

  /** Routes worker reports to run entities through sharding. */
  public static BiConsumer<String, WorkerReport> reportRouter(ActorSystem<?> system) {
    ClusterSharding sharding = ClusterSharding.get(system);
    return (runId, report) -> sharding.entityRefFor(TYPE_KEY, runId).tell(new FromWorker(report));
  }

  /**
   * How a sharded entity leaves memory: it asks its shard to passivate it, and can reach itself
   * again through sharding.
   */
  public record Sharded(ActorRef<ClusterSharding.ShardCommand> shard, RecipientRef<Command> self) {}

  /**
   * @param sharded the entity's shard, or {@code null} when not sharded (tests): then an idle run
   *     simply stops
   */
  public static Behavior<Command> create(
      String runId, ActorRef<WorkerPool.Command> pool, RunSettings settings, TenantQuota.Client quota, Clock clock,
      Sharded sharded) {
    return create(runId, pool, settings, quota, clock, sharded, MemberRemovals.NONE, null);
  }

  /** Through sharding to its delegations (the node's way). */
  public static Behavior<Command> create(
      String runId, ActorRef<WorkerPool.Command> pool, RunSettings settings, TenantQuota.Client quota, Clock clock,
      Sharded sharded, MemberRemovals removals) {
    return create(runId, pool, settings, quota, clock, sharded, removals, null);
  }

  /**
   * @param removals the cluster's membership as far as a lost worker's delay needs it ({@link
   *     MemberRemovals#NONE} without a cluster: the delay counts from the run's event)
   * @param delegations how the run reaches its delegations; {@code null}: through sharding (tests
   *     pass a probe)
   */
  public static Behavior<Command> create(
      String runId, ActorRef<WorkerPool.Command> pool, RunSettings settings, TenantQuota.Client quota, Clock clock,
      Sharded sharded, MemberRemovals removals, Function<String, RecipientRef<DelegationEntity.Command>> delegations) {
    // Every log line about the run carries its id and current attempt in the MDC (the JSON log's
    // fields): the attempt as the entity knew it when the message arrived.
    AtomicInteger attempt = new AtomicInteger();
    return Behaviors.withMdc(Command.class, Map.of("runId", runId),
        c -> attempt.get() == 0 ? Map.of() : Map.of("attempt", Integer.toString(attempt.get())),
        Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new RunEntity(runId, ctx, timers, pool, settings, quota, clock,
            sharded, removals, delegations != null ? delegations : viaSharding(ctx.getSystem()), attempt))));
  }

  private static Function<String, RecipientRef<DelegationEntity.Command>> viaSharding(ActorSystem<?> system) {
    return delegationId -> ClusterSharding.get(system).entityRefFor(DelegationEntity.TYPE_KEY, delegationId);
  }

  /** Without tenant limits (tests). */
  public static Behavior<Command> create(
      String runId, ActorRef<WorkerPool.Command> pool, RunSettings settings, Clock clock, Sharded sharded) {
    return create(runId, pool, settings, TenantQuota.Client.UNLIMITED, clock, sharded);
  }

  private static final String IDLE_TIMER = "idle";
  private static final String RETRY_TIMER = "retry";
  private static final String TIMEOUT_TIMER = "timeout";
  private static final String STOP_TIMER = "resend-stop";
  private static final String LEASE_TIMER = "lease";
  private static final String DELEGATION_TIMER = "delegations";

  private final String runId;
  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final ActorRef<WorkerPool.Command> pool;
  private final RunSettings settings;
  private final TenantQuota.Client quota;
  private final Clock clock;
  private final Sharded sharded;
  private final Function<String, RecipientRef<DelegationEntity.Command>> delegations;
  /** This run's slice of the global feed (see JournalTags). */
  private final Set<String> tags;
  private final ActorRefResolver resolver;
  /** Clients waiting for a terminal state; not persisted (a restart ends their wait early). */
  private final List<ActorRef<Reply>> awaitingTerminal = new ArrayList<>();
  /** The attempt whose worker is watched, so each worker is watched once per recovery. */
  private int watchedAttempt;
  /** Delegations that confirmed their start to this incarnation (not persisted: a restart asks again). */
  private final Set<String> startConfirmed = new HashSet<>();
  private final ActorRef<DelegationEntity.Started> startedAdapter;
  private final DelegationSettings delegationSettings;
  private final MemberRemovals removals;
  /**
   * When the node of the current attempt's lost worker was removed from the cluster, as this node
   * saw it (not persisted: a recovered run counts from its WorkerLost event, which is later).
   */
  private Instant lostNodeRemovedAt;
  private int lostNodeAttempt;
  private final ReinsMetrics metrics;
  private final AtomicInteger attemptForMdc;
  /** The state the metrics last saw (null until recovered: replayed events are not counted again). */
  private RunState observed;
  /** When the event being written was accepted (0: none, or still recovering). */
  private long writeStartedNanos;

  private RunEntity(
      String runId,
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      ActorRef<WorkerPool.Command> pool,
      RunSettings settings,
      TenantQuota.Client quota,
      Clock clock,
      Sharded sharded,
      MemberRemovals removals,
      Function<String, RecipientRef<DelegationEntity.Command>> delegations,
      AtomicInteger attemptForMdc) {
    super(
        PersistenceId.of(TYPE_KEY.name(), runId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.runId = runId;
    this.ctx = ctx;
    this.timers = timers;
    this.pool = pool;
    this.settings = settings;
    this.quota = quota;
    this.clock = clock;
    this.sharded = sharded;
    this.delegations = delegations;
    this.tags = Set.of(JournalTags.sliceOf(RunJournal.persistenceId(runId)));
    this.resolver = ActorRefResolver.get(ctx.getSystem());
    this.delegationSettings = settings.delegations();
    this.removals = removals;
    this.startedAdapter = ctx.messageAdapter(DelegationEntity.Started.class, st -> new DelegationStartConfirmed(st.delegationId()));
    this.metrics = ReinsMetrics.get(ctx.getSystem());
    this.attemptForMdc = attemptForMdc;
  }

  @Override
  public RunState emptyState() {
    return RunState.EMPTY;
  }

  @Override
  public EventHandler<RunState, RunEvent> eventHandler() {
    return (s, e) -> {
      if (observed != null) {
        writeStartedNanos = System.nanoTime(); // live, not recovering: the write starts now
      }
      return s.apply(e);
    };
  }

  @Override
  public Set<String> tagsFor(RunEvent event) {
    return tags;
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(settings.snapshotEvery(), 2);
  }

  @Override
  public SignalHandler<RunState> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), s -> {
      // Recovery also follows a restart after a failed write (journal down). The worker's death
      // may have been the message whose write failed: watch it again, and a dead worker is
      // reported again at once.
      watchedAttempt = 0;
      observed = s;
      resume(s);
    }).build();
  }

  // ---- the transition table -------------------------------------------------------------------

  @Override
  public CommandHandler<Command, RunEvent, RunState> commandHandler() {
    CommandHandler<Command, RunEvent, RunState> table = transitions();
    // Who may ask is settled before the table is consulted: a caller of another tenant, or a
    // per-run token of an attempt that is over, gets the same answer in every state.
    return (s, c) -> {
      if (c instanceof Delegate d) {
        Outcome denied = d.access().denial(s);
        if (denied != null) {
          return Effect().reply(d.replyTo(), new DelegateReply(denied, RunState.EMPTY, null,
              denied == Outcome.NOT_FOUND ? "no run with id " + runId : "the token's attempt " + d.access().tokenAttempt() + " is over"));
        }
      }
      if (c instanceof ClientCommand cc) {
        Outcome denied = cc.access().denial(s);
        if (denied == Outcome.NOT_FOUND) {
          return Effect().reply(cc.replyTo(), new Reply(Outcome.NOT_FOUND, RunState.EMPTY, 0, "no run with id " + runId));
        }
        if (denied != null) {
          return Effect().reply(cc.replyTo(), new Reply(denied, RunState.EMPTY, 0,
              "the token's attempt " + cc.access().tokenAttempt() + " is over"));
        }
      }
      return table.apply(s, c);
    };
  }

  private CommandHandler<Command, RunEvent, RunState> transitions() {
    CommandHandlerBuilder<Command, RunEvent, RunState> b = newCommandHandlerBuilder();

    b.forState(s -> !s.exists())
        .onCommand(Submit.class, (s, c) -> persist(
            new RunEvent.RunSubmitted(runId, c.spec(), 1, now(), c.tenant(), c.parentRunId(), c.delegationId()), c.replyTo(), Outcome.CREATED))
        .onCommand(Delegate.class, (s, c) -> Effect().reply(c.replyTo(),
            new DelegateReply(Outcome.NOT_FOUND, RunState.EMPTY, null, "no run with id " + runId)))
        .onCommand(DelegationReport.class, (s, c) -> Effect().none())
        .onCommand(Get.class, (s, c) -> notFound(c.replyTo()))
        .onCommand(Cancel.class, (s, c) -> notFound(c.replyTo()))
        .onCommand(Reset.class, (s, c) -> notFound(c.replyTo()))
        .onCommand(AwaitTerminal.class, (s, c) -> notFound(c.replyTo()))
        .onCommand(FromWorker.class, (s, c) -> stray(c.report(), null, "no such run"));

    b.forState(s -> s.status() == RunStatus.PENDING)
        .onCommand(Cancel.class, (s, c) -> stale(s, c.attempt(), c.replyTo())
            ? Effect().none()
            : persist(new RunEvent.CancelRequested(s.attempt(), c.reason(), now()), c.replyTo(), Outcome.CHANGED))
        .onCommand(Reset.class, (s, c) -> rejectReset(s, c))
        .onCommand(FromWorker.class, (s, c) -> onWorker(s, c.report()))
        .onCommand(WorkerTerminated.class, (s, c) -> workerLost(s, c))
        .onCommand(RetryDue.class, (s, c) -> {
          if (c.attempt() == s.attempt()) {
            requestSlotUntilPlaced(s);
          }
          return Effect().none();
        });

    b.forState(s -> s.status() == RunStatus.RUNNING)
        .onCommand(Cancel.class, (s, c) -> stale(s, c.attempt(), c.replyTo())
            ? Effect().none()
            : persist(new RunEvent.CancelRequested(s.attempt(), c.reason(), now()), c.replyTo(), Outcome.CHANGED))
        .onCommand(Reset.class, (s, c) -> rejectReset(s, c))
        .onCommand(TimeoutFired.class, (s, c) -> {
          if (c.attempt() != s.attempt()) {
            return Effect().none();
          }
          if (c.step()) {
            armTimeout(s);
            return Effect().none();
          }
          return Effect().persist(new RunEvent.TimeoutReached(s.attempt(), now())).thenRun(this::resume);
        })
        .onCommand(FromWorker.class, (s, c) -> onWorker(s, c.report()))
        .onCommand(WorkerTerminated.class, (s, c) -> workerLost(s, c));

    b.forState(s -> s.status() == RunStatus.CANCELLING)
        .onCommand(Cancel.class, (s, c) -> stale(s, c.attempt(), c.replyTo())
            ? Effect().none()
            : reply(c.replyTo(), Outcome.UNCHANGED, s, "the run is already being cancelled"))
        .onCommand(Reset.class, (s, c) -> rejectReset(s, c))
        .onCommand(ResendStop.class, (s, c) -> {
          if (c.attempt() == s.attempt()) {
            stopWorker(s);
          }
          return Effect().none();
        })
        .onCommand(FromWorker.class, (s, c) -> onWorker(s, c.report()))
        .onCommand(WorkerTerminated.class, (s, c) -> workerLost(s, c));

    // exists(): a command the first block does not list (Idle) is matched against every later
    // predicate, including for a run that was never submitted
    b.forState(s -> s.exists() && s.status().isTerminal())
        .onCommand(Cancel.class, (s, c) -> stale(s, c.attempt(), c.replyTo())
            ? Effect().none()
            : reply(c.replyTo(), Outcome.ALREADY_TERMINAL, s, "the run is already " + s.status().json()))
        .onCommand(Reset.class, (s, c) -> stale(s, c.attempt(), c.replyTo())
            ? Effect().none()
            : persist(new RunEvent.RunReset(s.attempt() + 1, now()), c.replyTo(), Outcome.CHANGED))
        .onCommand(FromWorker.class, (s, c) -> stray(c.report(), s, "the run is " + s.status().json()));

    // Commands every existing run answers the same way, whatever its state.
    b.forAnyState()
        .onCommand(Submit.class, (s, c) -> Objects.equals(s.spec(), c.spec()) && Objects.equals(s.tenant(), c.tenant())
            ? reply(c.replyTo(), Outcome.EXISTS, s, null)
            : reply(c.replyTo(), Outcome.IDEMPOTENCY_CONFLICT, s,
                "idempotency key '" + c.spec().idempotencyKey() + "' was already used with a different request"))
        .onCommand(Get.class, (s, c) -> reply(c.replyTo(), Outcome.UNCHANGED, s, null))
        .onCommand(AwaitTerminal.class, (s, c) -> {
          if (s.status().isTerminal()) {
            return reply(c.replyTo(), Outcome.UNCHANGED, s, null);
          }
          awaitingTerminal.add(c.replyTo());
          return Effect().none();
        })
        // An Idle stashed while an event was being written outlives the cancel of its timer: only a
        // run that is still idle (never submitted, or terminal) may leave memory.
        .onCommand(Idle.class, (s, c) -> (s.exists() && !s.status().isTerminal()) || delegationsToTend(s) ? Effect().none() : passivate())
        .onCommand(StopEntity.class, (s, c) -> {
          if (sharded != null && s.exists() && !s.status().isTerminal() && !shuttingDown()) {
            // A command (a reset, say) reached the run between its request to passivate and this
            // stop, and made it live again. It must not sleep: with remembered entities a
            // passivated run is forgotten until a message arrives. The shard holds this message
            // until the stop is done, then starts the run again.
            sharded.self().tell(new Wake());
          }
          return Effect().stop();
        })
        .onCommand(Wake.class, (s, c) -> Effect().none())
        .onCommand(Delegate.class, this::delegate)
        .onCommand(DelegationReport.class, this::delegationEnded)
        .onCommand(DelegationStartConfirmed.class, (s, c) -> {
          startConfirmed.add(c.delegationId());
          return Effect().none();
        })
        .onCommand(TendDelegations.class, (s, c) -> {
          tendDelegations(s);
          return Effect().none();
        })
        .onCommand(RenewLease.class, (s, c) -> {
          if (s.exists() && !s.status().isTerminal()) {
            quota.hold(s.tenant(), runId);
          }
          return Effect().none();
        })
        // timers and watches of an attempt or state that is over: nothing to do
        .onCommand(TimeoutFired.class, (s, c) -> Effect().none())
        .onCommand(RetryDue.class, (s, c) -> Effect().none())
        .onCommand(ResendStop.class, (s, c) -> Effect().none())
        .onCommand(WorkerTerminated.class, (s, c) -> Effect().none());

    return b.build();
  }

  /**
   * Every journaled event of a live run reaches {@link #resume} after its write (thenRun), so the
   * metrics see each transition once, after the journal has it; recovery sets the starting point.
   */
  private void observe(RunState s) {
    attemptForMdc.set(s.attempt());
    if (observed == null || observed == s) {
      return;
    }
    if (writeStartedNanos != 0) {
      metrics.journalWrite("run", System.nanoTime() - writeStartedNanos);
      writeStartedNanos = 0;
    }
    metrics.runChanged(observed, s, clock);
    observed = s;
  }

  // ---- command helpers ------------------------------------------------------------------------

  /**
   * A worker's claim or report, in any live state. Pending without a worker, a due claim places
   * the attempt. Once placed, only the recorded worker speaks for the attempt (fencing by worker).
   */
  private Effect<RunEvent, RunState> onWorker(RunState s, WorkerReport r) {
    if (r.attempt() != s.attempt()) {
      return stray(r, s, "attempt " + r.attempt() + " is not the run's current attempt " + s.attempt());
    }
    if (s.worker() == null) {
      if (!(r instanceof WorkerReport.Claim claim)) {
        return stray(r, s, "the attempt was not placed on this worker");
      }
      // A retry is due when the run itself asks for it: at its retry time and, after a lost worker,
      // not before lost-worker-delay. A claim that comes earlier must not start a process while
      // the lost node may still be killing the old one. (A first attempt is due at once: no check,
      // so a node whose clock is behind the journal's does not refuse it.)
      if (s.retryAt() != null && now().isBefore(earliestStart(s))) {
        return stray(r, s, "the attempt may not start before " + earliestStart(s));
      }
      // The one place an attempt gets its worker: recorded before the process starts, so that any
      // other worker that claims the attempt later (a request that reached two pools, a rebalance)
      // is refused below and never starts a second process.
      WorkerInfo worker = new WorkerInfo(claim.node(), 0, resolver.toSerializationFormat(claim.worker()));
      return Effect().persist(new RunEvent.AttemptPlaced(s.attempt(), worker, now())).thenRun(next -> {
        claim.worker().tell(new ProcessWorker.ClaimGranted(s.attempt()));
        resume(next);
      });
    }
    if (!isCurrentWorker(s, r.worker())) {
      return stray(r, s, "attempt " + r.attempt() + " belongs to another worker");
    }
    if (r instanceof WorkerReport.Claim) {
      if (s.status() == RunStatus.CANCELLING) {
        // the grant was lost, and the run no longer wants the attempt: do not start it now
        r.worker().tell(new ProcessWorker.ClaimDenied(s.attempt(), "the run is being cancelled"));
      } else {
        r.worker().tell(new ProcessWorker.ClaimGranted(s.attempt())); // the grant was lost: repeat it
      }
      return Effect().none();
    }
    if (r instanceof WorkerReport.Started started) {
      if (s.attemptStartedAt() != null) {
        r.worker().tell(ProcessWorker.ackFor(r)); // a repeated start report: already recorded
        return Effect().none();
      }
      WorkerInfo worker = new WorkerInfo(started.node(), started.pid(), resolver.toSerializationFormat(started.worker()));
      return recordAndAck(new RunEvent.AttemptStarted(s.attempt(), worker, now()), r);
    }
    if (r instanceof WorkerReport.StartFailed failed) {
      return recordAndAck(new RunEvent.AttemptStartFailed(s.attempt(), failed.message(), now()), r);
    }
    WorkerReport.Exited exited = (WorkerReport.Exited) r;
    if (exited.interruption() != null && s.status() != RunStatus.CANCELLING) {
      return recordAndAck(new RunEvent.AttemptInterrupted(
          s.attempt(), exited.interruption(), exited.code(), exited.signal(), now()), r);
    }
    return recordAndAck(new RunEvent.AttemptExited(s.attempt(), exited.code(), exited.signal(), now()), r);
  }

  private boolean isCurrentWorker(RunState s, ActorRef<ProcessWorker.Command> worker) {
    return s.worker() != null && s.worker().workerRef().equals(resolver.toSerializationFormat(worker));
  }

  /** The worker hears that its report is recorded only once the event is in the journal. */
  private Effect<RunEvent, RunState> recordAndAck(RunEvent event, WorkerReport r) {
    return Effect().persist(event).thenRun(next -> {
      r.worker().tell(ProcessWorker.ackFor(r));
      resume(next);
    });
  }

  /**
   * A report from a worker this run does not want running (another attempt, another worker, a
   * run that is over): refuse its claim, acknowledge its reports so it stops repeating them, and
   * stop its process if it has one.
   */
  private Effect<RunEvent, RunState> stray(WorkerReport r, RunState s, String why) {
    if (r instanceof WorkerReport.Claim) {
      r.worker().tell(new ProcessWorker.ClaimDenied(r.attempt(), why));
      return Effect().none();
    }
    if (r instanceof WorkerReport.Started) {
      ctx.getLog().warn("run {}: stopping a process that claims attempt {} ({})", runId, r.attempt(), why);
      Duration grace = s == null ? Duration.ZERO : Duration.ofSeconds(s.spec().cancelGraceSeconds());
      r.worker().tell(new ProcessWorker.Stop(r.attempt(), grace));
    }
    r.worker().tell(ProcessWorker.ackFor(r));
    return Effect().none();
  }

  private Effect<RunEvent, RunState> workerLost(RunState s, WorkerTerminated c) {
    if (c.attempt() != s.attempt()) {
      return Effect().none();
    }
    ctx.getLog().warn("run {} attempt {}: worker on {} is gone without reporting an exit", runId, s.attempt(), c.node());
    removals.removedAt(c.node()).ifPresent(at -> {
      lostNodeRemovedAt = at;
      lostNodeAttempt = s.attempt() + 1;
    });
    return Effect().persist(new RunEvent.WorkerLost(s.attempt(), c.node(), now())).thenRun(this::resume);
  }

  private boolean stale(RunState s, Integer attempt, ActorRef<Reply> replyTo) {
    if (attempt != null && attempt != s.attempt()) {
      replyTo.tell(new Reply(Outcome.STALE_ATTEMPT, s, lastSequenceNumber(ctx),
          "attempt " + attempt + " is not the current attempt " + s.attempt()));
      return true;
    }
    return false;
  }

  /** The timer of the running attempt's deadline, or of the next step towards it (see {@link RunSettings#LONGEST_TIMER}). */
  private void armTimeout(RunState s) {
    if (s.attemptStartedAt() == null) {
      return; // no process yet: the timeout counts from its start
    }
    Instant deadline = s.attemptStartedAt().plusSeconds(s.spec().timeoutSeconds());
    Duration left = Duration.between(clock.instant(), deadline);
    boolean step = left.compareTo(settings.longestTimer()) > 0;
    timers.startSingleTimer(TIMEOUT_TIMER, new TimeoutFired(s.attempt(), step),
        step ? settings.longestTimer() : left.isNegative() ? Duration.ZERO : left);
  }

  private Effect<RunEvent, RunState> rejectReset(RunState s, Reset c) {
    if (stale(s, c.attempt(), c.replyTo())) {
      return Effect().none();
    }
    return reply(c.replyTo(), Outcome.INVALID_STATE, s,
        "a " + s.status().json() + " run cannot be reset; only a terminal run can (cancel it first)");
  }

  private Effect<RunEvent, RunState> persist(RunEvent event, ActorRef<Reply> replyTo, Outcome outcome) {
    return Effect().persist(event)
        .thenRun(this::resume)
        .thenReply(replyTo, next -> new Reply(outcome, next, lastSequenceNumber(ctx), null));
  }

  private Effect<RunEvent, RunState> reply(ActorRef<Reply> replyTo, Outcome outcome, RunState s, String detail) {
    return Effect().reply(replyTo, new Reply(outcome, s, lastSequenceNumber(ctx), detail));
  }

  private Effect<RunEvent, RunState> notFound(ActorRef<Reply> replyTo) {
    timers.startSingleTimer(IDLE_TIMER, new Idle(), unknownRunIdle());
    return Effect().reply(replyTo, new Reply(Outcome.NOT_FOUND, RunState.EMPTY, 0, "no run with id " + runId));
  }

  // ---- delegations ----------------------------------------------------------------------------

  /**
   * A pending or running run may delegate (409 otherwise): the request is journaled here first
   * ({@code DelegationRequested}), then the delegation is started; it journals its own life.
   */
  private Effect<RunEvent, RunState> delegate(RunState s, Delegate c) {
    RunDelegation known = s.delegations().get(c.delegationId());
    if (known != null) {
      return Objects.equals(known.spec(), c.spec())
          ? Effect().reply(c.replyTo(), new DelegateReply(Outcome.EXISTS, s, known, null))
          : Effect().reply(c.replyTo(), new DelegateReply(Outcome.IDEMPOTENCY_CONFLICT, s, known,
              "idempotency key '" + c.spec().idempotencyKey() + "' was already used with a different delegation"));
    }
    if (s.status() != RunStatus.PENDING && s.status() != RunStatus.RUNNING) {
      return Effect().reply(c.replyTo(), new DelegateReply(Outcome.INVALID_STATE, s, null,
          "a " + s.status().json() + " run cannot delegate; only a pending or running run can"));
    }
    if (s.delegations().size() >= delegationSettings.perRun()) {
      return Effect().reply(c.replyTo(), new DelegateReply(Outcome.LIMIT_REACHED, s, null,
          "the run has " + s.delegations().size() + " delegations, as many as one run may have (reins.limits.delegations-per-run)"));
    }
    Instant at = now();
    Instant deadline = at.plusSeconds(c.spec().timeoutSeconds()); // absolute: the budget counts from the request
    return Effect().persist(new RunEvent.DelegationRequested(c.delegationId(), c.spec(), deadline, s.attempt(), at))
        .thenRun(this::resume)
        .thenReply(c.replyTo(), next -> new DelegateReply(Outcome.CREATED, next, next.delegations().get(c.delegationId()), null));
  }

  private Effect<RunEvent, RunState> delegationEnded(RunState s, DelegationReport c) {
    RunDelegation known = s.delegations().get(c.delegationId());
    if (known == null || !known.live()) {
      c.replyTo().tell(new DelegationEntity.ParentRecorded(c.delegationId()));
      return Effect().none();
    }
    return Effect().persist(new RunEvent.DelegationEnded(c.delegationId(), c.status(), c.reason(), s.attempt(), now()))
        .thenRun(next -> {
          c.replyTo().tell(new DelegationEntity.ParentRecorded(c.delegationId()));
          resume(next);
        });
  }

  /**
   * Starts the run's live delegations that have not confirmed their start (after a restart: all
   * of them, which is harmless, a start is idempotent), and cancels those the run's cancel or end
   * takes with it: every live delegation once the run was cancelled, and those with {@code
   * onParentEnd: cancel} once it ended otherwise. Repeated until each has confirmed or ended.
   */
  private void tendDelegations(RunState s) {
    boolean more = false;
    for (RunDelegation d : s.delegations().values()) {
      if (!d.live()) {
        continue;
      }
      if (!startConfirmed.contains(d.id())) {
        more = true;
        delegationRef(d.id()).tell(new DelegationEntity.Start(d.id(), runId, s.tenant(), d.spec(), d.deadline(), startedAdapter));
      }
      String why = cancelCause(s, d);
      if (why != null) {
        more = true;
        delegationRef(d.id()).tell(new DelegationEntity.Cancel(null, why, null));
      }
    }
    if (more) {
      if (!timers.isTimerActive(DELEGATION_TIMER)) {
        timers.startTimerWithFixedDelay(DELEGATION_TIMER, new TendDelegations(), delegationSettings.parentResend());
      }
    } else {
      timers.cancel(DELEGATION_TIMER);
    }
  }

  private boolean delegationsToTend(RunState s) {
    return s.exists() && s.delegations().values().stream()
        .anyMatch(d -> d.live() && (!startConfirmed.contains(d.id()) || cancelCause(s, d) != null));
  }

  /** Why the run's cancel or end cancels delegation {@code d}, or {@code null} if it does not. */
  private static String cancelCause(RunState s, RunDelegation d) {
    boolean cancelled = s.cancel() != null && (s.status() == RunStatus.CANCELLING || s.status() == RunStatus.CANCELLED);
    if (cancelled) {
      return "the run was cancelled";
    }
    if (s.status().isTerminal() && d.spec().onParentEnd() == DelegationSpec.OnParentEnd.CANCEL) {
      return "the run ended " + s.status().json();
    }
    return null;
  }

  private RecipientRef<DelegationEntity.Command> delegationRef(String delegationId) {
    return delegations.apply(delegationId);
  }

  // ---- side effects of being in a state -------------------------------------------------------

  /**
   * Does what the state asks for, after an event is written or after recovery: request a slot,
   * watch the worker, arm the timeout, repeat a stop, answer waiting clients or go idle. Safe to
   * repeat: the pool and the worker treat repeated messages as no-ops.
   */
  private void resume(RunState s) {
    observe(s);
    if (!s.exists()) {
      timers.startSingleTimer(IDLE_TIMER, new Idle(), unknownRunIdle());
      return;
    }
    if (!s.status().isTerminal()) {
      tendDelegations(s); // a terminal run tends them below, after its timers are cancelled
      timers.cancel(IDLE_TIMER);
      // a live run holds a lease on its tenant's count of active runs (see TenantQuota)
      if (!timers.isTimerActive(LEASE_TIMER)) {
        quota.hold(s.tenant(), runId);
        timers.startTimerWithFixedDelay(LEASE_TIMER, new RenewLease(), settings.leaseRefresh());
      }
    }
    switch (s.status()) {
      case PENDING -> {
        if (s.worker() != null) {
          // placed: the worker is starting the process; nothing to ask for, its loss to watch
          timers.cancel(RETRY_TIMER);
          watchWorker(s);
          return;
        }
        Duration wait = Duration.between(clock.instant(), earliestStart(s));
        if (wait.isNegative() || wait.isZero()) {
          requestSlotUntilPlaced(s);
        } else {
          timers.startSingleTimer(RETRY_TIMER, new RetryDue(s.attempt()), wait);
        }
      }
      case RUNNING -> {
        timers.cancel(RETRY_TIMER);
        watchWorker(s);
        armTimeout(s);
      }
      case CANCELLING -> {
        watchWorker(s);
        timers.cancel(TIMEOUT_TIMER);
        stopWorker(s);
        timers.startTimerWithFixedDelay(STOP_TIMER, new ResendStop(s.attempt()), settings.stopResendInterval());
      }
      default -> {
        // terminal: the cancel of a pending attempt may race a worker that just got its slot
        if (s.status() == RunStatus.CANCELLED && s.exit() == null) {
          pool.tell(new WorkerPool.Withdraw(runId, s.attempt(), Duration.ofSeconds(s.spec().cancelGraceSeconds())));
        }
        timers.cancelAll();
        tendDelegations(s);
        quota.release(s.tenant(), runId);
        for (ActorRef<Reply> waiting : awaitingTerminal) {
          waiting.tell(new Reply(Outcome.UNCHANGED, s, lastSequenceNumber(ctx), null));
        }
        awaitingTerminal.clear();
        timers.startSingleTimer(IDLE_TIMER, new Idle(), settings.passivateAfter());
      }
    }
  }

  /**
   * An entity of a run that does not exist leaves at once through its shard (the shard holds any
   * command that comes meanwhile, and the Idle and StopEntity handlers cover one that slipped in).
   * Without a shard (tests) leaving is stopping, which would stop an entity before its first
   * command: then it waits like a terminal run.
   */
  /** A node that shuts down hands its runs over by remembered entities, not by waking them here. */
  private boolean shuttingDown() {
    return CoordinatedShutdown.get(ctx.getSystem()).getShutdownReason().isPresent();
  }

  private Duration unknownRunIdle() {
    return sharded == null ? settings.passivateAfter() : Duration.ZERO;
  }

  /**
   * When a pending attempt may start: its retry time, and after a lost worker not before {@code
   * lost-worker-delay} has passed (a node cut off by a partition shuts its processes down when it
   * downs itself; the new attempt must not start before that).
   */
  private Instant earliestStart(RunState s) {
    Instant at = s.retryAt() == null ? s.updatedAt() : s.retryAt();
    if (s.exit() != null && "worker_lost".equals(s.exit().reason())) {
      Instant lostAt = lostNodeAttempt == s.attempt() && lostNodeRemovedAt != null && lostNodeRemovedAt.isBefore(s.updatedAt())
          ? lostNodeRemovedAt
          : s.updatedAt();
      Instant afterLoss = lostAt.plus(settings.lostWorkerDelay());
      return afterLoss.isAfter(at) ? afterLoss : at;
    }
    return at;
  }

  /**
   * Asks for a slot now and again every {@code pending-recheck} while the attempt waits: a request
   * can be lost with a node or an offer between pools, and asking again is harmless (pools ignore
   * a request they hold, and the run grants one worker only).
   */
  private void requestSlotUntilPlaced(RunState s) {
    requestSlot(s);
    timers.startTimerWithFixedDelay(RETRY_TIMER, new RetryDue(s.attempt()), settings.pendingRecheck());
  }

  private void requestSlot(RunState s) {
    pool.tell(new WorkerPool.RequestSlot(runId, s.tenant(), s.attempt(), s.spec(), s.pendingSince()));
  }

  private void stopWorker(RunState s) {
    workerRef(s).tell(new ProcessWorker.Stop(s.attempt(), Duration.ofSeconds(s.spec().cancelGraceSeconds())));
  }

  private ActorRef<ProcessWorker.Command> workerRef(RunState s) {
    return resolver.resolveActorRef(s.worker().workerRef());
  }

  /**
   * Death watch on the attempt's worker. If it is already gone (this node restarted since, so the
   * ref names an actor of an earlier incarnation), the watch fires at once and the run learns that
   * its worker was lost.
   */
  private void watchWorker(RunState s) {
    if (watchedAttempt != s.attempt()) {
      ctx.watchWith(workerRef(s), new WorkerTerminated(s.attempt(), s.worker().node()));
      watchedAttempt = s.attempt();
    }
  }

  private Instant now() {
    return clock.instant();
  }

  /**
   * An idle entity (terminal, or never submitted) leaves memory. Through sharding it must ask its
   * shard: with remembered entities, an entity that simply stopped would be restarted.
   */
  private Effect<RunEvent, RunState> passivate() {
    if (sharded == null) {
      return Effect().stop();
    }
    sharded.shard().tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
    return Effect().none();
  }
}
