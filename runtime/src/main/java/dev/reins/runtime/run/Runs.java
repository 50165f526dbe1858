package dev.reins.runtime.run;

import dev.reins.persistence.JournalHealth;
import dev.reins.persistence.RunJournal;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;

/**
 * Asks run entities through sharding, wherever in the cluster they live.
 *
 * <p>Only a run that exists, and that the caller's tenant may see, is asked: the rest are answered
 * {@link RunEntity.Outcome#NOT_FOUND} from the journal, without starting an entity. With
 * remembered entities, starting one writes to the journal (and stopping it again writes once
 * more), so a lookup of a made-up id would otherwise leave rows behind: a refused request must
 * write nothing. The entity checks the caller again itself, against its own state.
 *
 * <p>While the journal database is known to be down, a client's command fails at once with {@link
 * JournalHealth.JournalUnavailable} and reaches no entity: every command either writes or may
 * have to start (recover) its entity, and neither can succeed. A command already sent when the
 * outage is noticed fails then, instead of waiting out its ask timeout.
 */
public final class Runs {
  /** Runs known to exist, with their tenant (a run never changes tenant, nor leaves the journal); bounded. */
  private static final int MAX_KNOWN = 100_000;

  private final ClusterSharding sharding;
  private final RunJournal journal;
  private final Duration askTimeout;
  private final JournalHealth health;
  private final Map<String, Owner> owners = new ConcurrentHashMap<>();

  /** Who a run belongs to: its tenant, and for a child run the run that delegated it. Never changes. */
  public record Owner(String tenant, String parentRunId) {}

  public Runs(ActorSystem<?> system, RunJournal journal, Duration askTimeout, JournalHealth health) {
    this.sharding = ClusterSharding.get(system);
    this.journal = journal;
    this.askTimeout = askTimeout;
    this.health = health;
  }

