package dev.reins.runtime.cluster;

import dev.reins.persistence.cluster.ClusterLease;
import dev.reins.persistence.cluster.ClusterLease.Verdict;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this cluster's {@link ClusterLease} on the journal fresh: a cluster singleton (so one
 * writer, on the oldest node) that renews it every {@code renew-interval} with the current
 * members. If another cluster's fresh lease is in the way, it says so loudly at every renewal:
 * two clusters are writing one journal, and one of them must be stopped.
 */
public final class LeaseKeeper {
  private static final Logger log = LoggerFactory.getLogger(LeaseKeeper.class);

  private LeaseKeeper() {}

  public record Settings(Duration renewInterval, Duration ttl) {
    public static Settings fromConfig(com.typesafe.config.Config config) {
      return new Settings(config.getDuration("reins.cluster.lease.renew-interval"), config.getDuration("reins.cluster.lease.ttl"));
    }
  }

  private sealed interface Command {}

  private record Renew() implements Command {}

  private record Renewed(Verdict verdict, Throwable error) implements Command {}

  public static void init(ActorSystem<?> system, ClusterLease lease, Settings settings, Clock clock, Executor blocking) {
    ClusterSingleton.get(system).init(SingletonActor.of(
        Behaviors.supervise(create(lease, settings, clock, blocking)).onFailure(SupervisorStrategy.restart()),
        "reins-lease-keeper"));
  }

  private static Behavior<Command> create(ClusterLease lease, Settings settings, Clock clock, Executor blocking) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(new Renew(), Duration.ZERO, settings.renewInterval());
      Cluster cluster = Cluster.get(ctx.getSystem());
      return Behaviors.receive(Command.class)
          .onMessage(Renew.class, r -> {
            Set<String> members = members(cluster);
            String self = cluster.selfMember().address().toString();
            ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> {
              try {
                return lease.renew(members, self, uniqueAddress(cluster.selfMember()), clock.instant(), settings.ttl());
              } catch (Exception e) {
                throw new CompletionException(e);
              }
            }, blocking), Renewed::new);
            return Behaviors.same();
          })
          .onMessage(Renewed.class, r -> {
            if (r.error() != null) {
              log.warn("could not renew the cluster's lease on the journal (will retry): {}", r.error().toString());
            } else if (r.verdict() == Verdict.FOREIGN) {
              log.error("ANOTHER CLUSTER holds the lease on this journal database: two clusters are writing one journal. "
                  + "Stop the one that should not exist (see the README, Cluster).");
            }
            return Behaviors.same();
          })
          .build();
    }));
  }

  /** The members that can write: every member but those leaving or gone. */
  public static Set<String> members(Cluster cluster) {
    Set<String> out = new java.util.TreeSet<>();
    for (Member m : cluster.state().getMembers()) {
      if (m.status() != MemberStatus.down() && m.status() != MemberStatus.removed()) {
        out.add(uniqueAddress(m));
      }
    }
    out.add(uniqueAddress(cluster.selfMember()));
    return out;
  }

  public static String uniqueAddress(Member m) {
    return m.uniqueAddress().address().toString() + "#" + m.uniqueAddress().longUid();
  }

  /** For logs: the lease's members, shortened. */
  static String describe(Set<String> members) {
    return members.stream().collect(Collectors.joining(", "));
  }
}
