package dev.reins.runtime.cluster;

import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * When this node saw each other node leave the cluster's membership (removed after it was downed
 * or left). A run whose worker was lost with a node waits {@code lost-worker-delay} from that
 * moment, not from when the run itself learned of it: a run that lived on the lost node is started
 * again on a survivor only after Pekko's removal margin, which has already given the lost side that
 * time to kill its processes.
 */
public final class MemberRemovals {
  /** No removals known (tests without a cluster): every run counts its delay from its own event. */
  public static final MemberRemovals NONE = new MemberRemovals(Clock.systemUTC());

  private final Clock clock;
  private final Map<String, Instant> removed = new ConcurrentHashMap<>();

  private MemberRemovals(Clock clock) {
    this.clock = clock;
  }

  /** Subscribes to the cluster's membership of {@code system} (once per node). */
  public static MemberRemovals start(ActorSystem<?> system, Clock clock) {
    MemberRemovals removals = new MemberRemovals(clock);
    system.systemActorOf(Behaviors.<ClusterEvent.MemberEvent>setup(ctx -> {
      Cluster.get(system).subscriptions().tell(Subscribe.create(ctx.getSelf(), ClusterEvent.MemberEvent.class));
      return Behaviors.receiveMessage(e -> {
        String address = e.member().address().toString();
        if (e instanceof ClusterEvent.MemberRemoved) {
          removals.removed.put(address, removals.clock.instant());
        } else if (e instanceof ClusterEvent.MemberJoined || e instanceof ClusterEvent.MemberUp) {
          // a new incarnation on the same host and port: its loss, when it comes, is a new removal
          removals.removed.remove(address);
        }
        return Behaviors.same();
      });
    }), "reins-member-removals", Props.empty());
    return removals;
  }

  /** Removals known beforehand (tests). */
  public static MemberRemovals of(Map<String, Instant> removedAt) {
    MemberRemovals removals = new MemberRemovals(Clock.systemUTC());
    removals.removed.putAll(removedAt);
    return removals;
  }

  /** When this node saw {@code address} ({@code pekko://reins@host:port}) removed, if it did. */
  public Optional<Instant> removedAt(String address) {
    return Optional.ofNullable(removed.get(address));
  }
}