  /**
   * The id of a new run. With an idempotency key the id is derived from the key, so every
   * submission with that key reaches the same entity, which alone decides whether it is a repeat.
   */
  public static String newRunId(String tenant, String idempotencyKey) {
    if (idempotencyKey == null) {
      return UUID.randomUUID().toString();
    }
    // the tenant is part of the name: one tenant's key can neither find nor block another's run
    String name = "reins-idempotency-key:" + tenant.length() + ":" + tenant + ":" + idempotencyKey;
    return UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)).toString();
  }

  public CompletionStage<RunEntity.Reply> submit(String runId, String tenant, RunSpec spec) {
    return health.guard(() -> ask(runId, r -> new RunEntity.Submit(runId, tenant, spec, r), askTimeout));
  }

  /** A child run of delegation {@code delegationId} of run {@code parentRunId}. */
  public CompletionStage<RunEntity.Reply> submitChild(
      String runId, String tenant, RunSpec spec, String parentRunId, String delegationId) {
    return health.guard(() -> ask(runId, r -> new RunEntity.Submit(runId, tenant, spec, parentRunId, delegationId, r), askTimeout));
  }

  /** Asks the run for a delegation (see {@link RunEntity.Delegate}). */
  public CompletionStage<RunEntity.DelegateReply> delegate(String runId, RunAccess access, String delegationId, DelegationSpec spec) {
    if (access.tokenOfAnotherRun(runId) != null) {
      // a per-run token delegates from its own run only
      return CompletableFuture.completedFuture(new RunEntity.DelegateReply(RunEntity.Outcome.NOT_FOUND, RunState.EMPTY, null,
          "no run with id " + runId));
    }
    return ifVisible(runId, access, () -> ref(runId).<RunEntity.DelegateReply>ask(
            r -> new RunEntity.Delegate(access, delegationId, spec, r), askTimeout).thenApply(d -> d),
        reason -> new RunEntity.DelegateReply(reason.outcome(), RunState.EMPTY, null, reason.detail()));
  }

  public CompletionStage<RunEntity.Reply> get(String runId, RunAccess access) {
    return ifVisible(runId, access, () -> ask(runId, r -> new RunEntity.Get(access, r), askTimeout));
  }

  public CompletionStage<RunEntity.Reply> cancel(String runId, RunAccess access, String reason, Integer attempt) {
    return ifVisible(runId, access, () -> ask(runId, r -> new RunEntity.Cancel(access, reason, attempt, r), askTimeout));
  }

  public CompletionStage<RunEntity.Reply> reset(String runId, RunAccess access, Integer attempt) {
    return ifVisible(runId, access, () -> ask(runId, r -> new RunEntity.Reset(access, attempt, r), askTimeout));
  }

  /**
   * Completes when the run is terminal, or fails with a timeout after {@code wait}. Only after a
   * command the run has just answered: it is in memory, and waiting writes nothing.
   */
  public CompletionStage<RunEntity.Reply> awaitTerminal(String runId, RunAccess access, Duration wait) {
    return ref(runId).ask(r -> new RunEntity.AwaitTerminal(access, r), wait);
  }

  private CompletionStage<RunEntity.Reply> ifVisible(
      String runId, RunAccess access, Supplier<CompletionStage<RunEntity.Reply>> ask) {
    return ifVisible(runId, access, ask, refused -> refused);
  }

  /**
   * Asks only when the caller may see the run; otherwise answers {@code refused} of a NOT_FOUND
   * (or, for a per-run token asking about a child run whose parent's attempt is over, of that).
   */
  private <T> CompletionStage<T> ifVisible(
      String runId, RunAccess access, Supplier<CompletionStage<T>> ask, Function<RunEntity.Reply, T> refused) {
    RunEntity.Reply notFound = new RunEntity.Reply(RunEntity.Outcome.NOT_FOUND, RunState.EMPTY, 0, "no run with id " + runId);
    return health.guard(() -> owner(runId).thenCompose(owner -> {
      if (owner.isEmpty() || !access.maySee(runId, owner.get())) {
        return CompletableFuture.completedFuture(refused.apply(notFound));
      }
      String parent = access.tokenOfAnotherRun(runId);
      if (parent == null) {
        return ask.get();
      }
      // a per-run token on its child run: valid while the token's own attempt lives
      return ask(parent, r -> new RunEntity.Get(access, r), askTimeout).thenCompose(p -> p.outcome() == RunEntity.Outcome.UNCHANGED
          ? ask.get()
          : CompletableFuture.completedFuture(refused.apply(p)));
    }));
  }

  /**
   * The run's owner, from its first event (RunSubmitted); empty for a run that does not exist.
   * Every lookup of an unknown id pays this one journal row (UnknownRunLookupTest prints what it
   * costs); known owners are cached.
   */
  private CompletionStage<Optional<Owner>> owner(String runId) {
    Owner known = owners.get(runId);
    if (known != null) {
      return CompletableFuture.completedFuture(Optional.of(known));
    }
    return journal.firstEvent(runId).toCompletableFuture()
        .orTimeout(askTimeout.toMillis(), TimeUnit.MILLISECONDS)
        .thenApply(first -> {
          if (first.isEmpty()) {
            return Optional.empty();
          }
          RunEvent.RunSubmitted submitted = (RunEvent.RunSubmitted) first.get();
          Owner owner = new Owner(submitted.tenant(), submitted.parentRunId());
          if (owners.size() >= MAX_KNOWN) {
            owners.clear(); // the next lookups simply read the journal again
          }
          owners.put(runId, owner);
          return Optional.of(owner);
        });
  }

  private CompletionStage<RunEntity.Reply> ask(
      String runId, Function<ActorRef<RunEntity.Reply>, RunEntity.Command> command, Duration timeout) {
    return ref(runId).ask(command::apply, timeout);
  }

  private EntityRef<RunEntity.Command> ref(String runId) {
    return sharding.entityRefFor(RunEntity.TYPE_KEY, runId);
  }
}
