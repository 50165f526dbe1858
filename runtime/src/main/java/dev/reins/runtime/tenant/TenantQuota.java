package dev.reins.runtime.tenant;

import dev.reins.runtime.CborSerializable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;

/**
 * The load one tenant may put on the cluster: a token bucket for submits per second and a cap on
 * active (not terminal) runs. One sharded actor per tenant, so the limits hold cluster-wide.
 *
 * <p>It keeps no journal. Active runs hold a lease here: admission takes one, every live run
 * entity renews its own (on recovery and every {@code lease-refresh}), and a terminal run gives
 * it back. A lease that is not renewed within {@code lease-ttl} lapses, so after this actor moves
 * to another node (or a run was lost without saying so) the count heals by itself within one
 * lease time instead of drifting forever. Until then, the count may be low and admit a few runs
 * too many; it never blocks a tenant for good.
 */
public final class TenantQuota extends AbstractBehavior<TenantQuota.Command> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "TenantQuota");

  public sealed interface Command extends CborSerializable {}

  /** A submit wants in: takes a submit token and a lease for {@code runId}. */
  public record Admit(String runId, ActorRef<Admission> replyTo) implements Command {}

  /** The run is live: renew (or take) its lease. */
  public record Hold(String runId) implements Command {}

  /** The run is terminal (or was never created): its lease goes back. */
  public record Release(String runId) implements Command {}

  private record Sweep() implements Command {}

  public enum Limit {
    /** too many submits per second */
    RATE,
    /** too many active runs */
    ACTIVE_RUNS
  }

  /** {@code limit} and {@code retryAfter} are set only when the submit is refused. */
  public record Admission(boolean admitted, Limit limit, Duration retryAfter, String detail) implements CborSerializable {
    static final Admission OK = new Admission(true, null, null, null);
  }

  /** How run entities and routes reach the quota of a tenant. */
  public interface Client {
    CompletionStage<Admission> admit(String tenant, String runId);

    void hold(String tenant, String runId);

    void release(String tenant, String runId);

    /** For tests and tools: no limits at all. */
    Client UNLIMITED = new Client() {
      @Override
      public CompletionStage<Admission> admit(String tenant, String runId) {
        return java.util.concurrent.CompletableFuture.completedFuture(Admission.OK);
      }

      @Override
      public void hold(String tenant, String runId) {}

      @Override
      public void release(String tenant, String runId) {}
    };
  }

  /** Registers the entity type and returns the client that reaches it through sharding. */
  public static Client init(ActorSystem<?> system, QuotaSettings settings, Clock clock) {
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(TYPE_KEY, ctx -> create(settings, clock))
        // counts are rebuilt from leases: nothing to remember, nothing to write
        .withSettings(ClusterShardingSettings.create(system).withRememberEntities(false)));
    return new Client() {
      @Override
      public CompletionStage<Admission> admit(String tenant, String runId) {
        return sharding.entityRefFor(TYPE_KEY, tenant).ask(r -> new Admit(runId, r), settings.askTimeout());
      }

      @Override
      public void hold(String tenant, String runId) {
        sharding.entityRefFor(TYPE_KEY, tenant).tell(new Hold(runId));
      }

      @Override
      public void release(String tenant, String runId) {
        sharding.entityRefFor(TYPE_KEY, tenant).tell(new Release(runId));
      }
    };
  }

  public static Behavior<Command> create(QuotaSettings settings, Clock clock) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(new Sweep(), settings.leaseTtl());
      return new TenantQuota(ctx, settings, clock);
    }));
  }

  private final QuotaSettings settings;
  private final Clock clock;
  /** Run id to the instant its lease lapses. */
  private final Map<String, Instant> leases = new HashMap<>();
  private double tokens;
  private Instant refilledAt;

  private TenantQuota(ActorContext<Command> ctx, QuotaSettings settings, Clock clock) {
    super(ctx);
    this.settings = settings;
    this.clock = clock;
    this.tokens = settings.submitBurst();
    this.refilledAt = clock.instant();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Admit.class, this::onAdmit)
        .onMessage(Hold.class, h -> {
          leases.put(h.runId(), clock.instant().plus(settings.leaseTtl()));
          return this;
        })
        .onMessage(Release.class, r -> {
          leases.remove(r.runId());
          return this;
        })
        .onMessage(Sweep.class, s -> {
          Instant now = clock.instant();
          leases.values().removeIf(until -> !until.isAfter(now));
          return this;
        })
        .build();
  }

  private Behavior<Command> onAdmit(Admit a) {
    Instant now = clock.instant();
    if (settings.submitsPerSecond() > 0) {
      double elapsed = Duration.between(refilledAt, now).toNanos() / 1e9;
      tokens = Math.min(settings.submitBurst(), tokens + elapsed * settings.submitsPerSecond());
      refilledAt = now;
      if (tokens < 1) {
        long waitMillis = (long) Math.ceil((1 - tokens) / settings.submitsPerSecond() * 1000);
        a.replyTo().tell(new Admission(false, Limit.RATE, Duration.ofMillis(Math.max(waitMillis, 1)),
            "more than " + settings.submitsPerSecond() + " submits per second (burst " + settings.submitBurst() + ")"));
        return this;
      }
    }
    boolean alreadyHeld = leases.containsKey(a.runId());
    if (!alreadyHeld && settings.maxActiveRuns() > 0 && leases.size() >= settings.maxActiveRuns()) {
      a.replyTo().tell(new Admission(false, Limit.ACTIVE_RUNS, settings.activeRetryAfter(),
          "the tenant already has " + leases.size() + " active runs (limit " + settings.maxActiveRuns() + ")"));
      return this;
    }
    if (settings.submitsPerSecond() > 0) {
      tokens -= 1;
    }
    leases.put(a.runId(), now.plus(settings.leaseTtl()));
    a.replyTo().tell(Admission.OK);
    return this;
  }
}
