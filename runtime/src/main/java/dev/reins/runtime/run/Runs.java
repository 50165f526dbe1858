package dev.reins.runtime.run;

import dev.reins.protocol.run.RunSpec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;

/** Asks run entities through sharding, wherever in the cluster they live. */
public final class Runs {
  private final ClusterSharding sharding;
  private final Duration askTimeout;

  public Runs(ActorSystem<?> system, Duration askTimeout) {
    this.sharding = ClusterSharding.get(system);
    this.askTimeout = askTimeout;
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
    return ref(runId).ask(r -> new RunEntity.Submit(runId, tenant, spec, r), askTimeout);
  }

  public CompletionStage<RunEntity.Reply> get(String runId, RunAccess access) {
    return ref(runId).ask(r -> new RunEntity.Get(access, r), askTimeout);
  }

  public CompletionStage<RunEntity.Reply> cancel(String runId, RunAccess access, String reason, Integer attempt) {
    return ref(runId).ask(r -> new RunEntity.Cancel(access, reason, attempt, r), askTimeout);
  }

  public CompletionStage<RunEntity.Reply> reset(String runId, RunAccess access, Integer attempt) {
    return ref(runId).ask(r -> new RunEntity.Reset(access, attempt, r), askTimeout);
  }

  /** Completes when the run is terminal, or fails with a timeout after {@code wait}. */
  public CompletionStage<RunEntity.Reply> awaitTerminal(String runId, RunAccess access, Duration wait) {
    return ref(runId).ask(r -> new RunEntity.AwaitTerminal(access, r), wait);
  }

  private EntityRef<RunEntity.Command> ref(String runId) {
    return sharding.entityRefFor(RunEntity.TYPE_KEY, runId);
  }
}
